"""Photos as training and evaluation see them: 8-bit RGB arrays, centre-cropped squares, PNG bytes.

`prepare` and `evaluate` read photos through here; `fill` never does (it keeps each photo's
mode, bits and metadata: images.py and photo_writing.py).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from PIL import Image

from inpaint_cli.errors import InpaintError
from inpaint_cli.files.images import open_photo

if TYPE_CHECKING:
    import numpy as np


def read_rgb(path: Path) -> np.ndarray:
    """A photo as uint8 HxWx3 RGB, upright: 16-bit scaled to 8, float in [0, 1] to [0, 255].

    Raises InpaintError for other floats and 32-bit integers, which have no known scale.
    """
    import numpy as np

    image = open_photo(path).image
    if image.mode == "F":
        pixels = np.asarray(image)
        if not (np.isfinite(pixels).all() and 0 <= pixels.min() and pixels.max() <= 1):
            raise InpaintError(
                f"{path} has float pixels from {pixels.min():g} to {pixels.max():g}; only floats in [0, 1] "
                "have a known scale to 8 bits"
            )
        image = Image.fromarray(np.round(pixels * 255).astype(np.uint8))
    if image.mode == "I":
        raise InpaintError(f"{path} has 32-bit integer pixels, which have no known scale to 8 bits")
    return np.asarray(image.convert("RGB"))


def square_resize(image: np.ndarray, size: int) -> np.ndarray:
    """Centre-crop uint8 HxWx3 to a square and resize it to size x size (bicubic)."""
    import numpy as np

    height, width = image.shape[:2]
    side = min(height, width)
    top, left = (height - side) // 2, (width - side) // 2
    square = Image.fromarray(image[top : top + side, left : left + side])
    return np.asarray(square.resize((size, size), Image.Resampling.BICUBIC))


def iter_square_photos(paths: Iterable[Path], size: int) -> Iterator[tuple[Path, np.ndarray | str]]:
    """For each path, its square-resized RGB pixels, or the reason it could not be read."""
    for path in paths:
        try:
            yield path, square_resize(read_rgb(path), size)
        except InpaintError as error:
            yield path, str(error)


def encode_png(image: np.ndarray) -> bytes:
    """PNG bytes of a uint8 HxWx3 array (deterministic for the same Pillow)."""
    import io

    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="PNG")
    return buffer.getvalue()
