"""Hole PSNR of the model against OpenCV's Telea on holes of 96 and 192 px in full-size photos.

Protocol: every photo in --photos (sorted by name) is decoded upright as RGB uint8
(images.read_rgb). For each hole side in --sizes, --holes square holes per photo are
placed uniformly inside the photo, their top-left corners drawn from one
numpy.random.default_rng(--seed) (photo by photo, side by side), and each hole's pixels
are painted with uniform noise (0..255) from the same generator, so no fill can see what
was there. Each hole is filled on its own, in the full-size photo (one hole per fill call,
so holes never interact): (a) the model through filling.fill_array, (b)
cv2.inpaint(noisy, mask * 255, 5, cv2.INPAINT_TELEA). Scores: PSNR over the hole's pixels
against the original (evaluation.hole_psnr), averaged over all holes of a side, and wall
time per hole (median), each call on the whole photo.

--factors compares context factors (window side / hole side): a comma list of settings,
each one factor or several joined by '+' whose fills are averaged, e.g. 3,6,3+6; by
default only filling.CONTEXT_FACTORS is run.

Usage: python benchmarks/big_photos.py [--model MODEL] [--photos DIR] [--sizes 96,192] [--holes 4]
                                       [--seed 0] [--factors 3,4,6,3+6]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from inpaint_cli import evaluation, filling, images, masking
from inpaint_cli.errors import InpaintError

REPO = Path(__file__).resolve().parent.parent
DEFAULT_PHOTOS = REPO.parent / "shared" / "data" / "photos"
TELEA_RADIUS = 5


@dataclass(frozen=True)
class Hole:
    """One hole of the protocol: which photo, where, and the noise painted into it (uint8 SxSx3)."""

    photo: int
    box: masking.Box
    noise: np.ndarray


def parse_sizes(text: str) -> list[int]:
    """Hole sides from a comma list, e.g. '96,192'."""
    return [int(part) for part in text.split(",") if part.strip()]


def parse_factors(text: str) -> list[tuple[float, ...]]:
    """Context factor settings from a comma list of '+'-joined factors, e.g. '3,6,3+6'."""
    return [tuple(float(factor) for factor in part.split("+")) for part in text.split(",") if part.strip()]


def place_holes(shapes: list[tuple[int, int]], sizes: list[int], per_photo: int, seed: int) -> list[Hole]:
    """The protocol's holes: per photo, per side, per_photo squares uniform inside the photo, with their noise."""
    rng = np.random.default_rng(seed)
    holes = []
    for index, (height, width) in enumerate(shapes):
        for size in sizes:
            for _ in range(per_photo):
                x = int(rng.integers(0, width - size + 1))
                y = int(rng.integers(0, height - size + 1))
                noise = rng.integers(0, 256, (size, size, 3), dtype=np.uint8)
                holes.append(Hole(index, masking.Box(x, y, size), noise))
    return holes


def telea(noisy: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """OpenCV's fast-marching fill on the whole photo."""
    return cv2.inpaint(noisy, mask.astype(np.uint8) * 255, TELEA_RADIUS, cv2.INPAINT_TELEA)


def noise_painted(original: np.ndarray, hole: Hole) -> tuple[np.ndarray, np.ndarray]:
    """The photo with the hole painted with its noise, and the hole as a bool mask."""
    noisy = original.copy()
    noisy[hole.box.slices] = hole.noise
    return noisy, masking.draw_boxes([hole.box], *original.shape[:2]) > 0


def score(photos: list[np.ndarray], holes: list[Hole], fill) -> list[tuple[float, float]]:
    """(hole PSNR dB, seconds) for each hole, filled on its own in its full-size noisy photo."""
    results = []
    for hole in holes:
        original = photos[hole.photo]
        noisy, mask = noise_painted(original, hole)
        started = time.perf_counter()
        filled = fill(noisy, mask)
        seconds = time.perf_counter() - started
        results.append((evaluation.hole_psnr(original, filled, mask), seconds))
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, help="Model folder or file (default: the bundled model).")
    parser.add_argument("--photos", type=Path, default=DEFAULT_PHOTOS, help="Folder of full-size photos.")
    parser.add_argument("--sizes", default="96,192", help="Hole sides in pixels, comma-separated.")
    parser.add_argument("--holes", type=int, default=4, help="Holes per photo and side.")
    parser.add_argument("--seed", type=int, default=0, help="Seed of the hole positions and their noise.")
    parser.add_argument("--factors", help="Context factor settings to compare, e.g. 3,6,3+6 (default: filling.py's).")
    args = parser.parse_args()
    sizes = parse_sizes(args.sizes)
    settings = parse_factors(args.factors) if args.factors else [filling.CONTEXT_FACTORS]
    try:
        model = filling.load(args.model)
    except InpaintError as error:
        sys.exit(f"Error: {error}")
    paths = images.find_images([args.photos])
    photos = [images.read_rgb(path) for path in paths]
    holes = place_holes([photo.shape[:2] for photo in photos], sizes, args.holes, args.seed)
    runs = {"telea": score(photos, holes, telea)}
    for factors in settings:
        filling.CONTEXT_FACTORS = factors  # read at every fill
        runs["model x" + "+".join(f"{factor:g}" for factor in factors)] = score(
            photos, holes, lambda noisy, mask: filling.fill_array(noisy, mask, model, on_warning=lambda _: None)
        )
    print(f"model: {model.path}   photos: {len(photos)} in {args.photos}   seed {args.seed}")
    print(f"{args.holes} holes per photo and side, each filled on its own in the full-size photo (noise-painted)")
    print(f"{'hole px':>7}  {'method':<12} {'PSNR dB':>8} {'vs Telea dB':>12} {'ms/hole':>8}")
    for size in sizes:
        chosen = [index for index, hole in enumerate(holes) if hole.box.size == size]
        telea_psnr = statistics.mean(runs["telea"][index][0] for index in chosen)
        for name, results in runs.items():
            psnr = statistics.mean(results[index][0] for index in chosen)
            milliseconds = 1000 * statistics.median(results[index][1] for index in chosen)
            print(f"{size:>7}  {name:<12} {psnr:8.2f} {psnr - telea_psnr:+12.2f} {milliseconds:8.0f}")


if __name__ == "__main__":
    main()
