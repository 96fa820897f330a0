"""Files of dataset and model folders, through tf.io.gfile: local paths or any file system TensorFlow has.

A path is a string: a local path, or a URL such as gs://bucket/folder (where
TensorFlow has that file system) or ram://folder. Local photo outputs of `fill`
do not come here (atomic_files.write_atomically), so filling never imports TensorFlow.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from inpaint_cli.errors import InpaintError, UsageError
from inpaint_cli.files import atomic_files

StoragePath = str | os.PathLike


def as_text(path: StoragePath) -> str:
    """The path as a string (pathlib would fold gs://bucket into gs:/bucket, so it stays a string)."""
    return os.fspath(path)


def is_local(path: StoragePath) -> bool:
    """True for a plain path of this machine; False for a URL (gs://, ram://, file://, ...)."""
    return "://" not in as_text(path)


def join(folder: StoragePath, *names: str) -> str:
    """folder/name/..., for local paths and URLs alike."""
    from inpaint_cli.backend import tf

    return tf.io.gfile.join(as_text(folder), *names)


def exists(path: StoragePath) -> bool:
    from inpaint_cli.backend import tf

    return _guarded(path, "read", lambda: tf.io.gfile.exists(as_text(path)))


def is_dir(path: StoragePath) -> bool:
    from inpaint_cli.backend import tf

    return _guarded(path, "read", lambda: tf.io.gfile.isdir(as_text(path)))


def makedirs(path: StoragePath) -> None:
    """Create the folder and its parents; nothing happens when it exists."""
    from inpaint_cli.backend import tf

    if exists(path) and not is_dir(path):
        raise UsageError(f"{as_text(path)} is a file, not a folder")
    _guarded(path, "create", lambda: tf.io.gfile.makedirs(as_text(path)))


def glob(pattern: StoragePath) -> list[str]:
    """Paths that match a pattern such as folder/*.tfrecord, sorted."""
    from inpaint_cli.backend import tf

    return sorted(_guarded(pattern, "list", lambda: tf.io.gfile.glob(as_text(pattern))))


def read_bytes(path: StoragePath) -> bytes:
    from inpaint_cli.backend import tf

    def read() -> bytes:
        with tf.io.gfile.GFile(as_text(path), "rb") as handle:
            return handle.read()

    return _guarded(path, "read", read)


def read_text(path: StoragePath) -> str:
    return read_bytes(path).decode("utf-8")


def remove(path: StoragePath) -> None:
    """Delete a file, or a folder with all it holds; nothing happens when it is absent."""
    from inpaint_cli.backend import tf

    text = as_text(path)
    if not exists(text):
        return
    _guarded(text, "delete", lambda: tf.io.gfile.rmtree(text) if is_dir(text) else tf.io.gfile.remove(text))


def write_text(path: StoragePath, text: str) -> None:
    """Replace path with text (UTF-8) atomically."""
    write_atomically(path, lambda temporary: temporary.write_text(text, encoding="utf-8"))


def write_atomically(path: StoragePath, write: Callable[[Path], None]) -> None:
    """Call write(local_temporary_path) then move it onto path, so path is never half-written.

    Local paths: atomic_files.write_atomically. Other file systems get the temporary file
    copied beside the target, then renamed onto it: an atomic replace where the file
    system's rename is (gs:// writes each object whole).
    """
    from inpaint_cli.backend import tf

    target = as_text(path)
    if is_local(target):
        atomic_files.write_atomically(Path(target), write)
        return
    folder = target.rsplit("/", 1)[0]
    if not is_dir(folder):
        raise UsageError(f"folder {folder} does not exist")

    def copy_beside_and_rename(temporary: Path) -> None:
        staged = f"{folder}/{temporary.name}"
        try:
            tf.io.gfile.copy(str(temporary), staged, overwrite=True)
            tf.io.gfile.rename(staged, target, overwrite=True)
        except BaseException:
            _discard(staged)
            raise

    errors = (OSError, tf.errors.OpError)
    atomic_files.write_through_temporary(target, None, write, copy_beside_and_rename, errors)


@contextmanager
def local_copy(path: StoragePath) -> Iterator[Path]:
    """A local file path holding path's bytes: path itself when local, else a temporary copy."""
    from inpaint_cli.backend import tf

    if is_local(path):
        yield Path(as_text(path))
        return
    folder = tempfile.mkdtemp(prefix="inpaint-")
    try:
        local = Path(folder) / as_text(path).rsplit("/", 1)[-1]
        _guarded(path, "read", lambda: tf.io.gfile.copy(as_text(path), str(local), overwrite=True))
        yield local
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _discard(*paths: str) -> None:
    from inpaint_cli.backend import tf

    for path in paths:
        try:
            if tf.io.gfile.exists(path):
                tf.io.gfile.remove(path)
        except tf.errors.OpError:
            pass  # best effort: the error being reported matters more


def _guarded(path: StoragePath, verb: str, action: Callable[[], object]) -> object:
    """Run a gfile action; its errors (no such file system, permission, network) become one InpaintError."""
    from inpaint_cli.backend import tf

    try:
        return action()
    except tf.errors.OpError as error:
        raise InpaintError(f"could not {verb} {as_text(path)} ({error.message.strip().splitlines()[0]})") from None
