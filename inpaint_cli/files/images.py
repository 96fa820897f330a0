"""Reading photos: finding them, decoding them upright with what of their file should survive, reading ahead.

Every photo the project opens is read here; photo_writing.py writes them back. numpy is
imported only by the functions that return arrays and for 16-bit files: `inpaint fill`
starts decoding its first photo here while numpy (45 ms) and the model load.
"""

from __future__ import annotations

import functools
import os
import threading
import warnings
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from PIL import Image, UnidentifiedImageError

from inpaint_cli.errors import InpaintError, TooManyPixels, UsageError
from inpaint_cli.files import encoded_files

if TYPE_CHECKING:
    import numpy as np

# Pillow's format per suffix, spelled out: Image.registered_extensions() loads every plugin (0.15 s).
FORMATS = {
    ".jpg": "JPEG",
    ".jpeg": "JPEG",
    ".png": "PNG",
    ".webp": "WEBP",
    ".bmp": "BMP",
    ".tif": "TIFF",
    ".tiff": "TIFF",
}
IMAGE_SUFFIXES = set(FORMATS)
HIGH_BIT_MODES = {"I", "I;16", "I;16B", "I;16L", "I;16N", "F"}  # 16-bit and float pixels: no Pillow fill of them
SIXTEEN_BIT_GRAY_MODES = {"I;16", "I;16B", "I;16L", "I;16N"}
# A TIFF's tags that say how its pixels are stored (size, strips, tiles, compression, samples), which Pillow's
# getexif returns with the rest. Written back, they would describe the source's layout, not the output's: a turned
# photo's old width, strips that no longer fit (encoder error -8).
TIFF_LAYOUT_TAGS = {
    *range(254, 260),  # subfile type, width, height, bits per sample, compression
    *range(262, 267),  # photometric interpretation, thresholding, cell size, fill order
    *range(273, 282),  # strip offsets, orientation, samples, rows per strip, strip byte counts, sample range
    *(284, 292, 293, 317, 320),  # planar configuration, fax options, predictor, colour map
    *range(322, 326),  # tiles
    *(330, 332, 338, 339, 340, 341, 347),  # sub-IFDs, ink set, extra samples, sample format and range, JPEG tables
    *range(512, 522),  # old-style JPEG
    *range(529, 533),  # YCbCr coefficients, subsampling, positioning, reference black and white
}
# Pillow's guard against decompression bombs, about 89.5 megapixels: a photo over it is refused before
# decoding unless a larger limit is asked for (--max-pixels, or the environment variable below).
DEFAULT_MAX_PIXELS = Image.MAX_IMAGE_PIXELS or 89_478_485
MAX_PIXELS_VARIABLE = "INPAINT_MAX_PIXELS"
# The transpose that turns stored pixels upright, per EXIF orientation (as ImageOps.exif_transpose does).
UPRIGHT = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
# ... and the one that turns upright pixels back as they were stored.
STORED = {**UPRIGHT, 6: Image.Transpose.ROTATE_90, 8: Image.Transpose.ROTATE_270}
MAX_DECODE_BLOCK = 64 * 2**20  # bytes read and decoded at once
# Pillow warns when it opens a photo over Image.MAX_IMAGE_PIXELS (and refuses twice that); open_photo refuses
# such photos itself, so the warning would only print a stray line. One filter, set once: catch_warnings
# around each open would change process-wide state while PhotoReader's thread opens photos.
warnings.filterwarnings("ignore", category=Image.DecompressionBombWarning)


def find_images(sources: Iterable[Path]) -> list[Path]:
    """Every image file under the given files and folders (recursively), sorted."""
    found: list[Path] = []
    for source in sources:
        if source.is_dir():
            found.extend(
                path for path in sorted(source.rglob("*")) if path.is_file() and path.suffix.lower() in IMAGE_SUFFIXES
            )
        else:
            found.append(regular_file(source))
    return found


def regular_file(path: Path) -> Path:
    """path, when it is a file to read; one line otherwise (a FIFO or a device would block the read, or never end)."""
    if path.is_file():
        return path
    if path.exists():
        raise UsageError(f"{path} is not a regular file; give a photo file or a folder of them")
    raise UsageError(f"{path} does not exist")


