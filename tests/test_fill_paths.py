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
