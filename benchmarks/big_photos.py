"""Hole PSNR, detail and time of `inpaint` against its peers on square holes and strokes in full-size photos.

Protocol: every photo in --photos (sorted by name) is decoded upright as RGB uint8
(training_photos.read_rgb). For each hole side in --sizes, --holes square holes per photo are placed
uniformly inside the photo, their top-left corners drawn from one numpy.random.default_rng(--seed)
(photo by photo, side by side), and each hole's pixels are painted with uniform noise from the
same generator, so no fill can see what was there. Then --strokes straight strokes of --width px
per photo (big_strokes.stroke_mask), painted with noise the same way. Each hole is filled on its own:
- `inpaint` (filling.fill_image with the default FillOptions) and `inpaint --smooth` (texture=False)
  on the full-size photo;
- shift-map (cv2.xphoto INPAINT_SHIFTMAP), FSR (INPAINT_FSR_FAST) and Telea (cv2.inpaint, radius 5)
  on a crop of --crop times the hole's side (a stroke's bounding rectangle grown by --crop/2 times
  its width on each side) around it, as a user of OpenCV would run them; shift-map's and FSR's
  time grows fast with the crop.
Scores per hole: PSNR over the hole's pixels (evaluation.hole_psnr), detail (evaluation.detail_ratio:
the fill's mean Sobel gradient of the luminance in the hole over the original's) and wall time.
The table gives the means (time: median) per hole size. --grid writes a picture: one row per photo and
square size (its first --grid-holes holes), columns original | each method; --grid-only measures only those.

Usage: python benchmarks/big_photos.py [--photos DIR] [--sizes 96,160,256] [--holes 4] [--strokes 2]
                                       [--seed 0] [--grid docs/images/big_photos_grid.jpg] [--methods ...]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageDraw

from inpaint_cli.errors import InpaintError
from inpaint_cli.files import images, training_photos
from inpaint_cli.model import runtime
from inpaint_cli.stages import evaluation, filling

REPO = Path(__file__).resolve().parent.parent
DEFAULT_PHOTOS = REPO.parent / "shared" / "data" / "photos"
TELEA_RADIUS = 5
GRID_TILE = 180  # px of each picture in the grid
Fill = Callable[[np.ndarray, np.ndarray], np.ndarray]  # (noisy uint8 HxWx3, bool HxW hole) -> filled


@dataclass(frozen=True)
class Hole:
    """One hole of the protocol: which photo, its mask's bounding box and pixels, its noise, and its label."""

    photo: int
    label: str  # "96 px", ..., or "strokes"
    top: int
    left: int
    mask: np.ndarray  # bool, the hole inside its bounding box
    noise: np.ndarray  # uint8 Nx3 for the hole's pixels
    side: int  # the square's side, or the stroke's width

    @property
    def bounds(self) -> tuple[slice, slice]:
        return slice(self.top, self.top + self.mask.shape[0]), slice(self.left, self.left + self.mask.shape[1])


def parse_sizes(text: str) -> list[int]:
    """Hole sides from a comma list, e.g. '96,160'."""
    return [int(part) for part in text.split(",") if part.strip()]


def place_holes(shapes: list[tuple[int, int]], sizes: list[int], per_photo: int, seed: int) -> list[Hole]:
    """The protocol's square holes: per photo, per side, per_photo squares uniform inside the photo, with noise."""
    rng = np.random.default_rng(seed)
    holes = []
    for index, (height, width) in enumerate(shapes):
        for size in sizes:
            for _ in range(per_photo):
                x = int(rng.integers(0, width - size + 1))
                y = int(rng.integers(0, height - size + 1))
                noise = rng.integers(0, 256, (size * size, 3), dtype=np.uint8)
                holes.append(Hole(index, f"{size} px", y, x, np.ones((size, size), bool), noise, size))
    return holes


def place_strokes(shapes: list[tuple[int, int]], per_photo: int, width: int, seed: int) -> list[Hole]:
    """Straight strokes width px wide (big_strokes.stroke_mask), per_photo per photo, with noise."""
    from big_strokes import stroke_mask

    rng = np.random.default_rng(seed)
    strokes = []
    for index, (height, photo_width) in enumerate(shapes):
        for _ in range(per_photo):
            mask = stroke_mask(rng, height, photo_width, width)
            rows, columns = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
            top, left = int(rows[0]), int(columns[0])
            inside = mask[top : rows[-1] + 1, left : columns[-1] + 1]
            noise = rng.integers(0, 256, (int(inside.sum()), 3), dtype=np.uint8)
            strokes.append(Hole(index, "strokes", top, left, inside, noise, width))
    return strokes


