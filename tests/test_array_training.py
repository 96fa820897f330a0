"""Training from photo folders on any Keras backend (scripts/train_from_photos.py, training/array_training.py)."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
import zipfile
from dataclasses import replace
from pathlib import Path

import h5py
import numpy as np
import pytest
from conftest import landscape
from PIL import Image
from typer.testing import CliRunner

from inpaint_cli.cli import app
from inpaint_cli.errors import UsageError
from inpaint_cli.settings import PrepareConfig, TrainConfig
from inpaint_cli.training import dataset, photo_arrays

PREPARE = PrepareConfig(size=32, hole_min=4, hole_max=12, val_fraction=0.25, seed=3)
CONFIG = TrainConfig(epochs=2, batch_size=4, learning_rate=3e-3, width=4, seed=0)
SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "train_from_photos.py"


def test_the_photos_are_split_and_holed_as_prepare_does(photo_folder: Path, tmp_path: Path) -> None:
    """Same split, same squares, same validation holes: validation figures compare with `inpaint train`'s."""
    arrays = photo_arrays.load_photo_arrays([photo_folder], PREPARE)
    manifest = dataset.prepare([photo_folder], tmp_path / "ds", PREPARE)
    counts = manifest["counts"]
    assert (len(arrays.train), len(arrays.validation)) == (counts["train"], counts["validation"])
    assert arrays.skipped == 0 and len(arrays.validation) > 0
    pairs = dataset.read_split(tmp_path / "ds", manifest, "validation").as_numpy_iterator()
    prepared = sorted((((image * 255).round().astype(np.uint8), mask) for image, mask in pairs), key=_image_bytes)
    ours = sorted(zip(arrays.validation, arrays.validation_masks, strict=True), key=_image_bytes)
    for (image, mask), (our_image, our_mask) in zip(prepared, ours, strict=True):
        np.testing.assert_array_equal(our_image, image)
        np.testing.assert_array_equal(our_mask, mask)
        assert 0 < mask.sum() < mask.size


def _image_bytes(pair: tuple[np.ndarray, np.ndarray]) -> bytes:
    return pair[0].tobytes()


def test_training_batches_are_holed_flipped_zoomed_and_reproducible() -> None:
    photos = np.stack([landscape(32, 32, seed) for seed in range(6)])
    config = replace(CONFIG, zoom_fraction=1.0, painted_fraction=0.5)

    def batch(seed: int) -> tuple[np.ndarray, np.ndarray]:
        rng = np.random.default_rng(seed)
        return photo_arrays.training_batch(photos, np.arange(6), rng, config, PREPARE)

    images, masks = batch(0)
    assert images.shape == (6, 32, 32, 3) and masks.shape == (6, 32, 32, 1)
    assert images.dtype == masks.dtype == np.uint8
    assert set(np.unique(masks)) == {0, 1} and all(0 < m.sum() < m.size for m in masks)
    # Every sample zoomed: none is its photo or its photo's mirror image.
    for image, photo in zip(images, photos, strict=True):
        assert not np.array_equal(image, photo) and not np.array_equal(image, photo[:, ::-1])
    again, again_masks = batch(0)
    np.testing.assert_array_equal(again, images)
    np.testing.assert_array_equal(again_masks, masks)
    assert not np.array_equal(batch(1)[1], masks)


def test_drawing_processes_give_the_batches_drawn_here_in_order() -> None:
    photos = np.stack([landscape(32, 32, seed) for seed in range(5)])
    drawer = photo_arrays.BatchDrawer(photos, replace(CONFIG, painted_fraction=0.5), PREPARE)
    here = photo_arrays.BatchStream(drawer, processes=0)
    ahead = photo_arrays.BatchStream(drawer, processes=2)
    try:
        for epoch in (0, 1):
            drawn_here, drawn_ahead = list(here.epoch(epoch, 7)), list(ahead.epoch(epoch, 7))
            assert len(drawn_here) == len(drawn_ahead) == 7
            for (images, masks), (other_images, other_masks) in zip(drawn_here, drawn_ahead, strict=True):
                np.testing.assert_array_equal(images, other_images)
                np.testing.assert_array_equal(masks, other_masks)
        assert not np.array_equal(drawn_here[0][1], list(here.epoch(0, 1))[0][1])  # epoch 1's first is not epoch 0's
    finally:
        ahead.close()


def test_each_pass_of_an_epoch_shows_every_photo_once() -> None:
    photos = np.zeros((10, 32, 32, 3), np.uint8)
    drawer = photo_arrays.BatchDrawer(photos, CONFIG, PREPARE)  # batches of 4: a pass ends inside batch 2
    drawn = np.concatenate([drawer.photo_indices(epoch=0, index=index) for index in range(5)])
    assert sorted(drawn[:10]) == list(range(10)) and sorted(drawn[10:20]) == list(range(10))
    assert not np.array_equal(drawn[:10], drawn[10:20])  # the next pass in another order
    assert not np.array_equal(drawer.photo_indices(epoch=1, index=0), drawn[:4])


