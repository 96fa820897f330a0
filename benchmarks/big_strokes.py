"""Hole PSNR of the model against OpenCV's Telea on free-form strokes (a `--mask`) in full-size photos.

Protocol: every photo in --photos (sorted by name) decoded upright as RGB uint8; --strokes
straight strokes per photo, --width px wide, from a random start inside the photo to a point
600-1200 px to the right and -300..+300 px below, drawn with Pillow; the stroke's pixels are
painted with uniform noise; all from numpy.random.default_rng(--seed). Each stroke is filled on
its own in the full-size photo by `inpaint` (filling.fill_image, with and without the texture stage)
and by Telea (big_photos.telea).
Scores: hole PSNR over the stroke's pixels (evaluation.hole_psnr), averaged over all strokes.

Usage: python benchmarks/big_strokes.py [--photos DIR] [--strokes 3] [--width 40] [--seed 5]
"""

from __future__ import annotations

import argparse
import statistics
from pathlib import Path

import numpy as np
from big_photos import DEFAULT_PHOTOS, telea
from PIL import Image, ImageDraw

from inpaint_cli.files import images, training_photos
from inpaint_cli.model import runtime
from inpaint_cli.stages import evaluation, filling


def stroke_mask(rng: np.random.Generator, height: int, width: int, thickness: int) -> np.ndarray:
    """One straight stroke, thickness px wide, as a bool height x width mask."""
    x0, y0 = int(rng.integers(0, max(1, width - 1200))), int(rng.integers(0, max(1, height - 600)))
    x1, y1 = x0 + int(rng.integers(600, 1200)), y0 + 300 + int(rng.integers(-300, 300))
    mask = Image.new("L", (width, height))
    ImageDraw.Draw(mask).line([(x0, y0), (x1, y1)], fill=255, width=thickness)
    return np.asarray(mask) > 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, help="Model folder or file (default: the bundled model).")
    parser.add_argument("--photos", type=Path, default=DEFAULT_PHOTOS, help="Folder of full-size photos.")
    parser.add_argument("--strokes", type=int, default=3, help="Strokes per photo.")
    parser.add_argument("--width", type=int, default=40, help="Stroke width in pixels.")
    parser.add_argument("--seed", type=int, default=5, help="Seed of the strokes and their noise.")
    args = parser.parse_args()
    model = runtime.load_predictor(args.model)
    rng = np.random.default_rng(args.seed)
    scores: dict[str, list[float]] = {"telea": [], "inpaint": [], "inpaint --smooth": []}
    smooth = filling.FillOptions(texture=False)
    for path in images.find_images([args.photos]):
        original = training_photos.read_rgb(path)
        for _ in range(args.strokes):
            mask = stroke_mask(rng, *original.shape[:2], args.width)
            noisy = original.copy()
            noisy[mask] = rng.integers(0, 256, (int(mask.sum()), 3), dtype=np.uint8)
            filled = filling.fill_image(noisy, mask, predictor=model)
            scores["inpaint"].append(evaluation.hole_psnr(original, filled, mask))
            filled = filling.fill_image(noisy, mask, smooth, model)
            scores["inpaint --smooth"].append(evaluation.hole_psnr(original, filled, mask))
            scores["telea"].append(evaluation.hole_psnr(original, telea(noisy, mask), mask))
    telea_psnr = statistics.mean(scores["telea"])
    print(f"model: {model.path}   {len(scores['inpaint'])} strokes of {args.width} px, seed {args.seed}")
    for name, values in scores.items():
        psnr = statistics.mean(values)
        print(f"{name:<16} {psnr:6.2f} dB   {psnr - telea_psnr:+.2f} dB vs Telea")


if __name__ == "__main__":
    main()
