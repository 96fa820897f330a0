"""Issue 21: faithful and safe, round two. Items 1, 4 and 8 here; the 16-bit items (2, 7) in test_sixteen_bit.py.

They fill with the bundled model (LiteRT, no TensorFlow), so they stay quick.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from conftest import landscape
from PIL import Image, PngImagePlugin
from typer.testing import CliRunner

from inpaint_cli.cli import app
from inpaint_cli.files import encoded_files, images, photo_writing
from inpaint_cli.inpainting import masking
from inpaint_cli.inpainting.rectangles import Box

runner = CliRunner()
BOX = Box(10, 12, 12)
# Every compression Pillow writes for 8-bit RGB (the CCITT group ones are for 1-bit images only).
TIFF_COMPRESSIONS = ["raw", "tiff_lzw", "tiff_adobe_deflate", "jpeg", "packbits"]
# Mean difference of a JPEG-compressed TIFF (Pillow's quality 75) from its noisy pixels: about 3.6 when it is whole
# and upright, tens when shifted, turned the wrong way or cut by a black band.
JPEG_TIFF_TOLERANCE = 6


def fill(*arguments: str | Path) -> object:
    return runner.invoke(app, ["fill", *map(str, arguments)])


def lines(result: object) -> list[str]:
    return result.output.strip().splitlines()


# --- 1: 8-bit TIFFs with an EXIF orientation ----------------------------------------------------


def turned_tiff(path: Path, orientation: int, compression: str) -> np.ndarray:
    """A 48x40 (stored) TIFF whose orientation tag is orientation; its upright pixels."""
    stored = Image.fromarray(landscape(40, 48, seed=orientation))
    exif = Image.Exif()
    exif[0x0112] = orientation
    exif[0x010F] = "TestCam"  # Make: a tag that describes the photo and must stay
    stored.save(path, exif=exif.tobytes(), compression=compression)
    return np.asarray(stored.transpose(images.UPRIGHT[orientation]) if orientation != 1 else stored)


def assert_whole_and_upright(path: Path, upright: np.ndarray, compression: str, hole: np.ndarray) -> None:
    """path holds upright's pixels (outside hole), all of them, with the compression asked and no turn left to do."""
    with Image.open(path) as written:
        assert written.getexif().get(0x0112, 1) == 1 and written.getexif()[0x010F] == "TestCam"
        assert written.info["compression"] == compression
        pixels = np.asarray(written.convert("RGB"))
    stored = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)  # another reader: the header and the pixels agree
    assert pixels.shape == stored.shape == upright.shape
    difference = np.abs(pixels.astype(int) - upright)[~hole]
    if compression == "jpeg":
        assert difference.mean() < JPEG_TIFF_TOLERANCE
    else:
        assert difference.max() == 0


@pytest.mark.parametrize("compression", TIFF_COMPRESSIONS)
def test_an_exif_turned_eight_bit_tiff_comes_back_whole_and_upright(tmp_path: Path, compression: str) -> None:
    photo = tmp_path / "turned.tif"
    upright = turned_tiff(photo, 6, compression)
    result = fill(photo, "--box", BOX)
    assert result.exit_code == 0, result.output
    assert lines(result) == [f"Filled {photo} -> {tmp_path / 'turned.filled.tif'}"]
    hole = masking.draw_boxes([BOX], *upright.shape[:2], dtype=bool)
    assert_whole_and_upright(tmp_path / "turned.filled.tif", upright, compression, hole)


@pytest.mark.parametrize("compression", TIFF_COMPRESSIONS)
def test_every_orientation_of_an_eight_bit_tiff_is_read_upright_and_written_whole(
    tmp_path: Path, compression: str
) -> None:
    for orientation in range(1, 9):
        photo = tmp_path / f"o{orientation}.tif"
        upright = turned_tiff(photo, orientation, compression)
        source = images.open_photo(photo)
        assert source.orientation == orientation
        assert np.abs(np.asarray(source.image).astype(int) - upright).mean() < (
            JPEG_TIFF_TOLERANCE if compression == "jpeg" else 1e-9
        )
        photo_writing.save_photo(source.image, tmp_path / f"o{orientation}.out.tif", source)
        nothing = np.zeros(upright.shape[:2], bool)
        assert_whole_and_upright(tmp_path / f"o{orientation}.out.tif", np.asarray(source.image), compression, nothing)


def test_a_mask_drawn_on_a_turned_tiffs_stored_pixels_is_turned_with_it(tmp_path: Path) -> None:
    photo = tmp_path / "turned.tif"
    upright = turned_tiff(photo, 6, "tiff_lzw")  # 40 wide and 48 high as displayed, 48x40 stored
    hole = masking.draw_boxes([BOX], *upright.shape[:2], dtype=bool)
    stored_mask = Image.fromarray(hole).transpose(images.STORED[6])
    stored_mask.save(tmp_path / "mask.png")
    result = fill(photo, "--mask", tmp_path / "mask.png", "--out", tmp_path / "out.tif")
    assert result.exit_code == 0, result.output
    assert_whole_and_upright(tmp_path / "out.tif", upright, "tiff_lzw", hole)


# --- 4: JPEGs that carry a second image (MPO) ---------------------------------------------------


