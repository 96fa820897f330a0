"""Exceptions whose messages are written for the user; the CLI prints them as one line."""


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
