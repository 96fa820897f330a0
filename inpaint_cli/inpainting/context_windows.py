"""The network's fill of a hole: context windows around it, scaled to the network's input and back.

For every hole (a stroke cut into squares of twice its width), square windows around it
(context_factors times the hole's thickness, at least the network's input size) are scaled
to the input, the network predicts each (at full resolution, with mirror, also its mirror
image; a flat window takes the smooth fill instead), and the predictions, scaled back to the
square and averaged, are that square's fill. Only crops around holes are read, never the whole photo.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Literal, NamedTuple

import numpy as np
from PIL import Image, ImageFilter

from inpaint_cli.inpainting import diffusion, masking
from inpaint_cli.inpainting.rectangles import Box
from inpaint_cli.model.runtime import Predictor

if TYPE_CHECKING:
    from inpaint_cli.inpainting.fill_options import FlatFill
    from inpaint_cli.inpainting.hole_plan import HolePart

BATCH = 16  # windows predicted together
# Pixels around a scaled-down hole that also count as hole: bicubic scaling mixes input from up to 2 output
# pixels away into each pixel, most of it from the nearest ring. With 1, what was in the hole no longer
# leaks into the known pixels next to it; 2 also hid good context (192 px holes in big photos: -0.5 dB).
BICUBIC_REACH = 1
MIRROR_MIN_THICKNESS = 8  # px: thinner holes are not mirrored
SHARED_MARGIN = 16  # px of context that a small hole keeps on every side in a window shared with other holes

CropOf = Callable[[Box], np.ndarray]  # the photo's uint8 pixels inside a box
# A square of a hole and why its fill will be poor ("covers 83% of ..."): the caller names the hole the user gave.
OnPoorFill = Callable[[Box, str], None]


class SquareFill(NamedTuple):
    """A square covering part of a hole, the network's uint8 RGB fill of all of it, and whether any of its
    windows held a known pixel (in a photo as thin as the hole is wide, none does: the fill is then black)."""

    square: Box
    rgb: np.ndarray
    seen: bool


class _Window(NamedTuple):
    """One window the network sees, and the indices of the squares it fills (several for small holes near each
    other)."""

    square_indices: tuple[int, ...]
    box: Box


def context_window(
    square: Box, height: int, width: int, input_size: int, factor: float, thickness: int | None = None
) -> Box:
    """A square window around a square covering (part of) a hole that the network sees.

    About factor times the hole's thickness (default: the square's side; a stroke's width),
    never smaller than the network's input (small holes are filled at full resolution) nor
    than the square, shifted to stay inside the photo.
    """
    side = max(input_size, math.ceil((thickness or square.size) * factor), square.size)
    side = min(side, height, width)
    centre_x, centre_y = square.x + square.size / 2, square.y + square.size / 2
    left = int(round(min(max(centre_x - side / 2, 0), width - side)))
    top = int(round(min(max(centre_y - side / 2, 0), height - side)))
    return Box(left, top, side)


def resize(
    array: np.ndarray, side: int, resample: Image.Resampling, region: tuple[float, ...] | None = None
) -> np.ndarray:
    """Resize a float32 HxW or HxWxC array to side x side, channel by channel.

    region (left, top, right, bottom; fractional pixels of array) resizes only that part,
    exactly as that part of a larger resize of the whole array.
    """
    if array.ndim == 2:
        return np.asarray(Image.fromarray(array, mode="F").resize((side, side), resample, box=region))
    return np.stack([resize(array[..., c], side, resample, region) for c in range(array.shape[-1])], axis=-1)


def as_rgb(pixels: np.ndarray) -> np.ndarray:
    """The colour channels of a uint8 crop (HxW gray, HxWx2 gray+alpha, HxWx3, HxWx4) as HxWx3."""
    if pixels.ndim == 2:
        return np.repeat(pixels[..., None], 3, axis=-1)
    if pixels.shape[-1] == 2:
        return np.repeat(pixels[..., :1], 3, axis=-1)
    return pixels[..., :3]


def network_input(crop: np.ndarray, window_hole: np.ndarray, size: int) -> np.ndarray:
    """One window as the network takes it: float32 SxSx4, RGB scaled to size with holes zeroed, then the mask."""
    # Scaled as 8-bit RGB, as training's square_resize does: a third of the time of three float channels. The
    # hole is blanked first, as the network sees it, so that what was in it cannot reach the fill at all.
    rgb_crop = np.array(as_rgb(crop))
    rgb_crop[window_hole] = 0
    scaled = Image.fromarray(rgb_crop).resize((size, size), Image.Resampling.BICUBIC)
    rgb = np.asarray(scaled, dtype=np.float32) / 255.0
    # A pixel that is even partly hole after scaling counts as hole, and so does the ring around it that bicubic
    # scaling mixes hole pixels into (BICUBIC_REACH scaled pixels when scaling down, 2 source pixels when scaling
    # up), or what was in the hole leaks into the pixels the network continues.
    scaled_hole = (resize(window_hole.astype(np.float32), size, Image.Resampling.BOX) > 0).astype(np.uint8)
    reach = BICUBIC_REACH if crop.shape[0] > size else math.ceil(2 * size / crop.shape[0] - 1e-9)
    if crop.shape[0] != size:
        scaled_hole = np.asarray(Image.fromarray(scaled_hole).filter(ImageFilter.MaxFilter(2 * reach + 1)))
    hole = scaled_hole.astype(np.float32)
    return np.concatenate([rgb * (1 - hole[..., None]), hole[..., None]], -1)


def window_detail(window_input: np.ndarray) -> float:
    """How much a window's known pixels differ from their known neighbours: mean absolute RGB step in [0, 1].

    Infinite when no two known pixels are neighbours: nothing shows the window is flat.
    """
    rgb, known = window_input[..., :3], window_input[..., 3] == 0
    steps, pairs = 0.0, 0
    for axis in (0, 1):
        both_known = known[1:] & known[:-1] if axis == 0 else known[:, 1:] & known[:, :-1]
        steps += float(np.abs(np.diff(rgb, axis=axis)).mean(-1)[both_known].sum())
        pairs += int(both_known.sum())
    return steps / pairs if pairs else math.inf


def fill_colours(
    prediction: np.ndarray,
    window_input: np.ndarray,
    flat_detail: tuple[float, float],
    flat_fill: Literal["diffusion", "prefill"],
) -> np.ndarray:
    """The window's RGB fill: the network's, or where the window is flat (below flat_detail) a smooth fill.

    Between the two thresholds of flat_detail the two are mixed linearly. The smooth fill is the window's
    diffusion (flat_fill "diffusion") or the network's prefill ("prefill"; square_fills decides for
    "edge-diffusion"); a model without a prefill output (3 channels) gives its own fill everywhere.
    """
    if prediction.shape[-1] == 3:
        return prediction
    low, high = flat_detail
    share = min(max((window_detail(window_input) - low) / (high - low), 0.0), 1.0)
    if share == 1.0:
        return prediction[..., :3]
    if flat_fill not in ("diffusion", "prefill"):
        raise ValueError(f"a window's smooth fill is diffusion or prefill, not {flat_fill!r}")
    smooth = prediction[..., 3:] if flat_fill == "prefill" else diffused_window(window_input)
    return share * prediction[..., :3] + (1 - share) * smooth


def diffused_window(window_input: np.ndarray) -> np.ndarray:
    """A network input's RGB (HxWx4 float, hole channel last) with its hole diffused from the known pixels.

    Diffusion carries in the ring next to the hole, so one ring more counts as hole: the negative lobes of
    bicubic scaling leave it a level or two off where the zeroed hole was scaled down with the photo. (A window
    at full resolution loses a good ring by this; on a one-colour photo the fill was off by a level without it.)
    """
    rgb = (window_input[..., :3] * 255).round().astype(np.uint8)
    hole = (window_input[..., 3] > 0).astype(np.uint8)
    ring = np.asarray(Image.fromarray(hole * 255).filter(ImageFilter.MaxFilter(3))) > 0
    return diffusion.diffuse(rgb, ring).astype(np.float32) / 255.0


def predict_windows(predictor: Predictor, batch: np.ndarray, mirror: np.ndarray) -> np.ndarray:
    """The predictor's output for a batch of windows; where mirror (bool, one per window) is true, averaged with
    that of the window's mirror image."""
    prediction = predictor.predict(batch)
    if mirror.any():
        mirrored = predictor.predict(np.ascontiguousarray(batch[mirror][:, :, ::-1]))[:, :, ::-1]
        prediction = prediction.copy()  # a Keras prediction may be read-only
        prediction[mirror] = (prediction[mirror] + mirrored) / 2
    return prediction


