"""Files of dataset and model folders: local paths, or URLs of any file system TensorFlow has (tf.io.gfile).

A path is a string: a local path, or a URL such as gs://bucket/folder (where
TensorFlow has that file system) or ram://folder. Local paths go through Python's own
file functions, so training on Keras's JAX backend, without TensorFlow, reads and writes
them too (scripts/train_from_photos.py). Local photo outputs of `fill`
do not come here (atomic_files.write_atomically), so filling never imports TensorFlow.
"""

from __future__ import annotations

import fnmatch
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

from inpaint_cli.errors import DiskFull, InpaintError, UsageError
from inpaint_cli.files import atomic_files

StoragePath = str | os.PathLike
T = TypeVar("T")


def as_text(path: StoragePath) -> str:
    """The path as a string (pathlib would fold gs://bucket into gs:/bucket, so it stays a string)."""
    return os.fspath(path)


def is_local(path: StoragePath) -> bool:
    """True for a plain path of this machine; False for a URL (gs://, ram://, file://, ...)."""
    return "://" not in as_text(path)


def same_place(first: StoragePath, second: StoragePath) -> bool:
    """True when two paths name one folder or file: resolved where local, as written (less a final /) for URLs."""
    if is_local(first) and is_local(second):
        return Path(as_text(first)).resolve() == Path(as_text(second)).resolve()
    return as_text(first).rstrip("/") == as_text(second).rstrip("/")


def join(folder: StoragePath, *names: str) -> str:
    """folder/name/..., for local paths and URLs alike."""
    if is_local(folder):
        return os.path.join(as_text(folder), *names)
    return _gfile(folder).join(as_text(folder), *names)


def exists(path: StoragePath) -> bool:
    if is_local(path):
        return os.path.exists(as_text(path))
    return _guarded(path, "read", lambda: _gfile(path).exists(as_text(path)))


def is_dir(path: StoragePath) -> bool:
    if is_local(path):
        return os.path.isdir(as_text(path))
    return _guarded(path, "read", lambda: _gfile(path).isdir(as_text(path)))


def makedirs(path: StoragePath) -> None:
    """Create the folder and its parents; nothing happens when it exists."""
    if exists(path) and not is_dir(path):
        raise UsageError(f"{as_text(path)} is a file, not a folder")
    if is_local(path):
        _local(path, "create", lambda: os.makedirs(as_text(path), exist_ok=True))
        return
    _guarded(path, "create", lambda: _gfile(path).makedirs(as_text(path)))


def glob(pattern: StoragePath) -> list[str]:
    """Paths that match a pattern such as folder/*.tfrecord (wildcards in the last name only), sorted.

    As tf.io.gfile.glob, a wildcard matches names that start with a dot too (a stale .tmp-* file).
    """
    if not is_local(pattern):
        return sorted(_guarded(pattern, "list", lambda: _gfile(pattern).glob(as_text(pattern))))
    folder, name = os.path.split(as_text(pattern))
    if not os.path.isdir(folder or "."):
        return []
    names = _local(pattern, "list", lambda: os.listdir(folder or "."))
    return sorted(os.path.join(folder, found) for found in names if fnmatch.fnmatchcase(found, name))


def read_bytes(path: StoragePath) -> bytes:
    if is_local(path):
        return _local(path, "read", lambda: Path(as_text(path)).read_bytes())

    def read() -> bytes:
        with _gfile(path).GFile(as_text(path), "rb") as handle:
            return handle.read()

    return _guarded(path, "read", read)


def read_text(path: StoragePath) -> str:
    return read_bytes(path).decode("utf-8")


def remove(path: StoragePath) -> None:
    """Delete a file, or a folder with all it holds; nothing happens when it is absent."""
    text = as_text(path)
    if not exists(text):
        return
    if is_local(text):
        _local(text, "delete", lambda: shutil.rmtree(text) if is_dir(text) else os.remove(text))
        return
    gfile = _gfile(text)
    _guarded(text, "delete", lambda: gfile.rmtree(text) if is_dir(text) else gfile.remove(text))


def rename(source: StoragePath, target: StoragePath) -> None:
    """Move the file source onto target, replacing it: atomic where the file system's rename is (a local one)."""
    if is_local(source):
        _local(target, "write", lambda: os.replace(as_text(source), as_text(target)))
        return
    _guarded(target, "write", lambda: _gfile(source).rename(as_text(source), as_text(target), overwrite=True))


