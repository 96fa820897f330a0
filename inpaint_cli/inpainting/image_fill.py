"""Filling the holes of one image in memory (fill_image): plan, then each stage in turn, written back in place.

The hole's plan (hole_plan.py) says which pixels each stage fills: specks and hairlines get a smooth fill (the
biharmonic one, diffusion.py), thin strokes are reconstructed (OpenCV-contrib's FSR), the rest filled by the
network (context_windows.py, in layers where a hole reaches far from known pixels), then given the photo's own
detail by the texture stage (texture.py); then the tone near the border is blended with diffusion's
(_blend_tone), and last, straight edges that cross a hole are carried through it (line_fill.py, _continue_lines).
Everything outside the holes is left exactly as it was; alpha is never changed.
Also here, for the files' side: a photo's holes from boxes and a mask file (hole_mask), the 16-bit fill
(sixteen_bit_fill) and the before/after picture (comparison_image).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from functools import cache
from pathlib import Path
from typing import NamedTuple, TypeVar

import cv2
import numpy as np
from PIL import Image

from inpaint_cli.errors import InpaintError, UsageError
from inpaint_cli.files import images
from inpaint_cli.inpainting import context_windows, diffusion, hole_plan, line_fill, masking, texture
from inpaint_cli.inpainting.fill_options import FillOptions, TextureOptions, ThinFill
from inpaint_cli.inpainting.rectangles import Box, Rect
from inpaint_cli.model import runtime
from inpaint_cli.model.runtime import Predictor

Warn = Callable[[str], None]
ImageT = TypeVar("ImageT", Image.Image, np.ndarray)  # fill_image gives back the kind of image it was given
DIFFUSION_REACH = 16  # px of the photo read around thin holes for it
BIHARMONIC_PIXELS = 60_000  # a thin hole larger than this is given the biharmonic fill in tiles
BIHARMONIC_TILE = 512  # px
PIECE_TILE = 384  # px: the tone blend and the line fill take a long hole in squares of 2 thicknesses, at least this
PIECE_REACH_MAX = 512  # px: the most of the photo they read beyond a piece (its thickness, for most holes)
TONE_RADIUS = 2  # px: the radius of the tone blend's diffusion
RECONSTRUCT_BATCH = 32  # squares of a thin stroke cropped and reconstructed at once (_reconstruct)
MIN_KNOWN_SHARE = 0.1  # below this share of known pixels the holes are interpolated, not filled by the network


@cache
def bundled_predictor() -> Predictor:
    """The bundled model, loaded once per process."""
    return runtime.load_predictor()


def fill_image(
    image: ImageT,
    mask: np.ndarray | Image.Image,
    options: FillOptions = FillOptions(),  # noqa: B008 - frozen, so one shared default is safe
    predictor: Predictor | None = None,
    on_warning: Warn | None = None,
) -> ImageT:
    """Fill the holes of an image in memory; every pixel outside them keeps its exact value.

    image: a Pillow image (RGB, L, RGBA, LA, 16-bit gray I;16; palette with transparency comes back as
    RGBA, 1-bit as L, other 8-bit modes as RGB) or a uint8 or uint16 array (HxW, or HxWxC with C = 2, 3
    or 4); the result is of the same kind. 16 bits are filled at 8 and scaled back inside the holes.
    mask: a Pillow image: a hole where any colour channel is above 127 and alpha (if any) is too; or an
    HxW array: a hole where true or above 0 (masking.as_hole holds the rule).
    predictor: a loaded model (runtime.load_predictor); default: the bundled model.
    on_warning receives warnings about holes too large for a good fill.
    """
    hole = masking.as_hole(mask)
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


def fill_pillow(
    image: Image.Image,
    hole: np.ndarray,
    options: FillOptions,
    predictor: Predictor,
    on_warning: Warn,
    in_place: bool = False,
) -> Image.Image:
    """fill_image for a Pillow image, square by square on crops: a 12 MP photo never becomes an array.

    The hole is planned once (hole_plan.plan_holes), then filled stage by stage: holes a few pixels thin (specks,
    hairlines) are diffused and thin strokes reconstructed; the network fills every square that covers the other
    holes (in layers where a hole reaches far from known pixels); then, unless options.texture is off, the texture
    stage gives them the detail of the photo around.
    in_place fills image itself (saving a full-size copy) when its mode needs no conversion.
    """
    if image.mode in images.HIGH_BIT_MODES:
        raise InpaintError(f"the image has {images.mode_name(image)}; inpaint fills 8- and 16-bit images")
    mode = images.working_mode(image)
    source = image if image.mode == mode else image.convert(mode)
    result = source if in_place and source is image else source.copy()
    hidden = _hidden_colours(result, hole, options, predictor.input_size)
    if _too_little_for_the_network(hole, predictor.input_size, on_warning):
        _interpolate(result, hole, hole if hidden is None else hole | hidden.mask)
    else:
        _fill_planned(result, hole, options, predictor, on_warning)
    if hidden is not None:
        hidden.put_back(result)
    return result


def _fill_planned(
    result: Image.Image, hole: np.ndarray, options: FillOptions, predictor: Predictor, on_warning: Warn
) -> None:
    """fill_pillow's stages on result, in place: diffusion, reconstruction, the network, texture, tone, lines."""
    plan = hole_plan.plan_holes(hole, options)
    if plan.diffuse is not None:
        _diffuse(result, plan.diffuse, hole, options.thin_fill)
    if plan.reconstruct is not None:
        _reconstruct(result, plan.reconstruct, plan.undiffused)
    if plan.network.regions:  # any hole left for the network
        _fill_by_network(result, plan, options, predictor, on_warning)
        if options.texture:
            factor = min(options.context_factors)
            _add_texture(result, plan.network, predictor.input_size, factor, options.texture_options)
    filled = hole_plan.HolePart(plan.undiffused, plan.undiffused_regions)
    if options.texture and options.tone_share > 0 and filled.regions:  # --smooth: the fill alone
        _blend_tone(result, filled, options)
    if options.texture and options.line_fill and filled.regions:
        _continue_lines(result, filled, options)


