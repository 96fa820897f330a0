"""Hole PSNR, detail, darkness, time and memory of `inpaint` against its peers on masks people paint.

Photos: every photo in each --photos folder (default ../shared/data/photos and
../shared/data/photos-tuning, each sorted by name, first --limit in all), decoded upright as RGB uint8
(training_photos.read_rgb).

Masks: drawn by one numpy.random.default_rng(--seed), photo by photo, kind by kind (in KINDS order),
so a photo's holes do not depend on --kinds or --limit. Sizes are those of a 12 MP photo; on a photo
whose long side L is under REFERENCE_SIDE (4000 px, a 4000x3000 photo) every length below is
multiplied by L / 4000, except the specks' size and the lines' width, which are pixel-sized defects and
keep their size. Each hole is painted with uniform noise from the same generator, so no fill can see
what was there.
- object ~200 / object ~400: one irregular blob each, 150-250 and 300-600 px across: the union of 3-5
  random ellipses around a centre, wholly inside the photo;
- stroke (two per photo): a free-hand stroke 25-70 px wide and 300-900 px long, 3-5 vertices, each turn
  at most 100 degrees, round caps and joins, wholly inside the photo;
- edge: a blob 250-350 px across whose centre lies inside the photo within 0.3 times its size of an
  edge or a corner (half the time each), so the photo's border cuts it;
- specks: 200-400 round specks 2-6 px across, anywhere, one mask;
- lines: 3-5 straight lines 1-3 px wide, 30-90 % of the long side long, one mask;
- strip: a full-height vertical strip 40-120 px wide;
- structure: holes across the photo's strongest long straight edges. The photo's luminance is scaled
  to a long side of 1000 px, blurred (5x5 Gaussian), Canny (50, 150), cv2.HoughLinesP (1 px, 1 degree,
  80 votes, segments of at least 12 % of the long side, gaps up to 10 px); the longest segments, in
  order, each whose midpoint is at least the hole's size from the border and from an earlier hole, get a
  blob 150-250 px across centred on that midpoint, alternately with a 25-70 px stroke 300-500 px long
  crossing the segment at a right angle there. No such segment: no hole. Nothing is hand-picked.
--per-photo caps the holes of each kind per photo (the first ones drawn); by default structure holes
are capped at 2 per photo, the others are as above.

Methods (--methods, comma list): `inpaint` (filling.fill_image, default FillOptions, full-size photo);
`inpaint --smooth` (FillOptions(texture=False)); `inpaint:key=value,...`, FillOptions() with those fields
replaced (dataclasses.replace; values read by ast.literal_eval; a dotted key such as
`texture_options.x=1` replaces a field of the nested options object), named in the table by its text;
Telea, NS (cv2.inpaint, radius 5), FSR (cv2.xphoto FSR_FAST) and shift-map, on a crop: the hole's
bounding rectangle grown by --margin times the hole's thickness (blob size, stroke, strip or line
width, speck size) on each side, clipped to the photo; for specks and lines that is about the whole
photo. FSR and shift-map are skipped ("skipped" in the tables) on crops over --fsr-max-mp megapixels;
their time grows with the crop.

Scores per hole and method, over the hole's pixels: PSNR (evaluation.hole_psnr), detail
(evaluation.detail_ratio, NaN on a flat original and left out of the mean), near-black share (the
percentage of the hole's pixels where every channel of the fill is under 12 while some channel of the
original is 24 or more), wall seconds of the fill call, and the fill's peak memory: the process's peak
resident set size during the call (VmHWM, reset through /proc/self/clear_refs just before it, after
gc.collect() and malloc_trim(0) hand freed memory back) minus its resident size just before the call,
in MB (10^6 bytes). The photo, its noisy copy and the loaded model are resident before the call and
not counted. A method's first call is made once, unmeasured, on a small crop (one-off set-up costs).

Tables: one per run, rows = mask kind, columns = methods; each cell is mean PSNR / mean detail /
near-black % / median s / max peak MB, over the kind's holes. --out-json writes every hole's figures.
--grid writes a picture: one row per kind, on the --grid-photo'th photo (its first hole of that kind),
original with the hole outlined | each method, cropped around the hole.
--cost prints seconds and peak memory of the inpaint methods against stroke length (40 px strokes
covering 0.5, 1.5 and 4.6 % of a 12 MP JPEG: the first photo, the Bridge by default, enlarged by
fill_speed.make_photo; 20 px strokes, which FSR fills, over 0.5 and 1.5 %) and against speck count
(100, 400, 1000 specks on the middle 1000x1000 of the first photo), for a crack network (40 crossing
2 px lines between random points of the 12 MP JPEG) and for issue 20's kite (kite_mask: a 330 px blob and a
120 px stroke to the top edge, on the first photo scaled to about 4 MP), each fill in a fresh process, after
one unmeasured 64 px fill there; with each fill's hole PSNR.

Usage: python benchmarks/painted_masks.py [--photos DIR ...] [--limit N] [--seed 0] [--kinds object,stroke]
            [--per-photo N] [--methods "inpaint,inpaint --smooth,Telea,NS,FSR"] [--quick]
            [--out-json PATH] [--grid PATH] [--cost]
"""

from __future__ import annotations

