"""Shared fixtures: small generated photos and a tiny model, no files from outside the repository."""

from __future__ import annotations

import json
import os
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


@pytest.fixture
def photo_folder(tmp_path: Path) -> Path:
    """A folder of 24 small generated photos (PNG and JPEG, one in a subfolder)."""
    folder = tmp_path / "photos"
    (folder / "more").mkdir(parents=True)
    for index in range(24):
        target = folder / "more" if index == 0 else folder
        suffix = ".jpg" if index % 3 == 0 else ".png"
        Image.fromarray(landscape(40 + index % 5, 48, index)).save(target / f"photo{index:02d}{suffix}")
    return folder


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An untrained 32 px model with 4 filters, saved like `inpaint train` saves one."""
    from inpaint_cli import network

    folder = tmp_path_factory.mktemp("tiny_model")
    config = network.ModelConfig(input_size=32, width=4, bottleneck_dilations=(1, 2))
    network.build_unet(config).save(folder / "model.keras")
    card = {"input_size": 32, "model": network.config_as_dict(config)}
    (folder / "model.json").write_text(json.dumps(card))
    return folder
