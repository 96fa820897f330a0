"""Exceptions whose messages are written for the user; the CLI prints them as one line."""

import errno


class InpaintError(Exception):
    """A failure while running (exit status 1)."""

    exit_code = 1


class UsageError(InpaintError):
    """A bad argument on the command line (exit status 2)."""

    exit_code = 2


class OutputExists(UsageError):
    """An output is there already: replacing or keeping it is for the caller to ask (the CLI says how).

    keepable: the run could also leave it as it is and go on (a folder fill), not only replace it.
    """

    def __init__(self, message: str, keepable: bool = False) -> None:
        super().__init__(message)
        self.keepable = keepable


class TooManyPixels(InpaintError):
    """A photo over the pixel limit; pixels is what the limit must be raised to (the CLI says how)."""

    def __init__(self, message: str, pixels: int | None = None) -> None:
        super().__init__(message)
        self.pixels = pixels


class DiskFull(InpaintError):
    """A write failed for want of space (ENOSPC, or a quota): the next photo's would fail too, so a run stops."""


def is_disk_full(error: BaseException) -> bool:
    """Whether an OS error says the disk (or the user's quota) is full."""
    return getattr(error, "errno", None) in (errno.ENOSPC, errno.EDQUOT)


def write_error(message: str, error: BaseException) -> InpaintError:
    """The InpaintError for a failed write: DiskFull when the disk (or a quota) is full."""
    return DiskFull(message) if is_disk_full(error) else InpaintError(message)
