"""The one atomic write: a file is written whole under a temporary name, then renamed onto its target.

So a target is never half-written, whatever stops the process. Local paths here; storage.py
puts the same temporary file onto tf.io.gfile URLs. Light: no numpy, no TensorFlow.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path

from inpaint_cli import interrupts
from inpaint_cli.errors import InpaintError, UsageError, write_error

# Temporary files are named TEMPORARY_PREFIX + XXXXXXXX-<target's name>: Keras wants the `.weights.h5` and
# `.keras` endings, Pillow the photo's suffix. One that a kill -9 left behind is safe to delete.
TEMPORARY_PREFIX = ".tmp-"
# The temporary files this process is writing now. A process stopped by a signal whose handler exits at once
# (a fill worker on SIGTERM) removes them first: the signal may come between a file's creation and the `try`
# that would remove it.
_WRITING: set[Path] = set()


def write_atomically(
    path: Path, write: Callable[[Path], None], before_rename: Callable[[], Path] | None = None
) -> None:
    """Call write(temporary_path) then rename it onto path (atomic on POSIX), so path is never half-written.

    before_rename, when given, runs between the two and returns the file it wrote (atomically): when it fails, path
    is not written either. Only if this rename then fails is that file left alone; the error names it.
    """
    folder = path.parent
    if not folder.is_dir():
        raise UsageError(f"folder {folder} does not exist")

    def move(temporary: Path) -> None:
        if before_rename is None:
            os.replace(temporary, path)
            return
        written = before_rename()
        try:
            os.replace(temporary, path)
        except OSError as error:
            raise InpaintError(f"could not write {path} ({error.strerror or error}); {written} was written") from None

    write_through_temporary(str(path), folder, write, move)


def write_through_temporary(
    target: str,
    folder: Path | None,
    write: Callable[[Path], None],
    move: Callable[[Path], None],
    errors: tuple[type[Exception], ...] = (OSError,),
) -> None:
    """write(temporary) on a new temporary file in folder (None: the system's), then move(temporary) onto target.

    The temporary file is gone afterwards, whatever happens; errors of those types become one
    InpaintError line naming target. move undoes its own half-done steps when it fails.
    """
    temporary: Path | None = None
    try:
        with interrupts.held_back():  # created and registered at once, or not at all
            temporary = _new_temporary(folder, target.rsplit("/", 1)[-1])
            _WRITING.add(temporary)
        write(temporary)  # a Ctrl-C held back above arrives here at the latest: the finally removes the file
        move(temporary)
    except errors as error:
        reason = getattr(error, "message", None) or getattr(error, "strerror", None) or str(error)
        raise write_error(f"could not write {target} ({reason}); nothing was written", error) from None
    finally:
        if temporary is not None:
            temporary.unlink(missing_ok=True)
            _WRITING.discard(temporary)


def remove_unfinished() -> None:
    """Remove the temporary files this process is still writing (for a process about to exit at once)."""
    for temporary in list(_WRITING):
        temporary.unlink(missing_ok=True)
        _WRITING.discard(temporary)


def _new_temporary(folder: Path | None, name: str) -> Path:
    """A new empty file TEMPORARY_PREFIX + XXXXXXXX-name in folder, with the permissions a new file usually gets."""
    try:
        handle, temporary = tempfile.mkstemp(prefix=TEMPORARY_PREFIX, suffix=f"-{name}", dir=folder)
    except OSError as error:
        message = f"cannot write in {folder or tempfile.gettempdir()} ({error.strerror or error})"
        raise write_error(message, error) from None
    os.close(handle)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(temporary, 0o666 & ~umask)  # mkstemp makes 0600; give the usual permissions
    return Path(temporary)
