"""Writing photos back: in the format their suffix names, keeping what the source's file held.

A filled photo keeps its source's metadata (ICC profile, EXIF, DPI, XMP, a PNG's text and colour
chunks) and, for a JPEG written from a JPEG, its quantisation and stored orientation; 16-bit
pixels go out through OpenCV (Pillow holds no 16-bit colour). Every write is atomic
(atomic_files.py). Photos are read in images.py.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from PIL import Image

from inpaint_cli.errors import UsageError
from inpaint_cli.files import encoded_files
from inpaint_cli.files.atomic_files import write_atomically
from inpaint_cli.files.images import FORMATS, IMAGE_SUFFIXES, STORED, Photo, to_eight_bits, working_mode

if TYPE_CHECKING:
    import numpy as np

SIXTEEN_BIT_FORMATS = {"PNG", "TIFF"}  # those written at 16 bits; other formats get the 8-bit pixels
# 16-bit PNGs are written at zlib level 1: on a 12 MP photo 1.4 s and 27 MB, against 4.8 s and 25 MB at Pillow's 6.
SIXTEEN_BIT_PNG_COMPRESSION = 1
# EXIF tags that describe the photo (not a TIFF's layout): a 16-bit TIFF (OpenCV's) loses them, and says so.
DESCRIPTIVE_EXIF_TAGS = {0x010E, 0x010F, 0x0110, 0x0131, 0x0132, 0x013B, 0x8298, 0x8769, 0x8825}
NO_ALPHA_FORMATS = {"JPEG", "BMP"}  # an image with transparency is refused there; an opaque one loses its alpha
WEBP_LOSSY_QUALITY = 90  # a lossy WebP's quality cannot be read back from the file; Pillow's default is 80


def format_of(path: Path, what: str = "") -> str:
    """Pillow's format for the suffix of path; an unknown suffix is refused, naming what the file is for."""
    suffix = path.suffix.lower()
    if suffix not in FORMATS:
        raise UsageError(f"cannot write {what}{path.name}: use one of {', '.join(sorted(IMAGE_SUFFIXES))}")
    return FORMATS[suffix]


def save_picture(
    image: Image.Image, path: Path, what: str = "", before_rename: Callable[[], Path] | None = None
) -> None:
    """Save a picture made here (not a photo's rewrite) atomically, in the format its suffix names.

    before_rename, when given, runs once the picture is written in full under its temporary name and returns the
    file it wrote: if it fails, the picture is not written either (atomic_files.write_atomically).
    """
    image_format = format_of(path, what)
    options: dict[str, object] = {"quality": 95} if image_format in {"JPEG", "WEBP"} else {}
    write_atomically(path, lambda temporary: _save_by_suffix(image, temporary, options), before_rename)


def _save_by_suffix(image: Image.Image, path: Path, options: dict[str, object]) -> None:
    """image.save in the format path's suffix names (FORMATS), the temporary file keeping the target's suffix.

    No format= on purpose: with one, Pillow first imports five plugins it may not need (5 ms of a fill).
    """
    image.save(path, **options)


def save_photo(image: Image.Image | np.ndarray, path: Path, source: Photo, quality: int | None = None) -> None:
    """Save image (the source's upright pixels, filled) to path atomically, keeping what the source's file held.

    image is a Pillow image, or uint16 pixels of a 16-bit source (its deep pixels, filled): _save_sixteen_bit.

    The format follows path's suffix. Kept: ICC profile, EXIF, DPI, XMP, a PNG's text
    chunks. A JPEG written from a JPEG keeps the source's quantisation tables, chroma
    subsampling and progressive flag (what Pillow's quality="keep" does) unless quality
    (1-100) is given, and its stored orientation: the pixels are turned back as they were
    stored, so the blocks outside the holes encode as before; other JPEGs get quality 95
    and are written upright. A WebP is lossless when the source is lossless (PNG, TIFF,
    BMP, lossless WebP), else lossy at quality (default WEBP_LOSSY_QUALITY).
    """
    if not isinstance(image, Image.Image):
        _save_sixteen_bit(image, path, source, quality)
        return
    image_format = format_of(path)
    options: dict[str, object] = {}
    orientation = 1
    if image_format in NO_ALPHA_FORMATS:
        image = _without_opaque_alpha(image, path)
    if image_format == "JPEG":
        if quality is None and source.jpeg_qtables:
            options["qtables"] = source.jpeg_qtables
            orientation = source.orientation  # the same blocks as the source: only then do they re-encode alike
        else:
            options["quality"] = quality or 95
        if source.jpeg_subsampling is not None:
            options["subsampling"] = source.jpeg_subsampling
        if source.progressive:
            options["progressive"] = True
    if image_format == "WEBP":
        if quality is None and (source.webp_lossless or source.format in {"PNG", "TIFF", "BMP"}):
            options.update(lossless=True, exact=True)  # exact: the colour under transparent pixels too
        else:
            options["quality"] = quality or WEBP_LOSSY_QUALITY
    if orientation != 1:
        image = image.transpose(STORED[orientation])
    options.update(_metadata_options(source, image_format, orientation))
    write_atomically(path, lambda temporary: _save_by_suffix(image, temporary, options))


