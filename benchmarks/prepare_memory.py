"""Peak memory of `inpaint prepare` on a small and a large photo set: does it stream?

The sets are made from the photos in --photos (by default the 1,484 mountain photos of
../shared/data): photo i of a set of N is variant i // len(photos) of photo
i % len(photos). Variant 0 is the photo itself, variant 1 its mirror image, later
variants random crops of it, 136x136 or the photo's height where that is less, placed
and mirrored by numpy.random.default_rng(--seed). So 1,500 photos are the 1,484
originals and 16 mirrors, and 6,000 the originals, their mirrors, two crops of each and
a third crop of 64. Every file is written as a quality-95 JPEG into a temporary folder,
outside the repository, and deleted at the end.

Each set is prepared by `inpaint prepare SET --out TMP` as a subprocess. Its peak
resident set size is the ru_maxrss that os.wait4 returns for that one process (the
kernel's high-water mark of its RSS; prepare starts no processes of its own), so the
runs do not see each other's figures. Prints each set's peak RSS (MB = 10^6 bytes)
and the wall time of the whole command, and the ratio of the peaks (target: at most 1.25).

Usage: python benchmarks/prepare_memory.py [--photos DIR] [--counts 1500,6000] [--seed 0]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

REPO = Path(__file__).resolve().parent.parent
DEFAULT_PHOTOS = REPO.parent / "shared" / "data" / "mountains" / "train"
CROP = 136
TARGET_RATIO = 1.25


def make_set(sources: list[Path], count: int, folder: Path, rng: np.random.Generator) -> Path:
    """Write count JPEGs into folder: the sources, then their mirror images, then random crops."""
    folder.mkdir(parents=True)
    for index in range(count):
        variant, source = divmod(index, len(sources))
        with Image.open(sources[source]) as opened:
            image = opened.convert("RGB")
        if variant == 1:
            image = ImageOps.mirror(image)
        elif variant >= 2:
            side = min(CROP, image.width, image.height)  # a few photos are less than 136 px high
            left = int(rng.integers(0, image.width - side + 1))
            top = int(rng.integers(0, image.height - side + 1))
            image = image.crop((left, top, left + side, top + side))
            if rng.random() < 0.5:
                image = ImageOps.mirror(image)
        image.save(folder / f"{sources[source].stem}_v{variant}.jpg", quality=95)
    return folder


def prepare_command(photos: Path, out: Path) -> list[str]:
    """The `inpaint prepare` command line, through the console script beside this Python when there is one."""
    script = Path(sys.executable).with_name("inpaint")
    program = [str(script)] if script.is_file() else [sys.executable, "-m", "inpaint_cli.cli"]
    return [*program, "prepare", str(photos), "--out", str(out)]


def peak_rss(command: list[str]) -> tuple[float, float]:
    """Run command; its peak RSS in MB (from os.wait4's ru_maxrss, KiB on Linux) and its wall time in seconds."""
    started = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    stderr = process.stderr.read()
    process.stderr.close()
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)  # reaped here; tell Popen so it does not wait again
    if process.returncode != 0:
        sys.exit(f"{' '.join(command)} failed ({process.returncode}):\n{stderr.decode(errors='replace')}")
    return usage.ru_maxrss * 1024 / 1e6, seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=Path, default=DEFAULT_PHOTOS, help="Folder of source photos.")
    parser.add_argument("--counts", default="1500,6000", help="Sizes of the photo sets, comma-separated.")
    parser.add_argument("--seed", type=int, default=0, help="Seed of the crops.")
    args = parser.parse_args()
    counts = [int(text) for text in args.counts.split(",")]
    sources = sorted(path for path in args.photos.iterdir() if path.suffix.lower() in {".jpg", ".jpeg", ".png"})
    if not sources:
        sys.exit(f"no photos in {args.photos}")
    results = []
    with tempfile.TemporaryDirectory(prefix="prepare-memory-") as temporary:
        for count in counts:
            rng = np.random.default_rng(args.seed)
            photos = make_set(sources, count, Path(temporary) / f"photos-{count}", rng)
            command = prepare_command(photos, Path(temporary) / f"dataset-{count}")
            megabytes, seconds = peak_rss(command)
            results.append((count, megabytes, seconds))
            print(
                f"{count:>6} photos: peak RSS {megabytes:7.1f} MB   wall {seconds:6.1f} s "
                f"({count / seconds:5.1f} photos/s, TensorFlow's import included)",
                flush=True,
            )
    print(f"command: {' '.join(prepare_command(Path('SET'), Path('TMP')))}")
    (small, small_rss, _), (large, large_rss, _) = results[0], results[-1]
    print(
        f"ratio of peak RSS, {large} vs {small} photos: {large_rss / small_rss:.3f}   (target: at most {TARGET_RATIO})"
    )


if __name__ == "__main__":
    main()
