"""Issue 14 item 5: 16-bit PNG and TIFF are filled and written back at 16 bits; prepare and evaluate scale them.

The files are made with OpenCV (16-bit colour, which Pillow cannot write) or Pillow (16-bit gray, float,
32-bit integer) and read back with OpenCV, which keeps every bit.
"""

from __future__ import annotations

import re
import struct
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image, ImageOps, PngImagePlugin
from typer.testing import CliRunner

from inpaint_cli.cli import app
from inpaint_cli.errors import InpaintError
from inpaint_cli.files import encoded_files
from inpaint_cli.inpainting import masking
from inpaint_cli.inpainting.rectangles import Box
from inpaint_cli.model import runtime
from inpaint_cli.stages import evaluation, filling
from inpaint_cli.training import dataset

runner = CliRunner()
BOX = Box(30, 20, 16)


@pytest.fixture(scope="module")
def tiny_model(tiny_model_dir: Path) -> runtime.Predictor:
    return runtime.load_predictor(tiny_model_dir)


def fill(*arguments: str | Path) -> object:
    return runner.invoke(app, ["fill", *map(str, arguments)])


def surface(channels: int, height: int = 160, width: int = 200) -> np.ndarray:
    """A smooth uint16 picture whose low bytes matter, RGB order; with 2 or 4 channels the last is alpha."""
    yy, xx = np.mgrid[0:height, 0:width]
    planes = [12001 + 151 * xx + 97 * yy + 4099 * channel for channel in range(1 if channels <= 2 else 3)]
    if channels in {2, 4}:
        planes.append(30001 + 7 * xx + 3 * yy)  # alpha: every value must come back as it was
    pixels = np.stack(planes, axis=-1).astype(np.uint16)
    return pixels[..., 0] if channels == 1 else pixels


def with_square(pixels: np.ndarray) -> np.ndarray:
    """pixels with a white square in BOX: the thing to fill away (alpha left alone)."""
    marked = pixels.copy()
    if marked.ndim == 2:
        marked[BOX.slices] = 65535
    else:
        marked[BOX.slices][..., : 1 if marked.shape[2] == 2 else 3] = 65535
    return marked


def write(path: Path, pixels: np.ndarray) -> Path:
    """pixels (RGB order) written by OpenCV in the format of path's suffix."""
    order = {3: cv2.COLOR_RGB2BGR, 4: cv2.COLOR_RGBA2BGRA}
    stored = cv2.cvtColor(pixels, order[pixels.shape[2]]) if pixels.ndim == 3 else pixels
    assert cv2.imencode(path.suffix, stored)[1].tofile(path) is None
    return path


def read(path: Path) -> np.ndarray:
    """A file's pixels with all their bits, RGB order."""
    pixels = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    order = {3: cv2.COLOR_BGR2RGB, 4: cv2.COLOR_BGRA2RGBA}
    return cv2.cvtColor(pixels, order[pixels.shape[2]]) if pixels.ndim == 3 else pixels


def hole_of(pixels: np.ndarray) -> np.ndarray:
    return masking.draw_boxes([BOX], *pixels.shape[:2], dtype=bool)


def assert_filled_at_sixteen_bits(before: np.ndarray, after: np.ndarray) -> None:
    """Bit-exact outside BOX, alpha exact everywhere, and the white square replaced by about the smooth surface."""
    hole = masking.draw_boxes([BOX], *before.shape[:2], dtype=bool)
    assert after.dtype == np.uint16 and after.shape == before.shape
    assert np.array_equal(after[~hole], before[~hole])
    channels = 1 if before.ndim == 2 else before.shape[2]
    colours = 1 if channels <= 2 else 3
    if channels in {2, 4}:
        assert np.array_equal(after[..., colours:], before[..., colours:])
    truth = surface(channels, *before.shape[:2]).astype(int)
    error = np.abs(after.astype(int) - truth)[hole]
    assert error.max() < 4 * 257  # within 4 of 255 steps; the white square was up to 65535 - 12001 off