def noise_painted(original: np.ndarray, hole: Hole) -> tuple[np.ndarray, np.ndarray]:
    """The photo with the hole painted with its noise, and the hole as a bool mask of the photo's size."""
    mask = np.zeros(original.shape[:2], bool)
    mask[hole.bounds] = hole.mask
    noisy = original.copy()
    noisy[mask] = hole.noise
    return noisy, mask


def crop_around(hole: Hole, shape: tuple[int, ...], factor: float) -> tuple[slice, slice]:
    """The rows and columns of a crop around the hole: factor times its side, or its rectangle grown for strokes."""
    height, width = hole.mask.shape
    grow_y = (
        max(0, round((factor * hole.side - height) / 2)) if hole.label != "strokes" else round(factor * hole.side / 2)
    )
    grow_x = (
        max(0, round((factor * hole.side - width) / 2)) if hole.label != "strokes" else round(factor * hole.side / 2)
    )
    top, left = max(0, hole.top - grow_y), max(0, hole.left - grow_x)
    bottom, right = min(shape[0], hole.top + height + grow_y), min(shape[1], hole.left + width + grow_x)
    return slice(top, bottom), slice(left, right)


def on_crop(fill: Fill, factor: float) -> Callable[[np.ndarray, np.ndarray, Hole], np.ndarray]:
    """A peer run as its users run it: on a crop around the hole, pasted back."""

    def run(noisy: np.ndarray, mask: np.ndarray, hole: Hole) -> np.ndarray:
        rows, columns = crop_around(hole, noisy.shape, factor)
        filled = noisy.copy()
        filled[rows, columns] = fill(np.ascontiguousarray(noisy[rows, columns]), mask[rows, columns].astype(np.uint8))
        return filled

    return run