def test_a_jpeg_carrying_a_second_image_is_filled_and_says_what_it_leaves_out(tmp_path: Path) -> None:
    photo = tmp_path / "phone.jpg"
    primary = Image.fromarray(landscape(40, 48, seed=3))
    gain_map = Image.fromarray(landscape(20, 24, seed=4))
    exif = Image.Exif()
    exif[0x010F] = "PhoneCam"
    primary.save(photo, format="MPO", save_all=True, append_images=[gain_map], exif=exif.tobytes(), quality=92)
    with Image.open(photo) as opened:
        assert opened.format == "MPO" and opened.n_frames == 2
        primary_pixels = np.asarray(opened.convert("RGB"))
    result = fill(photo, "--box", BOX)
    assert result.exit_code == 0, result.output
    assert lines(result) == [
        "Warning: its second image (an MPO preview, depth or gain map) is not carried over; the main photo is",
        f"Filled {photo} -> {tmp_path / 'phone.filled.jpg'}",
    ]
    with Image.open(tmp_path / "phone.filled.jpg") as written:
        assert written.format == "JPEG" and getattr(written, "n_frames", 1) == 1
        assert written.size == (48, 40) and written.getexif()[0x010F] == "PhoneCam"
        pixels = np.asarray(written.convert("RGB")).astype(int)
    hole = masking.draw_boxes([BOX], 40, 48, dtype=bool)
    assert np.abs(pixels - primary_pixels)[~hole].mean() < 2  # the same quantisation, re-encoded


# --- 8: PNG gAMA, cHRM and sRGB ----------------------------------------------------------------

COLOUR_CHUNKS = [
    (b"gAMA", (45455).to_bytes(4, "big")),
    (b"cHRM", b"".join(value.to_bytes(4, "big") for value in (31270, 32900, 64000, 33000, 30000, 60000, 15000, 6000))),
    (b"sRGB", b"\x00"),
]


@pytest.mark.parametrize("bits", [8, 16])
def test_png_gamma_chromaticity_and_srgb_chunks_are_kept(tmp_path: Path, bits: int) -> None:
    photo = tmp_path / "colour.png"
    pixels = landscape(40, 48, seed=5)
    if bits == 8:
        info = PngImagePlugin.PngInfo()
        for kind, data in COLOUR_CHUNKS:
            info.add(kind, data)
        Image.fromarray(pixels).save(photo, pnginfo=info)
    else:
        encoded = cv2.imencode(".png", cv2.cvtColor(pixels.astype(np.uint16) * 257, cv2.COLOR_RGB2BGR))[1]
        photo.write_bytes(encoded_files.with_png_chunks(encoded.tobytes(), COLOUR_CHUNKS))
    assert [chunk for chunk in encoded_files.png_chunks(photo.read_bytes()) if chunk in COLOUR_CHUNKS] == COLOUR_CHUNKS
    result = fill(photo, "--box", BOX)
    assert result.exit_code == 0, result.output
    written = encoded_files.png_chunks((tmp_path / "colour.filled.png").read_bytes())
    assert written[0][1][8] == bits
    assert sorted(chunk for chunk in written if chunk[0] in {b"gAMA", b"cHRM", b"sRGB"}) == sorted(COLOUR_CHUNKS)
    kinds = [kind for kind, _ in written]
    assert max(kinds.index(kind) for kind, _ in COLOUR_CHUNKS) < kinds.index(b"IDAT")  # before the pixels, as required


# --- the same through `serve` (it answered "codec configuration error" for a turned TIFF) ---------------------


def png_bytes(pixels: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


def test_serve_fills_a_turned_tiff_and_a_phone_jpeg_with_a_second_image(tmp_path: Path) -> None:
    from starlette.testclient import TestClient

    from inpaint_cli.inpainting.image_fill import bundled_predictor
    from inpaint_cli.stages import serving

    client = TestClient(serving.create_app(bundled_predictor()))
    upright = turned_tiff(tmp_path / "turned.tif", 6, "tiff_lzw")
    hole = masking.draw_boxes([BOX], *upright.shape[:2], dtype=bool)
    files = {"image": ("turned.tif", (tmp_path / "turned.tif").read_bytes()), "mask": ("m.png", png_bytes(hole))}
    response = client.post("/api/fill", files=files)
    assert response.status_code == 200 and response.headers["content-type"] == "image/tiff", response.text
    assert json.loads(response.headers["x-inpaint-warnings"]) == []
    (tmp_path / "served.tif").write_bytes(response.content)
    assert_whole_and_upright(tmp_path / "served.tif", upright, "tiff_lzw", hole)

    Image.fromarray(landscape(40, 48, seed=3)).save(
        tmp_path / "phone.jpg", format="MPO", save_all=True, append_images=[Image.new("RGB", (24, 20))]
    )
    hole = masking.draw_boxes([BOX], 40, 48, dtype=bool)
    files = {"image": ("phone.jpg", (tmp_path / "phone.jpg").read_bytes()), "mask": ("m.png", png_bytes(hole))}
    response = client.post("/api/fill", files=files)
    assert response.status_code == 200 and response.headers["content-type"] == "image/jpeg", response.text
    assert json.loads(response.headers["x-inpaint-warnings"]) == [
        "its second image (an MPO preview, depth or gain map) is not carried over; the main photo is"
    ]
    with Image.open(io.BytesIO(response.content)) as served:
        assert served.format == "JPEG" and served.size == (48, 40)
