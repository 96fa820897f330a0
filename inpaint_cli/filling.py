"""Filling holes in photos of any size through context windows around each hole.

For every hole, a square window around it (about three times the hole's side, at
least the model's input size) is scaled to the model's input, the network
predicts it, and the prediction is scaled back and written into the hole's pixels
only. Everything outside the holes is left exactly as it was.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np
from PIL import Image

from inpaint_cli import images, masking
from inpaint_cli.errors import InpaintError, UsageError

Predict = Callable[[np.ndarray], np.ndarray]  # float32 NxSxSx4 -> float32 NxSxSx3, all in [0, 1]
CONTEXT_FACTOR = 3.0  # window side / hole side: the training holes covered 1/8 to 3/8 of the window
BATCH = 16


@dataclass(frozen=True)
class Window:
    """A square region of the photo: top-left corner and side, in pixels."""

    left: int
    top: int
    side: int

    @property
    def slices(self) -> tuple[slice, slice]:
        return slice(self.top, self.top + self.side), slice(self.left, self.left + self.side)


@dataclass(frozen=True)
class Model:
    """A loaded network ready to fill: its predict function and its square input size."""

    predict: Predict
    input_size: int
    path: Path


def bundled_model_path() -> Path:
    """The folder of the model that ships with inpaint (the repository's models/)."""
    return Path(str(resources.files("inpaint_cli.bundled")))


def load(path: Path | None = None) -> Model:
    """Load a model from a .keras file or a model folder (default: the bundled model)."""
    from inpaint_cli import model as network  # imports TensorFlow

    path = path or bundled_model_path()
    if not path.exists():
        raise UsageError(f"model {path} does not exist")
    unet = network.load_model(path)
    input_size = unet.input_shape[1] or _card_input_size(path)

    def predict(batch: np.ndarray) -> np.ndarray:
        return np.asarray(unet(batch, training=False), dtype=np.float32)

    return Model(predict, int(input_size), path)


def _card_input_size(path: Path) -> int:
    card = (path if path.is_dir() else path.parent) / "model.json"
    if card.is_file():
        return int(json.loads(card.read_text())["input_size"])
    return 128


def context_window(hole: Window, height: int, width: int, input_size: int) -> Window:
    """The square window around a hole's bounding square that the network sees.

    About CONTEXT_FACTOR times the hole, never smaller than the model's input
    (small holes are filled at full resolution), shifted to stay inside the photo.
    """
    side = max(input_size, math.ceil(hole.side * CONTEXT_FACTOR))
    side = min(side, height, width)
    centre_x, centre_y = hole.left + hole.side / 2, hole.top + hole.side / 2
    left = int(round(min(max(centre_x - side / 2, 0), width - side)))
    top = int(round(min(max(centre_y - side / 2, 0), height - side)))
    return Window(left, top, side)


def _resize(array: np.ndarray, side: int, resample: Image.Resampling) -> np.ndarray:
    """Resize a float32 HxW or HxWxC array to side x side, channel by channel."""
    if array.ndim == 2:
        return np.asarray(Image.fromarray(array, mode="F").resize((side, side), resample))
    return np.stack([_resize(array[..., c], side, resample) for c in range(array.shape[-1])], axis=-1)


def fill_rgb(rgb: np.ndarray, mask: np.ndarray, holes: list[Window], model: Model) -> np.ndarray:
    """Fill the holes of a uint8 HxWx3 image; mask is HxW (1 = hole). Returns float32 HxWx3 in [0, 1].

    holes are the bounding squares of the holes; pixels outside mask are returned unchanged.
    """
    height, width = mask.shape
    size = model.input_size
    windows = [context_window(hole, height, width, size) for hole in holes]
    batch = []
    for window in windows:
        crop = rgb[window.slices].astype(np.float32) / 255.0
        # A pixel that is even partly hole after scaling counts as hole, so no hole colour leaks in.
        crop_mask = (_resize(mask[window.slices].astype(np.float32), size, Image.Resampling.BOX) > 0).astype(np.float32)
        crop = np.clip(_resize(crop, size, Image.Resampling.BICUBIC), 0.0, 1.0)
        batch.append(np.concatenate([crop * (1 - crop_mask[..., None]), crop_mask[..., None]], axis=-1))
    predictions = np.concatenate([model.predict(np.stack(batch[i : i + BATCH])) for i in range(0, len(batch), BATCH)])
    filled = rgb.astype(np.float32) / 255.0
    for window, prediction in zip(windows, predictions, strict=True):
        region = filled[window.slices]
        hole = mask[window.slices] > 0
        region[hole] = np.clip(_resize(prediction, window.side, Image.Resampling.BICUBIC), 0.0, 1.0)[hole]
    return filled


def fill_image(image: Image.Image, boxes: list[masking.Box], model: Model, name: str = "photo") -> Image.Image:
    """Fill square holes in a Pillow image; every pixel outside them keeps its exact value.

    RGB, grayscale (L) and images with alpha (RGBA, LA) keep their mode; palette
    and other 8-bit modes are written as RGB. 16-bit and float images are refused.
    """
    width, height = image.size
    check_boxes(boxes, width, height, name)
    if image.mode in {"I", "I;16", "I;16B", "I;16L", "F"}:
        raise InpaintError(f"{name} has {image.mode} pixels (16-bit or float); inpaint fills 8-bit photos only")
    mode = image.mode if image.mode in {"RGB", "L", "RGBA", "LA"} else "RGB"
    original = np.asarray(image.convert(mode) if image.mode != mode else image)
    mask = masking.draw_boxes(boxes, height, width)
    holes = [Window(box.x, box.y, box.size) for box in boxes]
    filled_rgb = fill_rgb(np.asarray(image.convert("RGB")), mask, holes, model)
    filled_rgb = (filled_rgb * 255.0).round().astype(np.uint8)
    colour = filled_rgb if mode.startswith("RGB") else np.asarray(Image.fromarray(filled_rgb).convert("L"))
    result = original.copy()
    hole = mask > 0
    if result.ndim == 2:
        result[hole] = colour[hole]
    else:
        colour_channels = 3 if mode.startswith("RGB") else 1
        result[..., :colour_channels][hole] = colour.reshape(height, width, colour_channels)[hole]
    return Image.fromarray(result, mode=mode)


def output_path(photo: Path, out: Path | None, out_dir: Path | None, suffix: str = ".filled") -> Path:
    """Where the filled copy of photo goes: --out, inside --out-dir, or <stem>.filled<suffix> beside it."""
    if out is not None:
        return out
    folder = out_dir if out_dir is not None else photo.parent
    return folder / f"{photo.stem}{suffix}{photo.suffix}"


def check_output(photo: Path, target: Path, force: bool) -> None:
    """Refuse to overwrite the input, or an existing output without force."""
    if target.exists() and target.resolve() == photo.resolve():
        raise UsageError(f"output {target} is the input photo; choose another --out")
    if target.exists() and not force:
        raise UsageError(f"{target} already exists; use --force to replace it")
    if target.is_dir():
        raise UsageError(f"output {target} is a folder")
    if not target.parent.is_dir():
        raise UsageError(f"folder {target.parent} does not exist (for --out {target})")


class Filler:
    """Fills photo files with one model, loaded on first use (after the inputs are checked)."""

    def __init__(self, model_path: Path | None = None) -> None:
        self.model_path = model_path
        if model_path is not None and not model_path.exists():
            raise UsageError(f"model {model_path} does not exist")
        self._model: Model | None = None

    @property
    def model(self) -> Model:
        if self._model is None:
            self._model = load(self.model_path)
        return self._model

    def fill_file(self, photo: Path, target: Path, boxes: list[masking.Box], force: bool = False) -> None:
        """Fill boxes in the photo file and write the result to target atomically, keeping its metadata."""
        check_output(photo, target, force)
        source = images.open_photo(photo)
        if target.suffix.lower() in {".jpg", ".jpeg"} and source.image.mode in {"RGBA", "LA", "PA"}:
            raise UsageError(f"{photo.name} has transparency, which JPEG cannot hold; write a .png instead")
        check_boxes(boxes, *source.image.size, name=photo.name)
        filled = fill_image(source.image, boxes, self.model, name=photo.name)
        images.save_photo(filled, target, source)


def check_boxes(boxes: list[masking.Box], width: int, height: int, name: str) -> None:
    """Every box must lie wholly inside the photo."""
    if not boxes:
        raise UsageError("no holes to fill: give at least one --box x,y,size")
    for box in boxes:
        if not box.fits_in(width, height):
            raise UsageError(f"box {box} lies outside {name} ({width}x{height})")
