import numpy as np
import pytest

from inpaint_cli import masking
from inpaint_cli.errors import UsageError


@pytest.mark.parametrize(
    ("text", "expected"),
    [("10,20,30", masking.Box(10, 20, 30)), (" 0, 0 ,1 ", masking.Box(0, 0, 1)), ("7,8,9", masking.Box(7, 8, 9))],
)
def test_parse_box_accepts_three_whole_numbers(text: str, expected: masking.Box) -> None:
    assert masking.parse_box(text) == expected


@pytest.mark.parametrize("text", ["10,10", "a,b,c", "1,2,3,4", "", "-1,2,3", "1,2,0", "1.5,2,3", "1,,3"])
def test_parse_box_rejects_malformed_text_naming_it(text: str) -> None:
    with pytest.raises(UsageError, match="box"):
        masking.parse_box(text)


def test_draw_boxes_marks_exactly_the_squares() -> None:
    mask = masking.draw_boxes([masking.Box(2, 3, 4), masking.Box(0, 0, 1)], height=10, width=12)
    assert mask.shape == (10, 12) and mask.dtype == np.float32
    assert mask.sum() == 16 + 1
    assert mask[3:7, 2:6].all() and mask[0, 0] == 1
    assert mask[2, 2] == 0 and mask[7, 5] == 0 and mask[3, 6] == 0


def test_box_fits_in_checks_both_edges() -> None:
    assert masking.Box(90, 40, 10).fits_in(100, 50)
    assert not masking.Box(91, 40, 10).fits_in(100, 50)
    assert not masking.Box(0, 41, 10).fits_in(100, 50)


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


def _is_filled_square(mask: np.ndarray) -> bool:
    rows, cols = np.nonzero(mask)
    height, width = np.ptp(rows) + 1, np.ptp(cols) + 1
    return height == width and mask.sum() == height * width
