"""Samples/s that scripts/train_from_photos.py can feed a GPU with: photo_arrays.BatchStream by process count.

Drawing a training batch (flips, zoomed crops, fresh holes) is Python and NumPy under the GIL; a GPU takes
several thousand samples/s of the bundled network, so the feed must scale with cores. This loads the
photos as the script does (128 px, prepare's split), then, for each --processes count and each
--painted-fraction, draws --steps batches of --batch-size (after --warmup batches, which also start the
processes) and prints samples/s, with the load average before the run (other jobs slow every row).
No TensorFlow and no Keras: it runs wherever the script does.

Usage: python benchmarks/photo_feed.py [--photos DIR] [--processes 0,1,2] [--painted-fraction 0,0.5]
                                       [--steps 40] [--warmup 8] [--batch-size 64]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from inpaint_cli.settings import PrepareConfig, TrainConfig  # noqa: E402
from inpaint_cli.training.photo_arrays import BatchDrawer, BatchStream, load_photo_arrays  # noqa: E402

MOUNTAINS = Path(__file__).resolve().parents[2] / "shared" / "data" / "mountains" / "train"


def samples_per_second(drawer: BatchDrawer, processes: int, steps: int, warmup: int) -> float:
    """Samples/s of one stream over steps batches, after warmup batches of another epoch."""
    stream = BatchStream(drawer, processes)
    try:
        for _ in stream.epoch(0, warmup):
            pass
        started = time.perf_counter()
        for _ in stream.epoch(1, steps):
            pass
        return steps * drawer.config.batch_size / (time.perf_counter() - started)
    finally:
        stream.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=Path, default=MOUNTAINS)
    parser.add_argument("--processes", default="0,1,2", help="Comma-separated process counts (0: drawn in this one).")
    parser.add_argument("--painted-fraction", default="0,0.5", help="Comma-separated shares of painted holes.")
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--warmup", type=int, default=8)
    parser.add_argument("--batch-size", type=int, default=64)
    args = parser.parse_args()
    prepare = PrepareConfig()
    started = time.perf_counter()
    arrays = load_photo_arrays([args.photos], prepare)
    print(f"{len(arrays.train)} training photos loaded in {time.perf_counter() - started:.1f} s")
    print(f"load average before: {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
    print("| processes | painted fraction | samples/s |")
    print("|---|---|---|")
    for painted in (float(text) for text in args.painted_fraction.split(",")):
        config = replace(TrainConfig(), batch_size=args.batch_size, painted_fraction=painted)
        drawer = BatchDrawer(arrays.train, config, prepare)
        for processes in (int(text) for text in args.processes.split(",")):
            rate = samples_per_second(drawer, processes, args.steps, args.warmup)
            print(f"| {processes} | {painted:g} | {rate:,.0f} |", flush=True)


if __name__ == "__main__":
    main()
