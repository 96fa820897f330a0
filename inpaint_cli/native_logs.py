"""Keeping C++ libraries' log lines (TensorFlow, LiteRT) off the user's terminal."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def silenced() -> Iterator[None]:
    """Point file descriptor 2 at /dev/null for the block.

    TensorFlow and LiteRT log from C++ straight to fd 2, below Python's sys.stderr,
    so only a redirect of the descriptor hides them.
    """
    saved_stderr = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    try:
        yield
    finally:
        os.dup2(saved_stderr, 2)
        os.close(saved_stderr)
        os.close(devnull)
