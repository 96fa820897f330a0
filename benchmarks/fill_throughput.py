"""Photos per second of a folder fill: one process, --jobs 2, and a 2-worker Dask LocalCluster.

Generates N photos at 1 MP and M at 12 MP (random crops of the repository's example photo,
resized, JPEG quality 90), each with one 128 px --box and one free-hand stroke in --mask-dir,
then times the whole command `inpaint fill DIR --mask-dir MASKS --box ... --out-dir OUT` for:
  --jobs 1; --jobs 2 (one LiteRT/OpenCV thread per worker); two `--jobs 1` processes side by side on
  half the photos each (each with every core's threads: what oversubscribing the cores costs);
  --cluster on a LocalCluster of 2 worker processes (1 thread each; the cluster's start is not timed).
Every run's outputs are compared byte for byte with --jobs 1. Reports photos/s, the speed-up over
--jobs 1, the cluster's overhead per photo against --jobs 2 ((t_cluster - t_jobs2) / photos) and the
peak resident memory of each worker process (sampled every 50 ms with psutil).

Usage: nice python benchmarks/fill_throughput.py [--small 200] [--large 12] [--json results.json]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import psutil
from PIL import Image, ImageDraw

REPO = Path(__file__).resolve().parent.parent
SOURCE = REPO / "examples" / "picos_de_europa.jpg"
SIZES = {"1 MP": (1152, 864), "12 MP": (4000, 3000)}
BOX = 128
COMMAND = [sys.executable, "-m", "inpaint_cli.cli", "fill"]


def make_photos(folder: Path, masks: Path, count: int, size: tuple[int, int], seed: int) -> None:
    """count photos of size with a free-hand stroke mask each (white = hole), named alike."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True)
    masks.mkdir(parents=True)
    with Image.open(SOURCE) as source:
        source = source.convert("RGB")
        for index in range(count):
            width, height = source.width // 2, source.height // 2
            left, top = int(rng.integers(0, source.width - width)), int(rng.integers(0, source.height - height))
            crop = source.crop((left, top, left + width, top + height)).resize(size, Image.Resampling.BICUBIC)
            crop.save(folder / f"photo{index:04d}.jpg", quality=90)
            mask = Image.new("L", size, 0)
            points = [(int(rng.integers(300, size[0] - 300)), int(rng.integers(300, size[1] - 300)))]
            for _ in range(4):
                points.append(
                    (points[-1][0] + int(rng.integers(-120, 120)), points[-1][1] + int(rng.integers(-120, 120)))
                )
            ImageDraw.Draw(mask).line(points, fill=255, width=size[0] // 80, joint="curve")
            mask.save(masks / f"photo{index:04d}.png")


class PeakMemory:
    """Samples the resident memory of a process's descendants (the workers) until stopped; the peak of each."""

    def __init__(self, pids: callable) -> None:
        self._pids, self.peaks, self._stop = pids, {}, threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        while not self._stop.wait(0.05):
            for pid in self._pids():
                try:
                    self.peaks[pid] = max(self.peaks.get(pid, 0), psutil.Process(pid).memory_info().rss)
                except psutil.Error:
                    continue

    def stop(self) -> list[float]:
        self._stop.set()
        self._thread.join()
        return sorted((peak / 2**20 for peak in self.peaks.values()), reverse=True)


def children_of(process: subprocess.Popen) -> list[int]:
    try:
        return [child.pid for child in psutil.Process(process.pid).children(recursive=True)]
    except psutil.Error:
        return []


def timed_fill(arguments: list[list[str]], memory_of_process: bool = False) -> tuple[float, list[float]]:
    """Seconds for these fill commands run side by side, and peak memory (MiB) of their workers or themselves."""
    started = time.perf_counter()
    processes = [subprocess.Popen([*COMMAND, *args], stderr=subprocess.PIPE, text=True) for args in arguments]
    if memory_of_process:
        sampler = PeakMemory(lambda: [process.pid for process in processes])
    else:
        sampler = PeakMemory(lambda: [pid for process in processes for pid in children_of(process)])
    for process in processes:
        _, errors = process.communicate()
        if process.returncode != 0:
            raise SystemExit(f"fill failed: {errors[-2000:]}")
    seconds = time.perf_counter() - started
    return seconds, sampler.stop()


def same_files(first: Path, second: Path) -> bool:
    names = sorted(path.name for path in first.iterdir())
    return names == sorted(path.name for path in second.iterdir()) and all(
        (first / name).read_bytes() == (second / name).read_bytes() for name in names
    )


def measure(work: Path, label: str, count: int, cluster_address: str, cluster_client: object) -> list[dict]:
    """The rows of one photo size."""
    photos, masks = work / label / "photos", work / label / "masks"
    make_photos(photos, masks, count, SIZES[label], seed=count)
    holes = ["--mask-dir", str(masks), "--box", f"{SIZES[label][0] // 3},{SIZES[label][1] // 3},{BOX}"]
    out = {name: work / label / name for name in ("jobs1", "jobs2", "halves", "cluster")}
    rows = []

    def row(name: str, seconds: float, memory: list[float], folder: Path) -> None:
        rows.append(
            {
                "photos": label,
                "count": count,
                "run": name,
                "seconds": round(seconds, 2),
                "photos_per_s": round(count / seconds, 3),
                "peak_worker_mib": [round(peak) for peak in memory],
                "identical_to_jobs_1": same_files(out["jobs1"], folder),
            }
        )

    seconds, memory = timed_fill([[str(photos), *holes, "--out-dir", str(out["jobs1"])]], memory_of_process=True)
    row("--jobs 1", seconds, memory, out["jobs1"])
    seconds, memory = timed_fill([[str(photos), *holes, "--out-dir", str(out["jobs2"]), "--jobs", "2"]])
    row("--jobs 2", seconds, memory, out["jobs2"])
    halves = work / label / "split"
    for index, photo in enumerate(sorted(photos.iterdir())):
        (halves / str(index % 2)).mkdir(parents=True, exist_ok=True)
        shutil.copy(photo, halves / str(index % 2) / photo.name)
    seconds, memory = timed_fill(
        [[str(halves / part), *holes, "--out-dir", str(out["halves"])] for part in ("0", "1")], memory_of_process=True
    )
    row("2 x --jobs 1 side by side", seconds, memory, out["halves"])
    cluster_client.run(_reset_peak)
    seconds, _ = timed_fill([[str(photos), *holes, "--out-dir", str(out["cluster"]), "--cluster", cluster_address]])
    memory = sorted((value / 2**10 for value in cluster_client.run(_peak_kib).values()), reverse=True)
    row("LocalCluster, 2 workers", seconds, memory, out["cluster"])
    return rows


def _reset_peak() -> None:
    """Lets the next _peak_kib report this run's peak (Linux: writing 5 to clear_refs resets VmHWM)."""
    Path(f"/proc/{os.getpid()}/clear_refs").write_text("5")


def _peak_kib() -> int:
    """A worker's peak resident memory since the last reset, in KiB (VmHWM)."""
    for line in Path(f"/proc/{os.getpid()}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", type=int, default=200, help="1 MP photos")
    parser.add_argument("--large", type=int, default=12, help="12 MP photos")
    parser.add_argument("--json", type=Path, help="write the rows here")
    arguments = parser.parse_args()
    from distributed import Client, LocalCluster

    load_before = os.getloadavg()
    rows = []
    with tempfile.TemporaryDirectory(prefix="fill-throughput-") as folder:
        with (
            LocalCluster(
                n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None
            ) as cluster,
            Client(cluster) as client,
        ):
            for label, count in (("1 MP", arguments.small), ("12 MP", arguments.large)):
                if count:
                    rows.extend(measure(Path(folder), label, count, cluster.scheduler_address, client))
    by_run = {(row["photos"], row["run"]): row for row in rows}
    print(f"load average before: {load_before[0]:.2f}, after: {os.getloadavg()[0]:.2f} (on {os.cpu_count()} cores)")
    print("| photos | run | s | photos/s | x --jobs 1 | peak MiB per worker | identical |")
    print("|---|---|---|---|---|---|---|")
    for row in rows:
        base = by_run[(row["photos"], "--jobs 1")]["photos_per_s"]
        row["speedup"] = round(row["photos_per_s"] / base, 2)
        print(
            f"| {row['count']} x {row['photos']} | {row['run']} | {row['seconds']} | {row['photos_per_s']} | "
            f"{row['speedup']} | {', '.join(map(str, row['peak_worker_mib']))} | {row['identical_to_jobs_1']} |"
        )
    for label in SIZES:
        if (label, "--jobs 2") in by_run:
            jobs, dask = by_run[(label, "--jobs 2")], by_run[(label, "LocalCluster, 2 workers")]
            overhead = (dask["seconds"] - jobs["seconds"]) / jobs["count"] * 1000
            print(f"{label}: cluster overhead against --jobs 2: {overhead:+.0f} ms per photo")
    if arguments.json:
        arguments.json.write_text(json.dumps({"load_before": load_before, "rows": rows}, indent=2))


if __name__ == "__main__":
    main()
