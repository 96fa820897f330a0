"""Exceptions whose messages are written for the user; the CLI prints them as one line."""


class InpaintError(Exception):
    """A failure while running (exit status 1)."""

    exit_code = 1


class UsageError(InpaintError):
    """A bad argument on the command line (exit status 2)."""

    exit_code = 2
