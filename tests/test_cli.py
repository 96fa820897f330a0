import json
from pathlib import Path

import numpy as np
from conftest import landscape, small_prepare_args
from PIL import Image
from typer.testing import CliRunner

from inpaint_cli import __version__
from inpaint_cli.cli import app

runner = CliRunner()


def test_version_and_help_with_examples() -> None:
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0 and __version__ in result.output
    for command in ("prepare", "train", "fill"):
        result = runner.invoke(app, [command, "--help"])
        assert result.exit_code == 0
        assert f"Example: inpaint {command}" in result.output


def test_prepare_train_fill_end_to_end(photo_folder: Path, tmp_path: Path) -> None:
    dataset_dir, model_dir = tmp_path / "ds", tmp_path / "model"
    result = runner.invoke(
        app,
        [
            *small_prepare_args(photo_folder, dataset_dir, hole_max=12),
            "--preview",
            str(tmp_path / "sheet.png"),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "training and" in result.output and (dataset_dir / "manifest.json").is_file()
    assert Image.open(tmp_path / "sheet.png").width == 8 * 32

    result = runner.invoke(
        app, ["train", str(dataset_dir), "--out", str(model_dir), "--epochs", "1", "--width", "4", "--batch-size", "4"]
    )
    assert result.exit_code == 0, result.output
    assert "epoch   1/1" in result.output and (model_dir / "model.keras").is_file()
    card = json.loads((model_dir / "model.json").read_text())
    assert card["command"].startswith(f"inpaint train {dataset_dir} --out {model_dir} --epochs 1 --batch-size 4 ")
    assert "--width 4" in card["command"] and "--prefill --mask-input" in card["command"]

    photo = tmp_path / "photo.png"
    Image.fromarray(landscape(100, 120, seed=9)).save(photo)
    result = runner.invoke(
        app, ["fill", str(photo), "--box", "10,10,20", "--box", "60,50,30", "--model", str(model_dir / "model.keras")]
    )
    assert result.exit_code == 0, result.output
    filled = np.asarray(Image.open(tmp_path / "photo.filled.png"))
    assert filled.shape == (100, 120, 3)

    result = runner.invoke(app, ["fill", str(photo), "--box", "10,10,20", "--model", str(model_dir)])
    assert result.exit_code == 2
    assert "already exists; use --force" in result.output


def test_fill_several_photos_into_an_out_dir(tiny_model_dir: Path, tmp_path: Path) -> None:
    photos = []
    for index in range(2):
        photos.append(tmp_path / f"p{index}.jpg")
        Image.fromarray(landscape(64, 80, seed=index)).save(photos[-1])
    out_dir = tmp_path / "new" / "folder"
    result = runner.invoke(
        app, ["fill", *map(str, photos), "--box", "5,5,16", "--out-dir", str(out_dir), "--model", str(tiny_model_dir)]
    )
    assert result.exit_code == 0, result.output
    assert sorted(path.name for path in out_dir.iterdir()) == ["p0.filled.jpg", "p1.filled.jpg"]


def test_user_mistakes_give_one_line_and_exit_status(tiny_model_dir: Path, tmp_path: Path) -> None:
    photo = tmp_path / "photo.png"
    Image.fromarray(landscape(600, 800, seed=1)).save(photo)
    Image.fromarray(landscape(60, 80, seed=2)).save(tmp_path / "other.png")
    cases = [
        (
            ["fill", str(photo), "--box", "790,590,50", "--model", str(tiny_model_dir)],
            "Error: box 790,590,50 lies outside photo.png (800x600)",
        ),
        (["fill", str(photo), "--box", "10,10", "--model", str(tiny_model_dir)], "Error: box '10,10' is not x,y,size"),
        # Checked before --out-dir is created: a mistake leaves no folder behind.
        (["fill", str(photo), "--box", "10,10", "--out-dir", str(tmp_path / "od" / "sub")], "is not x,y,size"),
        (["fill", str(photo), "--box", "1,1,1", "--out", str(tmp_path / "missing" / "x.png")], "does not exist"),
        (["fill", str(tmp_path / "nope.png"), "--box", "1,1,1"], "does not exist"),
        (["fill", str(photo), "--box", "1,1,1", "--model", str(tmp_path / "nomodel.keras")], "does not exist"),
        (
            ["fill", str(photo), str(tmp_path / "other.png"), "--box", "1,1,1", "--out", str(tmp_path / "x.png")],
            "name an output folder",
        ),
        (["train", str(tmp_path), "--out", str(tmp_path / "m")], "has no manifest.json"),
    ]
    for arguments, message in cases:
        result = runner.invoke(app, arguments)
        assert result.exit_code == 2, (arguments, result.output)
        assert message in result.output, (arguments, result.output)
        assert "Traceback" not in result.output
    assert sorted(path.name for path in tmp_path.iterdir()) == ["other.png", "photo.png"]


def test_fill_a_folder_with_a_corrupt_file_masks_by_stem_and_compare(tiny_model_dir: Path, tmp_path: Path) -> None:
    photos = tmp_path / "photos"
    (photos / "trip").mkdir(parents=True)
    for index, name in enumerate(["a.jpg", "b.png", "trip/c.png"]):
        Image.fromarray(landscape(64, 80, seed=index)).save(photos / name)
    (photos / "broken.jpg").write_bytes(b"not a photo")
    masks = tmp_path / "masks"
    masks.mkdir()
    mask = np.zeros((32, 40), np.uint8)
    mask[4:12, 30:38] = 255
    Image.fromarray(mask).save(masks / "b.png")
    out_dir = tmp_path / "out"
    result = runner.invoke(
        app,
        [
            "fill",
            str(photos),
            "--box",
            "5,5,16",
            "--mask-dir",
            str(masks),
            "--out-dir",
            str(out_dir),
            "--model",
            str(tiny_model_dir),
        ],
    )
    assert result.exit_code == 1
    assert "broken.jpg is not an image" in result.output
    assert "1 of 4 photos failed" in result.output
    written = sorted(str(path.relative_to(out_dir)) for path in out_dir.rglob("*.*"))
    assert written == ["a.filled.jpg", "b.filled.png", "trip/c.filled.png"]
    original, filled = np.asarray(Image.open(photos / "b.png")), np.asarray(Image.open(out_dir / "b.filled.png"))
    changed = (original != filled).any(axis=-1)
    assert changed[8:24, 60:76].any() and changed[5:21, 5:21].any()  # the mask (resized x2) and the box
    assert not changed[40:, :50].any()

    compare = tmp_path / "compare.png"
    result = runner.invoke(
        app,
        [
            "fill",
            str(photos / "a.jpg"),
            "--box",
            "5,5,16",
            "--out",
            str(tmp_path / "a.png"),
            "--compare",
            str(compare),
            "--model",
            str(tiny_model_dir),
        ],
    )
    assert result.exit_code == 0, result.output
    sides = np.asarray(Image.open(compare).convert("RGB"))
    assert sides.shape == (64, 2 * 80 + 16, 3)
    before, after = sides[10:18, 10:18], sides[10:18, 96 + 10 : 96 + 18]  # inside the hole, away from the outline
    assert not np.array_equal(before, after)
