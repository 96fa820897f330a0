"""Filling the holes of one image in memory: the network's fill (network_fill.py), then the texture stage.

Everything outside the holes is left exactly as it was; alpha is never changed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import replace
from functools import cache
from pathlib import Path
from typing import overload

import cv2
import numpy as np
from PIL import Image

from inpaint_cli import images, masking, network_fill, runtime, texture
from inpaint_cli.errors import InpaintError, UsageError
from inpaint_cli.fill_options import FillOptions, TextureOptions
from inpaint_cli.runtime import Predictor

Warn = Callable[[str], None]
STROKE_LENGTH = 3  # a hole this many times as long as it is thick is a stroke
DIFFUSION_RADIUS = 5  # px of known neighbours that OpenCV's Navier-Stokes fill looks at, as its users set it
DIFFUSION_REACH = 16  # px of the photo read around thin holes for it
MIN_KNOWN_SHARE = 0.1  # below this share of known pixels the holes are interpolated, not filled by the network


@cache
def bundled_predictor() -> Predictor:
    """The bundled model, loaded once per process."""
    return runtime.load_predictor()


@overload
def fill_image(
    image: Image.Image, mask: np.ndarray | Image.Image, options: FillOptions = ..., predictor: Predictor | None = ...
) -> Image.Image: ...
@overload
def fill_image(
    image: np.ndarray, mask: np.ndarray | Image.Image, options: FillOptions = ..., predictor: Predictor | None = ...
) -> np.ndarray: ...


def fill_image(
    image: Image.Image | np.ndarray,
    mask: np.ndarray | Image.Image,
    options: FillOptions = FillOptions(),  # noqa: B008 - frozen, so one shared default is safe
    predictor: Predictor | None = None,
    on_warning: Warn | None = None,
) -> Image.Image | np.ndarray:
    """Fill the holes of an image in memory; every pixel outside them keeps its exact value.

    image: a Pillow image (RGB, L, RGBA, LA, 16-bit gray I;16; palette with transparency comes back as
    RGBA, 1-bit as L, other 8-bit modes as RGB) or a uint8 or uint16 array (HxW, or HxWxC with C = 2, 3
    or 4); the result is of the same kind. 16 bits are filled at 8 and scaled back inside the holes.
    mask: a Pillow image: a hole where any colour channel is above 127 and alpha (if any) is too; or an
    HxW array: a hole where true or above 0 (masking.as_hole holds the rule).
    predictor: a loaded model (runtime.load_predictor); default: the bundled model.
    on_warning receives warnings about holes too large for a good fill.
    """
    hole = _as_hole(mask)
    size = image.size[::-1] if isinstance(image, Image.Image) else image.shape[:2]
    if hole.shape != tuple(size):
        raise UsageError(f"the mask is {hole.shape[1]}x{hole.shape[0]} but the image is {size[1]}x{size[0]}")
    if not hole.any():
        raise UsageError("the mask has no hole (no white pixels): nothing to fill")
    if hole.all():
        raise UsageError("the mask covers the whole image: no pixel is left to fill it from")
    predictor, on_warning = predictor or bundled_predictor(), on_warning or _ignore
    if isinstance(image, Image.Image) and image.mode in images.SIXTEEN_BIT_GRAY_MODES:
        return Image.fromarray(fill_image(np.asarray(image), hole, options, predictor, on_warning))
    if isinstance(image, Image.Image):
        return fill_pillow(image, hole, options, predictor, on_warning)
    if image.dtype == np.uint16:
        eight_bits = Image.fromarray(images.to_eight_bits(image))
        return sixteen_bit_fill(image, fill_pillow(eight_bits, hole, options, predictor, on_warning), hole)
    return np.array(fill_pillow(Image.fromarray(image), hole, options, predictor, on_warning))


def _ignore(message: str) -> None:
    """A warning nobody asked to see."""


def _as_hole(mask: np.ndarray | Image.Image) -> np.ndarray:
    """A mask as bool HxW, true = hole, by masking.as_hole's rule."""
    return masking.as_hole(mask)