# Runs the script as `python scripts/train_from_photos.py ...` would on a machine where TensorFlow is not installed.
RUN_SCRIPT = """
import runpy, sys

class NoTensorFlow:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] == "tensorflow":
            raise ModuleNotFoundError(f"No module named {name!r}")

sys.meta_path.insert(0, NoTensorFlow())
sys.argv = sys.argv[1:]
try:
    runpy.run_path(sys.argv[0], run_name="__main__")
except SystemExit as stop:
    print("exit", stop.code, file=sys.stderr)
"""


def run_script(*arguments: str, backend: str = "jax", timeout: float = 300) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-c", RUN_SCRIPT, str(SCRIPT), *arguments]
    environment = {**os.environ, "KERAS_BACKEND": backend}
    return subprocess.run(command, capture_output=True, text=True, env=environment, timeout=timeout)


@pytest.mark.slow
def test_keras_on_jax_without_tensorflow_trains_a_model_that_fill_takes(photo_folder: Path, tmp_path: Path) -> None:
    """The GPU machine's path: Keras on JAX where TensorFlow is missing; the model then fills here, on TensorFlow."""
    out = tmp_path / "model"
    arguments = [str(photo_folder), "--out", str(out), "--epochs", "2", "--batch-size", "4", "--width", "4"]
    arguments += ["--size", "32", "--hole-min", "4", "--hole-max", "12", "--val-fraction", "0.25", "--processes", "2"]
    arguments += ["--bfloat16"]  # trains in mixed precision; what it saves must still run in float32
    result = run_script(*arguments)
    assert result.stderr.strip().splitlines()[-1] == "exit 0", result.stderr
    assert result.stdout.splitlines()[-1].startswith("Best validation hole PSNR ")
    assert sorted(path.name for path in out.iterdir()) == ["history.csv", "model.json", "model.keras", "preview.png"]
    card = json.loads((out / "model.json").read_text())
    assert card["input_size"] == 32 and card["width"] == 4 and card["epochs_run"] == 2
    assert card["strategy"]["name"] == "keras-jax" and card["photos"]["counts"]["skipped"] == 0
    with (out / "history.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert [row["epoch"] for row in rows] == ["1", "2"]
    assert card["best"]["val_hole_psnr"] == max(float(row["val_hole_psnr"]) for row in rows)
    assert Image.open(out / "preview.png").size == (3 * 32, 6 * 32)
    with zipfile.ZipFile(out / "model.keras") as archive:
        saved = json.loads(archive.read("config.json"))
        weights = h5py.File(io.BytesIO(archive.read("model.weights.h5")), "r")
        assert "optimizer" not in weights, list(weights)  # no optimizer state: a third of the size

    policies = [layer["config"].get("dtype") for layer in saved["config"]["layers"]]
    names = {policy if isinstance(policy, str) else policy["config"]["name"] for policy in policies if policy}
    assert names == {"float32"}, names

    photo = tmp_path / "photo.png"
    original = landscape(60, 70, seed=4)
    Image.fromarray(original).save(photo)
    filled = CliRunner().invoke(app, ["fill", str(photo), "--box", "20,20,16", "--model", str(out)])
    assert filled.exit_code == 0, filled.output
    result_pixels = np.asarray(Image.open(tmp_path / "photo.filled.png"))
    outside = np.ones((60, 70), bool)
    outside[20:36, 20:36] = False
    np.testing.assert_array_equal(result_pixels[outside], original[outside])
    assert not np.array_equal(result_pixels, original)

    again = run_script(*arguments, timeout=120)
    assert again.stderr.strip().splitlines() == [
        f"Error: {out} is not empty; choose a new folder for the model",
        "exit 2",
    ]


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("--processes", "-1", "--processes must be 0 or more, not -1"),
        ("--steps-per-epoch", "0", "--steps-per-epoch must be at least 1, not 0"),
        ("--minutes", "0", "--minutes must be above 0, not 0"),
        ("--seed", "-3", "--seed must be in 0..4294967295, not -3"),
        ("--epochs", "0", "epochs, batch size and width must be at least 1"),
    ],
)
def test_the_script_refuses_bad_options_in_one_line(option: str, value: str, message: str, tmp_path: Path) -> None:
    result = run_script(str(tmp_path), "--out", str(tmp_path / "model"), option, value, timeout=60)
    assert result.stderr.strip().splitlines() == [f"Error: {message}", "exit 2"]
    assert not (tmp_path / "model").exists()


def test_the_script_names_a_missing_photo_folder(tmp_path: Path) -> None:
    result = run_script(str(tmp_path / "nowhere"), "--out", str(tmp_path / "model"), timeout=60)
    assert result.stderr.strip().splitlines() == [f"Error: no such file or folder: {tmp_path / 'nowhere'}", "exit 2"]


def test_an_out_folder_with_files_is_refused_before_any_work(tmp_path: Path) -> None:
    from inpaint_cli.training import array_training

    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "notes.txt").write_text("mine")
    with pytest.raises(UsageError, match="is not empty"):
        array_training.train_from_photos([tmp_path / "no-photos"], tmp_path / "model", CONFIG, PREPARE)
    assert (tmp_path / "model" / "notes.txt").read_text() == "mine"
    (tmp_path / "file").write_text("mine")
    with pytest.raises(UsageError, match="is not empty"):
        array_training.train_from_photos([tmp_path / "no-photos"], tmp_path / "file", CONFIG, PREPARE)
