"""Encoded PNG and TIFF files edited as bytes: the metadata that OpenCV's encoders leave out, added afterwards.

OpenCV writes 16-bit colour, which Pillow cannot hold, but not Pillow's metadata; images.py adds it here.
And the one 16-bit kind that neither writes, a gray+alpha PNG, is encoded here.
"""

from __future__ import annotations

import zlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
TIFF_BYTE, TIFF_SHORT, TIFF_UNDEFINED = 1, 3, 7  # TIFF field types
TIFF_EXTRA_SAMPLES, TIFF_XMP, TIFF_ICC_PROFILE = 338, 700, 34675  # TIFF tags


def png_chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    """The chunks (kind, data) of a PNG file's bytes, in order."""
    chunks, at = [], len(PNG_SIGNATURE)
    while at + 8 <= len(data):
        size, kind = int.from_bytes(data[at : at + 4], "big"), data[at + 4 : at + 8]
        chunks.append((kind, data[at + 8 : at + 8 + size]))
        at += 12 + size  # length, kind, data, CRC
    return chunks


def with_png_chunks(png: bytes, extra: list[tuple[bytes, bytes]]) -> bytes:
    """A PNG's bytes with extra chunks right after its header (ICC and DPI must come before the pixels).

    The PNG's own chunks of a kind that extra holds are left out, so that none is doubled.
    """
    kinds = {kind for kind, _ in extra}
    chunks = png_chunks(png)
    return _png_file([chunks[0], *extra, *(chunk for chunk in chunks[1:] if chunk[0] not in kinds)])


def _png_file(chunks: list[tuple[bytes, bytes]]) -> bytes:
    """A PNG file's bytes from its chunks (kind, data), in order."""
    return PNG_SIGNATURE + b"".join(
        len(data).to_bytes(4, "big") + kind + data + zlib.crc32(kind + data).to_bytes(4, "big") for kind, data in chunks
    )


def sixteen_bit_gray_alpha_png(pixels: np.ndarray, level: int) -> bytes:
    """A PNG of uint16 gray+alpha pixels (HxWx2), zlib at level, every row Sub-filtered (less the pixel before)."""
    import numpy as np

    height, width = pixels.shape[:2]
    rows = pixels.astype(">u2").view(np.uint8).reshape(height, width * 4)  # big-endian gray, alpha, gray...
    filtered = np.empty((height, width * 4 + 1), np.uint8)
    filtered[:, 0] = 1  # the Sub filter: each byte less the same byte of the pixel before, modulo 256
    filtered[:, 1:5] = rows[:, :4]
    np.subtract(rows[:, 4:], rows[:, :-4], out=filtered[:, 5:])
    header = width.to_bytes(4, "big") + height.to_bytes(4, "big") + bytes([16, 4, 0, 0, 0])  # 16 bits, gray+alpha
    return _png_file([(b"IHDR", header), (b"IDAT", zlib.compress(filtered.tobytes(), level)), (b"IEND", b"")])


def with_tiff_tags(data: bytes, tags: dict[int, tuple[int, bytes | int]]) -> bytes:
    """A one-image TIFF's bytes with tags {number: (type, value)} added; value: bytes, or an int for a SHORT.

    The image's directory of tags is written anew at the end, the old one left unreferenced.
    A BigTIFF (OpenCV's choice only past 4 GB) is returned as it is.
    """
    order = "little" if data[:2] == b"II" else "big"
    if not tags or int.from_bytes(data[2:4], order) != 42:
        return data
    start = int.from_bytes(data[4:8], order)
    end = start + 2 + 12 * int.from_bytes(data[start : start + 2], order)
    entries = {int.from_bytes(data[at : at + 2], order): data[at : at + 12] for at in range(start + 2, end, 12)}
    out = bytearray(data)
    for tag, (kind, value) in tags.items():
        raw = value.to_bytes(2, order) if isinstance(value, int) else value
        field = raw.ljust(4, b"\0")
        if len(raw) > 4:  # stored apart, at a word boundary, and pointed to
            out += b"\0" * (len(out) % 2)
            field = len(out).to_bytes(4, order)
            out += raw
        count = len(raw) // (2 if kind == TIFF_SHORT else 1)
        entries[tag] = tag.to_bytes(2, order) + kind.to_bytes(2, order) + count.to_bytes(4, order) + field
    out += b"\0" * (len(out) % 2)
    out[4:8] = len(out).to_bytes(4, order)
    out += len(entries).to_bytes(2, order) + b"".join(entries[tag] for tag in sorted(entries)) + data[end : end + 4]
    return bytes(out)
