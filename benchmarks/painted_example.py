"""The README's painted-mask picture: an object with a string to the photo's top edge, filled by `inpaint`
and by the classical fills a user could pick instead, side by side, each with its hole PSNR.

The mask is a kite-like blob in the sky of a beach photo (photos-tuning/endless-sky_myrabella2_2x.jpg,
Myrabella, CC-BY-SA-3.0) plus a 24 px free-hand string from it to the top edge; the hole is painted with
noise (as in painted_masks.py), so no fill sees what was there. Peers run on the whole photo, as a
three-line OpenCV script would.

Usage: python benchmarks/painted_example.py [--photo PATH] [--out docs/images/painted_example.jpg]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np
from big_photos import telea
from painted_masks import DEFAULT_PHOTOS, polyline
from PIL import Image, ImageDraw

from inpaint_cli.files import training_photos
from inpaint_cli.model import runtime
from inpaint_cli.stages import evaluation, filling

PHOTO = DEFAULT_PHOTOS.parent / "photos-tuning" / "endless-sky_myrabella2_2x.jpg"
PEERS = {"NS": evaluation.navier_stokes_fill, "Telea": telea, "FSR": evaluation.fsr_fill}
TILE = 360  # px, the side of each picture in the strip


def kite_mask(shape: tuple[int, int]) -> np.ndarray:
    """A kite (a blob of two ellipses about 150 px across) with a string to the top edge, as a bool mask."""
    height, width = shape
    canvas = np.zeros(shape, np.uint8)
    centre = (int(width * 0.62), int(height * 0.30))
    cv2.ellipse(canvas, centre, (70, 48), 30, 0, 360, 1, -1)
    cv2.ellipse(canvas, (centre[0] - 40, centre[1] + 30), (30, 40), 0, 0, 360, 1, -1)
    string = np.array([centre, (centre[0] - 60, centre[1] - 90), (centre[0] - 40, 0)], float)
    return (canvas > 0) | polyline(string, 24, shape)


def tile(
    picture: np.ndarray, window: tuple[slice, slice], label: str, outline: np.ndarray | None = None
) -> Image.Image:
    """The window of picture scaled to TILE px across, labelled, with the hole outlined in red when given."""
    crop = np.ascontiguousarray(picture[window])
    if outline is not None:
        contours, _ = cv2.findContours(outline[window].astype(np.uint8), cv2.RETR_LIST, cv2.CHAIN_APPROX_NONE)
        cv2.drawContours(crop, contours, -1, (255, 0, 0), 2)
    scale = TILE / crop.shape[1]
    image = Image.fromarray(crop).resize((TILE, round(crop.shape[0] * scale)), Image.Resampling.LANCZOS)
    ImageDraw.Draw(image).text((6, 4), label, fill=(255, 255, 255))
    return image


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photo", type=Path, default=PHOTO, help="The photo (upright RGB is read).")
    parser.add_argument("--out", type=Path, default=Path("docs/images/painted_example.jpg"), help="Picture to write.")
    arguments = parser.parse_args()
    photo = training_photos.read_rgb(arguments.photo)
    mask = kite_mask(photo.shape[:2])
    noisy = photo.copy()
    noisy[mask] = np.random.default_rng(0).integers(0, 256, (int(mask.sum()), 3), dtype=np.uint8)
    rows, columns = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    grow = 60
    window = (slice(0, min(photo.shape[0], rows[-1] + grow)), slice(max(0, columns[0] - grow), columns[-1] + grow))
    fills = {"inpaint": filling.fill_image(noisy, mask, filling.FillOptions(), runtime.load_predictor())}
    fills |= {name: fill(noisy.copy(), mask.astype(np.uint8)) for name, fill in PEERS.items()}
    tiles = [tile(photo, window, "original, hole outlined", mask)]
    for name, filled in fills.items():
        psnr = evaluation.hole_psnr(photo, filled, mask)
        tiles.append(tile(filled, window, f"{name}: {psnr:.2f} dB"))
        print(f"{name:8s} {psnr:.2f} dB")
    strip = Image.new("RGB", (sum(part.width for part in tiles) + 4 * (len(tiles) - 1), tiles[0].height), "white")
    left = 0
    for part in tiles:
        strip.paste(part, (left, 0))
        left += part.width + 4
    arguments.out.parent.mkdir(parents=True, exist_ok=True)
    strip.save(arguments.out, quality=88)
    print(f"Wrote {arguments.out}")


if __name__ == "__main__":
    main()