@pytest.mark.parametrize("suffix", [".png", ".tif"])
@pytest.mark.parametrize("channels", [1, 3, 4], ids=["gray", "rgb", "rgba"])
def test_sixteen_bit_files_are_filled_and_written_at_sixteen_bits(tmp_path: Path, suffix: str, channels: int) -> None:
    before = with_square(surface(channels))
    photo = write(tmp_path / f"deep{suffix}", before)
    result = fill(photo, "--box", BOX)
    assert result.exit_code == 0, result.output
    assert result.output.strip().splitlines() == [f"Filled {photo} -> {tmp_path / f'deep.filled{suffix}'}"]
    assert_filled_at_sixteen_bits(before, read(tmp_path / f"deep.filled{suffix}"))


def sixteen_bit_gray(path: Path, **options: object) -> tuple[Path, np.ndarray]:
    """A 16-bit gray photo saved by Pillow (mode I;16) with options (exif, icc_profile, ...); and its pixels."""
    pixels = with_square(surface(1))
    Image.fromarray(pixels).save(path, **options)
    return path, pixels


def test_a_sixteen_bit_png_keeps_its_metadata_and_a_tiff_says_what_it_drops(tmp_path: Path) -> None:
    exif = Image.Exif()
    exif[0x010F] = "TestCam"  # Make
    text = PngImagePlugin.PngInfo()
    text.add_text("Comment", "a 16-bit scan")
    xmp = b'<x:xmpmeta xmlns:x="adobe:ns:meta/">rating 5</x:xmpmeta>'
    text.add_itxt("XML:com.adobe.xmp", xmp.decode())
    metadata = {"icc_profile": b"fake-icc" * 20, "dpi": (300, 300), "exif": exif.tobytes()}
    photo, before = sixteen_bit_gray(tmp_path / "scan.png", pnginfo=text, **metadata)
    result = fill(photo, "--box", BOX)
    assert result.exit_code == 0 and "Warning" not in result.output, result.output
    assert_filled_at_sixteen_bits(before, read(tmp_path / "scan.filled.png"))
    with Image.open(tmp_path / "scan.filled.png") as written:
        assert written.mode == "I;16" and written.info["icc_profile"] == metadata["icc_profile"]
        assert written.text["Comment"] == "a 16-bit scan" and written.info["xmp"] == xmp
        assert written.info["dpi"] == pytest.approx((300, 300), abs=0.01)
        assert written.getexif()[0x010F] == "TestCam"

    # A TIFF keeps the ICC profile, the XMP and the DPI, and says that the EXIF is lost.
    result = fill(photo, "--box", BOX, "--out", tmp_path / "scan.tif")
    assert result.exit_code == 0, result.output
    assert result.output.strip().splitlines()[0] == (
        "Warning: its EXIF is not kept in a 16-bit TIFF (its ICC profile, XMP and DPI are): write a .png to keep it"
    )
    assert_filled_at_sixteen_bits(before, read(tmp_path / "scan.tif"))
    with Image.open(tmp_path / "scan.tif") as written:
        assert written.info["icc_profile"] == metadata["icc_profile"] and written.info["xmp"] == xmp
        assert written.info["dpi"] == pytest.approx((300, 300), abs=0.01)


def test_a_sixteen_bit_photo_written_to_an_eight_bit_format_says_so(tmp_path: Path) -> None:
    before = with_square(surface(3))
    photo = write(tmp_path / "deep.png", before)
    result = fill(photo, "--box", BOX, "--out", tmp_path / "small.jpg")
    assert result.exit_code == 0, result.output
    assert result.output.strip().splitlines()[0] == (
        "Warning: its 16-bit pixels are written at 8 bits, all JPEG holds; write a .png or .tif to keep 16"
    )
    with Image.open(tmp_path / "small.jpg") as written:
        assert written.mode == "RGB" and written.size == (200, 160)


