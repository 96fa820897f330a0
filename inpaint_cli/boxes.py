"""The square hole a `--box x,y,size` describes, and its parsing.

Light to import (no numpy), so that reading a command line does not wait for numpy: the first
photo starts decoding first. Holes are drawn in masking.py.
"""

from __future__ import annotations

from dataclasses import dataclass

from inpaint_cli.errors import UsageError


@dataclass(frozen=True)
class Box:
    """A square hole: top-left corner (x, y) and side length, in pixels."""

    x: int
    y: int
    size: int

    def __str__(self) -> str:
        return f"{self.x},{self.y},{self.size}"

    @property
    def slices(self) -> tuple[slice, slice]:
        """Row and column slices of the square, for indexing an HxW array."""
        return slice(self.y, self.y + self.size), slice(self.x, self.x + self.size)

    @property
    def corners(self) -> tuple[int, int, int, int]:
        """(left, top, right, bottom) with exclusive ends, as Pillow's crop takes them."""
        return self.x, self.y, self.x + self.size, self.y + self.size

    def fits_in(self, width: int, height: int) -> bool:
        """True when the whole square lies inside a width x height image."""
        return self.x + self.size <= width and self.y + self.size <= height


def parse_box(text: str) -> Box:
    """Parse 'x,y,size' (non-negative integers, size >= 1) into a Box."""
    parts = [part.strip() for part in text.split(",")]
    whole = [part.removeprefix("-").isdigit() for part in parts]
    if len(parts) == 3 and all(whole) and any(part.startswith("-") for part in parts):
        raise UsageError(f"box {text!r} has a negative number; x, y and size are pixels from the top-left corner")
    if len(parts) != 3 or not all(part.isdigit() for part in parts):
        raise UsageError(f"box {text!r} is not x,y,size (three whole numbers, e.g. 120,80,48)")
    x, y, size = (int(part) for part in parts)
    if size < 1:
        raise UsageError(f"box {text!r} has size 0; the side must be at least 1 pixel")
    return Box(x, y, size)
