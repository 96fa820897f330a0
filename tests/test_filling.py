from pathlib import Path

import numpy as np
import pytest
from conftest import landscape
from PIL import Image, ImageOps

from inpaint_cli.errors import UsageError
from inpaint_cli.inpainting import hole_plan, image_fill, masking, rectangles
from inpaint_cli.inpainting.rectangles import Box
from inpaint_cli.model import runtime
from inpaint_cli.stages import filling


@pytest.fixture(scope="module")
def tiny_model(tiny_model_dir: Path) -> runtime.Predictor:
    return runtime.load_predictor(tiny_model_dir)


def fill_file(model: Path, photo: Path, target: Path, boxes: list[Box], mask: Path | None = None) -> None:
    """Fill one photo file through fill_photos, raising its error."""
    [outcome] = filling.fill_photos(filling.FillRequest([photo], boxes, mask=mask, out=target, model=model))
    if outcome.error is not None:
        raise outcome.error


def test_fill_changes_only_the_holes_of_a_large_png(tiny_model_dir: Path, tmp_path: Path) -> None:
    photo = tmp_path / "big.png"
    pixels = landscape(1500, 2000, seed=5)
    Image.fromarray(pixels).save(photo)
    boxes = [Box(100, 200, 40), Box(1500, 900, 300), Box(1960, 1460, 40)]
    target = tmp_path / "big.filled.png"
    fill_file(tiny_model_dir, photo, target, boxes)
    result = np.asarray(Image.open(target))
    hole = masking.draw_boxes(boxes, 1500, 2000) > 0
    assert result.shape == pixels.shape
    assert np.array_equal(result[~hole], pixels[~hole])
    assert not np.array_equal(result[hole], pixels[hole])
    assert np.array_equal(np.asarray(Image.open(photo)), pixels)  # the input is untouched


def test_small_photo_and_box_covering_it(tiny_model: runtime.Predictor) -> None:
    image = Image.fromarray(landscape(20, 30, seed=1))
    filled = filling.fill_image(image, masking.draw_boxes([Box(0, 0, 20)], 20, 30) > 0, predictor=tiny_model)
    assert filled.size == (30, 20)
    assert np.array_equal(np.asarray(filled)[:, 20:], np.asarray(image)[:, 20:])


@pytest.mark.parametrize("mode", ["L", "RGBA"])
def test_grayscale_and_alpha_keep_their_mode(tiny_model: runtime.Predictor, mode: str) -> None:
    image = Image.fromarray(landscape(64, 64, seed=2)).convert(mode)
    filled = filling.fill_image(image, masking.draw_boxes([Box(10, 10, 16)], 64, 64) > 0, predictor=tiny_model)
    assert filled.mode == mode
    if mode == "RGBA":
        assert np.array_equal(np.asarray(filled)[..., 3], np.asarray(image)[..., 3])


def test_box_outside_the_photo_names_box_and_size() -> None:
    image = Image.fromarray(landscape(600, 800, seed=3))
    with pytest.raises(UsageError, match=r"box 790,590,50 lies outside photo.png \(800x600\)"):
        image_fill.hole_mask([rectangles.parse_box("790,590,50")], None, *image.size, name="photo.png")


def test_jpeg_metadata_survives(tiny_model_dir: Path, tmp_path: Path) -> None:
    photo = tmp_path / "camera.jpg"
    exif = Image.Exif()
    exif[0x010F] = "TestCam"  # Make
    exif[0x0112] = 6  # rotated: displayed as 48 wide x 64 high
    Image.fromarray(landscape(48, 64, seed=4)).save(photo, exif=exif, dpi=(300, 300), icc_profile=b"fake-icc")
    target = tmp_path / "camera.filled.jpg"
    fill_file(tiny_model_dir, photo, target, [Box(0, 40, 20)])
    with Image.open(target) as written:  # stored as the source was, turned by its orientation tag
        assert written.size == (64, 48)
        assert written.getexif()[0x010F] == "TestCam" and written.getexif()[0x0112] == 6
        assert ImageOps.exif_transpose(written).size == (48, 64)
        assert written.info["icc_profile"] == b"fake-icc"
        assert tuple(round(v) for v in written.info["dpi"]) == (300, 300)


