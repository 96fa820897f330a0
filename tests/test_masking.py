from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

from inpaint_cli.errors import UsageError
from inpaint_cli.inpainting import context_windows, masking, rectangles
from inpaint_cli.inpainting.rectangles import Box


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("10,20,30", Box(10, 20, 30)),
        (" 0, 0 ,1 ", Box(0, 0, 1)),
        ("7,8,9", Box(7, 8, 9)),
    ],
)
def test_parse_box_accepts_three_whole_numbers(text: str, expected: Box) -> None:
    assert rectangles.parse_box(text) == expected


@pytest.mark.parametrize(
    "text", ["10,10", "a,b,c", "1,2,3,4", "", "-1,2,3", "1,2,0", "1.5,2,3", "1,,3", "\uff11,2,3", "1,2,\u00b3"]
)
def test_parse_box_rejects_malformed_text_naming_it(text: str) -> None:
    with pytest.raises(UsageError, match="box"):
        rectangles.parse_box(text)


def test_draw_boxes_marks_exactly_the_squares() -> None:
    mask = masking.draw_boxes([Box(2, 3, 4), Box(0, 0, 1)], height=10, width=12)
    assert mask.shape == (10, 12) and mask.dtype == np.float32
    assert mask.sum() == 16 + 1
    assert mask[3:7, 2:6].all() and mask[0, 0] == 1
    assert mask[2, 2] == 0 and mask[7, 5] == 0 and mask[3, 6] == 0


def test_box_fits_in_checks_both_edges() -> None:
    assert Box(90, 40, 10).fits_in(100, 50)
    assert not Box(91, 40, 10).fits_in(100, 50)
    assert not Box(0, 41, 10).fits_in(100, 50)


def test_random_boxes_stay_inside_with_sizes_in_range() -> None:
    rng = np.random.default_rng(0)
    boxes = [masking.random_box(rng, 64, 8, 24) for _ in range(500)]
    assert all(8 <= box.size <= 24 and box.fits_in(64, 64) for box in boxes)
    assert {box.size for box in boxes} == set(range(8, 25))


def test_random_training_masks_mix_strokes_and_squares() -> None:
    rng = np.random.default_rng(1)
    masks = [masking.random_training_mask(rng, 64, 8, 24, stroke_fraction=0.5) for _ in range(60)]
    assert all(mask.sum() > 0 for mask in masks)
    is_square = [_is_filled_square(mask) for mask in masks]
    assert 10 < sum(is_square) < 50


def test_painted_blobs_are_cut_by_the_border_about_half_of_the_time() -> None:
    rng = np.random.default_rng(2)
    blobs = [masking.random_blob_mask(rng, 128, 16, 48) for _ in range(200)]
    touching = [_touches_border(blob) for blob in blobs]
    assert all(blob.sum() > 0 for blob in blobs)
    assert 80 < sum(touching) < 140
    inside = [blob for blob, touches in zip(blobs, touching, strict=True) if not touches]
    sides = [max(np.ptp(np.nonzero(blob)[0]), np.ptp(np.nonzero(blob)[1])) + 1 for blob in inside]
    assert max(sides) <= 48 * 1.25 * 1.85  # the widest disc x (1 + the harmonics' 0.83 at most)
    assert np.median(sides) > 16  # most are at least as wide as the smallest square
    # irregular: the share of its bounding rectangle a blob fills varies from blob to blob (a disc's is 0.785)
    shares = [blob.sum() / ((np.ptp(np.nonzero(blob)[0]) + 1) * (np.ptp(np.nonzero(blob)[1]) + 1)) for blob in inside]
    assert np.std(shares) > 0.02


def test_painted_bands_cut_the_sample_in_two() -> None:
    rng = np.random.default_rng(3)
    for _ in range(30):
        band = masking.random_band_mask(rng, 128, 16, 48) > 0
        parts, _ = connected_parts(~band)
        assert parts >= 2  # the known pixels lie on both sides of it
        assert 0.05 < band.mean() < 0.9