@dataclass
class Photo:
    """An upright photo and what of its file should survive a rewrite."""

    image: Image.Image
    format: str | None
    icc_profile: bytes | None = None
    exif: Image.Exif | None = None
    dpi: tuple[float, float] | None = None
    jpeg_subsampling: int | None = None
    jpeg_qtables: dict[int, list[int]] | None = None  # the source's quantisation: its "quality"
    orientation: int = 1  # the EXIF orientation of the stored pixels (image is upright whatever it is)
    xmp: bytes | None = None  # XMP metadata (ratings, keywords), from JPEG, PNG, WebP or TIFF
    png_text: dict[str, str] | None = None  # a PNG's text chunks, XMP excepted
    progressive: bool = False  # a progressive JPEG
    webp_lossless: bool | None = None  # for a WebP: whether it was stored lossless (VP8L)
    # A 16-bit PNG or TIFF: its upright uint16 pixels (HxW gray, HxWx2 gray+alpha, HxWx3 RGB, HxWx4 RGBA);
    # image holds them at 8 bits.
    deep: np.ndarray | None = None
    # A PNG's colour chunks (kind, data): gAMA, cHRM, sRGB, and a 16-bit PNG's tRNS (an 8-bit image holds its own).
    png_chunks: list[tuple[bytes, bytes]] | None = None
    other_images: int = 0  # an MPO's images after the first (a preview, a depth or gain map): not written


def max_pixels_allowed(max_pixels: int | None = None) -> int:
    """The pixel limit of a photo: max_pixels when given, else $INPAINT_MAX_PIXELS, else Pillow's (89.5 MP)."""
    if max_pixels is not None:
        return max_pixels
    text = os.environ.get(MAX_PIXELS_VARIABLE, "").strip()
    if not text:
        return DEFAULT_MAX_PIXELS
    if not text.isdigit() or int(text) < 1:
        raise UsageError(f"{MAX_PIXELS_VARIABLE}={text!r} is not a whole number of pixels")
    return int(text)


def open_photo(path: Path, max_pixels: int | None = None) -> Photo:
    """Open a photo upright (EXIF orientation applied), fully decoded.

    Raises InpaintError with a one-line reason for unreadable, truncated, multi-frame or
    oversized files (over max_pixels_allowed(max_pixels)).
    """
    return _decoded(path, _opened(path, max_pixels))


def _too_many_pixels(path: Path, width: int, height: int, limit: int) -> InpaintError:
    return TooManyPixels(
        f"{path} has {width}x{height} = {width * height:,} pixels, over the limit of {limit:,} "
        f"(a guard against decompression bombs); raise it with {MAX_PIXELS_VARIABLE}={width * height}",
        width * height,
    )


_pillow_limit_lock = threading.Lock()


@contextmanager
def _pillow_limit(limit: int | None) -> Iterator[None]:
    """Pillow's own bomb check (it refuses over twice Image.MAX_IMAGE_PIXELS) raised to limit, or off for None.

    Only while a header is read, which our own check follows before anything is decoded.
    """
    if Image.MAX_IMAGE_PIXELS is None or (limit is not None and limit <= Image.MAX_IMAGE_PIXELS):
        yield
        return
    with _pillow_limit_lock:
        before = Image.MAX_IMAGE_PIXELS
        Image.MAX_IMAGE_PIXELS = limit
        try:
            yield
        finally:
            Image.MAX_IMAGE_PIXELS = before


@contextmanager
def _one_line_errors(path: Path) -> Iterator[None]:
    """Turn Pillow's errors while reading path into an InpaintError with a one-line reason."""
    try:
        yield
    except FileNotFoundError:
        raise UsageError(f"{path} does not exist") from None
    except UnidentifiedImageError:
        raise InpaintError(f"{path} is not an image Pillow can read") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise TooManyPixels(
            f"{path} has more pixels than the limit of {max_pixels_allowed():,}; raise it with {MAX_PIXELS_VARIABLE}"
        ) from None
    except (OSError, SyntaxError, ValueError) as error:
        raise InpaintError(f"{path} could not be decoded ({error})") from None


def _opened(path: Path, max_pixels: int | None = None) -> Image.Image:
    """The photo with its header read and checked, pixels not yet decoded: the Python half of opening."""
    limit = max_pixels_allowed(max_pixels)
    with _one_line_errors(path):
        if path.is_dir():
            raise UsageError(f"{path} is a folder, not a photo")
        file_size = path.stat().st_size
        try:
            with _pillow_limit(limit):
                image = Image.open(path)
        except Image.DecompressionBombError:
            with _pillow_limit(None):  # the header again, only to name its size: the check below refuses it
                image = Image.open(path)
        if image.width * image.height > limit:
            image.close()
            raise _too_many_pixels(path, image.width, image.height, limit)
        frames = getattr(image, "n_frames", 1)
        if frames > 1 and image.format != "MPO":  # an MPO is a JPEG followed by other images: its first is the photo
            image.close()
            kind = "pages" if image.format == "TIFF" else "frames"
            raise InpaintError(
                f"{path} has {frames} {kind} ({image.format}); inpaint fills single images only and would "
                f"keep only the first: save that one as its own file"
            )
        # One read and one decoder call for the whole file: Pillow lets go of the GIL for each call, and
        # in 64 KB calls a decode in PhotoReader's thread waited on the main thread's Python (80 vs 200 ms).
        image.decodermaxblock = max(image.decodermaxblock, min(file_size, MAX_DECODE_BLOCK))
        return image