def write_text(path: StoragePath, text: str) -> None:
    """Replace path with text (UTF-8) atomically."""
    write_atomically(path, lambda temporary: temporary.write_text(text, encoding="utf-8"))


def write_atomically(path: StoragePath, write: Callable[[Path], None]) -> None:
    """Call write(local_temporary_path) then move it onto path, so path is never half-written.

    Local paths: atomic_files.write_atomically. Other file systems get the temporary file
    copied beside the target, then renamed onto it: an atomic replace where the file
    system's rename is (gs:// writes each object whole).
    """
    target = as_text(path)
    if is_local(target):
        atomic_files.write_atomically(Path(target), write)
        return
    gfile = _gfile(target)
    folder = target.rsplit("/", 1)[0]
    if not is_dir(folder):
        raise UsageError(f"folder {folder} does not exist")

    def copy_beside_and_rename(temporary: Path) -> None:
        staged = f"{folder}/{temporary.name}"
        try:
            gfile.copy(str(temporary), staged, overwrite=True)
            gfile.rename(staged, target, overwrite=True)
        except BaseException:
            _discard(staged)
            raise

    from inpaint_cli.backend import tf

    errors = (OSError, tf.errors.OpError)
    atomic_files.write_through_temporary(target, None, write, copy_beside_and_rename, errors)


@contextmanager
def local_copy(path: StoragePath) -> Iterator[Path]:
    """A local file path holding path's bytes: path itself when local, else a temporary copy."""
    if is_local(path):
        yield Path(as_text(path))
        return
    gfile = _gfile(path)
    folder = tempfile.mkdtemp(prefix="inpaint-")
    try:
        local = Path(folder) / as_text(path).rsplit("/", 1)[-1]
        _guarded(path, "read", lambda: gfile.copy(as_text(path), str(local), overwrite=True))
        yield local
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def check_free_space(path: StoragePath, needed: int) -> None:
    """Refuse, before writing, a file of about needed bytes at path that the disk cannot hold.

    For the writers that cannot fail cleanly: HDF5 (Keras's .weights.h5) meeting a full disk printed
    pages of tracebacks and ended the process with a segmentation fault. A URL's file is first
    written in the system's temporary folder, so that is the disk checked for it.
    """
    folder = Path(as_text(path)).parent if is_local(path) else Path(tempfile.gettempdir())
    try:
        free = shutil.disk_usage(folder).free
    except OSError:  # no such folder yet, or no statvfs: the write itself will say
        return
    if free < needed:
        raise DiskFull(
            f"not enough disk space to write {as_text(path)}: it needs about {needed / 1e6:.0f} MB and "
            f"{free / 1e6:.0f} MB are free in {folder}; free some and run the same command to resume"
        )


def guarded_write(path: StoragePath, action: Callable[[], T]) -> T:
    """Run an action that writes path through TensorFlow (a TFRecord writer's write or close); its errors (a full
    disk, a lost connection) become one InpaintError naming path."""
    return _guarded(path, "write", action)


def _discard(*paths: str) -> None:
    from inpaint_cli.backend import tf

    for path in paths:
        try:
            if tf.io.gfile.exists(path):
                tf.io.gfile.remove(path)
        except tf.errors.OpError:
            pass  # best effort: the error being reported matters more


def _gfile(path: StoragePath):
    """tf.io.gfile, for a URL; one line when TensorFlow is not there (Keras on JAX reads local paths only)."""
    from inpaint_cli.backend import tf

    if tf is None:
        raise UsageError(f"{as_text(path)} is a URL: URLs are read through TensorFlow, which this run does not use")
    return tf.io.gfile


def _local(path: StoragePath, verb: str, action: Callable[[], object]) -> object:
    """Run a local file action; an OSError becomes one InpaintError, as _guarded's for URLs."""
    try:
        return action()
    except OSError as error:
        raise InpaintError(f"could not {verb} {as_text(path)} ({error.strerror or error})") from None


def _guarded(path: StoragePath, verb: str, action: Callable[[], object]) -> object:
    """Run a gfile action; its errors (no such file system, permission, network) become one InpaintError."""
    from inpaint_cli.backend import tf

    gfile_errors = tf.errors.OpError if tf is not None else ()  # without TensorFlow, _gfile has said why
    try:
        return action()
    except gfile_errors as error:
        reason = error.message.strip().splitlines()[0].removeprefix(f"{as_text(path)}; ")  # the path once is enough
        raise InpaintError(f"could not {verb} {as_text(path)} ({reason})") from None
