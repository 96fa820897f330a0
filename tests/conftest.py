"""Shared fixtures: small generated photos and a tiny model, no files from outside the repository."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def landscape(height: int, width: int, seed: int) -> np.ndarray:
    """A smooth synthetic 'landscape': sky gradient, a wavy horizon, textured ground. uint8 HxWx3."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    horizon = height * (0.5 + 0.1 * np.sin(xx / width * 2 * np.pi * rng.uniform(1, 3) + rng.uniform(0, 6)))
    sky = np.stack([80 + 60 * yy / height, 140 + 50 * yy / height, 230 - 20 * yy / height], axis=-1)
    ground = np.stack([70 + 30 * np.sin(xx / 7), 110 + 20 * np.cos(yy / 5), 50 + 0 * xx], axis=-1)
    image = np.where((yy < horizon)[..., None], sky, ground) + rng.normal(0, 4, (height, width, 3))
    return np.clip(image, 0, 255).astype(np.uint8)


def small_prepare_args(photos: Path, out: Path, hole_max: int = 12) -> list[str]:
    """`inpaint prepare` arguments for a quick 32 px dataset of the generated photos."""
    return [
        "prepare",
        str(photos),
        "--out",
        str(out),
        "--size",
        "32",
        "--hole-min",
        "4",
        "--hole-max",
        str(hole_max),
        "--val-fraction",
        "0.25",
    ]


def write_photo_folder(folder: Path) -> Path:
    """folder filled with 24 small generated photos (PNG and JPEG, one in a subfolder)."""
    (folder / "more").mkdir(parents=True)
    for index in range(24):
        target = folder / "more" if index == 0 else folder
        suffix = ".jpg" if index % 3 == 0 else ".png"
        Image.fromarray(landscape(40 + index % 5, 48, index)).save(target / f"photo{index:02d}{suffix}")
    return folder


@pytest.fixture
def photo_folder(tmp_path: Path) -> Path:
    """A folder of 24 small generated photos (PNG and JPEG, one in a subfolder)."""
    return write_photo_folder(tmp_path / "photos")


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An untrained 32 px model with 4 filters, saved like `inpaint train` saves one."""
    from inpaint_cli.model import network

    folder = tmp_path_factory.mktemp("tiny_model")
    config = network.ModelConfig(input_size=32, width=4, bottleneck_dilations=(1, 2))
    network.build_unet(config).save(folder / "model.keras")
    card = {"input_size": 32, "model": network.config_as_dict(config)}
    (folder / "model.json").write_text(json.dumps(card))
    return folder


def takes_ctrl_c() -> None:
    """In a child before it starts: SIGINT back to its default, so Python turns it into KeyboardInterrupt.

    A shell without job control starts a background job (`.ci/run &`) with SIGINT ignored, and every process
    below inherits that: a server there never sees the Ctrl-C a test sends.
    """
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@dataclass
class RunningServer:
    """An `inpaint serve` process, its page's address and how long it took to print it."""

    process: subprocess.Popen[str]
    address: str
    seconds_to_address: float
    lines: list[str]  # what it printed on stderr so far

    def stop(self, timeout: float = 30) -> int:
        """Ctrl-C (SIGINT), as a terminal sends it; the exit status."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            raise


def start_server(*arguments: str, timeout: float = 60, env: dict[str, str] | None = None) -> RunningServer:
    """Start `inpaint serve --port 0 ARGUMENTS` (a free port) and wait for the address line it prints on stderr."""
    command = [sys.executable, "-m", "inpaint_cli.cli", "serve", "--port", "0", *arguments]
    started = time.perf_counter()
    process = subprocess.Popen(
        command,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **(env or {})},
        preexec_fn=takes_ctrl_c,
    )
    lines: list[str] = []
    found = threading.Event()

    def read() -> None:
        assert process.stderr is not None
        for line in process.stderr:
            lines.append(line.rstrip("\n"))
            if "http://" in line:
                found.set()
        found.set()

    threading.Thread(target=read, daemon=True).start()
    found.wait(timeout)
    seconds = time.perf_counter() - started
    address = next((match[0] for line in lines if (match := re.search(r"http://\S+/", line))), None)
    if address is None:
        process.kill()
        raise AssertionError(f"inpaint serve printed no address: {lines}")
    return RunningServer(process, address, seconds, lines)


def prepared_dataset(tmp_path_factory: pytest.TempPathFactory, photos: int, config: object) -> Path:
    """A dataset prepared (dataset.prepare with config) from that many small generated photos."""
    from inpaint_cli.training import dataset

    folder = tmp_path_factory.mktemp("photos")
    for index in range(photos):
        Image.fromarray(landscape(40 + index % 5, 48, index)).save(folder / f"photo{index:02d}.png")
    target = tmp_path_factory.mktemp("data") / "ds"
    dataset.prepare([folder], target, config)
    return target


def banded(angle: float, band: int = 80, size: int = 480) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Straight stripes, band px wide, two colours with faint noise, at angle (radians) from horizontal, uint8
    HxWx3; and the unit vectors (y, x) along and across them."""
    along, across = np.array([np.sin(angle), np.cos(angle)]), np.array([np.cos(angle), -np.sin(angle)])
    yy, xx = np.mgrid[0:size, 0:size]
    dark = np.floor((yy * across[0] + xx * across[1]) / band).astype(int) % 2 == 0
    grey = np.where(dark, 70.0, 180.0) + np.random.default_rng(7).normal(0, 4, (size, size))
    colour = np.stack([grey, 0.8 * grey + 20, 0.6 * grey + 40], axis=-1)
    return np.clip(colour, 0, 255).astype(np.uint8), along, across