def _decoded(path: Path, image: Image.Image) -> Photo:
    """Decode an _opened photo, turn it upright and keep what of its file should survive; closes the file."""
    with _one_line_errors(path), image:
        # Pillow (11.2 on) turns a TIFF upright as it loads it and drops its orientation tag: read it first.
        tiff_orientation = image.tag_v2.get(0x0112, 1) if image.format == "TIFF" else 1
        stored_size = (image.tag_v2[256], image.tag_v2[257]) if image.format == "TIFF" else image.size
        image.load()
        exif = image.getexif()
        to_turn = exif.get(0x0112, 1) if exif.get(0x0112, 1) in UPRIGHT else 1  # 1 when Pillow turned it already
        orientation = to_turn if 0x0112 in exif or tiff_orientation not in UPRIGHT else tiff_orientation
        if image.format == "TIFF":
            exif = _without_tiff_layout(exif)
        is_jpeg = image.format in {"JPEG", "MPO"}
        deep = _sixteen_bit_pixels(path, image, orientation, stored_size) if _is_sixteen_bit(path, image) else None
        if deep is not None:
            upright = Image.fromarray(to_eight_bits(deep))
        else:  # exif_transpose copies even an upright photo; skip it when there is nothing to turn.
            upright = image.transpose(UPRIGHT[to_turn]) if to_turn != 1 else image
        return Photo(
            image=upright,
            format="JPEG" if is_jpeg else image.format,
            icc_profile=image.info.get("icc_profile"),
            exif=exif,
            dpi=image.info.get("dpi"),
            jpeg_subsampling=_jpeg_subsampling(image) if is_jpeg else None,
            jpeg_qtables=getattr(image, "quantization", None) if is_jpeg else None,
            orientation=orientation,
            xmp=_xmp(image),
            png_text=_png_text(image),
            progressive=bool(is_jpeg and image.info.get("progressive")),
            webp_lossless=_webp_lossless(path) if image.format == "WEBP" else None,
            deep=deep,
            png_chunks=_png_colour_chunks(image, deep is not None) if image.format == "PNG" else None,
            other_images=getattr(image, "n_frames", 1) - 1 if image.format == "MPO" else 0,
        )


def _without_tiff_layout(exif: Image.Exif) -> Image.Exif:
    """A TIFF's tags without those of its layout (TIFF_LAYOUT_TAGS): what describes the photo, to be written again."""
    for tag in TIFF_LAYOUT_TAGS & set(exif):
        del exif[tag]
    return exif


def _png_colour_chunks(image: Image.Image, sixteen_bit: bool) -> list[tuple[bytes, bytes]] | None:
    """A PNG's gAMA, cHRM and sRGB chunks, and a 16-bit one's tRNS, rebuilt exactly from the numbers Pillow read."""
    info, chunks = image.info, []
    if "gamma" in info:  # stored as gamma x 100000, as the chromaticities are
        chunks.append((b"gAMA", round(info["gamma"] * 100_000).to_bytes(4, "big")))
    if "chromaticity" in info:
        chunks.append((b"cHRM", b"".join(round(value * 100_000).to_bytes(4, "big") for value in info["chromaticity"])))
    if "srgb" in info:
        chunks.append((b"sRGB", bytes([info["srgb"]])))
    key = info.get("transparency")
    if sixteen_bit and key is not None:  # the transparent colour: one gray or three RGB 16-bit values
        values = key if isinstance(key, tuple) else (key,)
        chunks.append((b"tRNS", b"".join(value.to_bytes(2, "big") for value in values)))
    return chunks or None


def _is_sixteen_bit(path: Path, image: Image.Image) -> bool:
    """Whether a photo holds 16 bits per sample: Pillow reads 16-bit gray as I;16 and 16-bit colour as 8 bits."""
    return image.mode in SIXTEEN_BIT_GRAY_MODES or (image.mode in {"RGB", "RGBA"} and _sixteen_bit_colour(path, image))