def fill_pillow(
    image: Image.Image,
    hole: np.ndarray,
    options: FillOptions,
    predictor: Predictor,
    on_warning: Warn,
    in_place: bool = False,
) -> Image.Image:
    """fill_image for a Pillow image, square by square on crops: a 12 MP photo never becomes an array.

    Holes a few pixels thin (specks, hairlines) are diffused and thin strokes reconstructed (_fill_thin_holes);
    the network fills every square that covers the other holes (in layers where a hole reaches far from known
    pixels); then, unless options.texture is off, the texture stage gives them the detail of the photo around.
    in_place fills image itself (saving a full-size copy) when its mode needs no conversion.
    """
    if image.mode in images.HIGH_BIT_MODES:
        raise InpaintError(f"the image has {images.mode_name(image)}; inpaint fills 8- and 16-bit images")
    mode = images.working_mode(image)
    source = image if image.mode == mode else image.convert(mode)
    result = source if in_place and source is image else source.copy()
    if _too_little_for_the_network(hole, predictor.input_size, on_warning):
        _interpolate(result, hole, hole)
        return result
    hole = _fill_thin_holes(result, hole, options)
    if hole.any():
        _network_fill(result, hole, options, predictor, on_warning)
        if options.texture:
            _add_texture(result, hole, predictor.input_size, min(options.context_factors), options.texture_options)
    return result


def _fill_thin_holes(result: Image.Image, hole: np.ndarray, options: FillOptions) -> np.ndarray:
    """Fill the holes the network does worse on, in place, and return the rest of the hole.

    Holes thinner than options.diffuse_below are diffused (_diffuse); strokes inside the photo thinner than
    options.reconstruct_below are reconstructed (_reconstruct).
    """
    for below, strokes_inside, fill in (
        (options.diffuse_below, False, _diffuse),
        (options.reconstruct_below, True, _reconstruct),
    ):
        thin = _thin_holes(hole, below, strokes_inside) if hole.any() else None
        if thin is not None:
            fill(result, thin, hole)
            hole = hole & ~thin
    return hole


def _network_fill(
    result: Image.Image, hole: np.ndarray, options: FillOptions, predictor: Predictor, on_warning: Warn
) -> None:
    """The network's fill of every hole pixel, square by square, in layers (_layers), in place.

    A square whose windows hold no known pixel is interpolated from its neighbours instead (black otherwise).
    """
    remaining, on_poor_fill = hole, _PoorFillWarnings(hole, on_warning)
    for layer in _layers(hole):
        unseen = np.zeros_like(hole)
        for square, rgb, seen in network_fill.square_fills(
            lambda box: np.asarray(result.crop(box.corners)),
            remaining,
            predictor,
            options.context_factors,
            options.flat_detail,
            options.mirror,
            on_poor_fill,
            target=None if layer is hole else layer,
            square_thicknesses=options.square_thicknesses,
        ):
            if seen:
                _paste_colour(result, square.corners, rgb, layer[square.slices])
            else:
                unseen[square.slices] |= layer[square.slices]
        if unseen.any():
            _interpolate(result, unseen, (remaining & ~layer) | unseen)
        remaining = remaining & ~layer


def _thin_holes(hole: np.ndarray, below: int, strokes_inside: bool = False) -> np.ndarray | None:
    """The pixels of the connected holes (8-connected, at full resolution) thinner than below px, or None;
    with strokes_inside, only long ones (at least STROKE_LENGTH thicknesses) that do not touch the photo's edge.

    Thickness as masking.hole_regions has it: area over the long side of the bounding rectangle.
    """
    if below <= 0:
        return None
    rows, columns = np.flatnonzero(hole.any(axis=1)), np.flatnonzero(hole.any(axis=0))
    inside = (slice(rows[0], rows[-1] + 1), slice(columns[0], columns[-1] + 1))
    count, labels, stats, _ = cv2.connectedComponentsWithStats(hole[inside].astype(np.uint8), connectivity=8)
    sides = np.maximum(stats[:, cv2.CC_STAT_WIDTH], stats[:, cv2.CC_STAT_HEIGHT])
    thin = stats[:, cv2.CC_STAT_AREA] < below * sides
    if strokes_inside:
        thin &= sides.astype(np.int64) ** 2 >= STROKE_LENGTH * stats[:, cv2.CC_STAT_AREA]
        left, top = stats[:, cv2.CC_STAT_LEFT] + columns[0], stats[:, cv2.CC_STAT_TOP] + rows[0]
        right, bottom = left + stats[:, cv2.CC_STAT_WIDTH], top + stats[:, cv2.CC_STAT_HEIGHT]
        thin &= (left > 0) & (top > 0) & (right < hole.shape[1]) & (bottom < hole.shape[0])
    thin[0] = False  # the background
    if not thin[1:].any():
        return None
    mask = np.zeros_like(hole)
    mask[inside] = thin[labels]
    return mask


