"""Every user mistake: one `Error:` line, the right exit status, nothing modified, nothing left behind."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import numpy as np
import pytest
from conftest import landscape, small_prepare_args
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image
from typer.testing import CliRunner

from inpaint_cli.cli import app
from inpaint_cli.errors import InpaintError, UsageError
from inpaint_cli.files import images
from inpaint_cli.inpainting import rectangles

runner = CliRunner()


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(path.relative_to(folder)): path.read_bytes() for path in sorted(folder.rglob("*")) if path.is_file()}


def assert_one_error_line(arguments: list[str], message: str, exit_code: int) -> str:
    """Run the command; check it exits with exit_code and prints one Error line holding message; return the line."""
    result = runner.invoke(app, arguments)
    assert result.exit_code == exit_code, (arguments, result.output)
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("Error: "), (arguments, result.output)
    assert message in lines[0], (arguments, result.output)
    return lines[0]


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    Image.fromarray(landscape(600, 800, seed=1)).save(tmp_path / "photo.png")
    Image.fromarray(landscape(120, 160, seed=2)).save(tmp_path / "small.jpg", quality=90)
    return tmp_path


def fill(workspace: Path, model: Path, *extra: str) -> list[str]:
    return ["fill", str(workspace / "photo.png"), "--model", str(model), *extra]


@pytest.mark.parametrize(
    ("box", "message"),
    [
        ("10,10", "is not x,y,size"),
        ("a,b,c", "is not x,y,size"),
        ("1,2,3,4", "is not x,y,size"),
        ("", "is not x,y,size"),
        ("-5,10,20", "has a negative number"),
        ("1,2,0", "size 0"),
        ("1.5,2,20", "is not x,y,size"),
        ("790,590,50", "box 790,590,50 lies outside photo.png (800x600)"),
        ("0,0,601", "lies outside photo.png (800x600)"),
    ],
)
def test_bad_boxes(workspace: Path, tiny_model_dir: Path, box: str, message: str) -> None:
    before = snapshot(workspace)
    assert_one_error_line(fill(workspace, tiny_model_dir, "--box", box), message, 2)
    assert snapshot(workspace) == before


def test_no_box_at_all(workspace: Path, tiny_model_dir: Path) -> None:
    assert_one_error_line(fill(workspace, tiny_model_dir), "no holes to fill", 2)


def test_overlapping_boxes_are_allowed(workspace: Path, tiny_model_dir: Path) -> None:
    result = runner.invoke(app, fill(workspace, tiny_model_dir, "--box", "10,10,40", "--box", "30,30,40"))
    assert result.exit_code == 0, result.output


def test_path_mistakes(workspace: Path, tiny_model_dir: Path) -> None:
    photo = workspace / "photo.png"
    before = snapshot(workspace)
    cases = [
        (["fill", str(workspace / "missing.jpg"), "--box", "1,1,8"], "missing.jpg does not exist", 2),
        (
            fill(workspace, tiny_model_dir, "--box", "1,1,8", "--out", str(workspace / "no" / "out.png")),
            "does not exist",
            2,
        ),
        (fill(workspace, tiny_model_dir, "--box", "1,1,8", "--out", str(photo)), "is the input photo", 2),
        (
            fill(workspace, tiny_model_dir, "--box", "1,1,8", "--out", str(workspace / "small.jpg")),
            "already exists; use --force",
            2,
        ),
        (fill(workspace, tiny_model_dir, "--box", "1,1,8", "--out", str(workspace)), "is a folder; name a file", 2),
        (fill(workspace, tiny_model_dir, "--box", "1,1,8", "--out-dir", str(photo)), "is a file, not a folder", 2),
        (["train", str(photo), "--out", str(workspace / "m")], "is not a folder", 2),
        (["train", str(workspace), "--out", str(workspace / "m")], "has no manifest.json", 2),
        (["prepare", str(workspace / "nothing-here"), "--out", str(workspace / "ds")], "does not exist", 2),
    ]
    for arguments, message, code in cases:
        assert_one_error_line(arguments, message, code)
    assert snapshot(workspace) == before


def test_another_name_of_the_input_is_never_written_over_even_with_force(workspace: Path, tiny_model_dir: Path) -> None:
    """A hard link stands for every other name of the photo's file: PHOTO.PNG on macOS or Windows, a second link."""
    other_name = workspace / "same-photo.png"
    os.link(workspace / "photo.png", other_name)
    before = snapshot(workspace)
    arguments = fill(workspace, tiny_model_dir, "--box", "1,1,8", "--out", str(other_name), "--force")
    assert_one_error_line(arguments, "is the input photo", 2)
    assert snapshot(workspace) == before