def test_an_exif_rotated_sixteen_bit_png_is_filled_upright(tmp_path: Path) -> None:
    exif = Image.Exif()
    exif[0x0112] = 6  # stored turned: displayed 160 wide and 200 high
    stored = with_square(surface(1, height=200, width=160))
    photo = tmp_path / "turned.png"
    Image.fromarray(stored).save(photo, exif=exif.tobytes())
    with Image.open(photo) as opened:
        upright = np.asarray(ImageOps.exif_transpose(opened))
    result = fill(photo, "--box", BOX)
    assert result.exit_code == 0, result.output
    after = read(tmp_path / "turned.filled.png")
    hole = masking.draw_boxes([BOX], *upright.shape, dtype=bool)
    assert after.shape == upright.shape == (160, 200) and np.array_equal(after[~hole], upright[~hole])
    with Image.open(tmp_path / "turned.filled.png") as written:
        assert written.getexif().get(0x0112, 1) == 1


def handmade_png(path: Path, pixels: np.ndarray, colour_type: int, extra: list[tuple[bytes, bytes]]) -> Path:
    """uint16 pixels (RGB order, alpha last) as a 16-bit PNG of colour_type with extra chunks, written byte by byte.

    OpenCV writes neither gray+alpha nor a transparent colour (tRNS), and Pillow no 16-bit colour.
    """
    height, width = pixels.shape[:2]
    rows = pixels.astype(">u2").reshape(height, -1).view(np.uint8)
    filtered = np.concatenate([np.zeros((height, 1), np.uint8), rows], axis=1)  # filter 0 (None) on every row
    header = struct.pack(">IIBBBBB", width, height, 16, colour_type, 0, 0, 0)
    chunks = [(b"IHDR", header), *extra, (b"IDAT", zlib.compress(filtered.tobytes())), (b"IEND", b"")]
    framed = [
        len(data).to_bytes(4, "big") + kind + data + zlib.crc32(kind + data).to_bytes(4, "big") for kind, data in chunks
    ]
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + b"".join(framed))
    return path


def png_header(path: Path) -> tuple[int, int]:
    """A PNG's bit depth and colour type (0 gray, 2 RGB, 4 gray+alpha, 6 RGBA)."""
    header = path.read_bytes()[16:29]
    return header[8], header[9]


def test_a_sixteen_bit_gray_alpha_png_stays_gray_alpha(tmp_path: Path) -> None:
    """Issue 21 item 2: it came back as 16-bit RGBA whose hole was not gray (R and G up to 257 apart)."""
    before = with_square(surface(2))
    photo = handmade_png(tmp_path / "gray_alpha.png", before, colour_type=4, extra=[])
    result = fill(photo, "--box", BOX)
    assert result.exit_code == 0, result.output
    assert result.output.strip().splitlines() == [f"Filled {photo} -> {tmp_path / 'gray_alpha.filled.png'}"]
    assert png_header(tmp_path / "gray_alpha.filled.png") == (16, 4)
    bgra = cv2.imread(str(tmp_path / "gray_alpha.filled.png"), cv2.IMREAD_UNCHANGED)  # OpenCV reads it as BGRA
    assert np.array_equal(bgra[..., 0], bgra[..., 1]) and np.array_equal(bgra[..., 0], bgra[..., 2])
    assert_filled_at_sixteen_bits(before, bgra[..., [0, 3]])
    # A TIFF written here holds no gray+alpha: RGBA with R = G = B, and a warning says so.
    result = fill(photo, "--box", BOX, "--out", tmp_path / "gray_alpha.tif")
    assert result.exit_code == 0, result.output
    assert result.output.strip().splitlines()[0] == (
        "Warning: its 16-bit gray and alpha are written as RGBA in a TIFF: write a .png to keep them gray"
    )
    rgba = read(tmp_path / "gray_alpha.tif")
    assert np.array_equal(rgba[..., 0], rgba[..., 2]) and np.array_equal(rgba, bgra[..., [0, 0, 0, 3]])