class _HiddenColours:
    """The colours under a photo's fully transparent pixels outside its holes, kept to be put back after the fill.

    Cut-outs often store black (or anything) there. As context, that hidden colour bled into the fill as a dark
    smudge at the edge of the transparency; while the holes are filled, those pixels show a smooth blend of the
    visible pixels instead (texture.interpolate), and then get their own colours back: no pixel outside the holes
    changes.
    """

    def __init__(self, result: Image.Image, mask: np.ndarray) -> None:
        self.mask, self.rect = mask, masking.bounding_rect(mask)
        self.kept = result.crop(self.rect)

    def put_back(self, result: Image.Image) -> None:
        result.paste(self.kept, (self.rect.left, self.rect.top), Image.fromarray(self.mask[self.rect.slices]))


def _hidden_colours(
    result: Image.Image, hole: np.ndarray, options: FillOptions, input_size: int
) -> _HiddenColours | None:
    """Blend visible colours into result's fully transparent pixels outside the holes and near them, in place; what
    they held. Near: within the largest window the fill reads around the holes' rectangle (the largest context
    factor times their thickness, at least the network's input). None when there are none, or no visible known
    pixel to blend from.
    """
    if result.mode not in {"RGBA", "LA"} or not hole.any():
        return None
    reach = max(input_size, max(options.context_factors) * _thickness(hole))
    area = masking.bounding_rect(hole).grown(math.ceil(reach), *hole.shape)
    mask = np.zeros_like(hole)
    mask[area.slices] = (np.asarray(result.crop(area).getchannel("A")) == 0) & ~hole[area.slices]
    if not mask.any() or (mask | hole)[area.slices].all():
        return None
    hidden = _HiddenColours(result, mask)
    _interpolate(result, mask, mask | hole)
    return hidden


def _thickness(hole: np.ndarray) -> float:
    """Twice the largest distance of a hole pixel to a known one, the photo's edge counting as known: its thickness."""
    inside = masking.bounding_rect(hole)
    padded = np.pad(hole[inside.slices], 1).astype(np.uint8)
    return 2 * float(cv2.distanceTransform(padded, cv2.DIST_L2, 3).max())


def _fill_by_network(
    result: Image.Image, plan: hole_plan.HolePlan, options: FillOptions, predictor: Predictor, on_warning: Warn
) -> None:
    """The network's fill of every pixel of the plan's network hole, square by square, layer by layer, in place.

    A square whose windows hold no known pixel is interpolated from its neighbours instead (black otherwise).
    """
    remaining, on_poor_fill = plan.network.pixels, _PoorFillWarnings(plan.network.regions, on_warning)
    for layer in plan.layers:
        unseen = np.zeros_like(remaining)
        for square, rgb, seen in context_windows.square_fills(
            lambda box: np.asarray(result.crop(box.rect)),
            remaining,
            context_windows.network_squares(layer, predictor.input_size, options.square_thicknesses),
            predictor,
            options.context_factors,
            options.flat_detail,
            options.flat_fill,
            options.mirror,
            on_poor_fill,
        ):
            if seen:
                _paste_colour(result, square.rect, rgb, layer.pixels[square.slices])
            else:
                unseen[square.slices] |= layer.pixels[square.slices]
        if unseen.any():
            _interpolate(result, unseen, (remaining & ~layer.pixels) | unseen)
        remaining = remaining & ~layer.pixels