def telea(noisy: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """OpenCV's fast-marching fill."""
    return cv2.inpaint(noisy, (mask > 0).astype(np.uint8) * 255, TELEA_RADIUS, cv2.INPAINT_TELEA)


def methods(
    predictor: runtime.Predictor, crop: float
) -> dict[str, Callable[[np.ndarray, np.ndarray, Hole], np.ndarray]]:
    """Every method by its name in the table."""

    def inpaint(options: filling.FillOptions):
        return lambda noisy, mask, hole: filling.fill_image(noisy, mask, options, predictor)

    return {
        "inpaint": inpaint(filling.FillOptions()),
        "inpaint --smooth": inpaint(filling.FillOptions(texture=False)),
        "shift-map": on_crop(evaluation.shift_map_fill, crop),
        "FSR": on_crop(evaluation.fsr_fill, crop),
        "Telea": on_crop(telea, crop),
    }


@dataclass
class Result:
    psnr: float
    detail: float
    seconds: float
    tile: Image.Image | None


def measure(original: np.ndarray, hole: Hole, fill, with_tile: bool) -> Result:
    """One method on one hole: its scores, and a picture of the hole's surroundings when asked."""
    noisy, mask = noise_painted(original, hole)
    started = time.perf_counter()
    filled = fill(noisy, mask, hole)
    seconds = time.perf_counter() - started
    rows, columns = crop_around(hole, original.shape, 1.0)
    rows = slice(max(0, rows.start - 2), rows.stop + 2)
    columns = slice(max(0, columns.start - 2), columns.stop + 2)
    detail = evaluation.detail_ratio(original[rows, columns], filled[rows, columns], mask[rows, columns])
    psnr = evaluation.hole_psnr(original[rows, columns], filled[rows, columns], mask[rows, columns])
    return Result(psnr, detail, seconds, grid_tile(filled, hole) if with_tile else None)


def grid_tile(picture: np.ndarray, hole: Hole) -> Image.Image:
    """The hole's surroundings (twice its side), scaled to GRID_TILE px, the hole outlined faintly."""
    rows, columns = crop_around(hole, picture.shape, 2.0)
    tile = Image.fromarray(picture[rows, columns])
    scale = GRID_TILE / max(tile.size)
    tile = tile.resize(
        (max(1, round(tile.width * scale)), max(1, round(tile.height * scale))), Image.Resampling.LANCZOS
    )
    return tile


def write_grid(path: Path, rows: list[list[Image.Image]], names: list[str]) -> None:
    """The tiles in a grid under a header of column names."""
    gap, header = 4, 18
    grid = Image.new("RGB", (len(names) * (GRID_TILE + gap) + gap, header + len(rows) * (GRID_TILE + gap)), "white")
    draw = ImageDraw.Draw(grid)
    for column, name in enumerate(names):
        draw.text((gap + column * (GRID_TILE + gap), 3), name, fill=(0, 0, 0))
    for row, tiles in enumerate(rows):
        for column, tile in enumerate(tiles):
            grid.paste(tile, (gap + column * (GRID_TILE + gap), header + row * (GRID_TILE + gap)))
    grid.save(path, quality=90)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", help="Model folder or file (default: the bundled model).")
    parser.add_argument("--photos", type=Path, default=DEFAULT_PHOTOS, help="Folder of full-size photos.")
    parser.add_argument("--sizes", default="96,160,256", help="Hole sides in pixels, comma-separated.")
    parser.add_argument("--holes", type=int, default=4, help="Square holes per photo and side.")
    parser.add_argument("--strokes", type=int, default=2, help="Strokes per photo.")
    parser.add_argument("--width", type=int, default=40, help="Stroke width in pixels.")
    parser.add_argument("--seed", type=int, default=0, help="Seed of the holes and their noise.")
    parser.add_argument("--crop", type=float, default=5.0, help="Peers' crop side / hole side.")
    parser.add_argument("--methods", help="Comma list of methods to run (default: all).")
    parser.add_argument("--grid", type=Path, help="Write the picture grid here (JPEG).")
    parser.add_argument("--grid-holes", type=int, default=1, help="Holes per photo and square size in the grid.")
    parser.add_argument("--grid-only", action="store_true", help="Fill only the grid's holes; print no table.")
    parser.add_argument("--grid-rows", help="Keep only these rows of the grid (0-based, comma-separated).")
    args = parser.parse_args()
    try:
        predictor = runtime.load_predictor(args.model)
    except InpaintError as error:
        sys.exit(f"Error: {error}")
    paths = images.find_images([args.photos])
    photos = [training_photos.read_rgb(path) for path in paths]
    shapes = [photo.shape[:2] for photo in photos]
    holes = place_holes(shapes, parse_sizes(args.sizes), args.holes, args.seed)
    holes += place_strokes(shapes, args.strokes, args.width, args.seed + 1) if args.strokes else []
    every = methods(predictor, args.crop)
    chosen = args.methods.split(",") if args.methods else list(every)
    labels = list(dict.fromkeys(hole.label for hole in holes))
    in_grid = {
        id(hole)
        for label in labels
        if label != "strokes"
        for photo in range(len(photos))
        for hole in [h for h in holes if h.label == label and h.photo == photo][: args.grid_holes]
    }
    if args.grid_only:
        holes = [hole for hole in holes if id(hole) in in_grid]
    results: dict[str, list[Result]] = {name: [] for name in chosen}
    grid_rows: list[list[Image.Image]] = []
    for hole in holes:
        original = photos[hole.photo]
        with_tile = args.grid is not None and id(hole) in in_grid
        for name in chosen:
            results[name].append(measure(original, hole, every[name], with_tile))
        if with_tile:
            grid_rows.append([grid_tile(original, hole), *(results[name][-1].tile for name in chosen)])
    if args.grid is not None:
        if args.grid_rows:
            grid_rows = [grid_rows[int(row)] for row in args.grid_rows.split(",")]
        write_grid(args.grid, grid_rows, ["original", *chosen])
        print(f"Wrote {args.grid}")
    if args.grid_only:
        return
    print(f"model: {predictor.path}   photos: {len(photos)} in {args.photos}   seed {args.seed}")
    print(f"{args.holes} square holes per photo and size, {args.strokes} strokes of {args.width} px per photo;")
    print(f"inpaint on the full photo, the peers on a crop of {args.crop:g}x the hole (noise-painted holes)")
    print("| hole | method | PSNR dB | detail | ms/hole |\n|---|---|---|---|---|")
    for label in labels:
        indices = [index for index, hole in enumerate(holes) if hole.label == label]
        for name in chosen:
            picked = [results[name][index] for index in indices]
            psnr = statistics.mean(result.psnr for result in picked)
            detail = statistics.mean(result.detail for result in picked)
            milliseconds = 1000 * statistics.median(result.seconds for result in picked)
            print(f"| {label} | {name} | {psnr:.2f} | {detail:.2f} | {milliseconds:.0f} |")


if __name__ == "__main__":
    main()
