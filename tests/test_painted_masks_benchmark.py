"""The painted-mask benchmark's mask generators and method parsing (benchmarks/painted_masks.py)."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))

import painted_masks  # noqa: E402

from inpaint_cli.stages.filling import FillOptions  # noqa: E402


def striped_photos() -> list[np.ndarray]:
    """A 12 MP-sized-down photo with long straight stripes, and a small flat one."""
    stripes = np.zeros((600, 900, 3), np.uint8)
    stripes[::60] = 255
    stripes[1::60] = 255
    stripes[2::60] = 255
    return [stripes, np.full((300, 200, 3), 90, np.uint8)]


def test_holes_are_deterministic_and_inside_the_photo():
    photos = striped_photos()
    first = painted_masks.draw_holes(photos, 3, list(painted_masks.KINDS), None)
    again = painted_masks.draw_holes(photos, 3, list(painted_masks.KINDS), None)
    assert [(hole.label, hole.top, hole.left) for hole in first] == [
        (hole.label, hole.top, hole.left) for hole in again
    ]
    for hole, other in zip(first, again, strict=True):
        assert np.array_equal(hole.mask, other.mask) and np.array_equal(hole.noise, other.noise)
        rows, columns = hole.bounds
        height, width = photos[hole.photo].shape[:2]
        assert 0 <= rows.start < rows.stop <= height and 0 <= columns.start < columns.stop <= width
        assert hole.noise.shape == (int(hole.mask.sum()), 3)


def test_each_kind_has_its_shape():
    photos = striped_photos()
    holes = painted_masks.draw_holes(photos, 0, list(painted_masks.KINDS), None)
    by_kind = {kind: [hole for hole in holes if hole.label == kind and hole.photo == 0] for kind in painted_masks.KINDS}
    assert len(by_kind["stroke"]) == 2 and len(by_kind["object ~200"]) == 1
    edge = by_kind["edge"][0]
    rows, columns = edge.bounds
    assert rows.start == 0 or columns.start == 0 or rows.stop == 600 or columns.stop == 900
    strip = by_kind["strip"][0]
    assert strip.mask.shape[0] == 600 and strip.mask.all()
    assert 200 * 4 <= by_kind["specks"][0].mask.sum() <= 400 * 36
    assert by_kind["structure"], "the stripes are long straight edges"
    assert not [hole for hole in holes if hole.label == "structure" and hole.photo == 1], "a flat photo has none"


def test_sizes_scale_with_the_long_side():
    rng = np.random.default_rng(0)
    small = next(painted_masks.object_holes(rng, 0, (1000, 2000), 400, 400, "object"))
    assert 0.5 * 200 <= max(small.mask.shape) <= 200 + 1  # 400 px at 12 MP, half the reference side


@dataclass(frozen=True)
class Inner:
    depth: int = 1


@dataclass(frozen=True)
class Outer:
    size: int = 2
    inner: Inner = field(default_factory=Inner)


def test_replaced_changes_nested_fields_and_refuses_unknown_ones():
    assert painted_masks.replaced(Outer(), {"size": 5, "inner.depth": 7}) == Outer(5, Inner(7))
    with pytest.raises(ValueError, match="no option 'width'"):
        painted_masks.replaced(Outer(), {"width": 1})


def test_methods_keep_option_values_with_commas():
    names = painted_masks.parse_methods("inpaint,inpaint:mirror=False,context_factors=(3.0, 6.0),Telea")
    assert names == ["inpaint", "inpaint:mirror=False,context_factors=(3.0, 6.0)", "Telea"]
    assert painted_masks.fill_options(names[1]) == FillOptions(mirror=False, context_factors=(3.0, 6.0))
    assert painted_masks.fill_options("inpaint --smooth") == FillOptions(texture=False)


def test_near_black_counts_only_dark_fills_of_lit_pixels():
    original = np.array([[[30, 30, 30], [5, 5, 5], [30, 30, 30]]], np.uint8)
    filled = np.array([[[3, 3, 3], [3, 3, 3], [20, 3, 3]]], np.uint8)
    assert painted_masks.near_black_percent(original, filled, np.ones((1, 3), bool)) == pytest.approx(100 / 3)


def test_cost_strokes_cover_what_they_say_at_their_width():
    from inpaint_cli.inpainting import texture

    for case, width in (("stroke 1.5", 40), ("thin-stroke 1.5", 20)):
        mask = painted_masks.cost_mask(case, (1500, 2000), seed=0)
        assert 1.0 <= 100 * mask.mean() <= 2.0, case
        thickness = 2 * texture.distance_to_known(mask)[mask].max()
        assert width - 3 <= thickness <= 1.25 * width, (case, thickness)  # more where the stroke crosses itself