def _reconstruct(result: Image.Image, target: hole_plan.HolePart, hole: np.ndarray) -> None:
    """Fill target's pixels by OpenCV-contrib's frequency-selective reconstruction, square by square, in place.

    On strokes 9-25 px wide (the 19 photos of photos-tuning) it scored 31.95 dB against the network's 30.77
    and FSR's own 30.75 on the whole crop; squares of 4 thicknesses keep each of its crops small.
    hole (a superset of target) holds no colour to reconstruct from.
    FSR takes 0.1 s on a flat 240 px crop but 1-3 s on a textured one (0.9 s per 100 px of a 25 px stroke on a
    4 MP photo), so the squares run on every core OpenCV may use (it lets go of the GIL). They are independent:
    each reads only known pixels, so the result is the same in any order; RECONSTRUCT_BATCH at a time bounds the
    crops held at once.
    """
    squares = list(masking.squares_covering(target.pixels, target.regions, min_side=32, per_thickness=4.0))
    with ThreadPoolExecutor(max(1, cv2.getNumThreads())) as pool:
        for start in range(0, len(squares), RECONSTRUCT_BATCH):
            crops = [_FsrCrop.of(result, hole, *square) for square in squares[start : start + RECONSTRUCT_BATCH]]
            for crop, filled in zip(crops, pool.map(_FsrCrop.reconstructed, crops), strict=True):
                inside = np.zeros(crop.known.shape, bool)
                inside[crop.square.rect.moved(-crop.around.left, -crop.around.top).slices] = True
                _paste_colour(result, crop.around, filled, target.pixels[crop.around.slices] & inside)


class _FsrCrop(NamedTuple):
    """The crop in which FSR reconstructs one square of a thin stroke."""

    around: Rect  # the square grown by twice the stroke's thickness
    rgb: np.ndarray  # its pixels, uint8 HxWx3
    known: np.ndarray  # 255 where known, 0 in the hole, uint8 HxW
    square: Box

    @classmethod
    def of(cls, result: Image.Image, hole: np.ndarray, square: Box, thickness: int) -> _FsrCrop:
        around = square.rect.grown(max(2 * thickness, 16), *hole.shape)
        rgb = np.ascontiguousarray(context_windows.as_rgb(np.asarray(result.crop(around))))
        return cls(around, rgb, (~hole[around.slices]).astype(np.uint8) * 255, square)

    def reconstructed(self) -> np.ndarray:
        filled = np.zeros_like(self.rgb)
        cv2.xphoto.inpaint(self.rgb, self.known, filled, cv2.xphoto.INPAINT_FSR_FAST)
        return filled


def _diffuse(result: Image.Image, target: np.ndarray, hole: np.ndarray, thin_fill: ThinFill) -> None:
    """Fill target's pixels smoothly from the known pixels around them, in place (thin_fill: diffusion.py's way).

    For holes a few pixels thin, a smooth fill continues the edges that cross them better than the network. On
    the 19 photos of photos-tuning, Navier-Stokes diffusion beat the network by 0.37 dB on 200-400 specks of 2-6 px
    and 0.57 dB on 1-3 px lines, in a tenth of a second instead of 2-11 s; the biharmonic fill, which carries the
    border's gradients in too, adds 1.25-1.4 dB more (docs/benchmarks.md). hole (a superset of target) holds no
    colour to fill from.
    """
    bounds = masking.bounding_rect(target)
    around = bounds.grown(DIFFUSION_REACH, *target.shape)
    if thin_fill != "biharmonic":
        filled = diffusion.diffuse(context_windows.as_rgb(np.asarray(result.crop(around))), hole[around.slices])
        _paste_colour(result, around, filled, target[around.slices])
        return
    if target.sum() <= BIHARMONIC_PIXELS:
        inside = target[around.slices]
        _fill_biharmonic(result, around, inside, hole[around.slices] & ~inside)
        return
    # A larger one (a network of cracks over a 12 MP photo: one system for 216 k pixels needed 1 GB) is solved
    # tile by tile, each seeing the tiles before it as known.
    done = np.zeros_like(target)
    for top in range(bounds.top, bounds.bottom, BIHARMONIC_TILE):
        for left in range(bounds.left, bounds.right, BIHARMONIC_TILE):
            square = Rect(
                left, top, min(left + BIHARMONIC_TILE, bounds.right), min(top + BIHARMONIC_TILE, bounds.bottom)
            )
            if not target[square.slices].any():
                continue
            around = square.grown(DIFFUSION_REACH, *target.shape)
            inside = np.zeros((around.height, around.width), bool)
            inside[square.moved(-around.left, -around.top).slices] = target[square.slices]
            _fill_biharmonic(result, around, inside, hole[around.slices] & ~done[around.slices] & ~inside)
            done[square.slices] |= target[square.slices]