def test_free_form_mask_file_and_boxes_together(tiny_model_dir: Path, tmp_path: Path) -> None:
    photo = tmp_path / "photo.png"
    pixels = landscape(300, 400, seed=6)
    Image.fromarray(pixels).save(photo)
    rng = np.random.default_rng(0)
    stroke = masking.random_stroke_mask(rng, 200, 10, 30)[:150] > 0  # drawn at half size: the mask gets resized
    Image.fromarray((stroke * 255).astype(np.uint8)).save(tmp_path / "mask.png")
    target = tmp_path / "out.png"
    fill_file(tiny_model_dir, photo, target, [Box(300, 10, 30)], tmp_path / "mask.png")
    expected_hole = np.asarray(Image.fromarray(stroke).resize((400, 300), Image.Resampling.NEAREST))
    expected_hole = expected_hole | (masking.draw_boxes([Box(300, 10, 30)], 300, 400) > 0)
    result = np.asarray(Image.open(target))
    assert np.array_equal(result[~expected_hole], pixels[~expected_hole])
    assert (result[expected_hole] != pixels[expected_hole]).any(axis=-1).mean() > 0.5


def test_all_black_mask_is_nothing_to_fill(tiny_model_dir: Path, tmp_path: Path) -> None:
    Image.fromarray(landscape(64, 64, seed=1)).save(tmp_path / "photo.png")
    Image.new("L", (64, 64)).save(tmp_path / "mask.png")
    with pytest.raises(UsageError, match="nothing to fill"):
        fill_file(tiny_model_dir, tmp_path / "photo.png", tmp_path / "out.png", [], tmp_path / "mask.png")


@pytest.mark.parametrize(
    ("height", "width", "box"),
    [
        (250, 400, Box(0, 0, 250)),
        (150, 2000, Box(1000, 0, 150)),
    ],  # a whole side; a panorama strip
)
def test_a_hole_as_tall_as_the_photo_is_filled_from_its_sides_not_black(
    tiny_model: runtime.Predictor, height: int, width: int, box: Box
) -> None:
    photo = landscape(height, width, seed=4)
    hole = masking.draw_boxes([box], height, width) > 0
    filled = filling.fill_image(photo, hole, predictor=tiny_model)
    known = photo[~hole].astype(float).mean(axis=0)
    assert np.array_equal(filled[~hole], photo[~hole])
    assert (filled[hole].max(axis=-1) > 20).all()  # no black pixel: every part of the hole saw known pixels
    assert np.abs(filled[hole].astype(float).mean(axis=0) - known).max() < 40


def test_the_hole_is_filled_in_one_layer_unless_it_reaches_far_from_known_pixels() -> None:
    ordinary = masking.draw_boxes([Box(100, 50, 300)], 1000, 1500) > 0
    ordinary_layers = hole_plan.plan_holes(ordinary, filling.FillOptions()).layers
    assert [layer.pixels is ordinary for layer in ordinary_layers] == [True]
    strip = masking.draw_boxes([Box(1000, 0, 150)], 150, 2000) > 0
    layers = [layer.pixels for layer in hole_plan.plan_holes(strip, filling.FillOptions()).layers]
    assert len(layers) == 3  # 25 px at a time from each side: 75 px to the middle
    assert np.array_equal(np.logical_or.reduce(layers), strip) and not (layers[0] & layers[1]).any()


@pytest.mark.parametrize(("height", "width"), [(60, 80), (160, 200)])
def test_what_was_in_the_hole_does_not_change_the_fill(tiny_model: runtime.Predictor, height: int, width: int) -> None:
    """Photos smaller than the network's input are scaled up: the hole's old pixels must not reach the fill."""
    photo = landscape(height, width, seed=3)
    hole = masking.draw_boxes([Box(20, 15, 24)], height, width) > 0
    white, black = photo.copy(), photo.copy()
    white[hole], black[hole] = 255, 0
    from_white = filling.fill_image(white, hole, filling.FillOptions(), tiny_model)
    from_black = filling.fill_image(black, hole, filling.FillOptions(), tiny_model)
    assert np.array_equal(np.asarray(from_white), np.asarray(from_black))
