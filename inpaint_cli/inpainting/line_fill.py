"""Straight edges carried across a hole: each hole pixel takes the colours met along the edge on either side.

Where the known ring around (a piece of) a hole holds one straight edge (texture.find_line: a beam, a plank, a
railing, the horizon, a ridge), the network blurs it and the texture stage continues it only patch by patch, so
the edge breaks or fades at the hole. Here every hole pixel looks both ways along the edge's direction, takes the
first known colour it meets on each side, and blends the two by nearness (the nearer side counts more): an
interpolation along the edge, which carries every line parallel to it straight through the hole, sharp across it.
The result moves the fill towards that by the edge's strength, so a weak or doubtful edge changes little.

Made in a frame turned so that the edge runs along the rows: then "the first known pixel along the edge" is a
running maximum (or minimum) of column indices along each row, a few array operations over the crop.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from inpaint_cli.inpainting.texture import Line, local_mean


def continue_line(
    rgb: np.ndarray,
    target: np.ndarray,
    unknown: np.ndarray,
    line: Line,
    sigma: float = 0.5,
    rgb_float: np.ndarray | None = None,
    photo_edges: tuple[bool, bool, bool, bool] = (True, True, True, True),
    fade: float = math.inf,
) -> np.ndarray:
    """uint8 HxWx3 rgb with its target pixels moved towards the line interpolation along line, by its strength.

    unknown (a superset of target): the pixels that hold no colour of the photo. A target pixel that meets no
    known pixel along the edge on either side within the crop keeps its colour. One that meets a known pixel on
    one side only takes that colour in full where its look the other way leaves the crop at the photo's border
    (photo_edges: whether the crop's left, top, right and bottom sides are the photo's): an edge that runs to the
    border goes on to it. Where only the crop ends, what lies beyond is not known: the move fades as
    exp(-distance to the colour met / fade) (px), since one colour copied far along streaked a sky's gradient.
    sigma (px): the known colours are read through a Gaussian this wide, over known pixels only (0: as they
    are), against noise carried along. rgb_float: rgb as float32, where the caller has it already.
    """
    rows, columns = np.nonzero(target)
    image = rgb.astype(np.float32) if rgb_float is None else rgb_float
    colours, before_distance, after_distance = _along_edge(image, ~unknown, line.angle, sigma, (rows, columns))
    met_before, met_after = np.isfinite(before_distance), np.isfinite(after_distance)
    step = (math.cos(line.angle), math.sin(line.angle))
    photo_after = _leaves_at_photo_edge(rows, columns, step, target.shape, photo_edges)
    photo_before = _leaves_at_photo_edge(rows, columns, (-step[0], -step[1]), target.shape, photo_edges)
    trusted = (met_before & (met_after | photo_after)) | (met_after & photo_before)
    with np.errstate(invalid="ignore"):
        share = np.exp(-np.minimum(before_distance, after_distance) / fade)  # nan: inf / inf, where none is met
    share = np.where(trusted, 1.0, share)
    share[~(met_before | met_after)] = 0.0
    reached = share > 0
    rows, columns, share = rows[reached], columns[reached], share[reached]
    before = rgb[rows, columns].astype(np.float32)
    result = rgb.copy()
    moved = before + (line.strength * share)[:, None] * (colours[reached] - before)
    result[rows, columns] = np.clip(np.rint(moved), 0, 255).astype(np.uint8)
    return result


def _leaves_at_photo_edge(
    rows: np.ndarray,
    columns: np.ndarray,
    step: tuple[float, float],
    shape: tuple[int, ...],
    photo_edges: tuple[bool, bool, bool, bool],
) -> np.ndarray:
    """Whether a look from each pixel (rows, columns) along step (x, y) leaves the crop through a side that is the
    photo's edge (photo_edges: left, top, right, bottom), N bools."""
    height, width = shape[:2]
    dx, dy = step
    with np.errstate(divide="ignore"):
        to_side_x = (width - 1 - columns) / dx if dx > 0 else columns / -dx if dx < 0 else np.full(rows.shape, np.inf)
        to_side_y = (height - 1 - rows) / dy if dy > 0 else rows / -dy if dy < 0 else np.full(rows.shape, np.inf)
    side_x, side_y = (2 if dx > 0 else 0), (3 if dy > 0 else 1)
    return np.where(to_side_x <= to_side_y, photo_edges[side_x], photo_edges[side_y])


