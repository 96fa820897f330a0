"""SIGTERM raised as an exception, like Ctrl-C, so the cleanup that Ctrl-C runs runs for it too.

`kill`, `timeout`, systemd and container runtimes stop a process with SIGTERM, whose default
ends it on the spot: an atomic write's temporary file would stay behind. Raised as Terminated
(a KeyboardInterrupt), it unwinds through every `except BaseException` / `finally` that removes one.
"""

from __future__ import annotations

import signal
import threading
from types import FrameType

TERMINATED_STATUS = 128 + signal.SIGTERM  # 143, what a shell reports for a process ended by SIGTERM


class Terminated(KeyboardInterrupt):
    """SIGTERM arrived: stop as for Ctrl-C, with exit status 143."""


def _raise_terminated(signal_number: int, frame: FrameType | None) -> None:
    raise Terminated


def raise_on_sigterm() -> None:
    """From now on SIGTERM raises Terminated in the main thread (only there can a handler be set)."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _raise_terminated)