def _sixteen_bit_pixels(path: Path, image: Image.Image, orientation: int, stored_size: tuple[int, int]) -> np.ndarray:
    """A 16-bit photo's pixels, upright, as uint16 (RGB order), read with OpenCV, which keeps all 16 bits.

    OpenCV reads them as stored (stored_size, width x height), to be turned by orientation, but a TIFF
    upright if _opencv_turns_tiffs. image is as Pillow loaded it: its mode and format only are used.
    """
    import cv2
    import numpy as np

    channels = _sixteen_bit_channels(path, image)
    # With IMREAD_COLOR, an RGB PNG's transparent colour (tRNS) is not made an alpha channel: it is kept as tRNS.
    flags = cv2.IMREAD_ANYDEPTH | cv2.IMREAD_COLOR if channels == 3 else cv2.IMREAD_UNCHANGED
    pixels = cv2.imdecode(np.fromfile(path, np.uint8), flags)  # as stored: no EXIF turn
    if channels == 2 and pixels is not None and pixels.ndim == 3 and pixels.shape[2] == 4:
        pixels = pixels[..., [0, 3]]  # OpenCV reads gray+alpha as BGRA, B = G = R
    if pixels is not None and channels > 2:
        pixels = cv2.cvtColor(pixels, cv2.COLOR_BGR2RGB if channels == 3 else cv2.COLOR_BGRA2RGBA)
    to_turn = 1 if image.format == "TIFF" and _opencv_turns_tiffs() else orientation
    if pixels is not None and to_turn != 1:
        pixels = _transposed(pixels, UPRIGHT[to_turn])
    width, height = stored_size if orientation < 5 else stored_size[::-1]
    shape = (height, width, channels) if channels > 1 else (height, width)
    if pixels is None or pixels.dtype != np.uint16 or pixels.shape != shape:
        raise InpaintError(f"{path} has 16-bit pixels that OpenCV could not read as Pillow reads their header")
    return pixels


@functools.cache
def _opencv_turns_tiffs() -> bool:
    """Whether this OpenCV turns a TIFF upright by its orientation tag as it reads it (5.0 does, even IMREAD_UNCHANGED).

    Found by reading a 2x1 TIFF whose tag says "turned 180 degrees".
    """
    import cv2
    import numpy as np

    stored = cv2.imencode(".tif", np.array([[1, 2]], np.uint16))[1].tobytes()
    turned = encoded_files.with_tiff_tags(stored, {0x0112: (encoded_files.TIFF_SHORT, 3)})
    pixels = cv2.imdecode(np.frombuffer(turned, np.uint8), cv2.IMREAD_UNCHANGED)
    return pixels is not None and int(pixels.ravel()[0]) == 2


def _sixteen_bit_channels(path: Path, image: Image.Image) -> int:
    """The channels of a 16-bit photo: 1 gray, 2 gray+alpha (which Pillow reads as RGBA), 3 RGB, 4 RGBA."""
    if image.format == "PNG":
        return {0: 1, 2: 3, 4: 2, 6: 4}.get(_png_header(path)[1], 1)
    return {"RGB": 3, "RGBA": 4}.get(image.mode, 1)


def _png_header(path: Path) -> tuple[int, int]:
    """A PNG's bit depth and colour type (0 gray, 2 RGB, 3 palette, 4 gray+alpha, 6 RGBA); (0, -1) if unreadable."""
    with open(path, "rb") as file:
        header = file.read(26)
    return (header[24], header[25]) if len(header) == 26 and header[12:16] == b"IHDR" else (0, -1)


def _transposed(pixels: np.ndarray, method: Image.Transpose) -> np.ndarray:
    """uint16 pixels turned by a Pillow transpose, channel by channel (Pillow holds 16 bits in one channel only)."""
    import numpy as np

    if pixels.ndim == 2:
        return np.asarray(Image.fromarray(pixels).transpose(method))
    return np.stack([_transposed(np.ascontiguousarray(pixels[..., c]), method) for c in range(pixels.shape[2])], -1)


