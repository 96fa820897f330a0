from pathlib import Path

import numpy as np
import pytest
from conftest import landscape
from PIL import Image

from inpaint_cli import filling, masking
from inpaint_cli.errors import InpaintError, UsageError


@pytest.fixture(scope="module")
def tiny_model(tiny_model_dir: Path) -> filling.Model:
    return filling.load(tiny_model_dir)


def test_fill_changes_only_the_holes_of_a_large_png(tiny_model_dir: Path, tmp_path: Path) -> None:
    photo = tmp_path / "big.png"
    pixels = landscape(1500, 2000, seed=5)
    Image.fromarray(pixels).save(photo)
    boxes = [masking.Box(100, 200, 40), masking.Box(1500, 900, 300), masking.Box(1960, 1460, 40)]
    target = tmp_path / "big.filled.png"
    filling.Filler(tiny_model_dir).fill_file(photo, target, boxes)
    result = np.asarray(Image.open(target))
    hole = masking.draw_boxes(boxes, 1500, 2000) > 0
    assert result.shape == pixels.shape
    assert np.array_equal(result[~hole], pixels[~hole])
    assert not np.array_equal(result[hole], pixels[hole])
    assert np.array_equal(np.asarray(Image.open(photo)), pixels)  # the input is untouched


def test_context_window_holds_the_hole_and_stays_inside() -> None:
    for hole in [filling.Window(0, 0, 10), filling.Window(990, 490, 10), filling.Window(400, 200, 200)]:
        window = filling.context_window(hole, height=500, width=1000, input_size=128)
        assert 0 <= window.left and window.left + window.side <= 1000
        assert 0 <= window.top and window.top + window.side <= 500
        assert window.left <= hole.left and hole.left + hole.side <= window.left + window.side
        assert window.top <= hole.top and hole.top + hole.side <= window.top + window.side
    assert filling.context_window(filling.Window(500, 200, 10), 500, 1000, 128).side == 128  # full resolution
    assert filling.context_window(filling.Window(400, 100, 100), 500, 1000, 128).side == 300


def test_small_photo_and_box_covering_it(tiny_model: filling.Model) -> None:
    image = Image.fromarray(landscape(20, 30, seed=1))
    filled = filling.fill_image(image, [masking.Box(0, 0, 20)], tiny_model)
    assert filled.size == (30, 20)
    assert np.array_equal(np.asarray(filled)[:, 20:], np.asarray(image)[:, 20:])


@pytest.mark.parametrize("mode", ["L", "RGBA"])
def test_grayscale_and_alpha_keep_their_mode(tiny_model: filling.Model, mode: str) -> None:
    image = Image.fromarray(landscape(64, 64, seed=2)).convert(mode)
    filled = filling.fill_image(image, [masking.Box(10, 10, 16)], tiny_model)
    assert filled.mode == mode
    if mode == "RGBA":
        assert np.array_equal(np.asarray(filled)[..., 3], np.asarray(image)[..., 3])


def test_box_outside_the_photo_names_box_and_size(tiny_model: filling.Model) -> None:
    image = Image.fromarray(landscape(600, 800, seed=3))
    with pytest.raises(UsageError, match=r"box 790,590,50 lies outside photo.png \(800x600\)"):
        filling.fill_image(image, [masking.parse_box("790,590,50")], tiny_model, name="photo.png")


def test_sixteen_bit_images_are_refused(tiny_model: filling.Model) -> None:
    image = Image.fromarray(np.zeros((32, 32), np.uint16) + 1000)
    with pytest.raises(InpaintError, match="16-bit"):
        filling.fill_image(image, [masking.Box(0, 0, 8)], tiny_model)


def test_output_naming_and_overwrite_rules(tmp_path: Path) -> None:
    photo = tmp_path / "holiday.jpg"
    photo.write_bytes(b"x")
    assert filling.output_path(photo, None, None) == tmp_path / "holiday.filled.jpg"
    assert filling.output_path(photo, None, tmp_path / "out") == tmp_path / "out" / "holiday.filled.jpg"
    with pytest.raises(UsageError, match="is the input"):
        filling.check_output(photo, photo, force=True)
    existing = tmp_path / "existing.jpg"
    existing.write_bytes(b"y")
    with pytest.raises(UsageError, match="--force"):
        filling.check_output(photo, existing, force=False)
    filling.check_output(photo, existing, force=True)
    with pytest.raises(UsageError, match="does not exist"):
        filling.check_output(photo, tmp_path / "missing" / "out.jpg", force=False)


def test_jpeg_metadata_survives(tiny_model_dir: Path, tmp_path: Path) -> None:
    photo = tmp_path / "camera.jpg"
    exif = Image.Exif()
    exif[0x010F] = "TestCam"  # Make
    exif[0x0112] = 6  # rotated: displayed as 48 wide x 64 high
    Image.fromarray(landscape(48, 64, seed=4)).save(photo, exif=exif, dpi=(300, 300), icc_profile=b"fake-icc")
    target = tmp_path / "camera.filled.jpg"
    filling.Filler(tiny_model_dir).fill_file(photo, target, [masking.Box(0, 40, 20)])
    with Image.open(target) as written:
        assert written.size == (48, 64)
        assert written.getexif()[0x010F] == "TestCam" and written.getexif()[0x0112] == 1
        assert written.info["icc_profile"] == b"fake-icc"
        assert tuple(round(v) for v in written.info["dpi"]) == (300, 300)
