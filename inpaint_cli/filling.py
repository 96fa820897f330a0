"""Filling holes in photos of any size through context windows around each hole.

For every hole (a stroke cut into squares of twice its width), two square windows
around it (about three and six times the hole's thickness, at least the model's input
size) are scaled to the model's input, the network predicts each and its mirror image
(a flat window takes the smooth fill instead), and the predictions, scaled back and
averaged, are written into the hole's pixels only. Everything outside the holes is
left exactly as it was.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageFilter

from inpaint_cli import images, masking, planning
from inpaint_cli.errors import InpaintError, UsageError

# float32 NxSxSx4 -> float32 NxSxSx6 (the network's fill, then its smooth fill; or only the first 3), in [0, 1]
Predict = Callable[[np.ndarray], np.ndarray]
# Window side / hole side. Training holes covered 1/8 to 3/8 of the window. Alone, 3 to 6 scored within
# 0.2 dB of each other on 96 and 192 px holes in 12 MP photos (benchmarks/big_photos.py); averaging the
# fills of 3 and 6 gained 0.4-0.6 dB, and the mirrored predictions another 0.2-0.3 dB.
CONTEXT_FACTORS = (3.0, 6.0)
BATCH = 16
# Pixels around a scaled-down hole that also count as hole: bicubic scaling mixes input from up to 2 output
# pixels away into each pixel, most of it from the nearest ring. With 1, what was in the hole no longer
# leaks into the known pixels next to it; 2 also hid good context (big_photos.py: 192 px holes -0.5 dB).
BICUBIC_REACH = 1
# A window whose known pixels differ from their neighbours by less than FLAT_DETAIL[0] on average (RGB in
# [0, 1], after scaling) is filled with the smooth fill, above FLAT_DETAIL[1] with the network's, in between
# with a mix. On flat sky or water the network's correction is mostly noise: benchmarks/flat_windows.py (438
# windows) has the smooth fill 6 dB ahead below 0.003, 1-4 dB ahead up to 0.005, 2-5 dB behind above. With
# it, big_photos.py (seed 0) went from +0.74 to +1.46 dB over Telea at 96 px and from +1.39 to +1.77 at
# 192 px; `inpaint evaluate` lost 0.02 dB.
FLAT_DETAIL = (0.003, 0.006)


@dataclass(frozen=True)
class Model:
    """A loaded network ready to fill: its predict function and its square input size."""

    predict: Predict
    input_size: int
    path: Path


def bundled_model_path() -> Path:
    """The folder of the model that ships with inpaint.

    An installed package carries models/ as inpaint_cli/bundled; a source checkout
    (or an editable install) reads the repository's models/ directly.
    """
    package = Path(__file__).resolve().parent
    installed = package / "bundled"
    return installed if installed.is_dir() else package.parent / "models"


def load(path: Path | None = None) -> Model:
    """Load a model: a model folder (its model.tflite, else model.keras), a .tflite or a .keras file.

    Default: the bundled model folder. A .tflite runs through the LiteRT interpreter, which
    starts in a fraction of a second; only a .keras imports TensorFlow (about 4 s).
    """
    from inpaint_cli import export

    path = path or bundled_model_path()
    if not path.exists():
        raise UsageError(f"model {path} does not exist")
    if path.is_dir() and not (path / export.LITERT_FILE).is_file() and not (path / export.KERAS_FILE).is_file():
        raise InpaintError(f"model folder {path} holds neither {export.LITERT_FILE} nor {export.KERAS_FILE}")
    litert_file = path / export.LITERT_FILE if path.is_dir() else path
    if litert_file.suffix.lower() == ".tflite" and litert_file.is_file():
        predict = export.load_litert(litert_file)
        return Model(predict, int(predict.input_size or card_input_size(path)), path)
    return _load_keras(path)


def _load_keras(path: Path) -> Model:
    """Load a .keras file or a model folder's model.keras through Keras (imports TensorFlow)."""
    from inpaint_cli import network  # imports TensorFlow

    unet = network.with_smooth_fill(network.load_model(path))
    input_size = unet.input_shape[1] or card_input_size(path)

    def predict(batch: np.ndarray) -> np.ndarray:
        return np.asarray(unet(batch, training=False), dtype=np.float32)

    return Model(predict, int(input_size), path)


def card_input_size(path: Path) -> int:
    """The input size in the model card (model.json) beside the model, else 128."""
    card = (path if path.is_dir() else path.parent) / "model.json"
    if card.is_file():
        return int(json.loads(card.read_text())["input_size"])
    return 128


