import csv
import json
import math
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from conftest import write_photo_folder
from PIL import Image
from typer.testing import CliRunner

from inpaint_cli.cli import app
from inpaint_cli.errors import InpaintError, UsageError
from inpaint_cli.model import network, runtime
from inpaint_cli.training import dataset, starting_point, storage, training_loop, training_outputs

PREPARE = dataset.PrepareConfig(size=32, hole_min=4, hole_max=12, val_fraction=0.25, seed=0)
TINY = training_loop.TrainConfig(epochs=4, batch_size=4, learning_rate=3e-3, width=4, seed=0)


@pytest.fixture(scope="module")
def dataset_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """conftest's 24 generated photos (PNG and JPEG, one in a subfolder) as 32 px samples; shared by the module."""
    folder = tmp_path_factory.mktemp("training")
    dataset.prepare([write_photo_folder(folder / "photos")], folder / "ds", PREPARE)
    return folder / "ds"


@pytest.fixture(scope="module")
def tiny_run(dataset_dir: Path, tmp_path_factory: pytest.TempPathFactory):
    """One TINY run: its folder, its TrainResult and the logs it reported after each epoch.

    Trained once for the module: one test checks the run, another starts a second run from its weights.
    """
    reports: list[dict[str, float]] = []
    folder = tmp_path_factory.mktemp("tiny_run") / "model"
    result = training_loop.train(dataset_dir, folder, TINY, on_epoch=lambda epoch, total, logs: reports.append(logs))
    return folder, result, reports


