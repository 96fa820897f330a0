from pathlib import Path

import numpy as np
import pytest
from conftest import landscape
from PIL import Image, ImageDraw

from inpaint_cli import filling, images, masking, planning
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
    for hole in [masking.Box(0, 0, 10), masking.Box(990, 490, 10), masking.Box(400, 200, 200)]:
        window = filling.context_window(hole, height=500, width=1000, input_size=128)
        assert 0 <= window.x and window.x + window.size <= 1000
        assert 0 <= window.y and window.y + window.size <= 500
        assert window.x <= hole.x and hole.x + hole.size <= window.x + window.size
        assert window.y <= hole.y and hole.y + hole.size <= window.y + window.size
    assert filling.context_window(masking.Box(500, 200, 10), 500, 1000, 128).size == 128  # full resolution
    assert filling.context_window(masking.Box(400, 100, 100), 500, 1000, 128).size == 300


def test_window_detail_is_the_mean_step_between_known_neighbours() -> None:
    window = np.zeros((8, 8, 4), np.float32)
    window[:, :, :3] = 0.5
    assert filling.window_detail(window) == 0.0
    window[:, 4:, :3] = 0.6  # one vertical edge: 8 of the 112 neighbour pairs step by 0.1
    assert filling.window_detail(window) == pytest.approx(0.1 * 8 / 112)
    window[2:4, 2:4, :3], window[2:4, 2:4, 3] = 0.0, 1.0  # a hole: its pixels and pairs do not count
    assert filling.window_detail(window) == pytest.approx(0.1 * 6 / 100)
    window[::2, :, 3], window[1::2, 1::2, 3] = 1.0, 1.0  # no two known pixels touch: nothing says it is flat
    assert filling.window_detail(window) == float("inf")


def test_flat_windows_take_the_smooth_fill_and_detailed_ones_the_networks() -> None:
    fill, smooth = np.full((4, 4, 3), 0.2, np.float32), np.full((4, 4, 3), 0.6, np.float32)
    prediction = np.concatenate([fill, smooth], axis=-1)
    flat = np.zeros((4, 4, 4), np.float32)
    assert np.allclose(filling._fill_colours(prediction, flat), 0.6)
    striped = flat.copy()
    striped[:, ::2, :3] = 0.1  # every horizontal step is 0.1: far above FLAT_DETAIL
    assert np.allclose(filling._fill_colours(prediction, striped), 0.2)
    low, high = filling.FLAT_DETAIL
    halfway = flat.copy()
    halfway[:, ::2, :3] = (low + high) / 2 * 24 / 12  # 12 of the 24 pairs step
    assert np.allclose(filling._fill_colours(prediction, halfway), 0.4)
    assert filling._fill_colours(fill, flat) is fill  # a 3-channel model has no smooth fill


def test_a_flat_sky_takes_the_smooth_fill_and_a_textured_photo_the_networks(tiny_model: filling.Model) -> None:
    def grey_network(batch: np.ndarray) -> np.ndarray:  # a network that paints mid-grey; the real smooth fill
        smooth = tiny_model.predict(batch)[..., 3:]
        return np.concatenate([np.full_like(smooth, 0.5), smooth], axis=-1)

    model = filling.Model(grey_network, tiny_model.input_size, tiny_model.path)
    hole = masking.draw_boxes([masking.Box(120, 140, 40)], 200, 300) > 0
    sky = np.zeros((200, 300, 3), np.uint8) + np.array([90, 140, 210], np.uint8)
    assert np.array_equal(filling.fill_array(sky, hole, model), sky)
    textured = landscape(200, 300, seed=4)  # the hole lies in the ground's texture
    assert set(np.unique(filling.fill_array(textured, hole, model)[hole])) <= {127, 128}


def test_small_photo_and_box_covering_it(tiny_model: filling.Model) -> None:
    image = Image.fromarray(landscape(20, 30, seed=1))
    filled = filling.fill_image(image, masking.draw_boxes([masking.Box(0, 0, 20)], 20, 30) > 0, tiny_model)
    assert filled.size == (30, 20)
    assert np.array_equal(np.asarray(filled)[:, 20:], np.asarray(image)[:, 20:])


@pytest.mark.parametrize("mode", ["L", "RGBA"])
def test_grayscale_and_alpha_keep_their_mode(tiny_model: filling.Model, mode: str) -> None:
    image = Image.fromarray(landscape(64, 64, seed=2)).convert(mode)
    filled = filling.fill_image(image, masking.draw_boxes([masking.Box(10, 10, 16)], 64, 64) > 0, tiny_model)
    assert filled.mode == mode
    if mode == "RGBA":
        assert np.array_equal(np.asarray(filled)[..., 3], np.asarray(image)[..., 3])