def test_without_painted_holes_the_training_holes_are_those_of_before() -> None:
    def holes_of_before(rng: np.random.Generator) -> np.ndarray:  # random_training_mask before painted holes
        if rng.uniform() < 1 / 3:
            return masking.random_stroke_mask(rng, 64, 8, 24)
        return masking.draw_boxes([masking.random_box(rng, 64, 8, 24)], 64, 64)

    before, now = np.random.default_rng(4), np.random.default_rng(4)
    for _ in range(20):
        assert np.array_equal(holes_of_before(before), masking.random_training_mask(now, 64, 8, 24, 1 / 3))
    assert before.uniform() == now.uniform()  # and the generator is left where it was
    painted = [masking.random_training_mask(np.random.default_rng(seed), 64, 8, 24, 0.0, 1.0) for seed in range(40)]
    assert not any(_is_filled_square(mask) for mask in painted)


def connected_parts(mask: np.ndarray) -> tuple[int, np.ndarray]:
    """The number of 4-connected parts of a bool mask, and their labels (OpenCV)."""
    import cv2

    count, labels = cv2.connectedComponents(mask.astype(np.uint8), connectivity=4)
    return count - 1, labels


def _touches_border(mask: np.ndarray) -> bool:
    return bool(mask[0].any() or mask[-1].any() or mask[:, 0].any() or mask[:, -1].any())


def _is_filled_square(mask: np.ndarray) -> bool:
    rows, cols = np.nonzero(mask)
    height, width = np.ptp(rows) + 1, np.ptp(cols) + 1
    return height == width and mask.sum() == height * width


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
    assert context_windows.context_window(square, 800, 1200, 128, 3.0, thickness).size == 128
    assert context_windows.context_window(square, 800, 1200, 128, 10.0, thickness).size == 10 * thickness  # not 10 x 42
    assert context_windows.context_window(Box(0, 0, 96), 800, 1200, 128, 3.0).size == 288  # a square: its side


def test_hole_squares_of_a_hole_in_the_far_corner_and_of_no_hole() -> None:
    mask = np.zeros((1000, 1300), dtype=np.float32)
    mask[990:, 1290:] = 1  # the cell grid is coarser than a pixel here: the last cells are partial
    assert masking.hole_squares(mask, min_side=64) == [masking.HoleSquare(Box(1290, 990, 10), 10)]
    assert masking.hole_squares(np.zeros((50, 60), bool), min_side=16) == []


# --- which mask pixel is a hole: one rule everywhere (issue 21, item 3) ------------------------------

MASK_PIXELS = [  # (R, G, B, alpha) of a mask image, and whether the pixel is a hole
    ((255, 255, 255, 255), True),  # white
    ((255, 0, 0, 255), True),  # a pure red stroke: luminance 76, but a channel above 127
    ((0, 0, 200, 255), True),  # blue: luminance 23
    ((128, 128, 128, 255), True),  # an anti-aliased edge just past half way
    ((127, 127, 127, 255), False),  # ... and just short of it
    ((0, 0, 0, 255), False),
    ((255, 255, 255, 0), False),  # transparent white is never a hole
    ((255, 255, 255, 127), False),
    ((255, 0, 0, 128), True),
]


def rule_mask(band: int = 6, width: int = 40) -> tuple[Image.Image, np.ndarray]:
    """An RGBA mask with a band of rows for each of MASK_PIXELS, and the holes the rule gives it."""
    pixels = np.repeat(np.array([rgba for rgba, _ in MASK_PIXELS], np.uint8), band, axis=0)
    expected = np.repeat(np.array([hole for _, hole in MASK_PIXELS]), band)
    return Image.fromarray(np.repeat(pixels[:, None], width, axis=1), "RGBA"), np.repeat(expected[:, None], width, 1)


