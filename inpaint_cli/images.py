"""Reading and writing photos. Every photo the project opens is read here.

numpy is imported only by the two functions that return arrays: `inpaint fill` starts decoding
its first photo here while numpy (45 ms) and the model load.
"""

from __future__ import annotations

import os
import tempfile
import warnings
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from PIL import Image, ImageOps, UnidentifiedImageError

from inpaint_cli.errors import InpaintError, UsageError

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
HIGH_BIT_MODES = {"I", "I;16", "I;16B", "I;16L", "I;16N", "F"}  # 16-bit and float pixels
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
        elif source.is_file():
            found.append(source)
        else:
            raise UsageError(f"{source} does not exist")
    return found


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


def open_photo(path: Path) -> Photo:
    """Open a photo upright (EXIF orientation applied), fully decoded.

    Raises InpaintError with a one-line reason for unreadable, truncated or
    oversized files.
    """
    return _decoded(path, _opened(path))


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
        raise InpaintError(f"{path} has more pixels than the safe limit; refusing to decode it") from None
    except (OSError, SyntaxError, ValueError) as error:
        raise InpaintError(f"{path} could not be decoded ({error})") from None


def _opened(path: Path) -> Image.Image:
    """The photo with its header read and checked, pixels not yet decoded: the Python half of opening."""
    with _one_line_errors(path):
        if path.is_dir():
            raise UsageError(f"{path} is a folder, not a photo")
        file_size = path.stat().st_size
        image = Image.open(path)
        if Image.MAX_IMAGE_PIXELS and image.width * image.height > Image.MAX_IMAGE_PIXELS:
            image.close()
            raise Image.DecompressionBombError(f"{image.width}x{image.height}")
        # One read and one decoder call for the whole file: Pillow lets go of the GIL for each call, and
        # in 64 KB calls a decode in PhotoReader's thread waited on the main thread's Python (80 vs 200 ms).
        image.decodermaxblock = max(image.decodermaxblock, min(file_size, MAX_DECODE_BLOCK))
        return image


def _decoded(path: Path, image: Image.Image) -> Photo:
    """Decode an _opened photo, turn it upright and keep what of its file should survive; closes the file."""
    with _one_line_errors(path), image:
        image.load()
        exif = image.getexif()
        # exif_transpose copies even an upright photo; skip it when there is nothing to turn.
        upright = ImageOps.exif_transpose(image) if exif.get(0x0112, 1) != 1 else image
        return Photo(
            image=upright,
            format=image.format,
            icc_profile=image.info.get("icc_profile"),
            exif=exif,
            dpi=image.info.get("dpi"),
            jpeg_subsampling=_jpeg_subsampling(image),
            jpeg_qtables=getattr(image, "quantization", None) if image.format == "JPEG" else None,
        )


class PhotoReader:
    """Opens photos in a given order, each decoded in a background thread while the one before is worked on.

    The header is read in the calling thread; the thread only decodes, in one Pillow call that
    does not hold the GIL. Parsing the header there too took 60-230 ms instead of 8 when the
    main thread was busy in Python (importing numpy), since each of its small reads waits for the
    GIL. So decoding the next photo overlaps loading the model (for the first) or filling and
    encoding the previous one: on a 12 MP JPEG that hides the 50 ms decode on 2 cores.
    """

    def __init__(self, paths: Iterable[Path]) -> None:
        self._paths = list(paths)
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
            image = _opened(path)
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
        return open_photo(path)


def read_rgb(path: Path) -> np.ndarray:
    """A photo as uint8 HxWx3 RGB, upright."""
    import numpy as np

    return np.asarray(open_photo(path).image.convert("RGB"))