def context_window(
    hole: masking.Box,
    height: int,
    width: int,
    input_size: int,
    factor: float = CONTEXT_FACTORS[0],
    thickness: int | None = None,
) -> masking.Box:
    """A square window around a hole's bounding square that the network sees.

    About factor times the hole's thickness (default: the square's side; a stroke's width),
    never smaller than the model's input (small holes are filled at full resolution) nor
    than the square, shifted to stay inside the photo.
    """
    side = max(input_size, math.ceil((thickness or hole.size) * factor), hole.size)
    side = min(side, height, width)
    centre_x, centre_y = hole.x + hole.size / 2, hole.y + hole.size / 2
    left = int(round(min(max(centre_x - side / 2, 0), width - side)))
    top = int(round(min(max(centre_y - side / 2, 0), height - side)))
    return masking.Box(left, top, side)


def _resize(
    array: np.ndarray, side: int, resample: Image.Resampling, region: tuple[float, ...] | None = None
) -> np.ndarray:
    """Resize a float32 HxW or HxWxC array to side x side, channel by channel.

    region (left, top, right, bottom; fractional pixels of array) resizes only that part,
    exactly as that part of a larger resize of the whole array.
    """
    if array.ndim == 2:
        return np.asarray(Image.fromarray(array, mode="F").resize((side, side), resample, box=region))
    return np.stack([_resize(array[..., c], side, resample, region) for c in range(array.shape[-1])], axis=-1)


def _as_rgb(pixels: np.ndarray) -> np.ndarray:
    """The colour channels of a uint8 crop (HxW gray, HxWx2 gray+alpha, HxWx3, HxWx4) as HxWx3."""
    if pixels.ndim == 2:
        return np.repeat(pixels[..., None], 3, axis=-1)
    if pixels.shape[-1] == 2:
        return np.repeat(pixels[..., :1], 3, axis=-1)
    return pixels[..., :3]


def _network_input(crop: np.ndarray, window_hole: np.ndarray, size: int) -> np.ndarray:
    """One window as the network takes it: float32 SxSx4, RGB scaled to size with holes zeroed, then the mask."""
    # Scaled as 8-bit RGB, as training's square_resize does: a third of the time of three float channels.
    scaled = Image.fromarray(np.ascontiguousarray(_as_rgb(crop))).resize((size, size), Image.Resampling.BICUBIC)
    rgb = np.asarray(scaled, dtype=np.float32) / 255.0
    # A pixel that is even partly hole after scaling counts as hole, and so does the ring of BICUBIC_REACH
    # pixels around it when scaling down, or what was in the hole leaks into the pixels the network continues.
    scaled_hole = (_resize(window_hole.astype(np.float32), size, Image.Resampling.BOX) > 0).astype(np.uint8)
    if crop.shape[0] > size:
        scaled_hole = np.asarray(Image.fromarray(scaled_hole).filter(ImageFilter.MaxFilter(2 * BICUBIC_REACH + 1)))
    crop_mask = scaled_hole.astype(np.float32)
    return np.concatenate([rgb * (1 - crop_mask[..., None]), crop_mask[..., None]], -1)


def window_detail(network_input: np.ndarray) -> float:
    """How much a window's known pixels differ from their known neighbours: mean absolute RGB step in [0, 1].

    Infinite when no two known pixels are neighbours: nothing shows the window is flat.
    """
    rgb, known = network_input[..., :3], network_input[..., 3] == 0
    steps, pairs = 0.0, 0
    for axis in (0, 1):
        both_known = known[1:] & known[:-1] if axis == 0 else known[:, 1:] & known[:, :-1]
        steps += float(np.abs(np.diff(rgb, axis=axis)).mean(-1)[both_known].sum())
        pairs += int(both_known.sum())
    return steps / pairs if pairs else math.inf


def _fill_colours(prediction: np.ndarray, network_input: np.ndarray) -> np.ndarray:
    """The window's RGB fill: the network's, or where the window is flat (FLAT_DETAIL) its smooth fill."""
    if prediction.shape[-1] == 3:
        return prediction
    low, high = FLAT_DETAIL
    share = min(max((window_detail(network_input) - low) / (high - low), 0.0), 1.0)
    return share * prediction[..., :3] + (1 - share) * prediction[..., 3:]