def test_folders_and_files_in_the_wrong_place(workspace: Path, tiny_model_dir: Path) -> None:
    (workspace / "sub").mkdir()
    if hasattr(os, "mkfifo"):  # a named pipe would block the read: refused before anything opens it
        os.mkfifo(workspace / "pipe.jpg")
        assert_one_error_line(
            ["fill", str(workspace / "pipe.jpg"), "--box", "1,1,8", "--model", str(tiny_model_dir)],
            "is not a regular file",
            2,
        )
    assert_one_error_line(
        ["fill", str(workspace / "sub"), "--box", "1,1,8", "--model", str(tiny_model_dir)], "no photos", 2
    )
    assert_one_error_line(fill(workspace, tiny_model_dir, "--mask", str(workspace / "sub")), "is not a file", 2)
    assert_one_error_line(
        fill(workspace, tiny_model_dir, "--mask-dir", str(workspace / "photo.png")), "is a file, not a folder", 2
    )
    assert_one_error_line(
        ["fill", str(workspace), "--mask-dir", str(workspace), "--model", str(tiny_model_dir)],
        "holds the photos themselves",
        2,
    )
    assert_one_error_line(fill(workspace, tiny_model_dir, "--mask-dir", str(workspace)), "would be its own mask", 2)


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("empty.jpg", b"", "not an image"),
        ("text.jpg", b"this is a text file, not a JPEG\n", "not an image"),
    ],
)
def test_unreadable_photos(tmp_path: Path, tiny_model_dir: Path, name: str, content: bytes, message: str) -> None:
    (tmp_path / name).write_bytes(content)
    assert_one_error_line(["fill", str(tmp_path / name), "--box", "1,1,8", "--model", str(tiny_model_dir)], message, 1)
    assert sorted(path.name for path in tmp_path.iterdir()) == [name]