import argparse
import ast
import ctypes
import dataclasses
import gc
import json
import math
import re
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from multiprocessing import get_context
from pathlib import Path

import cv2
import numpy as np
from big_photos import DEFAULT_PHOTOS, GRID_TILE, Hole, noise_painted, telea, write_grid
from fill_speed import make_photo
from PIL import Image

from inpaint_cli.errors import InpaintError
from inpaint_cli.files import atomic_files, images, training_photos
from inpaint_cli.model import runtime
from inpaint_cli.stages import evaluation, filling

TUNING_PHOTOS = DEFAULT_PHOTOS.parent / "photos-tuning"
REFERENCE_SIDE = 4000  # px, the long side of a 12 MP (4000x3000) photo the sizes are given for
KINDS = ("object ~200", "object ~400", "stroke", "edge", "specks", "lines", "strip", "structure")
DEFAULT_METHODS = "inpaint,inpaint --smooth,Telea,NS,FSR"
DARK, LIT = 12, 24  # near-black: every channel of the fill under DARK where some channel of the original >= LIT
PER_PHOTO = {"structure": 2}  # default caps; a photo's long edges can give a dozen holes
PEER_WARM_UP = 64  # px, side of the crop each method is first run on, unmeasured
Fill = Callable[[np.ndarray, np.ndarray, Hole], np.ndarray]  # (noisy HxWx3, bool hole, its Hole) -> filled


# --- mask shapes: bool masks drawn on a canvas ------------------------------------------------------------


def blob(rng: np.random.Generator, size: float) -> np.ndarray:
    """An irregular blob about size px across: the union of 3-5 random ellipses, on its own tight canvas."""
    side = math.ceil(size)
    canvas = np.zeros((side, side), np.uint8)
    for _ in range(int(rng.integers(3, 6))):
        centre = side / 2 + rng.uniform(-0.2, 0.2, 2) * side
        axes = rng.uniform(0.15, 0.3, 2) * side
        angle = float(rng.uniform(0, 180))
        cv2.ellipse(
            canvas,
            tuple(centre.round().astype(int).tolist()),
            tuple(axes.round().astype(int).tolist()),
            angle,
            0,
            360,
            1,
            -1,
        )
    return tight(canvas > 0)


def tight(mask: np.ndarray) -> np.ndarray:
    """The mask cut to its bounding rectangle."""
    rows, columns = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    return mask[rows[0] : rows[-1] + 1, columns[0] : columns[-1] + 1]


