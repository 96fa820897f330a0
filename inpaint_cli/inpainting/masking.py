"""Hole masks: drawing boxes, reading mask files, hole regions, and random holes for training.

Every hole in the project is drawn here, and as_hole holds the one rule of which mask pixel is a hole.
Masks are float32 or bool HxW arrays, 1 = hole.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

import numpy as np
from PIL import Image

from inpaint_cli.errors import UsageError
from inpaint_cli.inpainting.rectangles import Box, Rect


def draw_boxes(boxes: list[Box], height: int, width: int, dtype: type = np.float32) -> np.ndarray:
    """A height x width mask with 1 (True) inside every box (boxes are clipped)."""
    mask = np.zeros((height, width), dtype=dtype)
    for box in boxes:
        mask[box.slices] = 1
    return mask


def random_box(rng: np.random.Generator, image_size: int, hole_min: int, hole_max: int) -> Box:
    """A square box with side uniform in [hole_min, hole_max], placed fully inside."""
    size = int(rng.integers(hole_min, hole_max + 1))
    x = int(rng.integers(0, image_size - size + 1))
    y = int(rng.integers(0, image_size - size + 1))
    return Box(x, y, size)


def random_stroke_mask(rng: np.random.Generator, image_size: int, hole_min: int, hole_max: int) -> np.ndarray:
    """A free-form hole: a thick polyline of a few random segments.

    Its width and reach scale with the square holes' sizes, so strokes cover a
    comparable share of the image.
    """
    yy, xx = np.mgrid[0:image_size, 0:image_size].astype(np.float32)
    mask = np.zeros((image_size, image_size), dtype=np.float32)
    thickness = rng.uniform(max(2.0, hole_min / 3), max(3.0, hole_max / 3))
    point = rng.uniform(0, image_size, size=2)
    for _ in range(int(rng.integers(2, 6))):
        angle = rng.uniform(0, 2 * math.pi)
        length = rng.uniform(hole_min, hole_max * 1.5)
        end = np.clip(point + length * np.array([math.cos(angle), math.sin(angle)]), 0, image_size - 1)
        mask = np.maximum(mask, _segment_mask(xx, yy, point, end, thickness / 2))
        point = end
    return mask


def _segment_mask(xx: np.ndarray, yy: np.ndarray, start: np.ndarray, end: np.ndarray, radius: float) -> np.ndarray:
    """1 where a pixel lies within radius of the segment start-end."""
    direction = end - start
    length_squared = float(direction @ direction) or 1.0
    t = ((xx - start[0]) * direction[0] + (yy - start[1]) * direction[1]) / length_squared
    t = np.clip(t, 0.0, 1.0)
    dx = xx - (start[0] + t * direction[0])
    dy = yy - (start[1] + t * direction[1])
    return (dx * dx + dy * dy <= radius * radius).astype(np.float32)


BLOB_HARMONICS = 4  # wiggles of a blob's outline: the k-th harmonic of its radius has amplitude up to 0.4 / k


def random_blob_mask(rng: np.random.Generator, image_size: int, hole_min: int, hole_max: int) -> np.ndarray:
    """An irregular blob, like an object a user paints over; about half of them are cut by the sample's border.

    The blob is star-shaped around its centre, its radius wandering with the angle (a few low harmonics).
    The cut ones stand for objects at a photo's edge: fill shifts a window inward to stay inside the photo,
    so there the hole touches the window's border, which square training holes never do.
    """
    radius = rng.uniform(hole_min, hole_max * 1.25) / 2  # a disc this wide covers ~1.2x the largest square
    centre = rng.uniform(radius, image_size - radius, size=2)
    if rng.uniform() < 0.5:
        axis = int(rng.integers(0, 2))
        inward = rng.uniform(-0.3, 0.6) * radius  # the centre's distance from the border (< 0: beyond it)
        centre[axis] = inward if rng.uniform() < 0.5 else image_size - 1 - inward
    yy, xx = np.mgrid[0:image_size, 0:image_size].astype(np.float32)
    dy, dx = yy - centre[0], xx - centre[1]
    angle = np.arctan2(dy, dx)
    outline = np.ones_like(angle)
    for harmonic in range(1, BLOB_HARMONICS + 1):
        amplitude = rng.uniform(0.0, 0.4 / harmonic)
        outline += amplitude * np.cos(harmonic * angle + rng.uniform(0, 2 * math.pi))
    return (dx * dx + dy * dy <= (radius * outline) ** 2).astype(np.float32)


def random_band_mask(rng: np.random.Generator, image_size: int, hole_min: int, hole_max: int) -> np.ndarray:
    """A thick band across the whole sample, straight or bent once: a painted stroke or strip as fill sees it.

    fill cuts a stroke into squares and shows the network a window 3 or 6 times the stroke's width around
    each, so in the window the hole is a band from border to border, as thick as a square training hole.
    """
    yy, xx = np.mgrid[0:image_size, 0:image_size].astype(np.float32)
    thickness = rng.uniform(hole_min, hole_max)
    bend = rng.uniform(image_size * 0.25, image_size * 0.75, size=2)
    reach = 2.0 * image_size  # both ends well beyond the border
    mask = np.zeros((image_size, image_size), dtype=np.float32)
    angle = rng.uniform(0, 2 * math.pi)
    for turn in (0.0, math.pi + rng.uniform(-0.5, 0.5)):
        end = bend + reach * np.array([math.cos(angle + turn), math.sin(angle + turn)])
        mask = np.maximum(mask, _segment_mask(xx, yy, bend, end, thickness / 2))
    return mask


def random_training_mask(
    rng: np.random.Generator,
    image_size: int,
    hole_min: int,
    hole_max: int,
    stroke_fraction: float,
    painted_fraction: float = 0.0,
) -> np.ndarray:
    """One training hole.

    With probability painted_fraction a painted hole (a blob or a band, even odds), else a free-form stroke
    with probability stroke_fraction, else a square. Without painted holes no random number is drawn for
    them, so the holes of runs from before painted holes stay the same.
    """
    if painted_fraction > 0 and rng.uniform() < painted_fraction:
        painted = random_blob_mask if rng.uniform() < 0.5 else random_band_mask
        return painted(rng, image_size, hole_min, hole_max)
    if rng.uniform() < stroke_fraction:
        return random_stroke_mask(rng, image_size, hole_min, hole_max)
    box = random_box(rng, image_size, hole_min, hole_max)
    return draw_boxes([box], image_size, image_size)


def random_training_holes(
    rng: np.random.Generator,
    image_size: int,
    hole_min: int,
    hole_max: int,
    count: int,
    stroke_fraction: float,
    painted_fraction: float = 0.0,
) -> np.ndarray:
    """A training sample's mask: the union of count holes from random_training_mask."""
    holes = [
        random_training_mask(rng, image_size, hole_min, hole_max, stroke_fraction, painted_fraction)
        for _ in range(count)
    ]
    return np.maximum.reduce(holes)


