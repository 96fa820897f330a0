"""Runs one function over many items in worker processes of this machine, results in the items' order.

Why not multiprocessing.Pool or ProcessPoolExecutor: both hang or break every pending item when a
worker dies, and stop their workers with a bare SIGTERM that leaves an atomic write's temporary
file behind. Here each worker sets itself up once (a fill loads its model once), ignores Ctrl-C
(a terminal sends it to every process of the group; the parent decides), and turns SIGTERM into
SystemExit, so a file being written is removed before it exits. The parent stops its workers that
way when it is interrupted, and a worker that dies fails only the item it was working on.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from multiprocessing import connection
from types import FrameType
from typing import Any

from inpaint_cli.errors import InpaintError
from inpaint_cli.files import atomic_files
from inpaint_cli.interrupts import TERMINATED_STATUS

STOP_SECONDS = 30  # how long a stopped worker may take to remove its file and exit before it is killed
_SETUP_FAILED, _DONE = "setup failed", "done"


@dataclass(frozen=True)
class WorkerTask:
    """What every worker runs: setup(*setup_args) once, then work(state, item) per item; all picklable by name."""

    setup: Callable[..., Any]
    setup_args: tuple[Any, ...]
    work: Callable[[Any, Any], Any]


def cpu_count() -> int:
    """The cores this process may run on (a container's or taskset's share, not the machine's)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        return os.cpu_count() or 1


def ordered_map(task: WorkerTask, items: Iterable[Any], processes: int) -> Iterator[Any]:
    """Yield work(state, item) for each item, in order, computed by that many worker processes.

    An item whose work raised an InpaintError yields the error; other exceptions are raised here, and so
    is an error of setup, before any item yields. A worker that dies fails its item with an InpaintError
    and another takes its place. Interrupting (Ctrl-C, SIGTERM) or closing the iterator stops every
    worker and waits until each has removed what it was writing.
    """
    items = list(items)
    context = multiprocessing.get_context("spawn")  # no fork of a process with threads; the same on every OS
    workers: list[_Worker] = []
    try:
        workers.extend(_Worker(context, task) for _ in range(min(processes, len(items))))
        yield from _in_order(_results(items, workers, lambda: _Worker(context, task)))
    finally:
        _stop(workers)


class _Worker:
    """One worker process and the pipe to it; it is sent one item at a time, so one pipe holds no more."""

    def __init__(self, context: multiprocessing.context.SpawnContext, task: WorkerTask) -> None:
        self.connection, child_end = context.Pipe()
        with _ctrl_c_ignored():  # the worker inherits it, so Ctrl-C cannot hit it while it imports
            self.process = context.Process(target=_serve, args=(task, child_end), daemon=True)
            self.process.start()
        child_end.close()
        self.index: int | None = None  # the item it works on

    def give(self, index: int, item: Any) -> None:
        """Send the item; a worker that died meanwhile shows as the pipe's end when next waited on."""
        self.index = index
        try:
            self.connection.send((index, item))
        except OSError:  # BrokenPipeError: _results then finds the pipe closed and fails this item
            pass


def _results(items: list[Any], workers: list[_Worker], new_worker: Callable[[], _Worker]) -> Iterator[tuple[int, Any]]:
    """(index, result) of every item as workers finish them; workers is kept up to date for stopping."""
    waiting = list(enumerate(items))[::-1]
    for worker in workers:
        worker.give(*waiting.pop())
    while any(worker.index is not None for worker in workers):
        ready = connection.wait([worker.connection for worker in workers if worker.index is not None])
        for worker in [worker for worker in workers if worker.connection in ready]:
            index = worker.index
            try:
                kind, value = worker.connection.recv()
            except (EOFError, OSError):  # it died: its item fails, another worker takes its place
                worker.process.join()
                workers.remove(worker)
                yield (
                    index,
                    InpaintError(
                        f"the worker process filling it died (exit status {worker.process.exitcode}); "
                        "run again with --skip-existing to retry it"
                    ),
                )
                if waiting:
                    workers.append(new_worker())
                    workers[-1].give(*waiting.pop())
                continue
            if kind == _SETUP_FAILED:
                raise value
            worker.index = None
            if waiting:
                worker.give(*waiting.pop())
            if isinstance(value, Exception) and not isinstance(value, InpaintError):
                raise value
            yield index, value


def _in_order(results: Iterator[tuple[int, Any]]) -> Iterator[Any]:
    """The values of (index, value) pairs arriving in any order, yielded in the order of their indices."""
    early: dict[int, Any] = {}
    next_index = 0
    for index, value in results:
        early[index] = value
        while next_index in early:
            yield early.pop(next_index)
            next_index += 1


def _stop(workers: Iterable[_Worker]) -> None:
    """SIGTERM every worker still running, then wait: each removes the file it was writing and exits."""
    workers = list(workers)
    for worker in workers:
        worker.connection.close()
        if worker.process.exitcode is None:
            worker.process.terminate()
    for worker in workers:
        worker.process.join(STOP_SECONDS)
        if worker.process.exitcode is None:
            worker.process.kill()
            worker.process.join()


@contextmanager
def _ctrl_c_ignored() -> Iterator[None]:
    """Ignore SIGINT while the body runs; processes started meanwhile keep ignoring it."""
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def _exit_on_sigterm(signal_number: int, frame: FrameType | None) -> None:
    raise SystemExit(TERMINATED_STATUS)


def _serve(task: WorkerTask, parent: connection.Connection) -> None:
    """A worker's life: set up, then work on each item the parent sends until it closes the pipe."""
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    try:
        try:
            state = task.setup(*task.setup_args)
        except Exception as error:
            parent.send((_SETUP_FAILED, error))
            return
        while True:
            try:
                index, item = parent.recv()
            except EOFError:  # the parent is done, or gone
                return
            try:
                value = task.work(state, item)
            except Exception as error:  # sent back whole: the parent reports or raises it
                value = error
            parent.send((_DONE, value))
    except SystemExit:  # stopped by the parent: remove what is being written (if the signal beat its `finally`)
        atomic_files.remove_unfinished()
        os._exit(TERMINATED_STATUS)
