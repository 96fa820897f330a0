"""SIGTERM raised as an exception, like Ctrl-C, so the cleanup that Ctrl-C runs runs for it too; and both held back
while a few steps must finish together (held_back).

`kill`, `timeout`, systemd and container runtimes stop a process with SIGTERM, whose default
ends it on the spot: an atomic write's temporary file would stay behind. Raised as Terminated
(a KeyboardInterrupt), it unwinds through every `except BaseException` / `finally` that removes one.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

TERMINATED_STATUS = 128 + signal.SIGTERM  # 143, what a shell reports for a process ended by SIGTERM
INTERRUPTED_STATUS = 128 + signal.SIGINT  # 130, likewise for Ctrl-C


class Terminated(KeyboardInterrupt):
    """SIGTERM arrived: stop as for Ctrl-C, with exit status 143."""


def how_stopped(stop: KeyboardInterrupt | None) -> tuple[str, int]:
    """The word and exit status for a stop: ("terminated", 143) for SIGTERM, ("interrupted", 130) for Ctrl-C."""
    return ("terminated", TERMINATED_STATUS) if isinstance(stop, Terminated) else ("interrupted", INTERRUPTED_STATUS)


def _raise_terminated(signal_number: int, frame: FrameType | None) -> None:
    raise Terminated


def raise_on_sigterm() -> None:
    """From now on SIGTERM raises Terminated in the main thread (only there can a handler be set)."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _raise_terminated)


@contextmanager
def held_back() -> Iterator[None]:
    """Hold Ctrl-C and SIGTERM back while the body runs, then deliver the first: for steps that must end together.

    In the main thread by Python-level handlers, not a signal mask: a mask set in one thread does not stop the
    process's other threads (TensorFlow's, OpenCV's) from taking the signal, whose flag Python then raises here.
    Elsewhere (no handler can be set) by this thread's mask, where the platform has one.
    """
    numbers = (signal.SIGINT, signal.SIGTERM)
    if threading.current_thread() is not threading.main_thread():
        held = signal.pthread_sigmask(signal.SIG_BLOCK, numbers) if hasattr(signal, "pthread_sigmask") else None
        try:
            yield
        finally:
            if held is not None:
                signal.pthread_sigmask(signal.SIG_SETMASK, held)
        return
    caught: list[int] = []
    previous: dict[int, object] = {}
    try:
        for number in numbers:  # one at a time: a signal between two installs finds the first restored below
            previous[number] = signal.signal(number, lambda received, frame: caught.append(received))
        yield
    finally:
        _restore(previous)
        if caught:
            signal.raise_signal(signal.SIGTERM if signal.SIGTERM in caught else caught[0])  # SIGTERM wins: exit 143


def _restore(handlers: dict[int, object]) -> None:
    """Put every handler back, even when a signal arriving meanwhile raises out of one of the calls."""
    if not handlers:
        return
    number, handler = next(iter(handlers.items()))
    try:
        signal.signal(number, handler if handler is not None else signal.SIG_DFL)
    finally:
        _restore({key: value for key, value in handlers.items() if key != number})
