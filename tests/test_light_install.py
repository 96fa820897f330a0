"""`pip install .` alone (no TensorFlow) fills the README's example; .ci/run builds that environment."""

import os
import signal
import subprocess
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest
from conftest import takes_ctrl_c
from PIL import Image

REPO = Path(__file__).resolve().parent.parent
LIGHT_PYTHON = os.environ.get("INPAINT_LIGHT_PYTHON")

pytestmark = pytest.mark.skipif(
    not LIGHT_PYTHON, reason="needs INPAINT_LIGHT_PYTHON: the python of a `pip install .` environment (.ci/run)"
)


def light(*arguments: str, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(LIGHT_PYTHON), *arguments], capture_output=True, text=True, cwd=cwd)


def test_the_light_install_has_no_tensorflow() -> None:
    result = light("-c", "import importlib.util as u; print(u.find_spec('tensorflow'), u.find_spec('keras'))")
    assert result.stdout.split() == ["None", "None"]


def test_the_light_install_fills_the_readme_example_from_the_installed_package(tmp_path: Path) -> None:
    target = tmp_path / "filled.jpg"
    photo = REPO / "examples" / "picos_de_europa.jpg"
    # Run outside the checkout, so the installed package (and its bundled model) is what fills.
    command = "from inpaint_cli.cli import run; run()"
    result = light("-c", command, "fill", str(photo), "--box", "770,672,68", "--out", str(target), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    with Image.open(photo) as before, Image.open(target) as after:
        changed = np.abs(np.asarray(before, np.int16) - np.asarray(after, np.int16)).max(axis=-1) > 24
    assert changed[672:740, 770:838].mean() > 0.2  # the hole was filled


def test_a_command_that_needs_tensorflow_says_which_extra_to_install(tmp_path: Path) -> None:
    result = light("-c", "from inpaint_cli.cli import run; run()", "train", "ds", "--out", "m", cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "Error: this command needs TensorFlow, which is not installed: pip install 'inpaint[train]'"
    ]


def test_the_light_install_serves_the_page(tmp_path: Path) -> None:
    server = subprocess.Popen(
        [str(LIGHT_PYTHON), "-c", "from inpaint_cli.cli import run; run()", "serve", "--port", "0"],
        cwd=tmp_path,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=takes_ctrl_c,
    )
    try:
        address = ""
        deadline = time.monotonic() + 60
        while not address and time.monotonic() < deadline:
            line = server.stderr.readline()
            address = next((word for word in line.split() if word.startswith("http://127.0.0.1:")), "")
        assert address, "no address printed"
        with urllib.request.urlopen(address, timeout=30) as page:
            assert page.status == 200 and b"<canvas" in page.read()
    finally:
        server.send_signal(signal.SIGINT)
        assert server.wait(timeout=30) == 130
