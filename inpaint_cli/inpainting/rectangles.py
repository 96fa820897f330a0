"""Rectangles of pixels (Rect), squares of pixels (Box: a `--box x,y,size`, a square of a hole, a window), and
parsing a `--box`.

Light to import (no numpy), so that reading a command line does not wait for numpy: the first
photo starts decoding first. Holes are drawn in masking.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

from inpaint_cli.errors import UsageError


class Rect(NamedTuple):
    """A rectangle of pixels: left, top, right, bottom, with exclusive ends (the order Pillow's crop takes)."""

    left: int
    top: int
    right: int
    bottom: int

    @property
    def width(self) -> int:
        """Its width in pixels."""
        return self.right - self.left

    @property
    def height(self) -> int:
        """Its height in pixels."""
        return self.bottom - self.top

    @property
    def slices(self) -> tuple[slice, slice]:
        """Row and column slices of the rectangle, for indexing an HxW array."""
        return slice(self.top, self.bottom), slice(self.left, self.right)

    def grown(self, reach: int, height: int, width: int) -> Rect:
        """The rectangle grown by reach px on every side, clipped to a height x width photo."""
        left, top = max(0, self.left - reach), max(0, self.top - reach)
        return Rect(left, top, min(width, self.right + reach), min(height, self.bottom + reach))

    def moved(self, dx: int, dy: int) -> Rect:
        """The rectangle moved by dx px right and dy px down (negative: left, up)."""
        return Rect(self.left + dx, self.top + dy, self.right + dx, self.bottom + dy)

    def shared_area(self, other: Rect) -> int:
        """The area (px) this rectangle and other share."""
        width = min(self.right, other.right) - max(self.left, other.left)
        height = min(self.bottom, other.bottom) - max(self.top, other.top)
        return max(width, 0) * max(height, 0)


@dataclass(frozen=True)
class Box:
    """A square of pixels: top-left corner (x, y) and side length; a `--box`, a square of a hole, a window."""

    x: int
    y: int
    size: int

    def __str__(self) -> str:
        return f"{self.x},{self.y},{self.size}"

    @property
    def rect(self) -> Rect:
        """The square as a Rect."""
        return Rect(self.x, self.y, self.x + self.size, self.y + self.size)

    @property
    def slices(self) -> tuple[slice, slice]:
        """Row and column slices of the square, for indexing an HxW array."""
        return self.rect.slices

    def fits_in(self, width: int, height: int) -> bool:
        """True when the whole square lies inside a width x height image."""
        return self.x + self.size <= width and self.y + self.size <= height


def parse_box(text: str) -> Box:
    """Parse 'x,y,size' (non-negative integers, size >= 1) into a Box."""
    parts = [part.strip() for part in text.split(",")]
    whole = [_ascii_digits(part.removeprefix("-")) for part in parts]
    if len(parts) == 3 and all(whole) and any(part.startswith("-") for part in parts):
        raise UsageError(f"box {text!r} has a negative number; x, y and size are pixels from the top-left corner")
    if len(parts) != 3 or not all(_ascii_digits(part) for part in parts):
        raise UsageError(f"box {text!r} is not x,y,size (three whole numbers, e.g. 120,80,48)")
    x, y, size = (int(part) for part in parts)
    if size < 1:
        raise UsageError(f"box {text!r} has size 0; the side must be at least 1 pixel")
    return Box(x, y, size)


def _ascii_digits(text: str) -> bool:
    """True for 0-9 only: str.isdigit also takes full-width and superscript digits, which int() reads or refuses."""
    return text.isascii() and text.isdigit()
