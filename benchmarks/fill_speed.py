"""How much slower `inpaint fill` is than Pillow alone decoding and re-encoding the same 12 MP JPEG.

Times, in one run, (a) Pillow opening, decoding and saving the photo as JPEG, in this process,
and (b) the whole `inpaint fill <photo> --box x,y,96 --out <tmp>` as a subprocess (interpreter
start, imports, model load, fill, save). Prints best and median of --repeats runs and their ratio.

Usage: python benchmarks/fill_speed.py [PHOTO] [--model MODEL_DIR] [--repeats 3]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from PIL import Image, ImageOps

REPO = Path(__file__).resolve().parent.parent
DEFAULT_PHOTO = REPO.parent / "shared" / "data" / "photos" / "lomiri_Bridge_by_Sander_Klootwijk.jpg"
SIZE = (4240, 2832)  # about 12 megapixels
HOLE = 96


def make_photo(source: Path, target: Path) -> Path:
    """Upscale source to SIZE and save it as a quality-90 JPEG."""
    with Image.open(source) as image:
        upright = ImageOps.exif_transpose(image).convert("RGB")
    upright.resize(SIZE, Image.Resampling.BICUBIC).save(target, quality=90)
    return target


def pillow_round_trip(photo: Path, target: Path) -> None:
    """Decode the photo and encode it again as fill does (JPEG quality 95, same chroma subsampling)."""
    with Image.open(photo) as image:
        image.load()
        image.save(target, format="JPEG", quality=95, subsampling="keep")


def fill_command(photo: Path, target: Path, model: Path | None) -> list[str]:
    """The `inpaint fill` command line: one 96 px hole in the middle of the photo."""
    with Image.open(photo) as image:
        width, height = image.size
    script = Path(sys.executable).with_name("inpaint")
    program = [str(script)] if script.is_file() else [sys.executable, "-m", "inpaint_cli.cli"]
    command = [*program, "fill", str(photo), "--box", f"{width // 2},{height // 2},{HOLE}", "--out", str(target)]
    return [*command, "--force"] + (["--model", str(model)] if model else [])


def run_checked(command: list[str]) -> None:
    """Run a command; stop with its stderr when it fails."""
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(f"{' '.join(command)} failed ({result.returncode}):\n{result.stderr}")


def timed(run: Callable[[], None], repeats: int) -> list[float]:
    """Wall-clock seconds of each of repeats calls."""
    seconds = []
    for _ in range(repeats):
        started = time.perf_counter()
        run()
        seconds.append(time.perf_counter() - started)
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("photo", nargs="?", type=Path, default=DEFAULT_PHOTO, help="Photo to upscale to 12 MP.")
    parser.add_argument("--model", type=Path, help="Model folder or file for fill (default: the bundled model).")
    parser.add_argument("--repeats", type=int, default=3, help="Runs of each; the best and the median count.")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        photo = make_photo(args.photo, Path(folder) / "photo_12mp.jpg")
        pillow = timed(lambda: pillow_round_trip(photo, Path(folder) / "pillow.jpg"), args.repeats)
        command = fill_command(photo, Path(folder) / "filled.jpg", args.model)
        fill = timed(lambda: run_checked(command), args.repeats)
    print(f"photo: {args.photo.name} upscaled to {SIZE[0]}x{SIZE[1]} ({SIZE[0] * SIZE[1] / 1e6:.1f} MP), JPEG q90")
    print(f"command: {' '.join(command)}")
    for name, seconds in (("pillow decode+encode", pillow), ("inpaint fill (process)", fill)):
        print(f"{name:<24} best {min(seconds):6.3f} s   median {statistics.median(seconds):6.3f} s")
    print(
        f"ratio fill / pillow: best {min(fill) / min(pillow):.2f}   "
        f"median {statistics.median(fill) / statistics.median(pillow):.2f}   (target: at most 4)"
    )


if __name__ == "__main__":
    main()