def read_mask(
    path: Path, width: int, height: int, orientation: int = 1, on_note: Callable[[str], None] | None = None
) -> np.ndarray:
    """A mask image as bool height x width, true where as_hole's rule for images makes a pixel a hole.

    width x height is the photo as displayed; orientation is its EXIF orientation. The mask
    may be of the displayed size, or of the stored size (width and height swapped, for
    orientations 5 to 8): it is then turned as the photo is. A mask of the same aspect ratio
    but another size is scaled with nearest-neighbour (edges stay hard), and on_note says so.
    Any other size is an error naming both.
    """
    from inpaint_cli.files import images

    mask = images.open_photo(path).image
    if mask.size == (height, width) and orientation in {5, 6, 7, 8} and width != height:
        mask = mask.transpose(images.UPRIGHT[orientation])  # drawn on the stored pixels: turn it as the photo
    if mask.size != (width, height):
        mask_width, mask_height = mask.size
        if abs(mask_width * height - mask_height * width) > max(width, height, mask_width, mask_height):
            stored = f" (stored as {height}x{width})" if orientation in {5, 6, 7, 8} else ""
            raise UsageError(
                f"mask {path.name} is {mask_width}x{mask_height} but the photo is {width}x{height}{stored}; "
                f"a mask must have the photo's shape"
            )
        if on_note is not None:
            on_note(f"mask {path.name} ({mask_width}x{mask_height}) was scaled to the photo's {width}x{height}")
        mask = mask.resize((width, height), Image.Resampling.NEAREST)
    return as_hole(mask)


HOLE_LEVEL = 127  # of 255: a mask image's pixel is a hole above it in any colour channel, and not at or below in alpha


