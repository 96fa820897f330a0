"""The watchdog of a multi-worker start, run as cluster.py runs it: `python -m inpaint_cli.training.watchdog`."""

import socket
import subprocess
import sys

from inpaint_cli.training import cluster


def closed_port() -> int:
    """A port of 127.0.0.1 that nothing listens on (bound, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_watchdog(parent: int, timeout: float, *others: str) -> subprocess.Popen:
    command = [
        sys.executable,
        "-m",
        "inpaint_cli.training.watchdog",
        str(parent),
        str(timeout),
        "INPAINT_WORKER_TIMEOUT",
    ]
    return subprocess.Popen(
        [*command, *others],
        stdin=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=cluster._watchdog_environment(),
        cwd="/",  # the package is found through PYTHONPATH, not the working folder
    )


def test_the_watchdog_kills_a_worker_whose_cluster_does_not_form_and_names_the_missing_worker() -> None:
    worker = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    address = f"127.0.0.1:{closed_port()}"
    watchdog = start_watchdog(worker.pid, 0.5, address)
    try:
        assert worker.wait(timeout=30) == -9
        assert watchdog.wait(timeout=30) == 0
        assert watchdog.stderr.read().splitlines() == [
            f"Error: cannot reach the worker at {address} within 0.5 s (TF_CONFIG); "
            "start every worker of the cluster, or give them longer with INPAINT_WORKER_TIMEOUT"
        ]
    finally:
        worker.kill()
        watchdog.kill()


def test_the_watchdog_leaves_a_worker_alone_once_it_closes_stdin() -> None:
    worker = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    watchdog = start_watchdog(worker.pid, 30, f"127.0.0.1:{closed_port()}")
    try:
        watchdog.stdin.close()  # the cluster formed
        assert watchdog.wait(timeout=30) == 0
        assert watchdog.stderr.read() == ""
        assert worker.poll() is None
    finally:
        worker.kill()
        watchdog.kill()