def test_one_mask_rule_any_channel_above_127_and_alpha_above_127_in_every_mode(tmp_path: Path) -> None:
    mask, expected = rule_mask()
    assert np.array_equal(masking.as_hole(mask), expected)
    rgb = mask.convert("RGB")
    assert np.array_equal(masking.as_hole(rgb), masking.as_hole(rgb.convert("RGBA")))
    gray_128, gray_127 = Image.new("L", (4, 4), 128), Image.new("L", (4, 4), 127)
    assert masking.as_hole(gray_128).all() and not masking.as_hole(gray_127).any()
    assert masking.as_hole(Image.new("1", (4, 4), 1)).all()
    assert masking.as_hole(Image.new("LA", (4, 4), (255, 0))).sum() == 0
    sixteen = Image.fromarray(np.array([[128 * 257, 127 * 257]], np.uint16))
    assert masking.as_hole(sixteen).tolist() == [[True, False]]
    palette = rgb.convert("P", palette=Image.Palette.ADAPTIVE)
    assert np.array_equal(masking.as_hole(palette), masking.as_hole(rgb))
    # The files --mask and --mask-dir read (PNG with alpha, palette PNG with a transparent entry) give the same.
    mask.save(tmp_path / "rgba.png")
    assert np.array_equal(masking.read_mask(tmp_path / "rgba.png", 40, len(expected)), expected)
    keyed = Image.new("P", (8, 4))
    keyed.putpalette([255, 0, 0, 255, 255, 255, 0, 0, 0])
    keyed.putdata([0] * 8 + [1] * 8 + [2] * 16)
    keyed.save(tmp_path / "keyed.png", transparency=1)  # entry 1, white, is transparent
    assert masking.read_mask(tmp_path / "keyed.png", 8, 4).tolist() == [[True] * 8] + [[False] * 8] * 3


def test_an_array_mask_is_true_or_above_0_whatever_its_type() -> None:
    assert masking.as_hole(np.array([[0.0, 0.2, 1.0]], np.float32)).tolist() == [[False, True, True]]
    assert masking.as_hole(np.array([[0, 1, 255]], np.uint8)).tolist() == [[False, True, True]]
    bool_mask = np.array([[False, True]])
    assert masking.as_hole(bool_mask) is bool_mask


def test_fill_image_and_mask_files_take_a_red_stroke_and_skip_transparent_white(tmp_path: Path) -> None:
    """The Python API (a Pillow mask), a mask file (--mask, --mask-dir) and an anti-aliased JPEG mask agree."""
    from conftest import landscape

    from inpaint_cli.inpainting import image_fill

    mask, expected = rule_mask(band=6, width=80)
    height = len(expected)
    photo = Image.fromarray(landscape(height, 80, seed=3))
    filled = np.asarray(image_fill.fill_image(photo, mask))
    changed = np.abs(filled.astype(int) - np.asarray(photo).astype(int)).max(axis=-1) > 0
    assert not changed[~expected].any()  # transparent white, dark and 127-gray rows untouched
    assert changed[expected].mean() > 0.8  # red, blue, white and 128-gray rows filled
    assert np.array_equal(image_fill.hole_mask([], _saved(mask, tmp_path / "m.png"), 80, height, "p"), expected)
    drawn = Image.new("L", (80, 60))
    ImageDraw.Draw(drawn).ellipse((20, 10, 60, 50), fill=255)
    drawn.resize((160, 120), Image.Resampling.LANCZOS).resize((80, 60), Image.Resampling.LANCZOS).convert("RGB").save(
        tmp_path / "soft.jpg", quality=60
    )  # soft edges and JPEG ringing
    with Image.open(tmp_path / "soft.jpg") as soft:
        assert np.array_equal(masking.read_mask(tmp_path / "soft.jpg", 80, 60), masking.as_hole(soft))


def _saved(image: Image.Image, path: Path) -> Path:
    image.save(path)
    return path


def test_the_mask_rule_is_written_in_the_readme_and_in_fill_help() -> None:
    from typer.testing import CliRunner

    from inpaint_cli.cli import app

    readme = " ".join((Path(__file__).resolve().parent.parent / "README.md").read_text().split())
    assert "A pixel is a hole where any colour channel is above 127 (white, a red stroke) and alpha, if any" in readme
    shown = CliRunner().invoke(app, ["fill", "--help"], env={"COLUMNS": "200"}).output
    help_text = " ".join(shown.replace("│", " ").split())
    assert "a pixel is a hole where any colour channel is above 127 (white, a red stroke) and it is not" in help_text