@pytest.mark.slow
def test_tiny_training_run_lowers_the_loss_and_writes_every_file(dataset_dir: Path, tiny_run) -> None:
    folder, result, reports = tiny_run
    card = result.card
    assert result.resumed_from == 0 and result.notes == []
    assert len(reports) == 4
    assert reports[-1]["loss"] < reports[0]["loss"]
    assert sorted(path.name for path in folder.iterdir()) == ["history.csv", "model.json", "model.keras", "preview.png"]
    with (folder / "history.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert [row["epoch"] for row in rows] == ["1", "2", "3", "4"]
    saved_card = json.loads((folder / "model.json").read_text())
    assert saved_card == card
    assert card["input_size"] == 32 and card["width"] == 4 and card["parameters"] > 0
    assert card["dataset"]["manifest_sha256"] == dataset.manifest_digest(dataset_dir)
    assert card["best"]["val_hole_psnr"] == max(float(row["val_hole_psnr"]) for row in rows)
    assert Image.open(folder / "preview.png").size == (3 * 32, 6 * 32)


@pytest.mark.slow
def test_the_tutorial_recipe_trains_a_network_seeing_only_the_zeroed_image(dataset_dir: Path, tmp_path: Path) -> None:
    config = training_loop.TrainConfig(epochs=1, batch_size=4, width=4, loss="mse", prefill=False, mask_input=False)
    card = training_loop.train(dataset_dir, tmp_path / "model", config, on_epoch=lambda *report: None).card
    assert card["model"]["prefill"] is False and card["model"]["mask_input"] is False
    assert card["training"]["loss"] == "mse"
    unet = runtime.load_network(tmp_path / "model")
    assert not any(isinstance(layer, network.SmoothPrefill) for layer in unet.layers)


@pytest.mark.slow
def test_training_can_start_from_the_weights_of_another_model(dataset_dir: Path, tiny_run, tmp_path: Path) -> None:
    first, first_result, _ = tiny_run  # a finished width-4 model of seed 0
    base = replace(TINY, epochs=1)
    # Another seed, and a learning rate too small to move anything: only the start can make the weights equal.
    config = replace(base, seed=1, learning_rate=1e-12, init_from=str(first))
    card = training_loop.train(dataset_dir, tmp_path / "second", config, on_epoch=lambda *report: None).card
    before, after = runtime.load_network(first), runtime.load_network(tmp_path / "second")
    for start, end in zip(before.get_weights(), after.get_weights(), strict=True):
        assert np.allclose(start, end, atol=1e-6)
    record = {"path": str(first), "width": 4, "command": None, "best": first_result.card["best"]}
    assert card["initialised_from"] == record
    with pytest.raises(UsageError, match="--width 2 is narrower than the model to start from"):
        training_loop.train(
            dataset_dir, tmp_path / "third", replace(base, width=2, init_from=str(first)), lambda *report: None
        )
    with pytest.raises(UsageError, match="no .*model.keras"):
        training_loop.train(
            dataset_dir, tmp_path / "fourth", replace(base, init_from=str(tmp_path / "none")), lambda *report: None
        )


@pytest.mark.parametrize(("card_format", "epoch"), [("inpaint-model-card/1", 4), ("inpaint-model-card/2", 3)])
def test_a_parent_card_of_the_first_format_has_its_best_epoch_counted_from_one(
    tmp_path: Path, card_format: str, epoch: int
) -> None:
    """Cards before format /2 counted epochs from 0; the card that quotes one counts from 1 like the console."""
    best = {"epoch": 3, "val_hole_psnr": 24.5}
    card = {"format": card_format, "command": "inpaint train", "width": 16, "best": best}
    (tmp_path / "model.json").write_text(json.dumps(card))
    quoted = training_outputs.parent_record(str(tmp_path))
    assert quoted == {"path": str(tmp_path), "width": 16, "command": "inpaint train", "best": {**best, "epoch": epoch}}


@pytest.mark.parametrize("loss", [math.nan, math.inf])
def test_a_diverged_epoch_stops_training_in_one_line_before_it_is_kept(tmp_path: Path, loss: float) -> None:
    folder = training_loop.TrainingFolder(str(tmp_path), writes=True)
    commit = training_loop._EpochCommit(folder, {}, None, None, epochs=3, on_epoch=lambda *report: None)
    with pytest.raises(InpaintError, match="training diverged: the loss was .* in epoch 2; run it again with a lower"):
        commit(None, 1, {"loss": loss})
    assert list(tmp_path.iterdir()) == []  # nothing committed


def test_without_a_width_training_takes_that_of_the_model_it_starts_from(tmp_path: Path) -> None:
    """`--init-from` a model of any width fine-tunes it as it is; a named --width still wins (and widens)."""
    (tmp_path / "model.json").write_text(json.dumps({"format": "inpaint-model-card/2", "width": 12}))
    assert starting_point.starting_width(None, str(tmp_path)) == 12
    assert starting_point.starting_width(None, str(tmp_path / "model.keras")) == 12
    assert starting_point.starting_width(24, str(tmp_path)) == 24
    assert starting_point.starting_width(None, None) == training_loop.TrainConfig.width
    for unreadable in ("no card", "bad card"):  # and no model.keras: nothing says the width, nor is there a model
        if unreadable == "bad card":
            (tmp_path / "model.json").write_text("{not json")
        with pytest.raises(UsageError, match="the model to start from, .*, has no .*model.keras"):
            starting_point.starting_width(None, str(tmp_path / "none" if unreadable == "no card" else tmp_path))
    (tmp_path / "model.json").write_text(json.dumps({"format": "inpaint-model-card/2", "width": 12}))
    backup = tmp_path / "out" / ".backup"  # a run left unfinished, started when the default width was 16
    backup.mkdir(parents=True)
    (backup / "options.json").write_text(json.dumps({"training": {"width": 16}}))
    assert starting_point.starting_width(None, None, str(tmp_path / "out")) == training_loop.TrainConfig.width
    (backup / "state.json").write_text(json.dumps({"epoch": 3}))  # an epoch ended: the same command resumes it
    assert starting_point.starting_width(None, str(tmp_path), str(tmp_path / "out")) == 16
    assert starting_point.starting_width(8, None, str(tmp_path / "out")) == 8
    bundled = json.loads((runtime.model_path("bundled") / "model.json").read_text())
    assert starting_point.starting_width(None, str(runtime.model_path("bundled"))) == bundled["width"]


def test_without_a_width_or_a_card_training_takes_the_width_the_model_itself_has(
    tiny_model_dir: Path, tmp_path: Path
) -> None:
    """A bare .keras file, or a folder whose card says no width, is fine-tuned at its own width, not the default."""
    shutil.copy(tiny_model_dir / "model.keras", tmp_path / "bare.keras")  # conftest's width-4 model, no card beside
    assert starting_point.starting_width(None, str(tmp_path / "bare.keras")) == 4
    assert "width" not in json.loads((tiny_model_dir / "model.json").read_text())
    assert starting_point.starting_width(None, str(tiny_model_dir)) == 4
    assert starting_point.starting_width(None, str(tiny_model_dir / "model.keras")) == 4


def test_a_model_whose_width_cannot_be_read_asks_for_width(tmp_path: Path) -> None:
    from inpaint_cli.backend import keras

    inputs = keras.Input((32, 32, 4))
    keras.Model(inputs, keras.layers.Conv2D(3, 1, name="rgb")(inputs)).save(tmp_path / "other.keras")
    (tmp_path / "damaged.keras").write_bytes(b"PK\x03\x04 not really a zip")
    for name in ("other.keras", "damaged.keras"):
        with pytest.raises(UsageError) as refused:
            starting_point.starting_width(None, str(tmp_path / name))
        assert str(refused.value).startswith(f"cannot tell the width of the model to start from, {tmp_path / name}")
        assert str(refused.value).endswith("; give --width") and "\n" not in str(refused.value)
    assert starting_point.starting_width(8, str(tmp_path / "other.keras")) == 8  # a named --width needs no reading


def test_a_remote_init_from_keeps_its_url_to_the_training_run(
    tiny_model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """gs://bucket/... reaches the card lookup, the width reading and the training run with both of its slashes."""
    url = "gs://bucket/run/model.keras"
    remote = {url: tiny_model_dir / "model.keras"}  # a stand-in for the bucket: no network here
    asked: list[str] = []

    def exists(path: str) -> bool:
        asked.append(str(path))
        return str(path) in remote

    @contextmanager
    def local_copy(path: str) -> Iterator[Path]:
        asked.append(str(path))
        yield remote[str(path)]

    configs: list[training_loop.TrainConfig] = []

    def recorded_run(dataset_dir: str, out: str, config: training_loop.TrainConfig, *rest, **options):
        configs.append(config)
        return training_loop.TrainResult(card={"best": {"val_hole_psnr": 20.0, "epoch": 1}}, resumed_from=0)

    monkeypatch.setattr(storage, "exists", exists)
    monkeypatch.setattr(storage, "local_copy", local_copy)
    monkeypatch.setattr(training_loop, "train", recorded_run)
    result = CliRunner().invoke(app, ["train", str(tmp_path / "ds"), "--out", str(tmp_path / "m"), "--init-from", url])
    assert result.exit_code == 0, result.output
    assert configs[0].init_from == url and configs[0].width == 4
    remote_paths = [path for path in asked if path.startswith("gs:")]
    assert remote_paths and all(path.startswith("gs://bucket/run/") for path in remote_paths), remote_paths


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"painted_fraction": 1.5}, "--painted-fraction must be in [0, 1], not 1.5"),
        ({"stroke_fraction": -0.1}, "--stroke-fraction must be in [0, 1], not -0.1"),
        ({"zoom_fraction": 2.0}, "--zoom-fraction must be in [0, 1], not 2"),
    ],
)
def test_a_share_out_of_range_is_named_in_the_error(changes: dict[str, float], message: str) -> None:
    with pytest.raises(UsageError) as refused:
        replace(training_loop.TrainConfig(), **changes).check()
    assert str(refused.value) == message