def as_hole(mask: np.ndarray | Image.Image) -> np.ndarray:
    """Which pixels of a mask are holes, as bool HxW: the one rule of `--mask`, `--mask-dir`, serve and fill_image.

    A mask image (Pillow, any mode): a pixel is a hole when any of its colour channels is above 127
    (of 255; 16-bit gray is taken at 8 bits), so white and a pure red stroke are holes, black and dark
    colours are not; where the image has alpha (or a transparent palette entry), a pixel whose alpha is
    127 or less is never a hole. An anti-aliased edge or a JPEG's ringing is so cut at half way, the same
    everywhere.
    An array: true, or above 0, is a hole (bool, 0/1 floats, 0/255); a bool array is used as it is
    (a 12 MP copy costs 5 ms). For the image rule on an array of 0-255 values, pass Image.fromarray(it).
    """
    if isinstance(mask, Image.Image):
        return _image_holes(mask)
    mask = np.asarray(mask)
    return mask if mask.dtype == bool else mask > 0


def _image_holes(mask: Image.Image) -> np.ndarray:
    """as_hole's rule for a Pillow image: any colour channel above HOLE_LEVEL, and alpha (where there is one) too."""
    from inpaint_cli.files import images

    if mask.mode in images.HIGH_BIT_MODES:  # 16-bit gray as a 16-bit mask file is read: at 8 bits
        values = np.asarray(mask)
        return (images.to_eight_bits(values) if values.dtype.kind == "u" else values) > HOLE_LEVEL
    if mask.mode not in {"L", "LA", "RGB", "RGBA"}:
        mask = mask.convert(images.working_mode(mask))  # palette, 1-bit, CMYK...: transparency becomes alpha
    pixels = np.asarray(mask)
    if pixels.ndim == 2:
        return pixels > HOLE_LEVEL
    with_alpha = mask.mode in {"LA", "RGBA"}
    hole = (pixels[..., :-1] if with_alpha else pixels).max(axis=-1) > HOLE_LEVEL
    if with_alpha:
        hole &= pixels[..., -1] > HOLE_LEVEL
    return hole


class HoleSquare(NamedTuple):
    """A square covering (part of) a hole, and the hole's thickness: its area over its long side, in pixels."""

    box: Box
    thickness: int


class HoleRegion(NamedTuple):
    """One connected hole: its tight bounding rectangle and its thickness in pixels."""

    rect: Rect
    thickness: int

    def __str__(self) -> str:
        """The hole in the user's terms: x,y,size as a --box is given when its rectangle is square, else x,y (WxH)."""
        left, top, width, height = self.rect.left, self.rect.top, self.rect.width, self.rect.height
        return f"{left},{top},{width}" if width == height else f"{left},{top} ({width}x{height})"


def hole_regions(mask: np.ndarray) -> list[HoleRegion]:
    """Every connected hole of mask with its bounding rectangle and thickness (its area over its long side).

    A stroke's thickness is about its width, also when it runs diagonally across a tall
    rectangle; a square's is its side. Connectivity is found on a grid of at most 256 cells
    a side (so it stays fast on big masks): holes closer than a cell count as one.
    """
    height, width = mask.shape
    cell = max(1, math.ceil(max(height, width) / 256))
    hole = as_hole(mask)
    bounds = bounding_rect(hole)
    if not bounds.width:
        return []
    # Only the cells of the holes' bounding rectangle are built: a 12 MP mask then costs 2 ms, not 10.
    cells = _cells_holding(bounds, cell)
    coarse = _blocks_holding_any(hole[_scaled(cells, cell).slices], cell)
    regions = []
    for component in _component_bounds(coarse):
        # The component's own bounding rectangle inside its cells: a square hole's squares are the hole.
        around = _scaled(component.moved(cells.left, cells.top), cell)
        rect = bounding_rect(hole[around.slices]).moved(around.left, around.top)
        thickness = math.ceil(np.count_nonzero(hole[rect.slices]) / max(rect.width, rect.height))
        regions.append(HoleRegion(rect, thickness))
    return regions


def bounding_rect(hole: np.ndarray) -> Rect:
    """The tight bounding rectangle of a bool HxW array's true pixels; Rect(0, 0, 0, 0) where there is none."""
    rows = np.flatnonzero(hole.any(axis=1))
    if not rows.size:
        return Rect(0, 0, 0, 0)
    # Columns only over the rows that hold any: on a small hole in a big photo, a fraction of the array.
    columns = np.flatnonzero(hole[rows[0] : rows[-1] + 1].any(axis=0))
    return Rect(int(columns[0]), int(rows[0]), int(columns[-1]) + 1, int(rows[-1]) + 1)