def _fill_biharmonic(result: Image.Image, around: Rect, inside: np.ndarray, ignored: np.ndarray) -> None:
    """Give the inside pixels of result's around rectangle the biharmonic fill (ignored: no colour), in place."""
    rgb = context_windows.as_rgb(np.asarray(result.crop(around)))
    _paste_colour(result, around, diffusion.biharmonic(rgb, inside, ignored=ignored), inside)


def _interpolate(result: Image.Image, target: np.ndarray, unknown: np.ndarray) -> None:
    """Fill target's pixels with a smooth blend of the nearest known colours (texture.interpolate), in place.

    unknown (a superset of target) holds no colour to blend. Only a crop reaching well beyond target is read.
    """
    bounds = masking.bounding_rect(target)
    around = bounds.grown(max(bounds.height, bounds.width), *target.shape)
    crop = np.asarray(result.crop(around))
    blended = texture.interpolate(context_windows.as_rgb(crop), unknown[around.slices])
    _paste_colour(result, around, blended, target[around.slices])


def _too_little_for_the_network(hole: np.ndarray, input_size: int, on_warning: Warn) -> bool:
    """Whether the holes are filled by interpolating the known pixels instead of the network (with a warning
    where almost nothing is known).

    The network needs windows with known pixels in them: a photo thinner than a quarter of its input (a 600x30
    banner, a 1xN strip) leaves squares that are all hole, and where almost nothing is known there is nothing to
    continue. Its fill was black there; a smooth blend of the nearest known colours is what such a photo can give.
    """
    known_share = 1 - float(np.count_nonzero(hole)) / hole.size
    if known_share < MIN_KNOWN_SHARE:
        on_warning(f"only {known_share:.1%} of the photo is known: its holes get a smooth blend of the known pixels")
        return True
    return min(hole.shape) < input_size // 4


class _PoorFillWarnings:
    """The network's poor-fill warnings, one per hole the user gave, naming it rather than the squares it was cut into.

    A hole is a connected hole of the network's hole (the plan's regions): a --box is named as it was
    given, a mask's hole by its bounding rectangle.
    """

    def __init__(self, regions: list[masking.HoleRegion], on_warning: Warn) -> None:
        self._regions, self._on_warning = regions, on_warning
        self._warned: set[masking.HoleRegion] = set()

    def __call__(self, square: Box, why: str) -> None:
        """Warn about the hole that square covers (the one its rectangle shares most with), unless warned already."""
        region = max(self._regions, key=lambda region: region.rect.shared_area(square.rect))
        if region not in self._warned:
            self._warned.add(region)
            self._on_warning(f"the hole at {region} {why}")


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
    result: Image.Image, network: hole_plan.HolePart, input_size: int, factor: float, options: TextureOptions
) -> None:
    """Give the network's holes the detail of the photo around them (texture.py), in place, piece by piece.

    A long hole (a stroke) is textured in pieces of about twice its thickness, at least options.tile px: the stage's
    time and memory then follow the hole's pixels, not its bounding rectangle (a stroke across a 12 MP photo
    took 86 s and 6.3 GB in one piece). A piece sees the pieces textured before it as known at its border
    (no seam between them), but never as a source. A square hole is one piece.
    """
    hole = network.pixels
    done = np.zeros_like(hole)  # the hole pixels textured so far
    for region in network.regions:
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
    square = piece.box.rect
    around = square.grown(reach, *hole.shape)
    target = np.zeros((around.height, around.width), bool)
    inside = square.moved(-around.left, -around.top).slices
    target[inside] = hole[square.slices] & ~done[square.slices]
    if not target.any():
        return
    done[square.slices] |= target[inside]
    guide = context_windows.as_rgb(np.asarray(result.crop(around)))
    textured = texture.add_texture(guide, target, strength, options, unknown=hole[around.slices])
    _paste_colour(result, square, textured[inside], target[inside])


