"""Diffusion: a hole's colours carried in from the known pixels around it, smoothly (no texture, no network).

Two fills live here. diffuse is OpenCV's Navier-Stokes inpainting: flat windows whose hole reaches the photo's
edge take it as their smooth fill instead of the network's prefill (context_windows.fill_colours), since there
the prefill's average of a wide neighbourhood sees only one side of the hole and misses a gradient; and every
filled hole takes half its low-pass near the border (image_fill._blend_tone).
biharmonic fills holes a few pixels thin (specks, hairlines) with the smoothest surface through their
border, the one whose Laplacian is smallest: it carries the border's gradients in as well as its colours, so an
edge that crosses a line or a speck goes on through it (+1.25 and +1.4 dB over Navier-Stokes on specks and
lines, docs/benchmarks.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import cv2
import numpy as np

DIFFUSION_RADIUS = 5  # px of known neighbours that each Navier-Stokes step looks at, as OpenCV's users set it
SMOOTHNESS = 1e-3  # weight of the first-order (step) terms beside the second-order ones: holds what they leave free
ITERATIONS = 400  # conjugate-gradient steps at most; a hole 8 px thin converges in a few dozen
CLAMP_REACH = 4  # px: a fill stays within the range of the known colours this near it (a thin hole's half)
DARK = 12  # a pixel the fill makes darker than this in every channel, where Navier-Stokes does not, takes its colour
TOLERANCE = 1e-3  # stop when the residual is this share of the first one (1e-4 and 3e-3 scored the same)


def diffuse(rgb: np.ndarray, unknown: np.ndarray, radius: int = DIFFUSION_RADIUS) -> np.ndarray:
    """uint8 HxWx3 rgb with every unknown pixel (HxW, true or non-zero) diffused from the known ones around it
    (radius: px of known neighbours each step looks at; its time grows with its square)."""
    return cv2.inpaint(np.ascontiguousarray(rgb), unknown.astype(np.uint8), radius, cv2.INPAINT_NS)


def biharmonic(rgb: np.ndarray, unknown: np.ndarray, ignored: np.ndarray | None = None) -> np.ndarray:
    """uint8 HxWx3 rgb with its unknown pixels (bool HxW) set to the smoothest surface through the known ones.

    It minimises the squared 5-point Laplacian over every stencil that touches an unknown pixel and lies inside
    the image (so the photo's edge is a free boundary, not a black one), plus SMOOTHNESS times the squared
    steps between neighbours, which holds pixels no stencil fits (a 1-pixel-high photo). ignored pixels
    (bool HxW) have no colour (another hole): stencils that touch them are left out. Solved by conjugate
    gradients from diffuse's fill; an unknown pixel with nothing known to reach keeps that start. Each pixel is
    then held within the known colours near it (_known_range), and one it makes near-black where diffusion
    does not (an edge put a pixel off, beside a dark trunk) takes diffusion's colour: never darker than that.
    """
    unknown = unknown.astype(bool)
    start = diffuse(rgb, unknown if ignored is None else unknown | ignored)
    if not unknown.any():
        return start
    ignored = np.zeros_like(unknown) if ignored is None else ignored.astype(bool) & ~unknown
    system = _smoothness_system(start, unknown, ignored)
    colours = _solve(system, start.reshape(-1, 3)[system.unknown].T.astype(np.float64)).T
    low, high = _known_range(rgb, unknown | ignored, system.unknown)
    filled = (np.clip(colours, low, high) + 0.5).astype(np.uint8)
    diffused = start.reshape(-1, 3)[system.unknown]
    darker = (filled < DARK).all(axis=1) & (diffused >= DARK).any(axis=1)
    filled[darker] = diffused[darker]
    result = start.copy()
    result.reshape(-1, 3)[system.unknown] = filled
    return result


def _known_range(rgb: np.ndarray, unknown: np.ndarray, pixels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per pixel (flat indices) and channel, the lowest and highest known colour within CLAMP_REACH px (0 and
    255 where none is known that near).

    The smoothest surface overshoots beside a sharp step (a dark trunk against sky) and can go darker than
    anything around; clamped to its neighbourhood it never does.
    """
    window = np.ones((2 * CLAMP_REACH + 1, 2 * CLAMP_REACH + 1), np.uint8)
    unknown = unknown[..., None]
    lowest = cv2.erode(np.where(unknown, np.uint8(255), rgb), window).reshape(-1, 3)[pixels]
    highest = cv2.dilate(np.where(unknown, np.uint8(0), rgb), window).reshape(-1, 3)[pixels]
    none_near = (cv2.dilate((~unknown[..., 0]).astype(np.uint8), window) == 0).ravel()[pixels]
    lowest[none_near], highest[none_near] = 0, 255
    return lowest.astype(np.float64), highest.astype(np.float64)


@dataclass(frozen=True)
class _NormalEquations:
    """N x = rhs over the unknown pixels x (nx3): the minimum of a sum of squared terms, N sparse as (i, j, values)."""

    i: np.ndarray
    j: np.ndarray
    values: np.ndarray
    rhs: np.ndarray  # 3xn
    unknown: np.ndarray  # flat indices of the unknown pixels, sorted

    def times(self, x: np.ndarray) -> np.ndarray:
        """N x for 3xn x (i is sorted and holds every unknown pixel: the diagonal)."""
        return np.add.reduceat(self.values * x[:, self.j], self.row_starts, axis=1)

    @cached_property
    def row_starts(self) -> np.ndarray:
        return np.flatnonzero(np.diff(self.i, prepend=-1))


def _sums(index: np.ndarray, weights: np.ndarray, length: int) -> np.ndarray:
    """length x 3: the rows of weights (kx3) summed by index."""
    return np.stack([np.bincount(index, weights[:, channel], minlength=length) for channel in range(3)], axis=1)


Stencil = tuple[tuple[int, int, float], ...]  # (dy, dx, weight) of each pixel of a squared term
_LAPLACIAN: Stencil = ((0, 0, 4.0), (0, -1, -1.0), (0, 1, -1.0), (-1, 0, -1.0), (1, 0, -1.0))
_ALONG_ROWS: Stencil = ((0, -1, 1.0), (0, 0, -2.0), (0, 1, 1.0))
_ALONG_COLUMNS: Stencil = ((-1, 0, 1.0), (0, 0, -2.0), (1, 0, 1.0))
_STEP = float(np.sqrt(SMOOTHNESS))
_STEPS: tuple[Stencil, ...] = (((0, 0, _STEP), (0, 1, -_STEP)), ((0, 0, _STEP), (1, 0, -_STEP)))


def _smoothness_system(rgb: np.ndarray, unknown: np.ndarray, ignored: np.ndarray) -> _NormalEquations:
    """The normal equations of every squared term that touches an unknown pixel and no ignored one.

    The terms: the Laplacian wherever its stencil fits in the image; on the image's edge, where it does not, the
    second differences along the edge and into the image (a surface that goes on as it came: a sky's gradient
    reaches the edge instead of levelling off); and the SMOOTHNESS-weighted steps between neighbours.
    """
    height, width = unknown.shape
    candidates = np.flatnonzero(cv2.dilate(unknown.astype(np.uint8), np.ones((5, 5), np.uint8)))
    y, x = np.divmod(candidates, width)
    last_row, last_column = height - 1, width - 1
    on_edge = [
        (y == 0, (_ALONG_ROWS, ((0, 0, 1.0), (1, 0, -2.0), (2, 0, 1.0)))),
        (y == last_row, (_ALONG_ROWS, ((0, 0, 1.0), (-1, 0, -2.0), (-2, 0, 1.0)))),
        (x == 0, (_ALONG_COLUMNS, ((0, 0, 1.0), (0, 1, -2.0), (0, 2, 1.0)))),
        (x == last_column, (_ALONG_COLUMNS, ((0, 0, 1.0), (0, -1, -2.0), (0, -2, 1.0)))),
    ]
    everywhere = np.ones(len(candidates), bool)
    stencils = [(everywhere, _LAPLACIAN), *[(everywhere, step) for step in _STEPS]]
    stencils += [(where, stencil) for where, pair in on_edge for stencil in pair]
    rows, pixels, values, next_row = [], [], [], 0
    for where, stencil in stencils:
        centre_y, centre_x = y[where], x[where]
        fits, touches = np.ones(len(centre_y), bool), np.zeros(len(centre_y), bool)
        for dy, dx, _ in stencil:
            inside = (centre_y + dy >= 0) & (centre_y + dy < height) & (centre_x + dx >= 0) & (centre_x + dx < width)
            pixel = np.clip(centre_y + dy, 0, last_row), np.clip(centre_x + dx, 0, last_column)
            fits &= inside & ~ignored[pixel]
            touches |= unknown[pixel]
        centre_y, centre_x = centre_y[fits & touches], centre_x[fits & touches]
        term_rows = np.arange(next_row, next_row + len(centre_y))
        next_row += len(centre_y)
        for dy, dx, value in stencil:
            rows.append(term_rows)
            pixels.append((centre_y + dy) * width + centre_x + dx)
            values.append(np.full(len(term_rows), value))
    rows, pixels, values = np.concatenate(rows), np.concatenate(pixels), np.concatenate(values)
    unknown_pixels = np.flatnonzero(unknown)
    is_unknown = unknown.ravel()[pixels]
    colours = rgb.reshape(-1, 3)[pixels[~is_unknown]].astype(np.float64)
    known = _sums(rows[~is_unknown], values[~is_unknown, None] * colours, next_row)  # b in |A x + b|^2
    rows, values = rows[is_unknown], values[is_unknown]
    columns = np.searchsorted(unknown_pixels, pixels[is_unknown])
    rhs = -_sums(columns, values[:, None] * known[rows], len(unknown_pixels)).T  # -A^T b
    return _NormalEquations(*_gram(rows, columns, values, len(unknown_pixels)), rhs, unknown_pixels)


def _gram(rows: np.ndarray, columns: np.ndarray, values: np.ndarray, n: int) -> tuple[np.ndarray, ...]:
    """A^T A as (i, j, values) for a sparse A given as (rows, columns, values) with at most 5 entries a row."""
    order = np.argsort(rows, kind="stable")
    rows, columns, values = rows[order], columns[order], values[order]
    first = np.searchsorted(rows, rows)  # where each entry's row starts
    slot = np.arange(len(rows)) - first
    dense_rows = np.unique(rows, return_inverse=True)[1]
    row_columns = np.zeros((dense_rows.max() + 1, 5), np.int64)
    row_values = np.zeros((dense_rows.max() + 1, 5))
    row_columns[dense_rows, slot], row_values[dense_rows, slot] = columns, values
    products = row_values[:, :, None] * row_values[:, None, :]
    keep = products != 0
    keys = (row_columns[:, :, None] * n + row_columns[:, None, :])[keep]
    unique_keys, where = np.unique(keys, return_inverse=True)
    return unique_keys // n, unique_keys % n, np.bincount(where, products[keep])


def _solve(system: _NormalEquations, start: np.ndarray) -> np.ndarray:
    """The 3xn x with N x = rhs: conjugate gradients from start, Jacobi-preconditioned."""
    on_diagonal = system.i == system.j
    diagonal = np.bincount(system.i[on_diagonal], system.values[on_diagonal], len(system.unknown))
    inverse = 1 / np.maximum(diagonal, 1e-12)
    x = start.copy()
    residual = system.rhs - system.times(x)
    first = np.sqrt((residual**2).sum(axis=1))
    step = residual * inverse
    product = (residual * step).sum(axis=1)
    direction = step
    for _ in range(ITERATIONS):
        if (np.sqrt((residual**2).sum(axis=1)) <= TOLERANCE * first).all():
            break
        curvature = system.times(direction)
        alpha = product / np.maximum((direction * curvature).sum(axis=1), 1e-30)
        x += alpha[:, None] * direction
        residual -= alpha[:, None] * curvature
        step = residual * inverse
        next_product = (residual * step).sum(axis=1)
        direction = step + (next_product / np.maximum(product, 1e-30))[:, None] * direction
        product = next_product
    return x
