"""Ends a worker of --strategy multi-worker that waits too long for its cluster to form.

Run by cluster.py as `python -m inpaint_cli.training.watchdog PARENT_PID TIMEOUT VARIABLE ADDRESS...`, in a
process of its own: while TensorFlow waits for the cluster it holds Python's lock in native code,
where no thread, signal handler or exception of the worker runs. When the worker closes the
watchdog's stdin (the cluster formed, or the worker ended) it exits; after TIMEOUT seconds it names
the workers it cannot connect to and kills the worker (SIGKILL). Standard library only: it starts fast.
"""

from __future__ import annotations

import os
import select
import signal
import socket
import sys


def reachable(address: str) -> bool:
    """Whether a TCP connection to host:port (an IPv6 host in brackets) opens within 2 s."""
    host, _, port = address.rpartition(":")
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=2):
            return True
    except (OSError, ValueError):
        return False


def watch(parent: int, timeout: float, variable: str, others: list[str]) -> None:
    """Wait up to timeout seconds for stdin to close; then say which of others cannot be reached, and kill parent."""
    if select.select([sys.stdin], [], [], timeout)[0]:
        return  # the cluster formed, or the worker ended: nothing to do
    missing = [address for address in others if not reachable(address)] or others
    plural = "s" if len(missing) > 1 else ""
    sys.stderr.write(
        f"Error: cannot reach the worker{plural} at {', '.join(missing)} within {timeout:g} s (TF_CONFIG); "
        f"start every worker of the cluster, or give them longer with {variable}\n"
    )
    sys.stderr.flush()
    os.kill(parent, signal.SIGKILL)


def main(arguments: list[str]) -> None:
    """PARENT_PID TIMEOUT VARIABLE ADDRESS...: VARIABLE is the environment variable that gives more time."""
    watch(int(arguments[0]), float(arguments[1]), arguments[2], arguments[3:])


if __name__ == "__main__":
    main(sys.argv[1:])
