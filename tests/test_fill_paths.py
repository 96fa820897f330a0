from pathlib import Path

import pytest

from inpaint_cli.errors import OutputExists, UsageError
from inpaint_cli.inpainting.rectangles import Box
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


def test_results_differing_only_in_letter_case_are_refused_up_front_unless_beside_their_photos(tmp_path: Path) -> None:
    """On macOS or Windows out/IMG.filled.jpg and out/img.filled.jpg are one file: the second would replace it."""
    from inpaint_cli.stages.filling import FillRequest, plan_run

    for name in ("cam1/IMG.jpg", "cam2/img.jpg", "same/photo.JPG", "same/photo.jpg"):
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_bytes(b"x")
    box = [Box(1, 1, 4)]
    out = tmp_path / "out"
    for force in (False, True):
        with pytest.raises(UsageError) as refused:
            plan_run(FillRequest([tmp_path / "cam1", tmp_path / "cam2"], box, out_dir=out, force=force))
        assert str(refused.value) == (
            f"{tmp_path / 'cam1' / 'IMG.jpg'} and {tmp_path / 'cam2' / 'img.jpg'} would be written to "
            f"{out / 'IMG.filled.jpg'} and {out / 'img.filled.jpg'}, one file where letter case does not count "
            "(macOS, Windows); fill them into different folders"
        )
    with pytest.raises(UsageError, match="one file where letter case does not count"):
        plan_run(FillRequest([tmp_path / "same"], box, out_dir=out))
    beside = plan_run(FillRequest([tmp_path / "same"], box))[2]  # the folder holds both photos: case counts there
    assert [job.target.name for job in beside] == ["photo.filled.JPG", "photo.filled.jpg"]
    (out / "IMG.filled.jpg").parent.mkdir()
    (out / "IMG.filled.jpg").write_bytes(b"kept")
    (out / "img.filled.jpg").write_bytes(b"kept")  # a case-blind disk: both names exist, each is refused on its own
    plan_run(FillRequest([tmp_path / "cam1", tmp_path / "cam2"], box, out_dir=out))


def test_results_that_would_lose_one_another_are_refused_and_a_re_run_is_not(tmp_path: Path) -> None:
    from inpaint_cli.stages.filling import FillRequest, plan_run

    for name in ("a/x.jpg", "b/x.jpg", "y.jpg", "y.filled.jpg", "mask.png"):
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_bytes(b"x")
    box = [Box(1, 1, 4)]
    twins = [tmp_path / "a" / "x.jpg", tmp_path / "b" / "x.jpg"]
    with pytest.raises(UsageError, match="would both be written to"):
        plan_run(FillRequest(twins, box, out_dir=tmp_path / "out"))
    apart = plan_run(FillRequest(twins, box))[2]  # beside each photo
    assert [job.target for job in apart] == [tmp_path / "a" / "x.filled.jpg", tmp_path / "b" / "x.filled.jpg"]
    both = [tmp_path / "y.jpg", tmp_path / "y.filled.jpg"]
    with pytest.raises(UsageError, match="y.filled.jpg is a photo of this run"):
        plan_run(FillRequest(both, box, force=True))
    # A re-run over a shell glob (photos/*.jpg) after an interruption: y.jpg's result is kept, the rest goes on.
    jobs, skipped, todo = plan_run(FillRequest(both, box, skip_existing=True))
    assert [job.photo for job in todo] == [tmp_path / "y.filled.jpg"]
    assert "already exists" in str(skipped[jobs[0]])
    plan_run(FillRequest(both, box))  # without --force y.jpg's existing result is refused on its own, later
    with pytest.raises(UsageError, match="is a mask of this run"):
        plan_run(FillRequest([tmp_path / "y.jpg"], mask=tmp_path / "mask.png", out=tmp_path / "mask.png", force=True))