def _reconstruct(result: Image.Image, target: np.ndarray, hole: np.ndarray) -> None:
    """Fill target's pixels by OpenCV-contrib's frequency-selective reconstruction, square by square, in place.

    On strokes 9-25 px wide (the 19 photos of photos-tuning) it scored 31.95 dB against the network's 30.77
    and FSR's own 30.75 on the whole crop; squares of 4 thicknesses keep each of its crops small.
    hole (a superset of target) holds no colour to reconstruct from.
    """
    for square, thickness in masking.hole_squares(target, min_side=32, per_thickness=4.0):
        corners = _around(
            square.y, square.x, square.y + square.size, square.x + square.size, max(2 * thickness, 16), hole.shape
        )
        left, top, right, bottom = corners
        rgb = np.ascontiguousarray(network_fill.as_rgb(np.asarray(result.crop(corners))))
        known = (~hole[top:bottom, left:right]).astype(np.uint8) * 255
        filled = np.zeros_like(rgb)
        cv2.xphoto.inpaint(rgb, known, filled, cv2.xphoto.INPAINT_FSR_FAST)
        inside = np.zeros(known.shape, bool)
        inside[square.y - top : square.y + square.size - top, square.x - left : square.x + square.size - left] = True
        _paste_colour(result, corners, filled, target[top:bottom, left:right] & inside)


def _diffuse(result: Image.Image, target: np.ndarray, hole: np.ndarray) -> None:
    """Fill target's pixels by Navier-Stokes diffusion from the known pixels around them (OpenCV), in place.

    For holes a few pixels thin, diffusion continues the edges that cross them better than the network: on
    the 19 photos of photos-tuning, 200-400 specks of 2-6 px scored 0.37 dB higher and 1-3 px lines 0.57 dB, in
    a tenth of a second instead of 2-11 s. hole (a superset of target) holds no colour to diffuse.
    """
    corners = _around(*_bounds(target), DIFFUSION_REACH, target.shape)
    left, top, right, bottom = corners
    rgb = np.ascontiguousarray(network_fill.as_rgb(np.asarray(result.crop(corners))))
    unknown = hole[top:bottom, left:right].astype(np.uint8)
    diffused = cv2.inpaint(rgb, unknown, DIFFUSION_RADIUS, cv2.INPAINT_NS)
    _paste_colour(result, corners, diffused, target[top:bottom, left:right])


def _bounds(target: np.ndarray) -> tuple[int, int, int, int]:
    """The bounding rectangle of target's true pixels: top, left, bottom, right (exclusive ends)."""
    rows, columns = np.flatnonzero(target.any(axis=1)), np.flatnonzero(target.any(axis=0))
    return int(rows[0]), int(columns[0]), int(rows[-1]) + 1, int(columns[-1]) + 1


def _around(
    top: int, left: int, bottom: int, right: int, reach: int, shape: tuple[int, ...]
) -> tuple[int, int, int, int]:
    """The corners (left, top, right, bottom) of a rectangle grown by reach px on every side, inside the photo."""
    return max(0, left - reach), max(0, top - reach), min(shape[1], right + reach), min(shape[0], bottom + reach)


def _interpolate(result: Image.Image, target: np.ndarray, unknown: np.ndarray) -> None:
    """Fill target's pixels with a smooth blend of the nearest known colours (texture.interpolate), in place.

    unknown (a superset of target) holds no colour to blend. Only a crop reaching well beyond target is read.
    """
    top, left, bottom, right = _bounds(target)
    corners = _around(top, left, bottom, right, max(bottom - top, right - left), target.shape)
    left, top, right, bottom = corners
    crop = np.asarray(result.crop(corners))
    blended = texture.interpolate(network_fill.as_rgb(crop), unknown[top:bottom, left:right])
    _paste_colour(result, corners, blended, target[top:bottom, left:right])


