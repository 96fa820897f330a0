"""How much slower `inpaint fill` is than Pillow alone decoding and re-encoding the same 12 MP JPEG.

Times, in one run:
(a) Pillow opening, decoding and saving the photo as JPEG (source quality and subsampling kept),
    timed inside a fresh Python process that does nothing else: the strict baseline;
(a') the same after that process has resized a 12 MP image once. glibc then keeps freed image
    memory instead of returning it to the kernel, so the round trip no longer pays to fault in
    fresh pages: about 25 ms less. Until 2026-11-27 (a) was timed in this process right after
    making the test photo, which is (a'); it is printed for comparison, not as the target;
(b) the same three lines of Pillow as a Python subprocess, which is what a user's script costs;
(c) the whole `inpaint fill <photo> --box x,y,HOLE --out <tmp>` as a subprocess (interpreter
    start, imports, model load, fill with the texture stage unless --smooth, save);
(d) the fill library call alone, in this process, with the model already loaded.
Prints best and median of --repeats runs and the ratios (c)/(a), (c)/(a') and (c)/(b). The targets (at
most 8x for a 160 px hole, 4x for 128 px) are multiples of "a Pillow decode + re-encode of the same file
timed as a script": (b) is that script; (a), timed inside its process, is the stricter yardstick.

Usage: python benchmarks/fill_speed.py [PHOTO] [--model MODEL_DIR] [--repeats 3] [--hole 160] [--smooth]
"""

from __future__ import annotations

import argparse
import json
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
HOLE = 160  # px, the default hole side


def make_photo(source: Path, target: Path) -> Path:
    """Upscale source to SIZE and save it as a quality-90 JPEG."""
    with Image.open(source) as image:
        upright = ImageOps.exif_transpose(image).convert("RGB")
    upright.resize(SIZE, Image.Resampling.BICUBIC).save(target, quality=90)
    return target


PILLOW_SCRIPT = (
    "import sys\nfrom PIL import Image\n"
    "Image.open(sys.argv[1]).save(sys.argv[2], format='JPEG', quality='keep', subsampling='keep')"
)


def pillow_round_trip(photo: Path, target: Path) -> None:
    """Decode the photo and encode it again as fill does (the source's quality and chroma subsampling)."""
    with Image.open(photo) as image:
        image.load()
        image.save(target, format="JPEG", quality="keep", subsampling="keep")


# Times pillow_round_trip inside its own process: argv = photo, target, repeats, "warm" or "fresh".
ROUND_TRIP_TIMER = """
import json, sys
sys.path.insert(0, sys.argv[5])
from pathlib import Path
from PIL import Image
from fill_speed import SIZE, pillow_round_trip, timed
photo, target, repeats, state = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
if state == "warm":
    with Image.open(photo) as image:
        image.convert("RGB").resize(SIZE, Image.Resampling.BICUBIC)
print(json.dumps(timed(lambda: pillow_round_trip(photo, target), repeats)))
"""


def round_trip_in_own_process(photo: Path, target: Path, repeats: int, warm: bool) -> list[float]:
    """pillow_round_trip's times in a fresh Python that does nothing else (warm: after one 12 MP resize)."""
    arguments = [str(photo), str(target), str(repeats), "warm" if warm else "fresh", str(Path(__file__).parent)]
    return json.loads(run_checked([sys.executable, "-c", ROUND_TRIP_TIMER, *arguments]))


def fill_command(photo: Path, target: Path, model: Path | None, hole: int = HOLE, smooth: bool = False) -> list[str]:
    """The `inpaint fill` command line: one square hole in the middle of the photo."""
    with Image.open(photo) as image:
        width, height = image.size
    script = Path(sys.executable).with_name("inpaint")
    program = [str(script)] if script.is_file() else [sys.executable, "-m", "inpaint_cli.cli"]
    command = [*program, "fill", str(photo), "--box", f"{width // 2},{height // 2},{hole}", "--out", str(target)]
    return [*command, "--force"] + (["--model", str(model)] if model else []) + (["--smooth"] if smooth else [])


def run_checked(command: list[str]) -> str:
    """Run a command and return its stdout; stop with its stderr when it fails."""
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(f"{' '.join(command)} failed ({result.returncode}):\n{result.stderr}")
    return result.stdout


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
    parser.add_argument("--hole", type=int, default=HOLE, help="Side of the square hole in pixels.")
    parser.add_argument("--smooth", action="store_true", help="Fill without the texture stage.")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        photo = make_photo(args.photo, Path(folder) / "photo_12mp.jpg")
        pillow = round_trip_in_own_process(photo, Path(folder) / "pillow.jpg", args.repeats, warm=False)
        pillow_warm = round_trip_in_own_process(photo, Path(folder) / "pillow.jpg", args.repeats, warm=True)
        script = [sys.executable, "-c", PILLOW_SCRIPT, str(photo), str(Path(folder) / "script.jpg")]
        pillow_process = timed(lambda: run_checked(script), args.repeats)
        command = fill_command(photo, Path(folder) / "filled.jpg", args.model, args.hole, args.smooth)
        fill = timed(lambda: run_checked(command), args.repeats)
        library_call = library_fill(photo, Path(folder) / "library.jpg", args.model, args.hole, args.smooth)
        library = timed(library_call, args.repeats)
    print(f"photo: {args.photo.name} upscaled to {SIZE[0]}x{SIZE[1]} ({SIZE[0] * SIZE[1] / 1e6:.1f} MP), JPEG q90")
    print(f"command: {' '.join(command)}")
    rows = (
        ("(a) pillow, in process", pillow),
        ("(a') the same, warmed", pillow_warm),
        ("(b) pillow, as a process", pillow_process),
        ("(c) inpaint fill, process", fill),
        ("(d) fill library call", library),
    )
    for name, seconds in rows:
        print(f"{name:<27} best {min(seconds):6.3f} s   median {statistics.median(seconds):6.3f} s")
    for name, baseline, note in (
        ("(c)/(a)", pillow, "the strict yardstick; targets: 8 for a 160 px hole, 4 for 128 px"),
        ("(c)/(a')", pillow_warm, "for reference"),
        ("(c)/(b)", pillow_process, "the script the targets name; 8 for 160 px, 4 for 128 px"),
    ):
        print(
            f"ratio {name}: best {min(fill) / min(baseline):.2f}   "
            f"median {statistics.median(fill) / statistics.median(baseline):.2f}   ({note})"
        )


def library_fill(photo: Path, target: Path, model: Path | None, hole: int, smooth: bool) -> Callable[[], None]:
    """A callable that fills the photo through the library, the model loaded beforehand."""
    from inpaint_cli.inpainting.rectangles import Box
    from inpaint_cli.model import runtime
    from inpaint_cli.stages import filling

    predictor = runtime.load_predictor(model)  # loaded before timing
    with Image.open(photo) as image:
        box = Box(image.width // 2, image.height // 2, hole)
    request = filling.FillRequest([photo], [box], out=target, force=True)
    options = filling.FillOptions(texture=not smooth)
    return lambda: filling.fill_photos(request, options, predictor=predictor)


if __name__ == "__main__":
    main()