def to_eight_bits(pixels: np.ndarray) -> np.ndarray:
    """uint16 pixels as uint8, rounded to the nearest (65535 becomes 255; x 257 turns them back exactly)."""
    import numpy as np

    return ((pixels.astype(np.uint32) * 255 + 32767) // 65535).astype(np.uint8)


def _sixteen_bit_colour(path: Path, image: Image.Image) -> bool:
    """Whether a PNG or TIFF that Pillow reads as 8-bit RGB(A) holds 16 bits per channel (Pillow drops 8 of them)."""
    if image.format == "PNG":
        return _png_header(path)[0] == 16
    if image.format == "TIFF":
        bits = image.tag_v2.get(258, (8,))
        return max(bits if isinstance(bits, tuple) else (bits,)) > 8
    return False


def _xmp(image: Image.Image) -> bytes | None:
    """The photo's XMP packet, as bytes, or None."""
    xmp = image.info.get("xmp")
    if isinstance(xmp, str):
        xmp = xmp.encode()
    return xmp or None


def _png_text(image: Image.Image) -> dict[str, str] | None:
    """A PNG's text chunks (tEXt, zTXt, iTXt) but XMP, which is kept as XMP."""
    if image.format != "PNG":
        return None
    text = {key: str(value) for key, value in getattr(image, "text", {}).items() if key != "XML:com.adobe.xmp"}
    return text or None


def _webp_lossless(path: Path) -> bool:
    """Whether a WebP file holds a lossless (VP8L) image rather than a lossy (VP8) one."""
    with open(path, "rb") as file:
        file.seek(12)  # RIFF, size, WEBP
        while chunk := file.read(8):
            if len(chunk) < 8:
                break
            name, size = chunk[:4], int.from_bytes(chunk[4:], "little")
            if name in {b"VP8L", b"VP8 "}:
                return name == b"VP8L"
            if name == b"ANMF":
                file.seek(16, os.SEEK_CUR)  # an animation frame's own header, then its image chunks
                continue
            file.seek(size + size % 2, os.SEEK_CUR)
    return False


class PhotoReader:
    """Opens photos in a given order, each decoded in a background thread while the one before is worked on.

    The header is read in the calling thread; the thread only decodes, in one Pillow call that
    does not hold the GIL. Parsing the header there too took 60-230 ms instead of 8 when the
    main thread was busy in Python (importing numpy), since each of its small reads waits for the
    GIL. So decoding the next photo overlaps loading the model (for the first) or filling and
    encoding the previous one: on a 12 MP JPEG that hides the 50 ms decode on 2 cores.
    """

    def __init__(self, paths: Iterable[Path], max_pixels: int | None = None) -> None:
        self._paths = list(paths)
        self._max_pixels = max_pixels
        self._decoder = ThreadPoolExecutor(max_workers=1, thread_name_prefix="inpaint-photo-reader")
        self._ahead: tuple[int, Future[Photo]] | None = None
        self._start(0)

    def _start(self, index: int) -> None:
        """Begin opening the photo at index of the paths, if there is one."""
        self._ahead = None
        if index >= len(self._paths):
            self._decoder.shutdown(wait=False)
            return
        path = self._paths[index]
        try:
            image = _opened(path, self._max_pixels)
        except Exception as error:  # handed to the caller of open() when it asks for this photo, not before
            failed: Future[Photo] = Future()
            failed.set_exception(error)
            self._ahead = (index, failed)
            return
        self._ahead = (index, self._decoder.submit(_decoded, path, image))

    def open(self, path: Path) -> Photo:
        """The photo at path, as open_photo returns it; then starts on the photo after it in the order given.

        Paths asked for out of order, or not given at all, are simply read here and now.
        """
        ahead = self._ahead
        if ahead is not None and self._paths[ahead[0]] == path:
            try:
                return ahead[1].result()
            finally:
                self._start(ahead[0] + 1)
        return open_photo(path, self._max_pixels)


def working_mode(image: Image.Image) -> str:
    """The mode an image is filled (and written) in: its own when it can hold the fill, else the nearest that can.

    Palette with transparency becomes RGBA, 1-bit becomes L, other palette and CMYK, YCbCr... RGB.
    """
    if image.mode in {"RGB", "L", "RGBA", "LA"}:
        return image.mode
    if image.mode == "1":
        return "L"
    if image.mode == "PA" or (image.mode == "P" and "transparency" in image.info):
        return "RGBA"
    if image.mode == "P" and image.palette is not None and image.palette.mode == "RGBA":
        return "RGBA"
    return "RGB"


def mode_name(image: Image.Image) -> str:
    """The kind of pixels of an image, in words."""
    names = {"1": "1-bit black and white", "P": "palette", "PA": "palette with alpha", "CMYK": "CMYK"}
    names |= {"F": "32-bit float", "I": "32-bit integer"}
    return f"{names.get(image.mode, image.mode)} ({image.mode}) pixels"


def _jpeg_subsampling(image: Image.Image) -> int | None:
    """The chroma subsampling of a JPEG or MPO (0, 1 or 2), or None."""
    from PIL import JpegImagePlugin

    subsampling = JpegImagePlugin.get_sampling(image)
    return subsampling if subsampling >= 0 else None
