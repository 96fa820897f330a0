"""`inpaint fill` as a user runs it: JPEG quality, alpha, warnings, unexpected errors, Ctrl-C."""

from pathlib import Path

import numpy as np
import pytest
from conftest import landscape
from PIL import Image
from typer.testing import CliRunner

from inpaint_cli.cli import app
from inpaint_cli.files import atomic_files, photo_writing
from inpaint_cli.inpainting import image_fill
from inpaint_cli.stages import filling

runner = CliRunner()


def fill(*arguments: str) -> object:
    return runner.invoke(app, ["fill", *arguments])


def test_a_jpeg_keeps_its_quality_unless_quality_is_given(tiny_model_dir: Path, tmp_path: Path) -> None:
    photo = tmp_path / "photo.jpg"
    Image.fromarray(landscape(96, 128, seed=1)).save(photo, quality=40)
    kept, chosen = tmp_path / "kept.jpg", tmp_path / "chosen.jpg"
    model = ["--model", str(tiny_model_dir), "--box", "10,10,20"]
    assert fill(str(photo), *model, "--out", str(kept)).exit_code == 0
    assert fill(str(photo), *model, "--out", str(chosen), "--quality", "92").exit_code == 0
    reference = tmp_path / "reference.jpg"
    Image.fromarray(landscape(96, 128, seed=1)).save(reference, quality=92)
    with Image.open(photo) as source, Image.open(kept) as first, Image.open(chosen) as second:
        with Image.open(reference) as at_92:
            assert first.quantization == source.quantization
            assert second.quantization == at_92.quantization != source.quantization