def _blend_tone(result: Image.Image, filled: hole_plan.HolePart, options: FillOptions) -> None:
    """Move the low-pass of the filled hole part of the way to that of Navier-Stokes diffusion, in place.

    The network's fill and diffusion err differently about a hole's tone (how bright, which tint, which way a
    gradient runs); their Gaussian low-passes (options.tone_sigma px, over the hole's pixels only) averaged err
    less, while the detail above that band stays the fill's own. Diffusion knows less the farther it carries a
    colour, so its share falls as exp(-distance to known / options.tone_depth). On 25 photos' painted holes:
    +0.1 to +0.35 dB on every kind but large objects (+0.02), detail unchanged (docs/benchmarks.md). Piece by
    piece (a stroke's squares of PIECE_TILE px), so its cost follows the hole's pixels. filled: the holes the
    network and FSR filled, with their connected holes.
    """
    reach = math.ceil(3 * options.tone_sigma)
    for piece in _pieces(filled, lambda thickness: max(reach, thickness)):
        rgb = context_windows.as_rgb(np.asarray(result.crop(piece.around)))
        toned = _toned(rgb, piece.unknown, options)
        _paste_colour(result, piece.around, toned, piece.target)


def _continue_lines(result: Image.Image, filled: hole_plan.HolePart, options: FillOptions) -> None:
    """Carry the straight edges that cross the filled holes through them (line_fill.py), in place, piece by piece.

    A piece (a square of PIECE_TILE px at least, of a long hole) whose known ring holds one straight edge
    (texture.find_line) moves towards the interpolation along that edge by the edge's strength; other pieces keep
    the fill. Each piece reads a crop reaching options.line_reach thicknesses beyond it, and only known pixels.
    Neighbouring pieces that found different edges, or one and none, would meet in a step across the hole (a
    kite's string over a sky showed it): each piece also moves the hole pixels within options.line_feather of its
    thickness around it, and a pixel takes the mean of the moves that reach it, weighted from 1 in a piece to 0 at
    that distance (_BlendedPieces).
    """
    texture_options = options.texture_options
    width, height = result.size
    blend, pieces, any_line = _BlendedPieces(filled.pixels), [], False

    def reach(thickness: float) -> float:
        return max(texture_options.min_reach, options.line_reach * thickness)

    for piece in _pieces(filled, reach):
        around = piece.around
        rgb = context_windows.as_rgb(np.asarray(result.crop(around)))
        colours = rgb.astype(np.float32)
        feather = max(1.0, options.line_feather * piece.thickness)
        distance = cv2.distanceTransform((~piece.target).astype(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
        reached = piece.unknown & (distance < feather)  # the piece alone where feather is 1 px (exact distances)
        line = texture.find_line(colours, piece.target, piece.unknown, piece.thickness, texture_options)
        if line is not None:
            any_line = True
            photo_edges = (around.left == 0, around.top == 0, around.right == width, around.bottom == height)
            fade = options.line_fade * piece.thickness
            rgb = line_fill.continue_line(
                rgb, reached, piece.unknown, line, options.line_sigma, colours, photo_edges, fade
            )
        blend.add(around, reached, rgb, 1.0 - distance / feather)
        pieces.append((around, piece.target))
    if any_line:
        for around, target in pieces:
            _paste_colour(result, around, blend.colours(around, target), target)


class _BlendedPieces:
    """Weighted sums of the colours pieces give the hole pixels of a photo, kept for those pixels only (a stroke
    over a 12 MP photo holds a few hundred thousand), and their weighted means."""

    def __init__(self, hole: np.ndarray) -> None:
        self._width = hole.shape[1]
        self._pixels = np.flatnonzero(hole)  # the photo's hole pixels, in order: where each one's sums are
        self._sums = np.zeros((self._pixels.size, 3), np.float32)
        self._weights = np.zeros(self._pixels.size, np.float32)

    def _at(self, around: Rect, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        rows, columns = np.nonzero(mask)
        flat = (rows + around.top) * self._width + columns + around.left
        return rows, columns, np.searchsorted(self._pixels, flat)

    def add(self, around: Rect, mask: np.ndarray, rgb: np.ndarray, weight: np.ndarray) -> None:
        """Add the colours of rgb (a crop of the photo at around) where mask is true (hole pixels), with weight."""
        rows, columns, at = self._at(around, mask)
        self._sums[at] += weight[rows, columns, None] * rgb[rows, columns]
        self._weights[at] += weight[rows, columns]

    def colours(self, around: Rect, mask: np.ndarray) -> np.ndarray:
        """uint8 crop at around: the weighted mean colour where mask is true (pixels given a weight), 0 elsewhere."""
        rows, columns, at = self._at(around, mask)
        means = np.zeros((around.height, around.width, 3), np.uint8)
        means[rows, columns] = np.clip(np.rint(self._sums[at] / self._weights[at, None]), 0, 255).astype(np.uint8)
        return means


class _Piece(NamedTuple):
    """A square of a hole part with the crop read around it: the part's pixels it holds (not in an earlier piece),
    the crop's hole pixels (no colour of the photo), both in the crop's coordinates, and its hole's thickness."""

    around: Rect
    target: np.ndarray
    unknown: np.ndarray
    thickness: float


def _pieces(filled: hole_plan.HolePart, reach: Callable[[float], float]) -> Iterator[_Piece]:
    """The part's holes in squares of twice their thickness, at least PIECE_TILE px (masking.region_squares), each with
    the crop reaching reach(thickness) px beyond it, at most PIECE_REACH_MAX: a stage's time and memory then follow
    the hole's pixels, not its bounding rectangle. Each hole pixel is in one piece.

    The cap changes nothing for holes up to PIECE_REACH_MAX thick; for a 1400 px square in a 12 MP photo, which read the
    whole photo, it halves the crop (the line fill took 4.3 s and 1.1 GB there)."""
    hole = filled.pixels
    done = np.zeros_like(hole)
    for region in filled.regions:
        for square_piece in masking.region_squares(hole, region, PIECE_TILE):
            square = square_piece.box.rect
            grow = min(math.ceil(reach(square_piece.thickness)), PIECE_REACH_MAX)
            around = square.grown(grow, *hole.shape)
            target = np.zeros((around.height, around.width), bool)
            target[square.moved(-around.left, -around.top).slices] = hole[square.slices] & ~done[square.slices]
            if not target.any():
                continue
            done[square.slices] |= hole[square.slices]
            yield _Piece(around, target, hole[around.slices], square_piece.thickness)


def _toned(rgb: np.ndarray, unknown: np.ndarray, options: FillOptions) -> np.ndarray:
    """uint8 rgb with the low-pass of its unknown pixels moved towards diffusion's (see _blend_tone).

    At full size: made at half or a quarter size (a quarter of the time or less), it kept 0.1-0.25 dB less of
    the gain, most of it near the border, where diffusion knows most.
    """
    diffused = diffusion.diffuse(rgb, unknown, TONE_RADIUS)
    difference = (diffused.astype(np.float32) - rgb) * unknown[..., None]
    weight = cv2.GaussianBlur(unknown.astype(np.float32), (0, 0), options.tone_sigma)
    low = cv2.GaussianBlur(difference, (0, 0), options.tone_sigma)[unknown] / np.maximum(weight[unknown], 1e-3)[:, None]
    depth = cv2.distanceTransform(unknown.astype(np.uint8), cv2.DIST_L2, 5)[unknown]
    share = options.tone_share * np.exp(-depth / options.tone_depth)
    before = rgb[unknown]
    after = np.clip(before + share[:, None] * low + 0.5, 0, 255).astype(np.uint8)
    darkened = (after < diffusion.DARK).all(axis=-1) & (before >= diffusion.DARK).any(axis=-1)
    after[darkened] = before[darkened]  # a shift of tone never makes a pixel near-black (a dark twig on dark ground)
    toned = rgb.copy()
    toned[unknown] = after
    return toned


def _paste_colour(result: Image.Image, rect: Rect, rgb: np.ndarray, target: np.ndarray) -> None:
    """Write uint8 RGB pixels into result's rect where target is true (alpha never changes)."""
    region = np.array(result.crop(rect))
    _write_colour(region, rgb, target)
    result.paste(Image.fromarray(region), (rect.left, rect.top))


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
    boxes: list[Box],
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
        left, top, right, bottom = square.rect
        for offset in (0, width + 16):
            outline = [left + offset - line, top - line, right + offset + line, bottom + line]
            draw.rectangle(outline, outline=(255, 0, 0), width=line)
    if pair.width > max_width:
        pair = pair.resize((max_width, round(pair.height * max_width / pair.width)), Image.Resampling.LANCZOS)
    return pair
