import shutil
from pathlib import Path

import numpy as np
import pytest
from conftest import landscape
from PIL import Image
from typer.testing import CliRunner

from inpaint_cli import settings
from inpaint_cli.cli import app
from inpaint_cli.errors import InpaintError, UsageError
from inpaint_cli.inpainting import masking
from inpaint_cli.inpainting.rectangles import Box
from inpaint_cli.model import runtime
from inpaint_cli.stages import export, filling


@pytest.fixture(scope="module")
def exported_dir(tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the tiny model folder with model.tflite written by export()."""
    folder = tmp_path_factory.mktemp("exported") / "model"
    shutil.copytree(tiny_model_dir, folder)
    export.export(folder)
    return folder


def test_export_writes_a_tflite_that_matches_keras(tiny_model_dir: Path, tmp_path: Path) -> None:
    from inpaint_cli.model import network

    folder = tmp_path / "model"
    shutil.copytree(tiny_model_dir, folder)
    trained = runtime.load_network(folder)  # an untrained network's fill is its smooth fill; make them differ
    trained.get_layer("correction").bias.assign(np.full(3, 0.1, np.float32))
    trained.save(folder / "model.keras")
    result = export.export(folder, seed=3)
    assert result.path == folder / "model.tflite" and result.path.stat().st_size == result.size_bytes
    assert 0 <= result.max_difference <= settings.EXPORT_TOLERANCE == result.tolerance
    assert sorted(path.name for path in folder.iterdir()) == ["model.json", "model.keras", "model.tflite"]
    # Independently of export's own check: other inputs, the Keras model against the file.
    inputs = export.sample_inputs(32, count=3, seed=11)
    unet = runtime.load_network(folder)
    expected = np.asarray(network.with_smooth_fill(unet)(inputs, training=False))
    assert np.max(np.abs(runtime.load_litert(result.path)(inputs) - expected)) <= 1e-4
    # The file's 6 channels: the network's fill, then the smooth fill.
    produced = runtime.load_litert(result.path)(inputs)
    assert np.allclose(produced[..., :3], np.asarray(unet(inputs, training=False)), atol=1e-4)
    assert np.allclose(produced[..., 3:], np.asarray(network.SmoothPrefill()(inputs)), atol=1e-4)
    assert not np.allclose(produced[..., :3], produced[..., 3:], atol=0.05)


def test_load_picks_the_tflite_and_fills_only_the_holes(exported_dir: Path, tmp_path: Path) -> None:
    model = runtime.load_predictor(exported_dir)
    assert isinstance(model.predict, runtime.LiteRTPredict) and model.input_size == 32
    assert isinstance(runtime.load_predictor(exported_dir / "model.tflite").predict, runtime.LiteRTPredict)
    assert not isinstance(runtime.load_predictor(exported_dir / "model.keras").predict, runtime.LiteRTPredict)
    photo, target = tmp_path / "photo.png", tmp_path / "photo.filled.png"
    pixels = landscape(300, 400, seed=6)
    Image.fromarray(pixels).save(photo)
    boxes = [Box(10, 20, 12), Box(200, 100, 90), Box(380, 280, 20)]
    [outcome] = filling.fill_photos(filling.FillRequest([photo], boxes, out=target, model=exported_dir))
    assert outcome.error is None
    filled = np.asarray(Image.open(target))
    hole = masking.draw_boxes(boxes, 300, 400) > 0
    assert np.array_equal(filled[~hole], pixels[~hole])
    assert not np.array_equal(filled[hole], pixels[hole])


def test_litert_predicts_batches_of_any_length(exported_dir: Path) -> None:
    predict = runtime.load_litert(exported_dir / "model.tflite")
    inputs = export.sample_inputs(32, count=5, seed=1)
    batch = predict(inputs)
    assert batch.shape == (5, 32, 32, 6) and batch.dtype == np.float32
    assert np.array_equal(predict(inputs[2:3])[0], batch[2])


def test_export_refuses_a_model_that_differs(
    tiny_model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "model"
    shutil.copytree(tiny_model_dir, folder)
    monkeypatch.setattr(runtime, "load_litert", lambda path: lambda batch: np.ones(batch.shape[:3] + (6,), np.float32))
    with pytest.raises(
        InpaintError, match=r"differs from the Keras model by up to .* \(tolerance 0.0001\); .* not written"
    ):
        export.export(folder)
    assert sorted(path.name for path in folder.iterdir()) == ["model.json", "model.keras"]  # no temporary left


def test_export_needs_a_folder_with_model_keras(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="does not exist"):
        export.export(tmp_path / "missing")
    with pytest.raises(UsageError, match="has no model.keras"):
        export.export(tmp_path)
    (tmp_path / "model.keras").write_bytes(b"x")
    with pytest.raises(UsageError, match="is a file"):
        export.export(tmp_path / "model.keras")


def test_a_damaged_tflite_is_one_clear_error(tmp_path: Path) -> None:
    (tmp_path / "model.tflite").write_bytes(b"not a flatbuffer")
    with pytest.raises(InpaintError, match="is not a LiteRT model"):
        runtime.load_predictor(tmp_path)


def test_export_command(tiny_model_dir: Path, tmp_path: Path) -> None:
    folder = tmp_path / "model"
    shutil.copytree(tiny_model_dir, folder)
    runner = CliRunner()
    result = runner.invoke(app, ["export", str(folder)])
    assert result.exit_code == 0, result.output
    assert f"Wrote {folder / 'model.tflite'}" in result.output
    assert "largest difference from the Keras model on 4 sample inputs" in result.output
    missing = runner.invoke(app, ["export", str(tmp_path / "nope")])
    assert missing.exit_code == 2
    assert missing.output.strip() == f"Error: model folder {tmp_path / 'nope'} does not exist"