def square_resize(image: np.ndarray, size: int) -> np.ndarray:
    """Centre-crop uint8 HxWx3 to a square and resize it to size x size (bicubic)."""
    import numpy as np

    height, width = image.shape[:2]
    side = min(height, width)
    top, left = (height - side) // 2, (width - side) // 2
    square = Image.fromarray(image[top : top + side, left : left + side])
    return np.asarray(square.resize((size, size), Image.Resampling.BICUBIC))


def iter_square_photos(paths: Iterable[Path], size: int) -> Iterator[tuple[Path, np.ndarray | str]]:
    """For each path, its square-resized RGB pixels, or the reason it could not be read."""
    for path in paths:
        try:
            yield path, square_resize(read_rgb(path), size)
        except InpaintError as error:
            yield path, str(error)


def encode_png(image: np.ndarray) -> bytes:
    """PNG bytes of a uint8 HxWx3 array (deterministic for the same Pillow)."""
    import io

    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="PNG")
    return buffer.getvalue()


def write_atomically(path: Path, write: Callable[[Path], None]) -> None:
    """Call write(temporary_path) then rename it onto path, so path is never half-written."""
    folder = path.parent
    if not folder.is_dir():
        raise UsageError(f"folder {folder} does not exist")
    try:
        handle, temporary = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=path.suffix, dir=folder)
    except OSError as error:
        raise InpaintError(f"cannot write in {folder} ({error.strerror or error})") from None
    os.close(handle)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(temporary, 0o666 & ~umask)  # mkstemp makes 0600; give the usual permissions
    try:
        write(Path(temporary))
        os.replace(temporary, path)
    except OSError as error:
        Path(temporary).unlink(missing_ok=True)
        raise InpaintError(f"could not write {path} ({error.strerror or error}); nothing was written") from None
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def save_photo(image: Image.Image, path: Path, source: Photo, quality: int | None = None) -> None:
    """Save image to path atomically, keeping the source's ICC profile, EXIF and DPI.

    The format follows path's suffix. A JPEG written from a JPEG keeps the source's
    quantisation tables and chroma subsampling (what Pillow's quality="keep" does)
    unless quality (1-100) is given; other JPEGs get quality 95.
    """
    suffix = path.suffix.lower()
    if suffix not in IMAGE_SUFFIXES:
        raise UsageError(f"cannot write {path.name}: use one of {', '.join(sorted(IMAGE_SUFFIXES))}")
    options: dict[str, object] = {}
    if source.icc_profile:
        options["icc_profile"] = source.icc_profile
    if source.dpi:
        options["dpi"] = source.dpi
    if source.exif is not None and len(source.exif):
        source.exif[0x0112] = 1  # the pixels are written upright
        options["exif"] = source.exif.tobytes()
    if suffix in {".jpg", ".jpeg"}:
        if quality is None and source.jpeg_qtables:
            options["qtables"] = source.jpeg_qtables
        else:
            options["quality"] = quality or 95
        if source.jpeg_subsampling is not None:
            options["subsampling"] = source.jpeg_subsampling
    image_format = FORMATS[suffix]
    if image_format == "JPEG":
        image = _without_opaque_alpha(image, path)
    write_atomically(path, lambda temporary: image.save(temporary, format=image_format, **options))


def _without_opaque_alpha(image: Image.Image, path: Path) -> Image.Image:
    """The image without its alpha channel for a JPEG, which cannot hold one; refused unless it is fully opaque."""
    if image.mode not in {"RGBA", "LA", "PA"}:
        return image
    if image.getchannel("A").getextrema() != (255, 255):
        raise UsageError(f"the image has transparency, which JPEG cannot hold; write {path.stem}.png instead")
    return image.convert("L" if image.mode == "LA" else "RGB")


def _jpeg_subsampling(image: Image.Image) -> int | None:
    """The chroma subsampling of a JPEG (0, 1 or 2), None for other formats."""
    if image.format != "JPEG":
        return None
    from PIL import JpegImagePlugin

    subsampling = JpegImagePlugin.get_sampling(image)
    return subsampling if subsampling >= 0 else None