@pytest.mark.parametrize("channels", [1, 3], ids=["gray", "rgb"])
def test_a_sixteen_bit_png_with_a_transparent_colour_is_filled_and_keeps_it(tmp_path: Path, channels: int) -> None:
    """Issue 21 item 7: an RGB one was refused ("OpenCV could not read"), a gray one lost its transparent colour."""
    before = with_square(surface(channels))
    key = before[0, 0].reshape(-1)  # the top-left pixel's colour is the transparent one
    transparent = (before.reshape(*before.shape[:2], -1) == key).all(axis=-1)
    assert 0 < transparent.sum() < before.size // 100
    trns = (b"tRNS", key.astype(">u2").tobytes())
    photo = handmade_png(tmp_path / "keyed.png", before, colour_type=0 if channels == 1 else 2, extra=[trns])
    with Image.open(photo) as opened:
        assert opened.info["transparency"] == (int(key[0]) if channels == 1 else tuple(map(int, key)))
    result = fill(photo, "--box", BOX)
    assert result.exit_code == 0, result.output
    assert result.output.strip().splitlines() == [f"Filled {photo} -> {tmp_path / 'keyed.filled.png'}"]
    written = tmp_path / "keyed.filled.png"
    assert png_header(written) == png_header(photo)
    assert trns in encoded_files.png_chunks(written.read_bytes())
    stored = cv2.imread(str(written), cv2.IMREAD_ANYDEPTH | (cv2.IMREAD_COLOR if channels == 3 else 0))
    assert_filled_at_sixteen_bits(before, stored if channels == 1 else cv2.cvtColor(stored, cv2.COLOR_BGR2RGB))


@pytest.mark.parametrize(
    ("pixels", "kind"),
    [
        (np.full((40, 48), 0.5, np.float32), "32-bit float (F)"),
        (np.full((40, 48), 70000, np.int32), "32-bit integer (I)"),
    ],
)
def test_float_and_32_bit_integer_photos_are_refused_in_one_line(tmp_path: Path, pixels: np.ndarray, kind: str) -> None:
    photo = tmp_path / "deep.tif"
    Image.fromarray(pixels).save(photo)
    result = fill(photo, "--box", "4,4,10")
    assert result.exit_code == 1
    assert result.output.strip().splitlines() == [
        f"Error: deep.tif has {kind} pixels; inpaint fills 8- and 16-bit photos"
    ]
    assert not (tmp_path / "deep.filled.tif").exists()


def test_fill_image_takes_sixteen_bit_arrays_and_gray_images(tiny_model: runtime.Predictor) -> None:
    hole = masking.draw_boxes([BOX], 160, 200, dtype=bool)
    for channels in (1, 2, 3, 4):
        pixels = with_square(surface(channels))
        filled = filling.fill_image(pixels, hole, predictor=tiny_model)
        assert filled.dtype == np.uint16 and np.array_equal(filled[~hole], pixels[~hole])
        assert not np.array_equal(filled[hole], pixels[hole])
        if channels in {2, 4}:
            assert np.array_equal(filled[..., -1], pixels[..., -1])
    image = Image.fromarray(with_square(surface(1)))
    filled_image = filling.fill_image(image, hole, predictor=tiny_model)
    assert filled_image.mode == "I;16" and np.array_equal(np.asarray(filled_image)[~hole], np.asarray(image)[~hole])
    with pytest.raises(InpaintError, match=r"^the image has 32-bit float \(F\) pixels; inpaint fills 8- and 16-bit"):
        filling.fill_image(Image.fromarray(np.zeros((160, 200), np.float32)), hole, predictor=tiny_model)


def test_the_page_fills_a_sixteen_bit_upload_at_sixteen_bits(tiny_model: runtime.Predictor, tmp_path: Path) -> None:
    from inpaint_cli.stages import serving

    before = with_square(surface(3))
    photo = write(tmp_path / "deep.png", before)
    mask = Image.fromarray(masking.draw_boxes([BOX], 160, 200, dtype=np.uint8) * 255)
    mask.save(tmp_path / "mask.png")
    filled = serving.fill_upload(photo.read_bytes(), "deep.png", (tmp_path / "mask.png").read_bytes(), tiny_model)
    assert filled.filename == "deep.filled.png" and filled.warnings == []
    after = cv2.cvtColor(cv2.imdecode(np.frombuffer(filled.content, np.uint8), cv2.IMREAD_UNCHANGED), cv2.COLOR_BGR2RGB)
    hole = masking.draw_boxes([BOX], 160, 200, dtype=bool)
    assert after.dtype == np.uint16 and np.array_equal(after[~hole], before[~hole])
    assert not np.array_equal(after[hole], before[hole])