def network_squares(part: HolePart, input_size: int, square_thicknesses: float = 2.0) -> list[masking.HoleSquare]:
    """The squares the network fills one at a time (square_fills) that cover a part of the hole (a layer)."""
    # A stroke is cut into squares of twice its width, at least half the input: long strokes in big photos scored
    # 24.84 dB (Telea 24.34) against 22.56 dB with squares as tall as the stroke's bounding rectangle.
    return masking.squares_covering(part.pixels, part.regions, input_size // 2, square_thicknesses)


def square_fills(
    crop_of: CropOf,
    hole: np.ndarray,
    squares: list[masking.HoleSquare],
    predictor: Predictor,
    context_factors: Sequence[float],
    flat_detail: tuple[float, float],
    flat_fill: FlatFill,
    mirror: bool,
    on_poor_fill: OnPoorFill,
) -> Iterator[SquareFill]:
    """The network's fill of each of squares (network_squares), one square at a time.

    Each square is predicted in one window per context factor (a window shared by two
    factors only once); the windows' fills, scaled back to the square, are averaged.
    Every pixel of hole is unknown to the network; squares cover what to fill now (all of it, or a layer).
    """
    size = predictor.input_size
    windows = _windows(squares, hole, size, context_factors, on_poor_fill)
    needed = [0] * len(squares)
    for window in windows:
        for index in window.square_indices:
            needed[index] += 1
    totals: dict[int, np.ndarray] = {}
    counts: dict[int, int] = {}
    seen: set[int] = set()
    for start in range(0, len(windows), BATCH):
        chunk = windows[start : start + BATCH]
        batch = np.stack([network_input(crop_of(window.box), hole[window.box.slices], size) for window in chunk])
        mirrored = np.array([mirror and _mirrored(window, squares, size) for window in chunk])
        for window, prediction, window_input in zip(
            chunk, predict_windows(predictor, batch, mirrored), batch, strict=True
        ):
            rgb = fill_colours(prediction, window_input, flat_detail, _smooth_fill(flat_fill, window.box, hole))
            if not window_input[..., 3].all():
                seen.update(window.square_indices)
            for index in window.square_indices:
                totals[index] = totals.get(index, 0) + _scaled_to_square(rgb, squares[index].box, window.box, size)
                counts[index] = counts.get(index, 0) + 1
                if counts[index] == needed[index]:
                    fill = (totals.pop(index) / needed[index] * 255).round().astype(np.uint8)
                    yield SquareFill(squares[index].box, fill, index in seen)


def _smooth_fill(flat_fill: FlatFill, box: Box, hole: np.ndarray) -> Literal["diffusion", "prefill"]:
    """The smooth fill of one window: flat_fill, where "edge-diffusion" is diffusion if the hole reaches the photo's
    edge in the window, else the prefill."""
    if flat_fill != "edge-diffusion":
        return flat_fill
    return "diffusion" if _reaches_photo_edge(box, hole) else "prefill"


def _reaches_photo_edge(box: Box, hole: np.ndarray) -> bool:
    """Whether the hole inside a window touches a side of the window that is the photo's edge.

    Any hole pixel counts, not only the square's own: a window shared by small holes, or a wide one that also
    holds another hole at the edge, takes diffusion for all of them (a rare case, and diffusion is close there).
    """
    rect, (height, width) = box.rect, hole.shape
    inside = hole[box.slices]
    return bool(
        (rect.top == 0 and inside[0].any())
        or (rect.bottom >= height and inside[-1].any())
        or (rect.left == 0 and inside[:, 0].any())
        or (rect.right >= width and inside[:, -1].any())
    )


def _mirrored(window: _Window, squares: list[masking.HoleSquare], size: int) -> bool:
    """Whether a window is averaged with its mirror image: only a compact hole's (a box, a blob: one square
    covers it), at full resolution, and not thin.

    On scaled-down windows the mirror changed big-photo PSNR by under 0.02 dB (the texture stage redoes their
    detail) and cost half the network's time; a stroke's many squares, specks and thin lines are not worth a
    second call each.
    """
    if window.box.size > size or len(window.square_indices) > 1:
        return False
    square = squares[window.square_indices[0]]
    return square.thickness >= MIRROR_MIN_THICKNESS and square.box.size < 2 * square.thickness


def _windows(
    squares: list[masking.HoleSquare], hole: np.ndarray, size: int, factors: Sequence[float], on_poor_fill: OnPoorFill
) -> list[_Window]:
    """Every square's windows, one per context factor (duplicates once), each square's together.

    Squares small enough for one full-resolution window (specks, thin lines) share windows with their
    neighbours: 400 specks on a 1 MP photo took 744 network calls, one window per speck and its mirror.
    """
    height, width = hole.shape
    windows, small = [], []
    for index, (square, thickness) in enumerate(squares):
        boxes = dict.fromkeys(context_window(square, height, width, size, factor, thickness) for factor in factors)
        first = next(iter(boxes))
        _warn_when_poor(square, first, hole[first.slices], size, on_poor_fill)
        if len(boxes) == 1 and first.size == size:
            small.append((index, first))
        else:
            windows.extend(_Window((index,), box) for box in boxes)
    return windows + _shared_windows(squares, small, height, width, size, max(factors))


def _shared_windows(
    squares: list[masking.HoleSquare],
    small: list[tuple[int, Box]],
    height: int,
    width: int,
    size: int,
    factor: float,
) -> list[_Window]:
    """Full-resolution windows that each fill as many of the small squares (with their own windows) as hold
    enough context in them.

    Greedy, top to bottom: a window is opened at the first square left (centred on it across, starting a
    margin above it) and takes every square that lies a margin inside it (_margin); a square it cannot take
    is filled in its own window.
    """
    own = dict(small)
    left_over = sorted(own, key=lambda index: (squares[index].box.y, squares[index].box.x))
    windows = []
    while left_over:
        first = squares[left_over[0]]
        left = min(max(round(first.box.x + first.box.size / 2 - size / 2), 0), width - size)
        top = min(max(first.box.y - _margin(first, size, factor), 0), height - size)
        window = Box(left, top, size)
        taken = tuple(index for index in left_over if _inside(squares[index], window, height, width, size, factor))
        if left_over[0] not in taken:
            taken, window = (left_over[0],), own[left_over[0]]
        windows.append(_Window(taken, window))
        left_over = [index for index in left_over if index not in set(taken)]
    return windows


def _margin(square: masking.HoleSquare, size: int, factor: float) -> int:
    """The context (px) a square keeps on every side in a shared window: at least SHARED_MARGIN, and half the
    factor's window around its hole, but no more than its own centred window gives it."""
    wanted = max(SHARED_MARGIN, math.ceil(factor * square.thickness / 2))
    return min(wanted, (size - square.box.size) // 2)


def _inside(square: masking.HoleSquare, window: Box, height: int, width: int, size: int, factor: float) -> bool:
    """Whether square lies inside window with the margin of context it needs (none toward the photo's edge)."""
    margin, box = _margin(square, size, factor), square.box
    low_x = window.x + margin if window.x > 0 else 0
    low_y = window.y + margin if window.y > 0 else 0
    high_x = window.x + window.size - margin if window.x + window.size < width else width
    high_y = window.y + window.size - margin if window.y + window.size < height else height
    return low_x <= box.x and box.x + box.size <= high_x and low_y <= box.y and box.y + box.size <= high_y


def _scaled_to_square(rgb: np.ndarray, square: Box, window: Box, size: int) -> np.ndarray:
    """The part of a window's fill (size x size, float RGB) over square, scaled to the square's pixels."""
    scale = size / window.size
    left, top = (square.x - window.x) * scale, (square.y - window.y) * scale
    region = (left, top, left + square.size * scale, top + square.size * scale)
    return np.clip(resize(rgb, square.size, Image.Resampling.BICUBIC, region), 0, 1)


def _warn_when_poor(
    square: Box, window: Box, window_hole: np.ndarray, input_size: int, on_poor_fill: OnPoorFill
) -> None:
    """Say when a hole is too large next to its surroundings for a good fill."""
    share = float(window_hole.mean())
    scale = window.size / input_size
    if share > 0.5:
        on_poor_fill(square, f"covers {share:.0%} of the context the network sees; expect a poor fill")
    elif scale > 8:
        on_poor_fill(square, f"is filled at 1/{scale:.0f} of full resolution; expect a blurry fill")