def polyline(points: np.ndarray, width: int, shape: tuple[int, int]) -> np.ndarray:
    """A bool mask of shape: the polyline through points (Nx2 x, y) width px wide, round caps and joins."""
    canvas = np.zeros(shape, np.uint8)
    vertices = points.round().astype(int)
    for start, end in zip(vertices[:-1], vertices[1:], strict=False):
        cv2.line(canvas, tuple(start.tolist()), tuple(end.tolist()), 1, max(1, width))
    if width > 2:
        for vertex in vertices:
            cv2.circle(canvas, tuple(vertex.tolist()), width // 2, 1, -1)
    return canvas > 0


def walk(rng: np.random.Generator, length: float, vertices: int, turn_degrees: float = 100) -> np.ndarray:
    """A free-hand path from (0, 0): vertices points, length px in all, each turn at most turn_degrees."""
    heading = rng.uniform(0, 2 * math.pi)
    points = [np.zeros(2)]
    for _ in range(vertices - 1):
        step = length / (vertices - 1)
        points.append(points[-1] + step * np.array([math.cos(heading), math.sin(heading)]))
        heading += math.radians(rng.uniform(-turn_degrees, turn_degrees))
    return np.array(points)


def stroke(rng: np.random.Generator, length: float, width: int, vertices: int) -> np.ndarray:
    """A free-hand stroke of that length and width on its own tight canvas."""
    path = walk(rng, length, vertices)
    path -= path.min(axis=0) - width
    extent = np.ceil(path.max(axis=0) + width).astype(int)
    return tight(polyline(path, width, (int(extent[1]), int(extent[0]))))


def disk(diameter: int) -> np.ndarray:
    """A round speck diameter px across."""
    centre = (diameter - 1) / 2
    rows, columns = np.ogrid[:diameter, :diameter]
    return (rows - centre) ** 2 + (columns - centre) ** 2 <= (diameter / 2) ** 2


# --- holes: shapes placed in a photo, with their noise ----------------------------------------------------


def scale_of(shape: tuple[int, int]) -> float:
    """Lengths of a 12 MP photo times this: the photo's long side / REFERENCE_SIDE, at most 1."""
    return min(1.0, max(shape) / REFERENCE_SIDE)


def placed(rng: np.random.Generator, index: int, kind: str, full: np.ndarray, thickness: int) -> Hole | None:
    """A Hole from a photo-sized bool mask (None when it is empty), with its noise."""
    if not full.any():
        return None
    rows, columns = np.flatnonzero(full.any(axis=1)), np.flatnonzero(full.any(axis=0))
    inside = full[rows[0] : rows[-1] + 1, columns[0] : columns[-1] + 1]
    noise = rng.integers(0, 256, (int(inside.sum()), 3), dtype=np.uint8)
    return Hole(index, kind, int(rows[0]), int(columns[0]), inside, noise, max(1, thickness))


def paste(shape: tuple[int, int], piece: np.ndarray, top: int, left: int) -> np.ndarray:
    """A photo-sized bool mask with piece at (top, left); what falls outside the photo is cut off."""
    full = np.zeros(shape, bool)
    height, width = piece.shape
    y0, x0 = max(0, top), max(0, left)
    y1, x1 = min(shape[0], top + height), min(shape[1], left + width)
    if y1 > y0 and x1 > x0:
        full[y0:y1, x0:x1] = piece[y0 - top : y1 - top, x0 - left : x1 - left]
    return full


def inside_photo(rng: np.random.Generator, shape: tuple[int, int], piece: np.ndarray) -> tuple[int, int]:
    """A uniform top-left corner that keeps piece inside the photo (or at 0 where it does not fit)."""
    return (
        int(rng.integers(0, max(0, shape[0] - piece.shape[0]) + 1)),
        int(rng.integers(0, max(0, shape[1] - piece.shape[1]) + 1)),
    )


def object_holes(
    rng: np.random.Generator, index: int, shape: tuple[int, int], low: float, high: float, kind: str
) -> Iterator[Hole]:
    """One irregular blob low..high px across (12 MP sizes), inside the photo."""
    size = rng.uniform(low, high) * scale_of(shape)
    piece = blob(rng, size)
    yield placed(rng, index, kind, paste(shape, piece, *inside_photo(rng, shape, piece)), round(size))


def stroke_holes(rng: np.random.Generator, index: int, shape: tuple[int, int]) -> Iterator[Hole]:
    """Two free-hand strokes, 25-70 px wide and 300-900 px long (12 MP sizes), with 3-5 vertices."""
    scale = scale_of(shape)
    for _ in range(2):
        width = max(1, round(rng.uniform(25, 70) * scale))
        piece = stroke(rng, rng.uniform(300, 900) * scale, width, int(rng.integers(3, 6)))
        yield placed(rng, index, "stroke", paste(shape, piece, *inside_photo(rng, shape, piece)), width)


def edge_holes(rng: np.random.Generator, index: int, shape: tuple[int, int]) -> Iterator[Hole]:
    """A 250-350 px blob (12 MP size) centred inside the photo within 0.3 x its size of an edge or a corner."""
    size = rng.uniform(250, 350) * scale_of(shape)
    piece = blob(rng, size)
    inward = rng.uniform(0, 0.3, 2) * size
    centre = [rng.uniform(0, shape[0]), rng.uniform(0, shape[1])]
    near = [abs(rng.choice([0, shape[0]]) - inward[0]), abs(rng.choice([0, shape[1]]) - inward[1])]
    if rng.random() < 0.5:  # a corner: both coordinates near a border
        centre = near
    else:  # an edge: one of the four
        axis = int(rng.integers(0, 2))
        centre[axis] = near[axis]
    top, left = round(centre[0] - piece.shape[0] / 2), round(centre[1] - piece.shape[1] / 2)
    yield placed(rng, index, "edge", paste(shape, piece, top, left), round(size))


def speck_holes(rng: np.random.Generator, index: int, shape: tuple[int, int]) -> Iterator[Hole]:
    """200-400 round specks, 2-6 px across, anywhere in the photo: one hole."""
    yield placed(rng, index, "specks", specks(rng, shape, int(rng.integers(200, 401))), 6)


def specks(rng: np.random.Generator, shape: tuple[int, int], count: int) -> np.ndarray:
    """A photo-sized bool mask of count round specks 2-6 px across."""
    full = np.zeros(shape, bool)
    for _ in range(count):
        diameter = int(rng.integers(2, 7))
        top, left = inside_photo(rng, shape, np.ones((diameter, diameter)))
        full[top : top + diameter, left : left + diameter] |= disk(diameter)[: shape[0] - top, : shape[1] - left]
    return full


def line_holes(rng: np.random.Generator, index: int, shape: tuple[int, int]) -> Iterator[Hole]:
    """3-5 straight lines, 1-3 px wide, 30-90 % of the long side long: one hole."""
    full, widest = np.zeros(shape, bool), 1
    for _ in range(int(rng.integers(3, 6))):
        width = int(rng.integers(1, 4))
        length, angle = rng.uniform(0.3, 0.9) * max(shape), rng.uniform(0, math.pi)
        centre = np.array([rng.uniform(0, shape[1]), rng.uniform(0, shape[0])])
        half = length / 2 * np.array([math.cos(angle), math.sin(angle)])
        full |= polyline(np.array([centre - half, centre + half]), width, shape)
        widest = max(widest, width)
    yield placed(rng, index, "lines", full, widest)


def strip_holes(rng: np.random.Generator, index: int, shape: tuple[int, int]) -> Iterator[Hole]:
    """A full-height vertical strip 40-120 px wide (12 MP size)."""
    width = max(1, round(rng.uniform(40, 120) * scale_of(shape)))
    left = int(rng.integers(0, max(0, shape[1] - width) + 1))
    yield placed(rng, index, "strip", paste(shape, np.ones((shape[0], width), bool), 0, left), width)


def long_segments(photo: np.ndarray) -> np.ndarray:
    """The photo's long straight edges, longest first: Kx4 (x0, y0, x1, y1) in the photo's pixels."""
    scale = min(1.0, 1000 / max(photo.shape[:2]))
    small = cv2.resize(photo, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA) if scale < 1 else photo
    gray = cv2.GaussianBlur(cv2.cvtColor(small, cv2.COLOR_RGB2GRAY), (5, 5), 0)
    edges = cv2.Canny(gray, 50, 150)
    found = cv2.HoughLinesP(edges, 1, math.pi / 180, 80, minLineLength=0.12 * max(small.shape[:2]), maxLineGap=10)
    if found is None:
        return np.zeros((0, 4))
    segments = found.reshape(-1, 4).astype(np.float64) / scale
    lengths = np.hypot(segments[:, 2] - segments[:, 0], segments[:, 3] - segments[:, 1])
    return segments[np.argsort(-lengths, kind="stable")]


def structure_holes(rng: np.random.Generator, index: int, shape: tuple[int, int], photo: np.ndarray) -> Iterator[Hole]:
    """Blobs and strokes across the photo's longest straight edges, at their midpoints, alternately."""
    scale, centres = scale_of(shape), []
    for x0, y0, x1, y1 in long_segments(photo):
        size = rng.uniform(150, 250) * scale
        middle = np.array([(x0 + x1) / 2, (y0 + y1) / 2])
        clear = min(middle[0], middle[1], shape[1] - middle[0], shape[0] - middle[1]) >= size
        if not clear or any(np.hypot(*(middle - other)) < size for other in centres):
            continue
        if len(centres) % 2 == 0:  # a blob centred on the midpoint
            piece, thickness = blob(rng, size), round(size)
            top, left = round(middle[1] - piece.shape[0] / 2), round(middle[0] - piece.shape[1] / 2)
            full = paste(shape, piece, top, left)
        else:  # a stroke across the segment at a right angle
            thickness = max(1, round(rng.uniform(25, 70) * scale))
            normal = np.array([y0 - y1, x1 - x0]) / max(1e-9, math.hypot(x1 - x0, y1 - y0))
            half = normal * rng.uniform(150, 250) * scale
            full = polyline(np.array([middle - half, middle + half]), thickness, shape)
        centres.append(middle)
        yield placed(rng, index, "structure", full, thickness)


def photo_holes(rng: np.random.Generator, index: int, photo: np.ndarray) -> dict[str, list[Hole]]:
    """Every kind's holes for one photo, drawn in KINDS order from rng."""
    shape = photo.shape[:2]
    drawn = {
        "object ~200": object_holes(rng, index, shape, 150, 250, "object ~200"),
        "object ~400": object_holes(rng, index, shape, 300, 600, "object ~400"),
        "stroke": stroke_holes(rng, index, shape),
        "edge": edge_holes(rng, index, shape),
        "specks": speck_holes(rng, index, shape),
        "lines": line_holes(rng, index, shape),
        "strip": strip_holes(rng, index, shape),
        "structure": structure_holes(rng, index, shape, photo),
    }
    return {kind: [hole for hole in holes if hole is not None] for kind, holes in drawn.items()}


def draw_holes(photos: list[np.ndarray], seed: int, kinds: list[str], per_photo: int | None) -> list[Hole]:
    """The protocol's holes of the chosen kinds, photo by photo, at most per_photo of each kind."""
    rng = np.random.default_rng(seed)
    holes = []
    for index, photo in enumerate(photos):
        every = photo_holes(rng, index, photo)
        for kind in kinds:
            holes += every[kind][: per_photo or PER_PHOTO.get(kind)]
    return holes


# --- methods ----------------------------------------------------------------------------------------------


def crop_of(hole: Hole, shape: tuple[int, ...], margin: float) -> tuple[slice, slice]:
    """The hole's bounding rectangle grown by margin times its thickness on each side, clipped to the photo."""
    grow = round(margin * hole.side)
    rows, columns = hole.bounds
    return (
        slice(max(0, rows.start - grow), min(shape[0], rows.stop + grow)),
        slice(max(0, columns.start - grow), min(shape[1], columns.stop + grow)),
    )


class Skipped(Exception):
    """A method that was not run on a hole (its crop is too large for it to finish in reasonable time)."""


def peer(fill: evaluation.Fill, margin: float, max_pixels: float | None = None) -> Fill:
    """A classical fill run as its users run it: on a crop around the hole, pasted back into noisy."""

    def run(noisy: np.ndarray, mask: np.ndarray, hole: Hole) -> np.ndarray:
        rows, columns = crop_of(hole, noisy.shape, margin)
        if max_pixels is not None and (rows.stop - rows.start) * (columns.stop - columns.start) > max_pixels:
            raise Skipped
        noisy[rows, columns] = fill(np.ascontiguousarray(noisy[rows, columns]), mask[rows, columns].astype(np.uint8))
        return noisy  # pasted into the caller's noisy copy, so a full-size copy stays out of the peak

    return run


def replaced(options: object, changes: dict[str, object]) -> object:
    """options with fields replaced; a key 'a.b' replaces field b of the nested options object in field a."""
    direct: dict[str, object] = {}
    nested: dict[str, dict[str, object]] = {}
    for key, value in changes.items():
        head, _, rest = key.partition(".")
        if not hasattr(options, head):
            raise ValueError(f"{type(options).__name__} has no option {head!r}")
        if rest:
            nested.setdefault(head, {})[rest] = value
        else:
            direct[head] = value
    for head, inner in nested.items():
        direct[head] = replaced(getattr(options, head), inner)
    return dataclasses.replace(options, **direct)


def split_top_level(text: str) -> list[str]:
    """text split at the commas outside brackets and quotes, each part stripped."""
    parts, depth, quote, current = [], 0, "", ""
    for char in text:
        if quote:
            quote = "" if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char in "([{":
            depth += 1
        elif char in ")]}":
            depth -= 1
        elif char == "," and depth == 0:
            parts.append(current.strip())
            current = ""
            continue
        current += char
    return [part for part in [*parts, current.strip()] if part]


def parse_methods(text: str) -> list[str]:
    """Method names from --methods; 'key=value' parts after an 'inpaint:...' part belong to it."""
    names: list[str] = []
    for part in split_top_level(text):
        if re.match(r"^[\w.]+\s*=", part) and names and names[-1].startswith("inpaint:"):
            names[-1] += f",{part}"
        else:
            names.append(part)
    return names


def fill_options(name: str) -> filling.FillOptions:
    """The FillOptions of an inpaint method: inpaint, inpaint --smooth or inpaint:key=value,..."""
    if name == "inpaint":
        return filling.FillOptions()
    if name == "inpaint --smooth":
        return filling.FillOptions(texture=False)
    changes = {}
    for part in split_top_level(name.removeprefix("inpaint:")):
        key, _, value = part.partition("=")
        changes[key.strip()] = ast.literal_eval(value.strip())
    return replaced(filling.FillOptions(), changes)


def make_method(name: str, predictor: runtime.Predictor, margin: float, max_pixels: float) -> Fill:
    """The fill a method name stands for (ValueError for an unknown name or option)."""
    peers = {
        "Telea": peer(telea, margin),
        "NS": peer(evaluation.navier_stokes_fill, margin),
        "FSR": peer(evaluation.fsr_fill, margin, max_pixels),
        "shift-map": peer(evaluation.shift_map_fill, margin, max_pixels),
    }
    if name in peers:
        return peers[name]
    if name == "inpaint" or name == "inpaint --smooth" or name.startswith("inpaint:"):
        options = fill_options(name)
        return lambda noisy, mask, hole: filling.fill_image(noisy, mask, options, predictor)
    raise ValueError(f"unknown method {name!r}; choose from inpaint, inpaint --smooth, inpaint:k=v, {', '.join(peers)}")


# --- measuring --------------------------------------------------------------------------------------------


def resident_kb(field_name: str) -> int:
    """A VmRSS / VmHWM line of /proc/self/status, in kB."""
    return int(re.search(rf"{field_name}:\s+(\d+)", Path("/proc/self/status").read_text()).group(1))


def start_peak() -> int:
    """Hand freed memory back, reset the peak RSS to the current RSS, and return that RSS in kB."""
    gc.collect()
    ctypes.CDLL("libc.so.6").malloc_trim(0)
    Path("/proc/self/clear_refs").write_text("5")
    return resident_kb("VmRSS")


@dataclass
class Cell:
    """One method on one hole."""

    photo: str
    kind: str
    hole_pixels: int
    method: str
    psnr: float | None = None
    detail: float | None = None
    near_black_percent: float | None = None
    seconds: float | None = None
    peak_mb: float | None = None
    skipped: str | None = None


def near_black_percent(original: np.ndarray, filled: np.ndarray, mask: np.ndarray) -> float:
    """Percent of hole pixels whose every channel is under DARK in the fill while one is LIT or more in the original."""
    dark = (filled[mask] < DARK).all(axis=1) & (original[mask] >= LIT).any(axis=1)
    return 100.0 * float(dark.mean())


def measure(original: np.ndarray, hole: Hole, name: str, fill: Fill, cell: Cell) -> np.ndarray | None:
    """Fill one hole with one method, record its figures in cell; the filled photo, or None when skipped."""
    noisy, mask = noise_painted(original, hole)
    before = start_peak()
    started = time.perf_counter()
    try:
        filled = fill(noisy, mask, hole)
    except Skipped:
        cell.skipped = "crop too large"
        return None
    cell.seconds = time.perf_counter() - started
    cell.peak_mb = max(0, resident_kb("VmHWM") - before) * 1024 / 1e6
    rows, columns = hole.bounds
    rows, columns = slice(max(0, rows.start - 2), rows.stop + 2), slice(max(0, columns.start - 2), columns.stop + 2)
    truth, guess, inside = original[rows, columns], filled[rows, columns], mask[rows, columns]
    cell.psnr = evaluation.hole_psnr(truth, guess, inside)
    detail = evaluation.detail_ratio(truth, guess, inside)
    cell.detail = None if math.isnan(detail) else detail
    cell.near_black_percent = near_black_percent(truth, guess, inside)
    return filled


def warm_up(fills: dict[str, Fill], photo: np.ndarray) -> None:
    """Each method once on a small crop with a square hole, so one-off set-up stays out of the figures."""
    crop = np.ascontiguousarray(photo[:PEER_WARM_UP, :PEER_WARM_UP])
    mask = np.zeros(crop.shape[:2], bool)
    mask[16:32, 16:32] = True
    hole = Hole(0, "warm-up", 16, 16, np.ones((16, 16), bool), np.zeros((256, 3), np.uint8), 16)
    for fill in fills.values():
        fill(crop, mask, hole)


# --- tables and grid --------------------------------------------------------------------------------------


def summary(cells: list[Cell]) -> str:
    """mean PSNR / mean detail / near-black % / median s / max peak MB of the cells, or why there are none."""
    done = [cell for cell in cells if cell.skipped is None]
    if not done:
        return "skipped" if cells else ""
    details = [cell.detail for cell in done if cell.detail is not None]
    text = (
        f"{statistics.mean(cell.psnr for cell in done):.2f} / "
        f"{statistics.mean(details) if details else math.nan:.2f} / "
        f"{statistics.mean(cell.near_black_percent for cell in done):.2f} % / "
        f"{statistics.median(cell.seconds for cell in done):.2f} s / "
        f"{max(cell.peak_mb for cell in done):.0f} MB"
    )
    return text + (f" ({len(cells) - len(done)} skipped)" if len(done) < len(cells) else "")


def print_table(cells: list[Cell], methods: list[str]) -> None:
    """The markdown table: a row per kind (with its hole count), a column per method."""
    print("| kind (holes) | " + " | ".join(methods) + " |")
    print("|---" * (len(methods) + 1) + "|")
    for kind in dict.fromkeys(cell.kind for cell in cells):
        mine = [cell for cell in cells if cell.kind == kind]
        count = sum(cell.method == methods[0] for cell in mine)
        row = [summary([cell for cell in mine if cell.method == method]) for method in methods]
        print(f"| {kind} ({count}) | " + " | ".join(row) + " |")


def grid_window(hole: Hole, shape: tuple[int, ...]) -> tuple[slice, slice]:
    """Where a grid tile looks: the hole's rectangle grown by a quarter, or 400 px around its middle pixel if huge."""
    rows, columns = hole.bounds
    height, width = rows.stop - rows.start, columns.stop - columns.start
    if max(height, width) <= 1000:
        grow = max(height, width) // 4 + 8
        top, left, bottom, right = rows.start - grow, columns.start - grow, rows.stop + grow, columns.stop + grow
    else:
        ys, xs = np.nonzero(hole.mask)
        middle = len(ys) // 2
        centre_y, centre_x = rows.start + int(ys[middle]), columns.start + int(xs[middle])
        top, left, bottom, right = centre_y - 200, centre_x - 200, centre_y + 200, centre_x + 200
    return slice(max(0, top), min(shape[0], bottom)), slice(max(0, left), min(shape[1], right))


def grid_tile(picture: np.ndarray, hole: Hole, outline: bool = False) -> Image.Image:
    """The grid window of picture scaled to GRID_TILE px, with the hole outlined in red when asked."""
    rows, columns = grid_window(hole, picture.shape)
    tile = np.ascontiguousarray(picture[rows, columns])
    if outline:
        _, mask = noise_painted(picture, hole)
        contours, _ = cv2.findContours(mask[rows, columns].astype(np.uint8), cv2.RETR_LIST, cv2.CHAIN_APPROX_NONE)
        cv2.drawContours(tile, contours, -1, (255, 0, 0), max(1, round(max(tile.shape) / GRID_TILE)))
    scale = GRID_TILE / max(tile.shape[:2])
    size = (max(1, round(tile.shape[1] * scale)), max(1, round(tile.shape[0] * scale)))
    return Image.fromarray(tile).resize(size, Image.Resampling.LANCZOS)


# --- the cost table ---------------------------------------------------------------------------------------


COST_STROKE_WIDTH = 40
COST_STROKE_COVER = (0.5, 1.5, 4.6)  # percent of the photo
COST_THIN_STROKE_WIDTH = 20  # under FillOptions.reconstruct_below: FSR's squares, not the network
COST_THIN_STROKE_COVER = (0.5, 1.5)
COST_SPECKS = (100, 400, 1000)
COST_CROP = 1000  # px, side of the specks' photo
COST_CRACKS = (40,)  # 2 px straight lines between random points of the 12 MP photo, crossing: a crack network
COST_KITE_PIXELS = 4e6  # the kite's photo: the first photo scaled to about 4 MP


def cost_mask(case: str, shape: tuple[int, int], seed: int) -> np.ndarray:
    """The mask of one cost case: 'stroke P' (a 40 px stroke over about P % of the photo), 'thin-stroke P' (20 px),
    'specks N', 'cracks N' (N crossing 2 px lines) or 'kite 1' (kite_mask)."""
    rng = np.random.default_rng(seed)
    kind, amount = case.split()
    if kind == "kite":
        return kite_mask(shape)
    if kind == "specks":
        return specks(rng, shape, int(amount))
    if kind == "cracks":
        canvas = np.zeros(shape, np.uint8)
        for _ in range(int(amount)):
            ends = rng.integers(0, [shape[1], shape[0]], (2, 2))
            cv2.line(canvas, tuple(ends[0].tolist()), tuple(ends[1].tolist()), 1, 2)
        return canvas > 0
    width = COST_THIN_STROKE_WIDTH if kind == "thin-stroke" else COST_STROKE_WIDTH
    length = float(amount) / 100 * shape[0] * shape[1] / width
    segment = 0.3 * min(shape)
    path = walk(rng, length, max(3, math.ceil(length / segment) + 1), turn_degrees=60)
    path = np.abs((path + np.array([shape[1], shape[0]]) / 2) % (2 * np.array([shape[1], shape[0]])))
    path = np.minimum(path, 2 * np.array([shape[1], shape[0]]) - path)  # folded back inside, like a bounce
    path = np.clip(path, width, np.array([shape[1], shape[0]]) - width)
    return polyline(path, width, shape)


def kite_mask(shape: tuple[int, int]) -> np.ndarray:
    """Issue 20's kite: a blob about 330 px across (two ellipses) and a 120 px stroke from it to the top edge."""
    height, width = shape
    canvas = np.zeros(shape, np.uint8)
    centre_x, centre_y = int(width * 0.62), int(height * 0.35)
    cv2.ellipse(canvas, (centre_x, centre_y), (165, 110), 25, 0, 360, 1, -1)
    cv2.ellipse(canvas, (centre_x - 60, centre_y + 70), (80, 95), 0, 0, 360, 1, -1)
    string = np.array([(centre_x, centre_y), (centre_x - 120, centre_y - 250), (centre_x - 60, 0)], np.int32)
    cv2.polylines(canvas, [string], False, 1, 120)
    return canvas > 0


def cost_cell(photo_path: str, crop: bool, case: str, method: str, seed: int, model: str | None) -> dict:
    """One fill of a cost case, run in a fresh process: its seconds and peak memory over the resident size before,
    and the hole's PSNR."""
    photo = training_photos.read_rgb(Path(photo_path))
    if crop:
        top, left = (photo.shape[0] - COST_CROP) // 2, (photo.shape[1] - COST_CROP) // 2
        photo = np.ascontiguousarray(photo[top : top + COST_CROP, left : left + COST_CROP])
    if case.startswith("kite"):
        scale = math.sqrt(COST_KITE_PIXELS / (photo.shape[0] * photo.shape[1]))
        size = (round(photo.shape[1] * scale), round(photo.shape[0] * scale))
        photo = np.asarray(Image.fromarray(photo).resize(size, Image.Resampling.LANCZOS))
    mask = cost_mask(case, photo.shape[:2], seed)
    noisy = photo.copy()
    noisy[mask] = np.random.default_rng(seed).integers(0, 256, (int(mask.sum()), 3), dtype=np.uint8)
    predictor = runtime.load_predictor(model)
    options = fill_options(method)
    small = np.zeros((64, 64), bool)
    small[16:32, 16:32] = True
    filling.fill_image(np.ascontiguousarray(photo[:64, :64]), small, options, predictor)
    before = start_peak()
    started = time.perf_counter()
    filled = filling.fill_image(noisy, mask, options, predictor)
    seconds = time.perf_counter() - started
    peak_mb = (resident_kb("VmHWM") - before) * 1024 / 1e6
    return {
        "case": case,
        "method": method,
        "photo": f"{photo.shape[1]}x{photo.shape[0]}",
        "hole_percent": 100 * float(mask.mean()),
        "seconds": seconds,
        "peak_mb": peak_mb,
        "psnr": evaluation.hole_psnr(photo, filled, mask),
    }


def run_costs(source: Path, methods: list[str], seed: int, model: str | None) -> list[dict]:
    """Every cost case on source with every inpaint method, each in a fresh spawned process; prints the table."""
    results = []
    with tempfile.TemporaryDirectory() as folder:
        twelve = str(make_photo(source, Path(folder) / "twelve.jpg"))
        cases = [(twelve, False, f"stroke {cover}") for cover in COST_STROKE_COVER]
        cases += [(twelve, False, f"thin-stroke {cover}") for cover in COST_THIN_STROKE_COVER]
        cases += [(str(source), True, f"specks {count}") for count in COST_SPECKS]
        cases += [(twelve, False, f"cracks {count}") for count in COST_CRACKS]
        cases += [(str(source), False, "kite 1")]
        print("| case | photo | hole % | method | s | peak MB | hole PSNR dB |\n|---|---|---|---|---|---|---|")
        for path, crop, case in cases:
            for method in methods:
                with ProcessPoolExecutor(1, mp_context=get_context("spawn"), max_tasks_per_child=1) as pool:
                    row = pool.submit(cost_cell, path, crop, case, method, seed, model).result()
                results.append(row)
                print(
                    f"| {row['case']} | {row['photo']} | {row['hole_percent']:.2f} | {method} | "
                    f"{row['seconds']:.1f} | {row['peak_mb']:.0f} | {row['psnr']:.2f} |",
                    flush=True,
                )
    return results


# --- main -------------------------------------------------------------------------------------------------


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", help="Model folder or file (default: the bundled model).")
    parser.add_argument("--photos", type=Path, action="append", help="Folder of photos (repeatable).")
    parser.add_argument("--limit", type=int, help="Use only the first N photos (in folder, then name order).")
    parser.add_argument("--seed", type=int, default=0, help="Seed of the masks and their noise.")
    parser.add_argument("--kinds", help=f"Comma list of mask kinds (default all): {', '.join(KINDS)}; object = both.")
    parser.add_argument("--per-photo", type=int, help="At most this many holes of each kind per photo.")
    parser.add_argument("--methods", default=DEFAULT_METHODS, help="Comma list of methods (see the docstring).")
    parser.add_argument("--margin", type=float, default=1.0, help="Peers' crop: hole rectangle + margin x thickness.")
    parser.add_argument("--fsr-max-mp", type=float, default=4.0, help="Skip FSR / shift-map on larger crops (MP).")
    parser.add_argument("--quick", action="store_true", help="4 photos, 1 hole per kind.")
    parser.add_argument("--out-json", type=Path, help="Write every hole's figures here.")
    parser.add_argument("--grid", type=Path, help="Write the picture grid here (JPEG).")
    parser.add_argument("--grid-photo", type=int, default=0, help="Index of the grid's photo among those used.")
    parser.add_argument("--cost", action="store_true", help="Only the cost table (stroke length, speck count).")
    return parser.parse_args()


def chosen_kinds(text: str | None) -> list[str]:
    """Kinds from a comma list ('object' is both object sizes), checked, in KINDS order."""
    if not text:
        return list(KINDS)
    kinds = []
    for name in (part.strip() for part in text.split(",") if part.strip()):
        matching = [kind for kind in KINDS if kind == name or kind.split()[0] == name]
        if not matching:
            raise ValueError(f"unknown mask kind {name!r}; choose from {', '.join(KINDS)}")
        kinds += matching
    return [kind for kind in KINDS if kind in kinds]  # tables in KINDS order


def fill_holes(
    photos: list[np.ndarray], names: list[str], holes: list[Hole], fills: dict[str, Fill], grid_photo: int | None
) -> tuple[list[Cell], list[list[Image.Image]]]:
    """Every method on every hole: the cells, and the grid's rows (a kind's first hole on photo grid_photo)."""
    cells: list[Cell] = []
    grid_rows: dict[str, list[Image.Image]] = {}
    for number, hole in enumerate(holes, start=1):
        original = photos[hole.photo]
        in_grid = hole.photo == grid_photo and hole.label not in grid_rows
        tiles = [grid_tile(original, hole, outline=True)] if in_grid else []
        for name, fill in fills.items():
            cell = Cell(names[hole.photo], hole.label, int(hole.mask.sum()), name)
            filled = measure(original, hole, name, fill, cell)
            cells.append(cell)
            if in_grid:
                tiles.append(grid_tile(filled, hole) if filled is not None else Image.new("RGB", (8, 8), "white"))
        if in_grid:
            grid_rows[hole.label] = tiles
        done = cells[-len(fills) :]
        report = ", ".join(
            f"{cell.method} skipped" if cell.skipped else f"{cell.method} {cell.psnr:.2f} dB {cell.seconds:.1f} s"
            for cell in done
        )
        print(f"[{number}/{len(holes)}] {names[hole.photo]} {hole.label}: {report}", file=sys.stderr, flush=True)
    return cells, list(grid_rows.values())


def write_json(path: Path, record: dict) -> None:
    """The record as JSON, written atomically."""
    text = json.dumps(record, indent=1) + "\n"
    atomic_files.write_atomically(path, lambda temporary: temporary.write_text(text))


def main() -> None:
    args = parse_args()
    if args.quick:
        args.limit, args.per_photo = args.limit or 4, args.per_photo or 1
    try:
        methods = parse_methods(args.methods)
        kinds = chosen_kinds(args.kinds)
        predictor = runtime.load_predictor(args.model)
        fills = {name: make_method(name, predictor, args.margin, args.fsr_max_mp * 1e6) for name in methods}
        folders = args.photos or [DEFAULT_PHOTOS, TUNING_PHOTOS]
        paths = [path for folder in folders for path in images.find_images([folder])][: args.limit]
    except (InpaintError, ValueError, TypeError, SyntaxError) as error:
        sys.exit(f"Error: {error}")
    if args.cost:
        inpaint_methods = [name for name in methods if name.startswith("inpaint")]
        results = run_costs(paths[0], inpaint_methods, args.seed, args.model)
        if args.out_json:
            write_json(args.out_json, {"seed": args.seed, "costs": results})
        return
    photos = [training_photos.read_rgb(path) for path in paths]
    holes = draw_holes(photos, args.seed, kinds, args.per_photo)
    warm_up(fills, photos[0])
    grid_photo = args.grid_photo if args.grid is not None else None
    cells, grid_rows = fill_holes(photos, [path.name for path in paths], holes, fills, grid_photo)
    print(f"model: {predictor.path}   photos: {len(photos)}   holes: {len(holes)}   seed {args.seed}")
    print(f"peers on the hole's rectangle + {args.margin:g}x its thickness, FSR/shift-map up to {args.fsr_max_mp:g} MP")
    print("cells: mean PSNR dB / mean detail / near-black % / median s / max peak MB")
    print_table(cells, methods)
    if args.out_json:
        record = {"seed": args.seed, "photos": [str(path) for path in paths], "methods": methods}
        write_json(args.out_json, {**record, "holes": [asdict(cell) for cell in cells]})
    if args.grid is not None:
        if not grid_rows:
            sys.exit(f"Error: photo {args.grid_photo} of the {len(photos)} used has none of the holes asked for")
        write_grid(args.grid, grid_rows, ["original", *methods])
        print(f"Wrote {args.grid}")


if __name__ == "__main__":
    main()