@pytest.mark.parametrize(("suffix", "image_format"), [(".jpg", "JPEG"), (".bmp", "BMP")])
@pytest.mark.parametrize("mode", ["RGBA", "LA"])
def test_alpha_is_refused_for_jpeg_and_bmp_only_when_it_is_not_opaque(
    tiny_model_dir: Path, tmp_path: Path, suffix: str, image_format: str, mode: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    pixels = np.dstack([landscape(64, 64, seed=2), np.full((64, 64), 255, np.uint8)])
    opaque, see_through = tmp_path / "opaque.png", tmp_path / "see_through.png"
    Image.fromarray(pixels).convert(mode).save(opaque)
    pixels[0, 0, 3] = 10
    Image.fromarray(pixels).convert(mode).save(see_through)
    model = ["--model", str(tiny_model_dir), "--box", "10,10,20"]
    result = fill(str(opaque), *model, "--out", str(tmp_path / f"opaque{suffix}"))
    assert result.exit_code == 0, result.output
    with Image.open(tmp_path / f"opaque{suffix}") as written:
        assert written.mode == ("RGB" if mode == "RGBA" else "L")

    def no_fill(*arguments: object, **options: object) -> None:
        raise AssertionError("filled a photo whose result cannot be written")

    monkeypatch.setattr(image_fill, "fill_pillow", no_fill)  # refused before the fill, not after it
    result = fill(str(see_through), *model, "--out", str(tmp_path / f"see_through{suffix}"))
    assert result.exit_code == 2
    assert result.output.strip().splitlines() == [
        f"Error: the image has transparency, which {image_format} cannot hold; write see_through.png instead"
    ]
    assert not (tmp_path / f"see_through{suffix}").exists()


def test_two_photos_of_one_name_into_one_folder_are_refused_before_anything_is_written(
    tiny_model_dir: Path, tmp_path: Path
) -> None:
    for folder in ("a", "b"):
        (tmp_path / folder).mkdir()
        Image.fromarray(landscape(48, 48, seed=len(folder))).save(tmp_path / folder / "x.png")
    out = tmp_path / "out"
    result = fill(str(tmp_path / "a" / "x.png"), str(tmp_path / "b" / "x.png"), "--box", "4,4,8", "--out-dir", str(out))
    assert result.exit_code == 2
    assert "would both be written to" in result.output and len(result.output.strip().splitlines()) == 1
    assert not out.exists() or not any(out.iterdir())


def test_two_results_differing_only_in_letter_case_are_refused_before_anything_is_written(tmp_path: Path) -> None:
    for folder, name in (("a", "IMG.png"), ("b", "img.png")):
        (tmp_path / folder).mkdir()
        Image.fromarray(landscape(48, 48, seed=len(name))).save(tmp_path / folder / name)
    out = tmp_path / "out"
    result = fill(str(tmp_path / "a"), str(tmp_path / "b"), "--box", "4,4,8", "--out-dir", str(out), "--force")
    assert result.exit_code == 2
    assert "one file where letter case does not count" in result.output
    assert len(result.output.strip().splitlines()) == 1
    assert not out.exists() or not any(out.iterdir())


def test_an_output_or_comparison_onto_the_mask_is_refused_even_with_force(tiny_model_dir: Path, tmp_path: Path) -> None:
    photo, mask = tmp_path / "photo.png", tmp_path / "mask.png"
    Image.fromarray(landscape(48, 48, seed=4)).save(photo)
    painted = np.zeros((48, 48), np.uint8)
    painted[10:20, 10:20] = 255
    Image.fromarray(painted).save(mask)
    model = ["--model", str(tiny_model_dir), "--mask", str(mask), "--force"]
    for option in (["--out", str(mask)], ["--out", str(tmp_path / "out.png"), "--compare", str(mask)]):
        result = fill(str(photo), *model, *option)
        assert result.exit_code == 2, result.output
        assert "mask" in result.output and len(result.output.strip().splitlines()) == 1
        assert np.array_equal(np.asarray(Image.open(mask)), painted)
    assert not (tmp_path / "out.png").exists()


def test_when_the_comparison_cannot_be_written_neither_is_the_photo(
    tiny_model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    photo, out, compare = tmp_path / "photo.png", tmp_path / "out.png", tmp_path / "compare.png"
    Image.fromarray(landscape(48, 48, seed=5)).save(photo)

    save = photo_writing._save_by_suffix

    def disk_full_for_the_comparison(image: Image.Image, path: Path, options: dict[str, object]) -> None:
        if path.name.endswith("compare.png"):  # its temporary file
            raise OSError(28, "No space left on device")
        save(image, path, options)

    monkeypatch.setattr(photo_writing, "_save_by_suffix", disk_full_for_the_comparison)
    result = fill(
        str(photo), "--model", str(tiny_model_dir), "--box", "4,4,8", "--out", str(out), "--compare", str(compare)
    )
    assert result.exit_code == 1
    assert result.output.strip().splitlines() == [
        f"Error: could not write {compare} (No space left on device); nothing was written"
    ]
    assert sorted(path.name for path in tmp_path.iterdir()) == ["photo.png"]


def test_a_hole_too_large_for_its_surroundings_is_warned_about(tiny_model_dir: Path, tmp_path: Path) -> None:
    photo = tmp_path / "photo.png"
    Image.fromarray(landscape(40, 40, seed=3)).save(photo)
    result = fill(str(photo), "--model", str(tiny_model_dir), "--box", "2,2,36")
    assert result.exit_code == 0
    assert "Warning: the hole at 2,2,36 covers 81% of the context the network sees; expect a poor fill" in result.output


def test_an_unexpected_error_is_one_line_and_its_traceback_is_shown_with_debug(
    tiny_model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    photo = tmp_path / "photo.png"
    Image.fromarray(landscape(40, 40, seed=3)).save(photo)

    def broken(*arguments: object, **options: object) -> None:
        raise RuntimeError("a bug")

    monkeypatch.setattr(filling, "fill_photos", broken)
    result = fill(str(photo), "--box", "2,2,8")
    assert result.exit_code == 1
    assert result.output.strip() == "Error: unexpected RuntimeError: a bug (run with --debug for the traceback)"
    result = runner.invoke(app, ["--debug", "fill", str(photo), "--box", "2,2,8"])
    assert isinstance(result.exception, RuntimeError)


def test_ctrl_c_in_a_folder_run_stops_it_and_leaves_nothing_half_written(
    tiny_model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder, out = tmp_path / "photos", tmp_path / "out"
    folder.mkdir()
    for index in range(3):
        Image.fromarray(landscape(40, 48, seed=index)).save(folder / f"photo{index}.png")
    save_photo = photo_writing.save_photo

    def interrupted_while_writing_the_second(image: Image.Image, path: Path, *arguments: object, **options: object):
        if path.name != "photo1.filled.png":
            return save_photo(image, path, *arguments, **options)

        def write_half(temporary: Path) -> None:
            temporary.write_bytes(b"half a PNG")
            raise KeyboardInterrupt

        atomic_files.write_atomically(path, write_half)

    monkeypatch.setattr(photo_writing, "save_photo", interrupted_while_writing_the_second)
    result = fill(str(folder), "--model", str(tiny_model_dir), "--box", "4,4,10", "--out-dir", str(out))
    assert result.exit_code == 130
    assert "Error: interrupted; nothing was left half-written" in result.output
    assert sorted(path.name for path in out.iterdir()) == ["photo0.filled.png"]  # the third was never started


def test_a_folder_run_names_each_failed_photo_and_counts_what_was_written(tiny_model_dir: Path, tmp_path: Path) -> None:
    folder = tmp_path / "photos"
    folder.mkdir()
    Image.fromarray(landscape(40, 48, seed=1)).save(folder / "good.png")
    Image.fromarray(landscape(20, 20, seed=2)).save(folder / "small.png")
    result = fill(str(folder), "--model", str(tiny_model_dir), "--box", "20,10,16", "--out-dir", str(tmp_path / "out"))
    assert result.exit_code == 1
    assert f"Error: {folder / 'small.png'}: box 20,10,16 lies outside small.png (20x20)" in result.output
    assert "Error: 1 of 2 photos failed; 1 written" in result.output
    assert (tmp_path / "out" / "good.filled.png").is_file()


def test_a_comparison_that_cannot_be_renamed_into_place_names_the_photo_that_was_written(
    tiny_model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    photo, out, compare = tmp_path / "photo.png", tmp_path / "out.png", tmp_path / "compare.png"
    Image.fromarray(landscape(48, 48, seed=6)).save(photo)
    replace = atomic_files.os.replace

    def locked_comparison(source: object, target: object) -> None:
        if Path(str(target)) == compare:  # as when a viewer holds the old picture open (Windows)
            raise PermissionError(13, "Permission denied")
        replace(source, target)

    monkeypatch.setattr(atomic_files.os, "replace", locked_comparison)
    result = fill(
        str(photo), "--model", str(tiny_model_dir), "--box", "4,4,8", "--out", str(out), "--compare", str(compare)
    )
    assert result.exit_code == 1
    assert result.output.strip().splitlines() == [
        f"Error: could not write {compare} (Permission denied); {out} was written"
    ]
    assert sorted(path.name for path in tmp_path.iterdir()) == ["out.png", "photo.png"]


def test_a_full_disk_stops_a_folder_at_the_first_photo_it_cannot_write_and_skip_existing_goes_on(
    photo_folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every photo after the first ENOSPC would fail the same way: one line saying how to go on, not 21 more."""
    import errno
    import os

    writes: list[str] = []
    real_write = atomic_files.write_through_temporary

    def disk_full_after_three(
        target: str, folder: object, write: object, move: object, errors: object = (OSError,)
    ) -> None:
        writes.append(target)

        def write_or_fail(temporary: Path) -> None:
            if len(writes) > 3:
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            write(temporary)

        real_write(target, folder, write_or_fail, move, errors)

    monkeypatch.setattr(atomic_files, "write_through_temporary", disk_full_after_three)
    out = ["--box", "4,4,12", "--out-dir", str(tmp_path / "out")]
    stopped = fill(str(photo_folder), *out)
    assert stopped.exit_code == 1
    lines = stopped.output.strip().splitlines()
    assert [line.startswith("Filled") for line in lines] == [True] * 3 + [False]
    assert "(No space left on device)" in lines[-1]
    assert "stopped at photo 4 of 24 (3 written before it)" in lines[-1] and "--skip-existing" in lines[-1]
    assert len(list((tmp_path / "out").rglob("*"))) == 4  # the three photos and the subfolder, no temporary file
    monkeypatch.undo()  # space freed
    resumed = fill(str(photo_folder), *out, "--skip-existing")
    assert resumed.exit_code == 0, resumed.output
    assert len(list((tmp_path / "out").rglob("*.filled.*"))) == 24