def _cells_holding(rect: Rect, cell: int) -> Rect:
    """The rectangle of a grid of cell x cell pixel cells that holds rect (a non-empty one), in cells."""
    return Rect(rect.left // cell, rect.top // cell, (rect.right - 1) // cell + 1, (rect.bottom - 1) // cell + 1)


def _scaled(rect: Rect, factor: int) -> Rect:
    """The rectangle with every coordinate times factor: a rectangle of cells as pixels."""
    return Rect(*(value * factor for value in rect))


def hole_squares(mask: np.ndarray, min_side: int, per_thickness: float = 2.0) -> list[HoleSquare]:
    """Squares that together cover every hole pixel of mask, about one per connected hole (hole_regions).

    A long thin hole, straight or diagonal, is covered by the squares about twice its
    thickness (at least min_side) that hold any of it, so each keeps plenty of known
    pixels around it; holes closer than hole_regions' cell may share a square, which only adds context.
    """
    hole = as_hole(mask)
    return squares_covering(hole, hole_regions(hole), min_side, per_thickness)


def squares_covering(
    hole: np.ndarray, regions: list[HoleRegion], min_side: int, per_thickness: float = 2.0
) -> list[HoleSquare]:
    """hole_squares of the bool mask hole whose connected holes (hole_regions) are known already: regions."""
    return [square for region in regions for square in region_squares(hole, region, min_side, per_thickness)]


def region_squares(hole: np.ndarray, region: HoleRegion, min_side: int, per_thickness: float = 2.0) -> list[HoleSquare]:
    """The squares of hole_squares that cover one connected hole of the bool mask hole (per_thickness times its
    thickness, at least min_side)."""
    side = max(math.ceil(per_thickness * region.thickness), min_side)
    return [HoleSquare(square, region.thickness) for square in _cover(hole, region.rect, side)]


def _blocks_holding_any(pixels: np.ndarray, block: int) -> np.ndarray:
    """Which block x block tiles of a bool array (the last ones partial) hold any True pixel."""
    rows, columns = math.ceil(pixels.shape[0] / block), math.ceil(pixels.shape[1] / block)
    padded = np.zeros((rows * block, columns * block), dtype=bool)
    padded[: pixels.shape[0], : pixels.shape[1]] = pixels
    # Rows first, then columns: reducing both axes of a 4-D view at once is 6x slower.
    return padded.reshape(rows, block, columns * block).any(axis=1).reshape(rows, columns, block).any(axis=2)


def _component_bounds(grid: np.ndarray) -> list[Rect]:
    """Bounding rectangles (in cells) of 8-connected True cells."""
    seen = np.zeros_like(grid)
    bounds = []
    for start in zip(*np.nonzero(grid), strict=True):
        if seen[start]:
            continue
        seen[start] = True
        stack, top, left, bottom, right = [start], start[0], start[1], start[0], start[1]
        while stack:
            row, column = stack.pop()
            top, bottom, left, right = min(top, row), max(bottom, row), min(left, column), max(right, column)
            for dr in (-1, 0, 1):
                for dc in (-1, 0, 1):
                    r, c = row + dr, column + dc
                    if 0 <= r < grid.shape[0] and 0 <= c < grid.shape[1] and grid[r, c] and not seen[r, c]:
                        seen[r, c] = True
                        stack.append((r, c))
        bounds.append(Rect(int(left), int(top), int(right) + 1, int(bottom) + 1))
    return bounds


def _cover(hole: np.ndarray, rect: Rect, side: int) -> list[Box]:
    """The squares of side (at most the rectangle's long side and the photo's) tiling rect that hold hole.

    A square at the photo's right or bottom edge is moved inside it; it still holds its whole tile.
    """
    height, width = hole.shape
    side = min(max(rect.width, rect.height), side, width, height)
    occupied = _blocks_holding_any(hole[rect.slices], side)
    return [
        Box(min(rect.left + int(column) * side, width - side), min(rect.top + int(row) * side, height - side), side)
        for row, column in zip(*np.nonzero(occupied), strict=True)
    ]
