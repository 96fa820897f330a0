"""The commands that need no TensorFlow must run where importing it fails."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import landscape
from PIL import Image

from inpaint_cli.stages import export

FAKE = 'open({marker!r}, "a").write(__name__ + "\\n")\nraise ImportError("tensorflow must not be imported")\n'


@pytest.fixture(scope="module")
def litert_only_dir(tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A model folder holding only model.tflite and model.json."""
    exported = tmp_path_factory.mktemp("exported") / "model"
    shutil.copytree(tiny_model_dir, exported)
    export.export(exported)
    folder = tmp_path_factory.mktemp("litert_only")
    for name in ("model.tflite", "model.json"):
        shutil.copy(exported / name, folder / name)
    return folder


def run_without_tensorflow(tmp_path: Path, *arguments: str) -> subprocess.CompletedProcess[str]:
    """Run `python -m inpaint_cli.cli ARGUMENTS` where tensorflow and keras are fakes that refuse to import."""
    fakes, marker = tmp_path / "fakes", tmp_path / "imported.txt"
    for name in ("tensorflow", "keras"):
        (fakes / name).mkdir(parents=True, exist_ok=True)
        (fakes / name / "__init__.py").write_text(FAKE.format(marker=str(marker)))
    environment = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(fakes), os.environ.get("PYTHONPATH")])),
    }
    result = subprocess.run(
        [sys.executable, "-m", "inpaint_cli.cli", *arguments], capture_output=True, text=True, env=environment
    )
    assert not marker.exists(), f"imported {marker.read_text().split()} (even if the ImportError was caught)"
    return result


@pytest.mark.parametrize("arguments", [["--help"], ["fill", "--help"], ["--version"]])
def test_help_and_version_need_no_tensorflow(tmp_path: Path, arguments: list[str]) -> None:
    result = run_without_tensorflow(tmp_path, *arguments)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip()


@pytest.mark.parametrize("model_name", ["", "model.tflite"])
def test_fill_with_a_tflite_needs_no_tensorflow(litert_only_dir: Path, tmp_path: Path, model_name: str) -> None:
    photo, target = tmp_path / "photo.png", tmp_path / "photo.filled.png"
    pixels = landscape(80, 120, seed=9)
    Image.fromarray(pixels).save(photo)
    model = litert_only_dir / model_name if model_name else litert_only_dir
    result = run_without_tensorflow(
        tmp_path, "fill", str(photo), "--box", "30,20,24", "--out", str(target), "--model", str(model)
    )
    assert result.returncode == 0, result.stderr
    assert "INFO" not in result.stderr and "XNNPACK" not in result.stderr  # LiteRT's log line stays hidden
    assert "Filled" in result.stdout + result.stderr
    filled = np.asarray(Image.open(target))
    outside = np.ones(pixels.shape[:2], bool)
    outside[20:44, 30:54] = False
    assert np.array_equal(filled[outside], pixels[outside])


def test_the_command_exits_with_the_error_status_and_one_line(tmp_path: Path) -> None:
    result = run_without_tensorflow(tmp_path, "fill", str(tmp_path / "missing.jpg"), "--box", "1,1,1")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [f"Error: {tmp_path / 'missing.jpg'} does not exist"]


def test_fill_can_plan_and_start_decoding_before_numpy_loads() -> None:
    """filling, fill_paths and images import neither numpy nor OpenCV: the first photo decodes while they load."""
    modules = "inpaint_cli.cli, inpaint_cli.stages.filling, inpaint_cli.stages.fill_paths, inpaint_cli.files.images"
    check = f"import sys, {modules}; print('numpy' in sys.modules or 'cv2' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"


SPY_ON_THE_READER = """
import sys
from typer.testing import CliRunner
from inpaint_cli import cli
from inpaint_cli.files import images
numpy_loaded_when_decoding_began = []
start = images.PhotoReader.__init__
def spy(reader, *args, **kwargs):
    numpy_loaded_when_decoding_began.append("numpy" in sys.modules)
    start(reader, *args, **kwargs)
images.PhotoReader.__init__ = spy
result = CliRunner().invoke(cli.app, ["fill", sys.argv[1], "--box", "2,2,4", "--out", sys.argv[2]])
print(result.exit_code, numpy_loaded_when_decoding_began)
"""


def test_the_fill_command_starts_decoding_before_numpy_loads(tmp_path: Path) -> None:
    """Parsing --box must not import numpy: the 12 MP JPEG's 40 ms decode then hides behind numpy's import."""
    Image.new("RGB", (16, 16), (90, 120, 60)).save(tmp_path / "photo.png")
    command = [sys.executable, "-c", SPY_ON_THE_READER, str(tmp_path / "photo.png"), str(tmp_path / "out.png")]
    result = subprocess.run(command, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["0", "[False]"]