def _too_little_for_the_network(hole: np.ndarray, input_size: int, on_warning: Warn) -> bool:
    """Whether the holes are filled by interpolating the known pixels instead of the network (with a warning
    where almost nothing is known).

    The network needs windows with known pixels in them: a photo thinner than a quarter of its input (a 600x30
    banner, a 1xN strip) leaves squares that are all hole, and where almost nothing is known there is nothing to
    continue. Its fill was black there; a smooth blend of the nearest known colours is what such a photo can give.
    """
    if min(hole.shape) < input_size // 4:
        return True
    known_share = 1 - float(np.count_nonzero(hole)) / hole.size
    if known_share < MIN_KNOWN_SHARE:
        on_warning(f"only {known_share:.1%} of the photo is known: its holes get a smooth blend of the known pixels")
        return True
    return False


class _PoorFillWarnings:
    """The network's poor-fill warnings, one per hole the user gave, naming it rather than the squares it was cut into.

    A hole is a connected hole of the whole mask (masking.hole_regions): a --box is named as it was
    given, a mask's hole by its bounding rectangle.
    """

    def __init__(self, hole: np.ndarray, on_warning: Warn) -> None:
        self._hole, self._on_warning = hole, on_warning
        self._regions: list[masking.HoleRegion] | None = None  # found at the first warning: most fills have none
        self._warned: set[masking.HoleRegion] = set()

    def __call__(self, square: masking.Box, why: str) -> None:
        """Warn about the hole that square covers, unless it was warned about already."""
        if self._regions is None:
            self._regions = masking.hole_regions(self._hole)
        region = max(self._regions, key=lambda region: _overlap(region, square))
        if region not in self._warned:
            self._warned.add(region)
            self._on_warning(f"the hole at {region} {why}")


def _overlap(region: masking.HoleRegion, square: masking.Box) -> int:
    """The area (px) that a hole's bounding rectangle and a square share."""
    width = min(region.x1, square.x + square.size) - max(region.x0, square.x)
    height = min(region.y1, square.y + square.size) - max(region.y0, square.y)
    return max(width, 0) * max(height, 0)


def sixteen_bit_fill(pixels: np.ndarray, filled: Image.Image, hole: np.ndarray) -> np.ndarray:
    """A 16-bit image's fill: uint16 pixels with the colour of filled (their 8-bit fill) x 257 inside the holes.

    Every value outside the holes, and alpha everywhere, stays exactly as it was.
    """
    result = pixels.copy()
    colour = np.asarray(filled).astype(np.uint16) * 257
    if result.ndim == 2:
        result[hole] = colour[hole]
    else:
        colours = 1 if result.shape[2] == 2 else 3
        result[..., :colours][hole] = colour[..., :colours][hole]
    return result