def _predicted_squares(
    crop_of: Callable[[masking.Box], np.ndarray], hole: np.ndarray, model: Model, on_warning: Callable[[str], None]
) -> Iterator[tuple[masking.Box, np.ndarray]]:
    """For each square covering holes: the square and its filled uint8 RGB pixels.

    The square is predicted in one window per CONTEXT_FACTORS (a window shared by two
    factors only once), each also mirrored left to right; each window's fill is the
    network's or, where the window is flat, the smooth fill (_fill_colours); the fills,
    scaled back to the square, are averaged. crop_of(box) returns the photo's pixels
    inside box; only crops around holes are read, never the whole photo.
    """
    height, width = hole.shape
    size = model.input_size
    # A stroke is cut into squares of twice its width, at least half the input: benchmarks/big_strokes.py scores
    # 24.84 dB (Telea 24.34), against 22.56 dB with squares as tall as the stroke's bounding rectangle; squares of
    # at least the input's size scored 0.22 dB less on other strokes. Compact holes get their bounding square.
    squares = masking.hole_squares(hole, min_side=size // 2)
    queued = []  # (index of the square, window), each square's windows one after another
    needed = []
    for index, (square, thickness) in enumerate(squares):
        windows = list(
            dict.fromkeys(context_window(square, height, width, size, f, thickness) for f in CONTEXT_FACTORS)
        )
        _warn_when_poor(square, windows[0], hole[windows[0].slices], size, on_warning)
        queued.extend((index, window) for window in windows)
        needed.append(len(windows))
    totals: dict[int, np.ndarray] = {}
    counts: dict[int, int] = {}
    for start in range(0, len(queued), BATCH):
        chunk = queued[start : start + BATCH]
        batch = np.stack([_network_input(crop_of(window), hole[window.slices], size) for _, window in chunk])
        mirrored = model.predict(np.ascontiguousarray(batch[:, :, ::-1]))[:, :, ::-1]
        predictions = (model.predict(batch) + mirrored) / 2
        for (index, window), prediction, network_input in zip(chunk, predictions, batch, strict=True):
            prediction = _fill_colours(prediction, network_input)
            square, scale = squares[index].box, size / window.size
            left, top = (square.x - window.x) * scale, (square.y - window.y) * scale
            region = (left, top, left + square.size * scale, top + square.size * scale)
            rgb = np.clip(_resize(prediction, square.size, Image.Resampling.BICUBIC, region), 0, 1)
            totals[index] = totals.get(index, 0) + rgb
            counts[index] = counts.get(index, 0) + 1
            if counts[index] == needed[index]:
                yield square, (totals.pop(index) / needed[index] * 255).round().astype(np.uint8)


def _write_colour(region: np.ndarray, rgb: np.ndarray, target: np.ndarray) -> None:
    """Write rgb into region (gray, gray+alpha, RGB or RGBA) where target is true; alpha is never changed."""
    if region.ndim == 3 and region.shape[-1] >= 3:
        region[..., :3][target] = rgb[target]
        return
    gray = np.asarray(Image.fromarray(rgb).convert("L"))
    if region.ndim == 2:
        region[target] = gray[target]
    else:
        region[..., 0][target] = gray[target]


def fill_array(
    pixels: np.ndarray, mask: np.ndarray, model: Model, on_warning: Callable[[str], None] = print
) -> np.ndarray:
    """Fill the holes of a uint8 image (HxW, or HxWxC with C = 2, 3 or 4); mask is HxW, true = hole.

    Returns a copy in which only hole pixels (and only colour channels, never alpha) differ.
    """
    hole = masking.as_hole(mask)
    result = pixels.copy()
    for square, rgb in _predicted_squares(lambda box: pixels[box.slices], hole, model, on_warning):
        _write_colour(result[square.slices], rgb, hole[square.slices])
    return result


def _warn_when_poor(
    square: masking.Box,
    window: masking.Box,
    window_hole: np.ndarray,
    input_size: int,
    on_warning: Callable[[str], None],
) -> None:
    """Say when a hole is too large next to its surroundings for a good fill."""
    share = float(window_hole.mean())
    scale = window.size / input_size
    if share > 0.5:
        on_warning(f"the hole at {square} covers {share:.0%} of the context the network sees; expect a poor fill")
    elif scale > 8:
        on_warning(f"the hole at {square} is filled at 1/{scale:.0f} of full resolution; expect a blurry fill")


def fill_image(
    image: Image.Image,
    mask: np.ndarray,
    model: Model,
    name: str = "photo",
    on_warning: Callable[[str], None] = print,
    in_place: bool = False,
) -> Image.Image:
    """Fill the holes (mask true) of a Pillow image; every pixel outside them keeps its exact value.

    RGB, grayscale (L) and images with alpha (RGBA, LA) keep their mode; palette
    and other 8-bit modes are written as RGB. 16-bit and float images are refused.
    in_place fills image itself (saving a full-size copy) when its mode needs no conversion.
    """
    if image.mode in {"I", "I;16", "I;16B", "I;16L", "I;16N", "F"}:
        raise InpaintError(f"{name} has {image.mode} pixels (16-bit or float); inpaint fills 8-bit photos only")
    if not mask.any():
        raise UsageError(f"the mask for {name} has no white pixels: nothing to fill")
    mode = image.mode if image.mode in {"RGB", "L", "RGBA", "LA"} else "RGB"
    source = image if image.mode == mode else image.convert(mode)
    hole = masking.as_hole(mask)
    result = source if in_place and source is image else source.copy()
    # Work square by square on crops: a 12-megapixel photo is never turned into a numpy array.
    for square, rgb in _predicted_squares(lambda box: np.asarray(source.crop(box.corners)), hole, model, on_warning):
        region = np.array(result.crop(square.corners))
        _write_colour(region, rgb, hole[square.slices])
        result.paste(Image.fromarray(region), square.corners[:2])
    return result


def hole_mask(boxes: list[masking.Box], mask_path: Path | None, width: int, height: int, name: str) -> np.ndarray:
    """The photo's holes as a bool height x width mask: the boxes plus a mask file's white pixels."""
    check_boxes(boxes, width, height, name, allow_none=mask_path is not None)
    mask = masking.draw_boxes(boxes, height, width, dtype=bool)
    if mask_path is not None:
        mask |= masking.read_mask(mask_path, width, height) > 0
    return mask


def comparison_image(before: Image.Image, after: Image.Image, mask: np.ndarray, max_width: int = 2400) -> Image.Image:
    """Before and after side by side, each hole outlined in red, scaled down to at most max_width."""
    from PIL import ImageDraw

    width, height = before.size
    pair = Image.new("RGB", (2 * width + 16, height), "white")
    pair.paste(before.convert("RGB"), (0, 0))
    pair.paste(after.convert("RGB"), (width + 16, 0))
    draw = ImageDraw.Draw(pair)
    line = max(2, width // 400)
    # Outlines of at least 16 line widths: a thin stroke gets a row of boxes, not a band of red.
    for square, _ in masking.hole_squares(mask, min_side=16 * line):
        for offset in (0, width + 16):
            draw.rectangle(
                [
                    square.x + offset - line,
                    square.y - line,
                    square.x + square.size + offset + line,
                    square.y + square.size + line,
                ],
                outline=(255, 0, 0),
                width=line,
            )
    if pair.width > max_width:
        pair = pair.resize((max_width, round(pair.height * max_width / pair.width)), Image.Resampling.LANCZOS)
    return pair


class Filler:
    """Fills photo files with one model, loaded when .model is first read.

    `inpaint fill` reads it right after checking its arguments (a single photo's output
    too), while PhotoReader decodes the first photo in the background.
    """

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

    def fill_file(
        self,
        photo: Path,
        target: Path,
        boxes: list[masking.Box],
        mask_path: Path | None = None,
        force: bool = False,
        quality: int | None = None,
        compare: Path | None = None,
        on_warning: Callable[[str], None] = print,
        open_photo: Callable[[Path], images.Photo] = images.open_photo,
    ) -> None:
        """Fill the boxes and mask in the photo file; write the result to target atomically, keeping metadata.

        compare, when given, receives a before/after picture with the holes outlined.
        open_photo reads the photo (an images.PhotoReader's open reads ahead).
        """
        planning.check_output(photo, target, force)
        if compare is not None:
            planning.check_output(photo, compare, force)
        source = open_photo(photo)
        if target.suffix.lower() in {".jpg", ".jpeg"} and source.image.mode in {"RGBA", "LA", "PA"}:
            raise UsageError(f"{photo.name} has transparency, which JPEG cannot hold; write a .png instead")
        mask = hole_mask(boxes, mask_path, *source.image.size, name=photo.name)
        # In place saves a full-size copy, unless the comparison still needs the photo as it was.
        in_place = compare is None
        filled = fill_image(source.image, mask, self.model, photo.name, on_warning, in_place=in_place)
        images.save_photo(filled, target, source, quality=quality)
        if compare is not None:
            picture = comparison_image(source.image, filled, mask)
            images.write_atomically(compare, lambda temporary: picture.save(temporary, format="PNG"))


def check_boxes(boxes: list[masking.Box], width: int, height: int, name: str, allow_none: bool = False) -> None:
    """Every box must lie wholly inside the photo; at least one is needed unless a mask is given."""
    if not boxes and not allow_none:
        raise UsageError("no holes to fill: give at least one --box x,y,size or a --mask")
    for box in boxes:
        if not box.fits_in(width, height):
            raise UsageError(f"box {box} lies outside {name} ({width}x{height})")