def _metadata_options(source: Photo, image_format: str, orientation: int) -> dict[str, object]:
    """Pillow's save options that carry the source's metadata into image_format, its EXIF saying orientation."""
    options: dict[str, object] = {}
    if source.icc_profile:
        options["icc_profile"] = source.icc_profile
    if source.dpi:
        options["dpi"] = source.dpi
    if source.exif is not None and len(source.exif):
        exif = Image.Exif()
        exif.load(source.exif.tobytes())
        exif[0x0112] = orientation
        options["exif"] = exif.tobytes()
    if source.xmp and image_format in {"JPEG", "WEBP"}:
        options["xmp"] = source.xmp
    if image_format == "PNG" and (source.xmp or source.png_text or source.png_chunks):
        options["pnginfo"] = _png_info(source)
    return options


def _png_info(source: Photo) -> object:
    """PNG chunks holding the source's colour chunks (gAMA, cHRM, sRGB), text and XMP (as Adobe's iTXt chunk)."""
    from PIL import PngImagePlugin

    info = PngImagePlugin.PngInfo()
    for kind, data in source.png_chunks or []:
        if kind != b"tRNS":  # Pillow writes an 8-bit image's own transparency; _save_sixteen_bit a 16-bit one's
            info.add(kind, data)
    for key, value in (source.png_text or {}).items():
        try:
            info.add_text(key, value.encode("latin-1").decode("latin-1"))
        except UnicodeEncodeError:
            info.add_itxt(key, value)
    if source.xmp:
        info.add_itxt("XML:com.adobe.xmp", source.xmp.decode("utf-8", "replace"))
    return info


def check_transparency(image: Image.Image, path: Path) -> None:
    """Refuse to write an image with transparent pixels as a JPEG or BMP, which cannot hold them (one line)."""
    image_format = format_of(path)
    if image_format in NO_ALPHA_FORMATS and _transparent(image):
        raise UsageError(f"the image has transparency, which {image_format} cannot hold; write {path.stem}.png instead")


def _transparent(image: Image.Image) -> bool:
    """Whether some pixel of image is not fully opaque (a palette's transparent colours count)."""
    if image.mode not in {"RGBA", "LA"} and working_mode(image) == "RGBA":
        image = image.convert("RGBA")
    return image.mode in {"RGBA", "LA"} and image.getchannel("A").getextrema() != (255, 255)


def _without_opaque_alpha(image: Image.Image, path: Path) -> Image.Image:
    """The image without its alpha channel for a JPEG or BMP, which hold none (readers of a 32-bit BMP ignore it);
    refused unless it is fully opaque."""
    if image.mode not in {"RGBA", "LA", "PA"}:
        return image
    check_transparency(image, path)
    return image.convert("L" if image.mode == "LA" else "RGB")


def _save_sixteen_bit(pixels: np.ndarray, path: Path, source: Photo, quality: int | None) -> None:
    """save_photo for uint16 pixels: 16 bits in a PNG or TIFF (written with OpenCV: Pillow holds no 16-bit colour).

    A PNG keeps what an 8-bit PNG keeps (_png_metadata); a TIFF its DPI, ICC profile and XMP, not its EXIF.
    Other formats hold 8 bits: they are written from the pixels scaled to 8 bits.
    """
    image_format = format_of(path)
    if image_format not in SIXTEEN_BIT_FORMATS:
        save_photo(Image.fromarray(to_eight_bits(pixels)), path, source, quality)
        return
    if image_format == "PNG":
        data = encoded_files.with_png_chunks(_sixteen_bit_png(pixels), _png_metadata(source))
    else:
        data = _sixteen_bit_tiff(_in_bgr_order(pixels), source)
    write_atomically(path, lambda temporary: temporary.write_bytes(data))


def _in_bgr_order(pixels: np.ndarray) -> np.ndarray:
    """uint16 RGB(A) pixels in OpenCV's BGR(A) order; gray+alpha (which OpenCV cannot write) as BGRA."""
    import cv2

    if pixels.ndim == 2:
        return pixels
    if pixels.shape[2] == 2:
        return pixels[..., [0, 0, 0, 1]]
    return cv2.cvtColor(pixels, cv2.COLOR_RGB2BGR if pixels.shape[2] == 3 else cv2.COLOR_RGBA2BGRA)


