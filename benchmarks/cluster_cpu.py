"""Where the cluster path's extra time goes: CPU seconds of the workers, the scheduler and the command, beside --jobs 2.

Generates N photos at 1 MP as fill_throughput.py does (a 128 px box and a stroke each), fills them with
`inpaint fill --jobs 2`, then with `--cluster` on a LocalCluster of 2 worker processes (1 thread each), and
prints the wall time of each and the CPU seconds of the `--jobs` command and its workers, and, for the cluster
run, of its worker processes, of this process (the scheduler and its client side) and of the command.
--no-trim starts the workers without the MALLOC_TRIM_THRESHOLD_ a Dask nanny sets (Dask's config, set to None),
to see what that setting costs; --no-profile without the worker's statistical profiler (a stack sample every 10 ms).

Usage: python benchmarks/cluster_cpu.py [--count 60] [--no-trim] [--no-profile]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))
import fill_throughput  # noqa: E402 - the same photos, masks and CPU clock
from fill_throughput import children_cpu  # noqa: E402

COMMAND = [sys.executable, "-m", "inpaint_cli.cli", "fill"]


def process_cpu(process: psutil.Process) -> float:
    """A process's user + system CPU seconds so far (0 once it is gone)."""
    try:
        times = process.cpu_times()
    except psutil.Error:
        return 0.0
    return times.user + times.system


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=60, help="1 MP photos")
    parser.add_argument("--no-trim", action="store_true", help="workers without Dask's MALLOC_TRIM_THRESHOLD_")
    parser.add_argument("--no-profile", action="store_true", help="workers without Dask's statistical profiler")
    arguments = parser.parse_args()
    import dask
    from distributed import Client, LocalCluster

    work = Path(tempfile.mkdtemp(prefix="cluster-cpu-"))
    try:
        fill_throughput.make_photos(work / "photos", work / "masks", arguments.count, fill_throughput.SIZES["1 MP"], 0)
        fill = [*COMMAND, str(work / "photos"), "--mask-dir", str(work / "masks"), "--box", "384,288,128"]
        started, cpu_before = time.perf_counter(), children_cpu()
        subprocess.run([*fill, "--out-dir", str(work / "jobs"), "--jobs", "2"], check=True, capture_output=True)
        seconds, cpu = time.perf_counter() - started, children_cpu() - cpu_before
        print(f"--jobs 2: {seconds:.2f} s, command and workers {cpu:.1f} CPU s")
        if arguments.no_trim:
            dask.config.set({"distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None})
        if arguments.no_profile:
            dask.config.set({"distributed.worker.profile.enabled": False})
        with (
            LocalCluster(n_workers=2, threads_per_worker=1, host="127.0.0.1", dashboard_address=None) as cluster,
            Client(cluster) as client,
        ):
            workers = [psutil.Process(pid) for pid in client.run(os.getpid).values()]
            me = psutil.Process()
            before = [process_cpu(worker) for worker in workers], process_cpu(me), children_cpu()
            started = time.perf_counter()
            cluster_fill = [*fill, "--out-dir", str(work / "cluster"), "--cluster", cluster.scheduler_address]
            subprocess.run(cluster_fill, check=True, capture_output=True)
            seconds = time.perf_counter() - started
            worker_cpu = sum(process_cpu(worker) for worker in workers) - sum(before[0])
            print(
                f"--cluster: {seconds:.2f} s, workers {worker_cpu:.1f} CPU s, this process (scheduler, client) "
                f"{process_cpu(me) - before[1]:.1f} CPU s, command {children_cpu() - before[2]:.1f} CPU s"
            )
    finally:
        shutil.rmtree(work)


if __name__ == "__main__":
    main()