def _along_edge(
    image: np.ndarray, known: np.ndarray, angle: float, sigma: float, pixels: tuple[np.ndarray, np.ndarray]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For the pixels (rows, columns), the interpolation between the nearest known colours along angle (radians,
    x towards y) on either side, weighted by the other side's distance (Nx3), and the distance (px, inf where
    none) to the known colour met before them and after them along angle (N each).

    Turned with bicubic resampling: bilinear, with a 1 px Gaussian, blurred 11 px stripes to 0.8 of their
    contrast (24.8 dB against the texture stage's 28.8); bicubic with 0.5 px, 0.95 (28.4 dB). Bicubic overshoots
    beside a sharp edge (a dark cable came through darker than any pixel of the photo), so each colour read is
    held within those of the known pixels next to it. Only the band of turned rows that holds the pixels is made.
    """
    height, width = known.shape
    side = math.ceil(math.hypot(height, width)) + 2
    turn = _turn(angle, (width / 2, height / 2), side)
    to_turned = cv2.invertAffineTransform(turn)
    rows, columns = pixels
    across = np.rint(to_turned[1, 0] * columns + to_turned[1, 1] * rows + to_turned[1, 2]).astype(np.int32)
    along = np.rint(to_turned[0, 0] * columns + to_turned[0, 1] * rows + to_turned[0, 2]).astype(np.int32)
    across, along = np.clip(across, 0, side - 1), np.clip(along, 0, side - 1)
    first = int(across.min())
    band = turn.copy()
    band[:, 2] += turn[:, 1] * first  # the band's row 0 is the turned frame's row `first`
    size = (side, int(across.max()) - first + 1)

    def turned(values: np.ndarray, interpolation: int) -> np.ndarray:
        return cv2.warpAffine(values, band, size, flags=cv2.WARP_INVERSE_MAP | interpolation)

    blurred = local_mean(image, known, sigma) if sigma > 0 else image
    neighbours = np.ones((3, 3), np.uint8)
    lowest = cv2.erode(np.where(known[..., None], blurred, np.float32(1e9)), neighbours)
    highest = cv2.dilate(np.where(known[..., None], blurred, np.float32(-1e9)), neighbours)
    turned_known = turned(known.astype(np.float32), cv2.INTER_LINEAR) > 0.999  # all four neighbours known
    colours = np.clip(
        turned(blurred, cv2.INTER_CUBIC), turned(lowest, cv2.INTER_NEAREST), turned(highest, cv2.INTER_NEAREST)
    )
    return _row_interpolation(colours, turned_known, across - first, along)


def _turn(angle: float, centre: tuple[float, float], side: int) -> np.ndarray:
    """The 2x3 affine map from a side x side frame whose rows run along angle to the crop (about its centre)."""
    cos, sin = math.cos(angle), math.sin(angle)
    middle = side / 2
    return np.array(
        [
            [cos, -sin, centre[0] - middle * cos + middle * sin],
            [sin, cos, centre[1] - middle * sin - middle * cos],
        ],
        np.float32,
    )


def _row_interpolation(
    image: np.ndarray, known: np.ndarray, rows: np.ndarray, columns: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For the pixels (rows, columns) of image, the blend of the nearest known pixel to the left and to the right in
    their row (each weighted by the distance to the other), the one met where only one is (Nx3); and the distances
    (px, inf where none) to the one met to the left and to the right (N each). Only the rows holding such pixels
    are scanned."""
    needed, row_of = np.unique(rows, return_inverse=True)
    width = known.shape[1]
    indices = np.where(known[needed], np.arange(width, dtype=np.int32), np.int32(-1))
    left = np.maximum.accumulate(indices, axis=1)[row_of, columns]
    indices[indices < 0] = width
    right = np.minimum.accumulate(indices[:, ::-1], axis=1)[:, ::-1][row_of, columns]
    has_left, has_right = left >= 0, right < width
    left_colour = image[rows, np.clip(left, 0, None)]
    right_colour = image[rows, np.clip(right, None, width - 1)]
    # The nearer side counts more: weights are the distances to the other side (1/d interpolation).
    left_weight = np.where(has_left, np.where(has_right, right - columns, 1), 0).astype(np.float32)
    right_weight = np.where(has_right, np.where(has_left, columns - left, 1), 0).astype(np.float32)
    total = left_weight + right_weight
    blended = (left_colour * left_weight[:, None] + right_colour * right_weight[:, None]) / np.maximum(total, 1e-6)[
        :, None
    ]
    own = known[rows, columns]  # a pixel the turned frame counts as known keeps its own colour
    left_distance = np.where(own, 0.0, np.where(has_left, columns - left, np.inf))
    right_distance = np.where(own, 0.0, np.where(has_right, right - columns, np.inf))
    return np.where(own[:, None], image[rows, columns], blended), left_distance, right_distance