def test_truncated_jpeg(workspace: Path, tiny_model_dir: Path) -> None:
    data = (workspace / "small.jpg").read_bytes()
    (workspace / "cut.jpg").write_bytes(data[: len(data) // 2])
    assert_one_error_line(
        ["fill", str(workspace / "cut.jpg"), "--box", "1,1,8", "--model", str(tiny_model_dir)],
        "could not be decoded",
        1,
    )
    assert not (workspace / "cut.filled.jpg").exists()


def test_decompression_bomb_is_refused_before_decoding(tmp_path: Path, tiny_model_dir: Path) -> None:
    bomb = tmp_path / "bomb.png"
    Image.new("1", (20000, 10000)).save(bomb)  # 200 megapixels in a few kilobytes
    assert bomb.stat().st_size < 1_000_000
    assert_one_error_line(
        ["fill", str(bomb), "--box", "1,1,8", "--model", str(tiny_model_dir)], "over the limit of 89,478,485", 1
    )


def test_model_mistakes(workspace: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
    from inpaint_cli.backend import keras

    models = tmp_path_factory.mktemp("models")
    (models / "corrupt.keras").write_bytes(b"PK\x03\x04 not really a zip")
    inputs = keras.Input((32, 32, 3))
    keras.Model(inputs, keras.layers.Conv2D(3, 1)(inputs)).save(models / "three_channels.keras")
    cases = [
        (models / "missing.keras", "does not exist", 2),
        (models / "corrupt.keras", "is not a model inpaint can load", 1),
        (models / "three_channels.keras", "takes 3 channels", 1),
        (models, "holds neither", 1),  # a folder without a model file
    ]
    for model, message, code in cases:
        assert_one_error_line(fill(workspace, model, "--box", "1,1,8"), message, code)


def test_damaged_datasets(photo_folder: Path, tmp_path: Path) -> None:
    dataset_dir = tmp_path / "ds"
    result = runner.invoke(
        app,
        [
            *small_prepare_args(photo_folder, dataset_dir, hole_max=8),
        ],
    )
    assert result.exit_code == 0, result.output
    shard = dataset_dir / "train-00000.tfrecord"
    shard.write_bytes(shard.read_bytes()[:-100])
    line = assert_one_error_line(
        ["train", str(dataset_dir), "--out", str(tmp_path / "m"), "--epochs", "1", "--width", "2"], "is damaged", 1
    )
    assert "Graph execution error" not in line and "()" not in line
    shard.unlink()
    assert_one_error_line(["train", str(dataset_dir), "--out", str(tmp_path / "m")], "missing shard files", 1)


def test_training_mistakes_found_late_leave_nothing_that_blocks_the_corrected_command(
    photo_folder: Path, tmp_path: Path
) -> None:
    dataset_dir, model = tmp_path / "ds", tmp_path / "m"
    assert runner.invoke(app, small_prepare_args(photo_folder, dataset_dir, hole_max=8)).exit_code == 0
    train = ["train", str(dataset_dir), "--out", str(model), "--epochs", "1", "--width", "2", "--batch-size", "4"]
    for rate in ("inf", "1e39"):  # 1e39 is infinite in float32
        assert_one_error_line([*train, "--learning-rate", rate], "must be positive and finite", 2)
    for seed in ("-1", str(2**32)):
        assert_one_error_line([*train, "--seed", seed], "--seed", 2)
    assert_one_error_line([*train, "--width", "100000"], "--width 100000 is over 128", 2)
    assert_one_error_line([*train, "--batch-size", "100000"], "--batch-size 100000 is more than the", 2)
    assert_one_error_line(
        ["train", str(dataset_dir), "--out", str(dataset_dir), "--epochs", "1"], "is the dataset's folder", 2
    )
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "history.csv").write_text("my own figures")
    assert_one_error_line(["train", str(dataset_dir), "--out", str(mine), "--epochs", "1"], "holds history.csv", 2)
    assert (mine / "history.csv").read_text() == "my own figures" and not (mine / ".backup").exists()
    assert_one_error_line([*train, "--init-from", "bundled"], "--width 2 is narrower than the model to start from", 2)
    result = runner.invoke(app, train)  # other options than both failed runs: a fresh start, not a refusal
    assert result.exit_code == 0, result.output
    assert (model / "model.json").is_file() and not (model / ".backup").exists()


def test_init_from_a_model_of_unknown_width_asks_for_width_before_anything_is_written(tmp_path: Path) -> None:
    from inpaint_cli.backend import keras

    inputs = keras.Input((32, 32, 4))
    keras.Model(inputs, keras.layers.Conv2D(3, 1)(inputs)).save(tmp_path / "other.keras")
    train = ["train", str(tmp_path / "ds"), "--out", str(tmp_path / "m"), "--init-from", str(tmp_path / "other.keras")]
    assert_one_error_line(train, "cannot tell the width of the model to start from", 2)
    assert not (tmp_path / "m").exists()


def test_prepare_over_empty_or_all_corrupt_folders(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    assert_one_error_line(["prepare", str(tmp_path / "empty"), "--out", str(tmp_path / "ds")], "no images", 2)
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "a.jpg").write_bytes(b"junk")
    (tmp_path / "bad" / "b.png").write_bytes(b"")
    result = runner.invoke(app, ["prepare", str(tmp_path / "bad"), "--out", str(tmp_path / "ds")])
    assert result.exit_code == 1
    assert "Error: none of the 2 files could be read" in result.output
    assert not (tmp_path / "ds" / "manifest.json").exists()


def test_disk_full_while_writing_leaves_nothing(
    workspace: Path, tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = snapshot(workspace)
    real_save = Image.Image.save

    def save_half_then_fail(self: Image.Image, fp: object, *args: object, **kwargs: object) -> None:
        real_save(self, fp, *args, **kwargs)
        with open(fp, "r+b") as handle:  # noqa: PTH123 - simulate a partly written file
            handle.truncate(100)
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(Image.Image, "save", save_half_then_fail)
    assert_one_error_line(fill(workspace, tiny_model_dir, "--box", "10,10,30"), "No space left on device", 1)
    assert snapshot(workspace) == before


def test_unknown_command_and_option() -> None:
    assert_one_error_line(["paint"], "No such command 'paint'", 2)
    assert_one_error_line(["fill", "--colour", "red"], "No such option: --colour", 2)


@given(st.text(max_size=30))
@settings(max_examples=300, deadline=None)
def test_box_parsing_gives_a_box_or_a_clear_error(text: str) -> None:
    try:
        box = rectangles.parse_box(text)
    except UsageError as error:
        assert "box" in str(error)
    else:
        assert box.size >= 1 and box.x >= 0 and box.y >= 0


@given(st.binary(max_size=2000) | st.binary(max_size=300).map(lambda tail: _png_head() + tail))
@settings(max_examples=150, deadline=None)
def test_reading_random_bytes_gives_a_photo_or_a_clear_error(
    tmp_path_factory: pytest.TempPathFactory, data: bytes
) -> None:
    path = tmp_path_factory.mktemp("random") / "random.png"
    path.write_bytes(data)
    try:
        photo = images.open_photo(path)
    except InpaintError as error:
        assert str(path) in str(error)
    else:
        assert np.asarray(photo.image).size > 0


def _png_head() -> bytes:
    import io

    buffer = io.BytesIO()
    Image.fromarray(landscape(8, 8, seed=0)).save(buffer, format="PNG")
    return buffer.getvalue()[:60]
