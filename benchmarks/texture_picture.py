"""The README's texture picture: one hole in a textured area filled by inpaint, --smooth, shift-map and Telea.

The hole (--box, in pixels of the upright photo) is painted with noise (seed 0), so no method sees what
was there; `inpaint` fills it in the full photo, the OpenCV peers in a crop of 5 times its side around it
(as benchmarks/big_photos.py runs them). Each panel shows 3 times the hole's side around it, scaled to
--panel px, labelled with the method and its hole PSNR; the first shows the photo with the hole outlined.

Usage: python benchmarks/texture_picture.py [PHOTO] [--box 1034,1788,192] [--out examples/texture_comparison.jpg]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from big_photos import Hole, crop_around, noise_painted, on_crop, telea
from PIL import Image, ImageDraw

from inpaint_cli import evaluation, filling, images, masking, runtime

REPO = Path(__file__).resolve().parent.parent
DEFAULT_PHOTO = REPO.parent / "shared" / "data" / "photos" / "lomiri_Kleiber_by_Lukas_Baubkus.jpg"


def panel(picture: np.ndarray, hole: Hole, side: int, label: str, outline: bool = False) -> Image.Image:
    """The hole's surroundings (3x its side) scaled to side px, with a label above."""
    rows, columns = crop_around(hole, picture.shape, 3.0)
    tile = Image.fromarray(picture[rows, columns])
    scale = side / tile.width
    tile = tile.resize((side, round(tile.height * scale)), Image.Resampling.LANCZOS)
    if outline:
        left, top = (hole.left - columns.start) * scale, (hole.top - rows.start) * scale
        size = hole.side * scale
        ImageDraw.Draw(tile).rectangle([left, top, left + size, top + size], outline=(255, 0, 0), width=2)
    framed = Image.new("RGB", (side, tile.height + 20), "white")
    framed.paste(tile, (0, 20))
    ImageDraw.Draw(framed).text((4, 4), label, fill=(0, 0, 0))
    return framed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("photo", nargs="?", type=Path, default=DEFAULT_PHOTO, help="The photo.")
    parser.add_argument("--box", default="1034,1788,192", help="The hole as x,y,size.")
    parser.add_argument("--panel", type=int, default=300, help="Width of each panel in pixels.")
    parser.add_argument("--out", type=Path, default=REPO / "examples" / "texture_comparison.jpg")
    args = parser.parse_args()
    original = images.read_rgb(args.photo)
    box = masking.parse_box(args.box)
    rng = np.random.default_rng(0)
    noise = rng.integers(0, 256, (box.size * box.size, 3), dtype=np.uint8)
    hole = Hole(0, f"{box.size} px", box.y, box.x, np.ones((box.size, box.size), bool), noise, box.size)
    noisy, mask = noise_painted(original, hole)
    predictor = runtime.load_predictor()
    fills = {
        "inpaint": filling.fill_image(noisy, mask, predictor=predictor),
        "inpaint --smooth": filling.fill_image(noisy, mask, filling.FillOptions(texture=False), predictor),
        "shift-map": on_crop(evaluation.shift_map_fill, 5.0)(noisy, mask, hole),
        "Telea": on_crop(telea, 5.0)(noisy, mask, hole),
    }
    panels = [panel(original, hole, args.panel, "original, hole outlined", outline=True)]
    for name, filled in fills.items():
        psnr = evaluation.hole_psnr(original[hole.bounds], filled[hole.bounds], mask[hole.bounds])
        panels.append(panel(filled, hole, args.panel, f"{name}: {psnr:.1f} dB"))
    picture = Image.new("RGB", (len(panels) * (args.panel + 6) - 6, max(tile.height for tile in panels)), "white")
    for index, tile in enumerate(panels):
        picture.paste(tile, (index * (args.panel + 6), 0))
    picture.save(args.out, quality=88)
    print(f"Wrote {args.out} ({picture.width}x{picture.height})")


if __name__ == "__main__":
    main()