def _sixteen_bit_png(pixels: np.ndarray) -> bytes:
    """A PNG of uint16 pixels (RGB order), at zlib level SIXTEEN_BIT_PNG_COMPRESSION; gray+alpha stays gray+alpha."""
    import cv2

    if pixels.ndim == 3 and pixels.shape[2] == 2:  # OpenCV writes 1, 3 or 4 channels
        return encoded_files.sixteen_bit_gray_alpha_png(pixels, SIXTEEN_BIT_PNG_COMPRESSION)
    options = [cv2.IMWRITE_PNG_COMPRESSION, SIXTEEN_BIT_PNG_COMPRESSION]
    return cv2.imencode(".png", _in_bgr_order(pixels), options)[1].tobytes()


def _sixteen_bit_tiff(pixels: np.ndarray, source: Photo) -> bytes:
    """A TIFF of uint16 pixels (BGR or BGRA, as OpenCV takes them) with the source's DPI, ICC profile and XMP.

    OpenCV writes the DPI; the ICC profile, the XMP, and the mark that a fourth channel is alpha
    (without it libtiff warns, and readers may ignore the alpha), are added to the TIFF's tags.
    """
    import cv2

    options = []
    if source.dpi:
        options += [cv2.IMWRITE_TIFF_RESUNIT, 2, cv2.IMWRITE_TIFF_XDPI, round(source.dpi[0])]
        options += [cv2.IMWRITE_TIFF_YDPI, round(source.dpi[1])]
    tags: dict[int, tuple[int, bytes | int]] = {}
    if pixels.ndim == 3 and pixels.shape[2] == 4:
        tags[encoded_files.TIFF_EXTRA_SAMPLES] = (encoded_files.TIFF_SHORT, 2)  # unassociated alpha
    if source.icc_profile:
        tags[encoded_files.TIFF_ICC_PROFILE] = (encoded_files.TIFF_UNDEFINED, source.icc_profile)
    if source.xmp:
        tags[encoded_files.TIFF_XMP] = (encoded_files.TIFF_BYTE, source.xmp)
    return encoded_files.with_tiff_tags(cv2.imencode(".tif", pixels, options)[1].tobytes(), tags)


def _png_metadata(source: Photo) -> list[tuple[bytes, bytes]]:
    """The metadata chunks (kind, data) of a 16-bit PNG from source: ICC, DPI, EXIF, text, colour chunks, tRNS.

    The chunks Pillow writes for an 8-bit PNG with the same options (PngImagePlugin.getchunks of a
    1x1 image, in memory), so a 16-bit PNG keeps exactly what an 8-bit one does; then the transparent
    colour (tRNS) of a 16-bit source, which the 1x1 8-bit image cannot hold.
    """
    from PIL import PngImagePlugin

    chunks = PngImagePlugin.getchunks(Image.new("L", (1, 1)), **_metadata_options(source, "PNG", 1))
    kept = [(kind, data) for kind, data, _ in chunks if kind not in {b"IHDR", b"IDAT", b"IEND"}]
    return kept + [(kind, data) for kind, data in source.png_chunks or [] if kind == b"tRNS"]


def notes_on_writing(source: Photo, path: Path) -> list[str]:
    """What writing source to path loses (other images of an MPO, 16 bits, metadata), in words, one line each."""
    notes = []
    if source.other_images:
        others = "its second image" if source.other_images == 1 else f"its {source.other_images} other images"
        verb = "is" if source.other_images == 1 else "are"
        notes.append(f"{others} (an MPO preview, depth or gain map) {verb} not carried over; the main photo is")
    return notes + _sixteen_bit_notes(source, format_of(path))


def _sixteen_bit_notes(source: Photo, image_format: str) -> list[str]:
    """What writing a 16-bit source in image_format loses (bits, metadata, kinds of pixels); nothing for 8 bits."""
    if source.deep is None:
        return []
    if image_format not in SIXTEEN_BIT_FORMATS:
        return [f"its 16-bit pixels are written at 8 bits, all {image_format} holds; write a .png or .tif to keep 16"]
    if image_format != "TIFF":
        return []
    notes = []
    if source.exif is not None and not DESCRIPTIVE_EXIF_TAGS.isdisjoint(source.exif):
        notes.append(
            "its EXIF is not kept in a 16-bit TIFF (its ICC profile, XMP and DPI are): write a .png to keep it"
        )
    if source.deep.ndim == 3 and source.deep.shape[2] == 2:
        notes.append("its 16-bit gray and alpha are written as RGBA in a TIFF: write a .png to keep them gray")
    if any(kind == b"tRNS" for kind, _ in source.png_chunks or []):
        notes.append("its transparent colour (PNG tRNS) is not kept in a TIFF: write a .png to keep it")
    return notes
