"""Every picture under docs/images/ and examples/, made again from the code as it is: one command.

- examples/before_after.jpg: the README's first picture, a crop of `inpaint fill examples/picos_de_europa.jpg
  --box 770,672,68 --compare` (the example photo ships, so this one needs nothing else; a test checks it);
- docs/images/painted_example.jpg: benchmarks/painted_example.py (needs ../shared/data/photos-tuning);
- docs/images/painted_grid.jpg: benchmarks/painted_masks.py --limit 1 --grid (needs ../shared/data/photos), and
  docs/images/painted_line.jpg, its row of a hole across a long straight edge (--kinds structure), for the README;
- docs/images/big_photos_grid.jpg and big_photos_grid_small.jpg: benchmarks/big_photos.py --grid-only
  (needs ../shared/data/photos; minutes);
- docs/images/serve.png: benchmarks/serve_screenshot.py (needs Chromium and chromedriver).
docs/images/line_mode.jpg is a study's picture (docs/line-mode.md), drawn once for that study.

Usage: python benchmarks/pictures.py [--only before_after,painted_example,painted_grid,big_photos,serve]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

from PIL import Image

REPO = Path(__file__).resolve().parent.parent
EXAMPLE = REPO / "examples" / "picos_de_europa.jpg"
EXAMPLE_BOX = "770,672,68"
BEFORE_AFTER = REPO / "examples" / "before_after.jpg"
# The part of each half of the --compare picture that the README shows (left, top, right, bottom), and the gap.
SHOWN, GAP = (304, 352, 1024, 768), 16
BENCHMARKS = Path(__file__).resolve().parent


def readme_pair(compare: Image.Image) -> Image.Image:
    """The README's crop of a --compare picture of the example: the same part of before and of after, side by side."""
    left, top, right, bottom = SHOWN
    half = (compare.width - GAP) // 2
    before = compare.crop((left, top, right, bottom))
    after = compare.crop((half + GAP + left, top, half + GAP + right, bottom))
    pair = Image.new("RGB", (2 * (right - left) + GAP, bottom - top), "white")
    pair.paste(before, (0, 0))
    pair.paste(after, (right - left + GAP, 0))
    return pair


def fresh_readme_pair() -> Image.Image:
    """The README's before/after made now with `inpaint fill ... --compare` (a subprocess, as a user runs it)."""
    with tempfile.TemporaryDirectory() as folder:
        compare, out = Path(folder) / "compare.png", Path(folder) / "filled.jpg"
        command = [sys.executable, "-m", "inpaint_cli.cli", "fill", str(EXAMPLE), "--box", EXAMPLE_BOX]
        subprocess.run([*command, "--out", str(out), "--compare", str(compare)], check=True, cwd=REPO)
        with Image.open(compare) as picture:
            return readme_pair(picture.convert("RGB"))


def run_script(*arguments: str) -> None:
    """Run one of the benchmarks' picture commands from the repository's root."""
    subprocess.run([sys.executable, *arguments], check=True, cwd=REPO)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", help="Comma list: before_after,painted_example,painted_grid,big_photos,serve.")
    arguments = parser.parse_args()
    chosen = set((arguments.only or "before_after,painted_example,painted_grid,big_photos,serve").split(","))
    if "before_after" in chosen:
        fresh_readme_pair().save(BEFORE_AFTER, quality=90)
        print(f"Wrote {BEFORE_AFTER}")
    if "painted_example" in chosen:
        run_script(str(BENCHMARKS / "painted_example.py"))
    if "painted_grid" in chosen:
        painted = ["--photos", str(REPO.parent / "shared" / "data" / "photos"), "--limit", "1", "--per-photo", "1"]
        run_script(str(BENCHMARKS / "painted_masks.py"), *painted, "--grid", "docs/images/painted_grid.jpg")
        line = ["--kinds", "structure", "--grid", "docs/images/painted_line.jpg"]
        run_script(str(BENCHMARKS / "painted_masks.py"), *painted, *line)
    if "big_photos" in chosen:
        grid = ["--grid-only", "--methods", "inpaint,inpaint --smooth,shift-map,Telea"]
        run_script(str(BENCHMARKS / "big_photos.py"), "--grid", "docs/images/big_photos_grid.jpg", *grid)
        small = ["--grid", "docs/images/big_photos_grid_small.jpg", "--grid-rows", "1,6,7,10,13,17"]
        run_script(str(BENCHMARKS / "big_photos.py"), *small, *grid)
    if "serve" in chosen:
        run_script(str(BENCHMARKS / "serve_screenshot.py"))


if __name__ == "__main__":
    main()
