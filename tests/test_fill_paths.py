from pathlib import Path

import pytest

from inpaint_cli.errors import OutputExists, UsageError
from inpaint_cli.stages import fill_paths


def test_output_naming_and_overwrite_rules(tmp_path: Path) -> None:
    photo = tmp_path / "holiday.jpg"
    photo.write_bytes(b"x")
    assert fill_paths.output_path(photo, None, None) == tmp_path / "holiday.filled.jpg"
    assert fill_paths.output_path(photo, None, tmp_path / "out") == tmp_path / "out" / "holiday.filled.jpg"
    with pytest.raises(UsageError, match="is the input"):
        fill_paths.check_output(photo, photo, force=True)
    existing = tmp_path / "existing.jpg"
    existing.write_bytes(b"y")
    with pytest.raises(OutputExists, match="already exists"):
        fill_paths.check_output(photo, existing, force=False)
    fill_paths.check_output(photo, existing, force=True)
    with pytest.raises(UsageError, match="does not exist"):
        fill_paths.check_output(photo, tmp_path / "missing" / "out.jpg", force=False)


def test_results_that_would_land_on_one_file_a_mask_or_another_photo_are_refused(tmp_path: Path) -> None:
    for name in ("a/x.jpg", "b/x.jpg", "y.jpg", "y.filled.jpg", "mask.png"):
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_bytes(b"x")
    with pytest.raises(UsageError, match="would both be written to"):
        fill_paths.plan_jobs([tmp_path / "a" / "x.jpg", tmp_path / "b" / "x.jpg"], out_dir=tmp_path / "out")
    with pytest.raises(UsageError, match="is the photo .*y.filled.jpg of this run"):
        fill_paths.plan_jobs([tmp_path / "y.jpg", tmp_path / "y.filled.jpg"])
    with pytest.raises(UsageError, match="is a mask of this run"):
        fill_paths.plan_jobs([tmp_path / "y.jpg"], out=tmp_path / "mask.png", mask=tmp_path / "mask.png")
    jobs = fill_paths.plan_jobs([tmp_path / "a" / "x.jpg", tmp_path / "b" / "x.jpg"])  # beside each photo: apart
    assert [job.target for job in jobs] == [tmp_path / "a" / "x.filled.jpg", tmp_path / "b" / "x.filled.jpg"]