def test_box_outside_the_photo_names_box_and_size() -> None:
    image = Image.fromarray(landscape(600, 800, seed=3))
    with pytest.raises(UsageError, match=r"box 790,590,50 lies outside photo.png \(800x600\)"):
        filling.hole_mask([masking.parse_box("790,590,50")], None, *image.size, name="photo.png")


def test_sixteen_bit_images_are_refused(tiny_model: filling.Model) -> None:
    image = Image.fromarray(np.zeros((32, 32), np.uint16) + 1000)
    with pytest.raises(InpaintError, match="16-bit"):
        filling.fill_image(image, masking.draw_boxes([masking.Box(0, 0, 8)], 32, 32) > 0, tiny_model)


def test_output_naming_and_overwrite_rules(tmp_path: Path) -> None:
    photo = tmp_path / "holiday.jpg"
    photo.write_bytes(b"x")
    assert planning.output_path(photo, None, None) == tmp_path / "holiday.filled.jpg"
    assert planning.output_path(photo, None, tmp_path / "out") == tmp_path / "out" / "holiday.filled.jpg"
    with pytest.raises(UsageError, match="is the input"):
        planning.check_output(photo, photo, force=True)
    existing = tmp_path / "existing.jpg"
    existing.write_bytes(b"y")
    with pytest.raises(UsageError, match="--force"):
        planning.check_output(photo, existing, force=False)
    planning.check_output(photo, existing, force=True)
    with pytest.raises(UsageError, match="does not exist"):
        planning.check_output(photo, tmp_path / "missing" / "out.jpg", force=False)


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


def test_free_form_mask_file_and_boxes_together(tiny_model_dir: Path, tmp_path: Path) -> None:
    photo = tmp_path / "photo.png"
    pixels = landscape(300, 400, seed=6)
    Image.fromarray(pixels).save(photo)
    rng = np.random.default_rng(0)
    stroke = masking.random_stroke_mask(rng, 150, 10, 30) > 0  # drawn at half size: the mask gets resized
    Image.fromarray((stroke * 255).astype(np.uint8)).save(tmp_path / "mask.png")
    target = tmp_path / "out.png"
    filling.Filler(tiny_model_dir).fill_file(photo, target, [masking.Box(300, 10, 30)], tmp_path / "mask.png")
    expected_hole = np.asarray(Image.fromarray(stroke).resize((400, 300), Image.Resampling.NEAREST))
    expected_hole = expected_hole | (masking.draw_boxes([masking.Box(300, 10, 30)], 300, 400) > 0)
    result = np.asarray(Image.open(target))
    assert np.array_equal(result[~expected_hole], pixels[~expected_hole])
    assert (result[expected_hole] != pixels[expected_hole]).any(axis=-1).mean() > 0.5


def test_all_black_mask_is_nothing_to_fill(tiny_model_dir: Path, tmp_path: Path) -> None:
    Image.fromarray(landscape(64, 64, seed=1)).save(tmp_path / "photo.png")
    Image.new("L", (64, 64)).save(tmp_path / "mask.png")
    with pytest.raises(UsageError, match="nothing to fill"):
        filling.Filler(tiny_model_dir).fill_file(
            tmp_path / "photo.png", tmp_path / "out.png", [], tmp_path / "mask.png"
        )


def test_hole_squares_cover_every_hole_pixel() -> None:
    rng = np.random.default_rng(3)
    mask = np.zeros((700, 900), dtype=bool)
    for _ in range(4):
        mask[:150, :150] |= masking.random_stroke_mask(rng, 150, 10, 40) > 0
    mask[600:610, 20:880] = True  # a long thin scratch
    mask[300:420, 500:560] = True
    mask[200:400, 200:400] = True  # a ring with a blob inside it
    mask[220:380, 220:380] = False
    mask[290:310, 290:310] = True
    covered = np.zeros_like(mask)
    squares = masking.hole_squares(mask, min_side=32)
    for square, _ in squares:
        assert square.fits_in(900, 700)
        covered[square.slices] = True
    assert covered[mask].all()
    assert covered.mean() < 0.4  # squares hug the holes rather than the whole photo


@pytest.mark.parametrize("seed", range(6))
def test_hole_squares_cover_random_masks_at_any_min_side(seed: int) -> None:
    rng = np.random.default_rng(seed)
    height, width = int(rng.integers(200, 1300)), int(rng.integers(200, 1300))
    mask = masking.random_stroke_mask(rng, min(height, width), 5, 60) > 0
    hole = np.zeros((height, width), bool)
    hole[: mask.shape[0], : mask.shape[1]] = mask
    hole[-3:, -int(rng.integers(1, 50)) :] = True  # along the bottom edge
    covered = np.zeros_like(hole)
    for square, _ in masking.hole_squares(hole, min_side=int(rng.choice([1, 16, 64, 2000]))):
        assert square.fits_in(width, height) and hole[square.slices].any()
        covered[square.slices] = True
    assert covered[hole].all()


