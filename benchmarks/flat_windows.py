"""Why `fill` takes the smooth fill on flat windows: hole PSNR of each fill by the window's detail.

Every hole is filled three ways through filling.fill_image, one context window at a time
(each of filling.FillOptions.context_factors alone): with the network's fill only, with the smooth fill
only (the model's last 3 channels), and as fill does (blended by filling.FillOptions.flat_detail). Each
window's detail is context_windows.window_detail of its network input. Holes:
- the evaluate protocol on --val-photos (128 px squares, one hole of 16-48 px, --val-seed);
- noise-painted square holes in the photos of --photos (big_photos.py's protocol, --holes per
  photo, --seed): 96 and 192 px at full size, and 43 px in the photos scaled down 2, 4 and 8x.
Prints the PSNR of each fill per detail range, and per set of holes.

Usage: python benchmarks/flat_windows.py --val-photos DIR [--photos DIR] [--holes 6] [--seed 1]
"""

from __future__ import annotations

import argparse
import statistics
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from big_photos import DEFAULT_PHOTOS, noise_painted, place_holes
from PIL import Image

from inpaint_cli.files import images, training_photos
from inpaint_cli.inpainting import context_windows
from inpaint_cli.inpainting.rectangles import Box
from inpaint_cli.model import runtime
from inpaint_cli.stages import evaluation, filling

FILLS = ("network", "smooth", "fill")
DETAIL_EDGES = (0.0, 0.002, 0.003, 0.004, 0.005, 0.006, 0.008, 0.012, 0.02, np.inf)
OPTIONS = filling.FillOptions()


@dataclass(frozen=True)
class Window:
    """One hole filled through one context window: where it came from, its detail, and each fill's PSNR."""

    source: str
    detail: float
    psnr: dict[str, float]


def variants(model: runtime.Predictor) -> dict[str, runtime.Predictor]:
    """The model as fill uses it, and restricted to the network's fill or to the smooth fill."""

    def channels(first: int):
        return lambda batch: model.predict(batch)[..., first : first + 3]

    return {
        "network": runtime.Predictor(channels(0), model.input_size, model.path),
        "smooth": runtime.Predictor(channels(3), model.input_size, model.path),
        "fill": model,
    }


def windows(
    original: np.ndarray,
    holed: np.ndarray,
    mask: np.ndarray,
    box: Box,
    source: str,
    model: runtime.Predictor,
) -> Iterator[Window]:
    """The hole filled through each context window on its own, every way."""
    height, width = mask.shape
    models = variants(model)
    seen = set()
    for factor in OPTIONS.context_factors:
        window = context_windows.context_window(box, height, width, model.input_size, factor)
        if window in seen:
            continue
        seen.add(window)
        options = replace(OPTIONS, context_factors=(factor,))
        psnr = {
            name: evaluation.hole_psnr(original, filling.fill_image(holed, mask, options, one), mask)
            for name, one in models.items()
        }
        window_input = context_windows.network_input(holed[window.slices], mask[window.slices], model.input_size)
        yield Window(source, context_windows.window_detail(window_input), psnr)


def validation_windows(folder: Path, seed: int, model: runtime.Predictor) -> Iterator[Window]:
    """The evaluate protocol's holes in the validation photos."""
    for _, sample in evaluation.holed_samples(images.find_images([folder]), model.input_size, seed):
        if not isinstance(sample, str):
            yield from windows(sample.original, sample.holed, sample.mask > 0, sample.box, "validation", model)


def photo_windows(folder: Path, per_photo: int, seed: int, model: runtime.Predictor) -> Iterator[Window]:
    """Noise-painted holes in the big photos, at full size and scaled down."""
    full_size = [training_photos.read_rgb(path) for path in images.find_images([folder])]
    for divisor, sides in ((1, [96, 192]), (2, [43]), (4, [43]), (8, [43])):
        photos = [shrunk(photo, divisor) for photo in full_size]
        for hole in place_holes([photo.shape[:2] for photo in photos], sides, per_photo, seed):
            original = photos[hole.photo]
            holed, mask = noise_painted(original, hole)
            source = f"photos 1/{divisor}, {hole.side} px"
            yield from windows(original, holed, mask, Box(hole.left, hole.top, hole.side), source, model)


def shrunk(photo: np.ndarray, divisor: int) -> np.ndarray:
    """The photo scaled down by divisor (Lanczos), or itself."""
    if divisor == 1:
        return photo
    image = Image.fromarray(photo)
    size = (image.width // divisor, image.height // divisor)
    return np.asarray(image.resize(size, Image.Resampling.LANCZOS))


def report(rows: list[Window]) -> None:
    """Mean PSNR of each fill per detail range and per source."""
    print(f"{'detail':>15} {'windows':>7}  " + "  ".join(f"{name:>8}" for name in FILLS))
    for low, high in zip(DETAIL_EDGES[:-1], DETAIL_EDGES[1:], strict=True):
        chosen = [row for row in rows if low <= row.detail < high]
        if chosen:
            means = "  ".join(f"{statistics.mean(row.psnr[name] for row in chosen):8.2f}" for name in FILLS)
            print(f"{low:6.3f}-{high:<8.3f} {len(chosen):7d}  {means}")
    print()
    for source in dict.fromkeys(row.source for row in rows):
        chosen = [row for row in rows if row.source == source]
        means = "  ".join(f"{statistics.mean(row.psnr[name] for row in chosen):8.2f}" for name in FILLS)
        print(f"{source:>24} {len(chosen):4d}  {means}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--val-photos", type=Path, required=True, help="Validation photos (evaluate protocol).")
    parser.add_argument("--photos", type=Path, default=DEFAULT_PHOTOS, help="Folder of full-size photos.")
    parser.add_argument("--model", type=Path, help="Model folder or file (default: the bundled model).")
    parser.add_argument("--holes", type=int, default=6, help="Holes per photo and size in the big photos.")
    parser.add_argument("--seed", type=int, default=1, help="Seed of the big photos' holes.")
    parser.add_argument("--val-seed", type=int, default=1234, help="Seed of the validation photos' holes.")
    args = parser.parse_args()
    model = runtime.load_predictor(args.model)
    rows = [*validation_windows(args.val_photos, args.val_seed, model)]
    rows += photo_windows(args.photos, args.holes, args.seed, model)
    print(f"model: {model.path}   flat_detail: {OPTIONS.flat_detail}   mean hole PSNR (dB) of each fill")
    report(rows)


if __name__ == "__main__":
    main()