def _layers(hole: np.ndarray) -> Iterator[np.ndarray]:
    """The hole in layers to fill one after another, those nearest the known pixels first; usually one layer.

    A hole as tall as the photo's short side (a strip across a panorama, a box covering a whole side)
    leaves windows with no known pixel, which the network fills black. So where a hole reaches farther
    than a sixth of the short side from known pixels, the pixels within that distance are filled
    first and count as known for the next layer.
    """
    reach = max(1, min(hole.shape) // 6)
    if all(region.thickness <= 2 * reach for region in masking.hole_regions(hole)):
        yield hole
        return
    remaining = hole.copy()
    while remaining.any():
        layer = remaining & (texture.distance_to_known(remaining) <= reach)
        yield layer
        remaining &= ~layer


def texture_strength(
    region: masking.HoleRegion | masking.HoleSquare, shape: tuple[int, ...], input_size: int, factor: float
) -> float:
    """How much of the texture stage a hole gets, in [0, 1]: the product of two reasons the network's fill is smooth.

    Zoom: the network was trained on whole scenes at its input size and on crops enlarged to it, which are
    smooth. A hole whose finest window (factor x its thickness, at least the input) shows the whole photo is
    filled at the scale the network knows, with its detail: there the stage cost 2 dB on 128 px photos. The
    zoom term grows from 0 to 1 as the photo's short side goes from one to two windows.
    Scale: a hole wider than the network's input is filled from a scaled-down window, and loses the detail the
    scaling removed. The scale term grows from 0 to 1 as the window goes from half the input's side (strokes
    about 20 px wide) to 1.5 times it (holes of 64 px and more, at the default factor 3); on 40 px strokes in
    big photos, filled at full resolution, the full stage scored 0.3 dB below the network's fill alone.
    """
    window = max(input_size, factor * region.thickness)
    zoom = min(shape[:2]) / window
    scale = factor * region.thickness / input_size
    return min(max(zoom - 1.0, 0.0), 1.0) * min(max(scale - 0.5, 0.0), 1.0)


def _add_texture(
    result: Image.Image, hole: np.ndarray, input_size: int, factor: float, options: TextureOptions
) -> None:
    """Give the holes the detail of the photo around them (texture.py), in place, piece by piece.

    A long hole (a stroke) is textured in pieces of about twice its thickness, at least options.tile px: the stage's
    time and memory then follow the hole's pixels, not its bounding rectangle (a stroke across a 12 MP photo
    took 86 s and 6.3 GB in one piece). A piece sees the pieces textured before it as known at its border
    (no seam between them), but never as a source. A square hole is one piece.
    """
    done = np.zeros_like(hole)  # the hole pixels textured so far
    for region in masking.hole_regions(hole):
        strength = texture_strength(region, hole.shape, input_size, factor)
        pieces = masking.region_squares(hole, region, options.tile) if strength > 0 else []
        # A piece of a long hole searches few blocks, at a coarser scale: one matchTemplate costs the whole search
        # area (on 31 strokes: the same PSNR, a fifth of the search time).
        piece_options = options
        if len(pieces) > 1:
            piece_options = replace(options, max_blocks=options.piece_blocks, coarse=options.piece_coarse)
        for piece in pieces:
            _add_piece_texture(result, hole, done, piece, strength, piece_options)


def _add_piece_texture(
    result: Image.Image,
    hole: np.ndarray,
    done: np.ndarray,
    piece: masking.HoleSquare,
    strength: float,
    options: TextureOptions,
) -> None:
    """Texture the hole pixels inside piece's square that are not done yet, in place, and mark them done.

    The texture stage sees a crop reaching options.reach times the hole's thickness beyond the square, in
    which every hole pixel already holds the network's fill: its guide. strength in (0, 1].
    """
    reach = max(options.min_reach, round(options.reach * piece.thickness))
    square = piece.box
    corners = _around(square.y, square.x, square.y + square.size, square.x + square.size, reach, hole.shape)
    left, top, right, bottom = corners
    crop = (slice(top, bottom), slice(left, right))
    target = np.zeros((bottom - top, right - left), bool)
    inside = (
        slice(square.y - top, square.y + square.size - top),
        slice(square.x - left, square.x + square.size - left),
    )
    target[inside] = hole[square.slices] & ~done[square.slices]
    if not target.any():
        return
    done[square.slices] |= target[inside]
    guide = network_fill.as_rgb(np.asarray(result.crop(corners)))
    textured = texture.add_texture(guide, target, strength, options, unknown=hole[crop])
    _paste_colour(result, square.corners, textured[inside], target[inside])


def _paste_colour(result: Image.Image, corners: tuple[int, int, int, int], rgb: np.ndarray, target: np.ndarray) -> None:
    """Write uint8 RGB pixels into result's box at corners where target is true (alpha never changes)."""
    region = np.array(result.crop(corners))
    _write_colour(region, rgb, target)
    result.paste(Image.fromarray(region), corners[:2])


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


def hole_mask(
    boxes: list[masking.Box],
    mask_path: Path | None,
    width: int,
    height: int,
    name: str,
    orientation: int = 1,
    on_note: Warn | None = None,
) -> np.ndarray:
    """The photo's holes as a bool height x width mask: the boxes plus a mask file's holes (masking.as_hole).

    orientation is the photo's EXIF orientation: a mask of its stored size is turned to match.
    """
    if not boxes and mask_path is None:
        raise UsageError(f"no holes to fill in {name}: no box was given and it has no mask")
    for box in boxes:
        if not box.fits_in(width, height):
            raise UsageError(f"box {box} lies outside {name} ({width}x{height})")
    mask = masking.draw_boxes(boxes, height, width, dtype=bool)
    if mask_path is not None:
        mask |= masking.read_mask(mask_path, width, height, orientation, on_note)
    if not mask.any():
        raise UsageError(f"the mask for {name} has no white pixels: nothing to fill")
    if mask.all():
        raise UsageError(f"the holes cover all of {name}: no pixel is left to fill them from")
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
            corners = [square.x + offset - line, square.y - line]
            corners += [square.x + square.size + offset + line, square.y + square.size + line]
            draw.rectangle(corners, outline=(255, 0, 0), width=line)
    if pair.width > max_width:
        pair = pair.resize((max_width, round(pair.height * max_width / pair.width)), Image.Resampling.LANCZOS)
    return pair