def test_a_diagonal_stroke_is_cut_into_squares_of_about_twice_its_width() -> None:
    mask = Image.new("L", (1200, 800))
    ImageDraw.Draw(mask).line([(100, 100), (1000, 500)], fill=255, width=20)
    hole = np.asarray(mask) > 0
    squares = masking.hole_squares(hole, min_side=32)
    covered = np.zeros_like(hole)
    for square, thickness in squares:
        assert 20 <= thickness <= 24  # the stroke's width, not its bounding rectangle's height (400)
        assert square.size == 2 * thickness and hole[square.slices].any()  # every square holds some stroke
        covered[square.slices] = True
    assert covered[hole].all()
    # The context window follows the stroke's width: 3 x 22 px is under the input, so full resolution.
    square, thickness = squares[0]
    assert filling.context_window(square, 800, 1200, 128, 3.0, thickness).size == 128
    assert filling.context_window(square, 800, 1200, 128, 10.0, thickness).size == 10 * thickness  # not 10 x 42
    assert filling.context_window(masking.Box(0, 0, 96), 800, 1200, 128, 3.0).size == 288  # a square: its side


def test_hole_squares_of_a_hole_in_the_far_corner_and_of_no_hole() -> None:
    mask = np.zeros((1000, 1300), dtype=np.float32)
    mask[990:, 1290:] = 1  # the cell grid is coarser than a pixel here: the last cells are partial
    assert masking.hole_squares(mask, min_side=64) == [masking.HoleSquare(masking.Box(1290, 990, 10), 10)]
    assert masking.hole_squares(np.zeros((50, 60), bool), min_side=16) == []


def test_photo_reader_reads_ahead_in_order_and_raises_a_bad_photos_error_in_the_caller(tmp_path: Path) -> None:
    paths = [tmp_path / f"{name}.png" for name in "abcd"]
    for seed, path in enumerate(paths):
        Image.fromarray(landscape(40, 50, seed=seed)).save(path)
    paths[1].write_bytes(b"not a photo")  # fails while its header is read, in the caller's thread
    paths[3].write_bytes(paths[3].read_bytes()[:200])  # fails while decoding, in the reader's thread
    reader = images.PhotoReader(paths)
    assert np.array_equal(np.asarray(reader.open(paths[0]).image), landscape(40, 50, seed=0))
    with pytest.raises(InpaintError, match="not an image"):
        reader.open(paths[1])
    assert np.array_equal(np.asarray(reader.open(paths[2]).image), landscape(40, 50, seed=2))
    with pytest.raises(InpaintError, match="could not be decoded"):
        reader.open(paths[3])
    # Out of order (and a path it was never given) it simply reads synchronously.
    assert reader.open(paths[0]).image.size == (50, 40)
    other = tmp_path / "other.png"
    Image.fromarray(landscape(20, 30, seed=4)).save(other)
    assert reader.open(other).image.size == (30, 20)


def test_photo_reader_follows_the_order_given_when_a_path_repeats(tmp_path: Path) -> None:
    first, second = tmp_path / "first.png", tmp_path / "second.png"
    Image.fromarray(landscape(30, 40, seed=1)).save(first)
    Image.fromarray(landscape(20, 40, seed=2)).save(second)
    reader = images.PhotoReader([first, first, second])
    sizes = [reader.open(path).image.size for path in (first, first, second)]
    assert sizes == [(40, 30), (40, 30), (40, 20)]
    assert reader._ahead is None  # nothing left to read ahead after the last


def test_photo_reader_raises_any_error_of_the_next_photo_only_when_that_photo_is_asked_for(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    paths = [tmp_path / f"{name}.png" for name in "ab"]
    for seed, path in enumerate(paths):
        Image.fromarray(landscape(20, 30, seed=seed)).save(path)
    opened = images._opened

    def refuse_the_second(path: Path) -> Image.Image:
        if path == paths[1]:
            raise PermissionError(13, "Permission denied")
        return opened(path)

    monkeypatch.setattr(images, "_opened", refuse_the_second)
    reader = images.PhotoReader(paths)
    assert reader.open(paths[0]).image.size == (30, 20)  # the second's header is read here, and fails
    with pytest.raises(PermissionError):
        reader.open(paths[1])