# --- prepare and evaluate -------------------------------------------------------------------------


def deep_and_float_photos(folder: Path) -> None:
    """Mid-gray ramps in a 16-bit gray PNG and a float TIFF in [0, 1]; in a float and a 32-bit TIFF off any scale."""
    folder.mkdir(parents=True, exist_ok=True)
    ramp = np.tile(np.linspace(0.25, 0.75, 48, dtype=np.float32), (40, 1))
    Image.fromarray((ramp * 65535).astype(np.uint16)).save(folder / "deep.png")
    Image.fromarray(ramp).save(folder / "unit_float.tif")
    Image.fromarray(ramp * 1000).save(folder / "wide_float.tif")
    Image.fromarray((ramp * 100000).astype(np.int32)).save(folder / "wide_integer.tif")


def assert_a_mid_gray_ramp(pixels: np.ndarray) -> None:
    """uint8 HxWx3 (or float in [0, 1]) that is gray, half-way up and rising to the right: not white, not black."""
    pixels = np.asarray(pixels, np.float64) / (255 if pixels.dtype == np.uint8 else 1)
    assert np.array_equal(pixels[..., 0], pixels[..., 1]) and np.array_equal(pixels[..., 0], pixels[..., 2])
    assert 0.4 < pixels.mean() < 0.6 and pixels[:, -1].mean() - pixels[:, 0].mean() > 0.3


SKIPPED = {
    "wide_float.tif": "has float pixels from 250 to 750; only floats in [0, 1] have a known scale to 8 bits",
    "wide_integer.tif": "has 32-bit integer pixels, which have no known scale to 8 bits",
}


def test_prepare_scales_sixteen_bit_and_unit_float_photos_and_skips_the_others(
    photo_folder: Path, tmp_path: Path
) -> None:
    deep_and_float_photos(photo_folder / "deep")
    config = dataset.PrepareConfig(size=32, hole_min=4, hole_max=12, val_fraction=0.25, seed=3)
    manifest = dataset.prepare([photo_folder], tmp_path / "ds", config)
    assert {entry["path"]: entry["reason"] for entry in manifest["skipped"]} == {
        str(photo_folder / "deep" / name): f"{photo_folder / 'deep' / name} {reason}"
        for name, reason in SKIPPED.items()
    }
    samples = [
        image.numpy()
        for split in ("train", "validation")
        for image, _ in dataset.read_split(tmp_path / "ds", manifest, split, random_holes=False)
    ]
    gray = [sample for sample in samples if np.array_equal(sample[..., 0], sample[..., 1])]
    assert len(samples) == 26 and len(gray) == 2
    for sample in gray:
        assert_a_mid_gray_ramp(sample)


def test_evaluate_scales_sixteen_bit_and_unit_float_photos_and_skips_the_others(
    tmp_path: Path, tiny_model_dir: Path
) -> None:
    deep_and_float_photos(tmp_path / "photos")
    result = evaluation.run_evaluation(tmp_path / "photos", tiny_model_dir, ["mean"], seed=1)
    assert result.protocol.skipped == [f"{tmp_path / 'photos' / name} {reason}" for name, reason in SKIPPED.items()]
    assert len(result.sheet_rows) == 2
    for row in result.sheet_rows:
        assert_a_mid_gray_ramp(row[-1])  # the original, as the protocol saw it


def test_the_readme_says_what_a_sixteen_bit_file_keeps() -> None:
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    kept = " ".join(readme.split("What the output keeps:")[1].split("How a photo of any size")[0].split())
    assert not re.search(r"16-bit[^.]*refused", kept)  # what it said while 16-bit files were refused
    assert "16-bit PNG and TIFF stay 16-bit, exact outside the holes" in kept
    assert "a 16-bit TIFF drops EXIF, and a JPEG, WebP or BMP holds 8 bits: a warning says so" in kept
