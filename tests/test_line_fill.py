"""The line fill: straight edges carried through a hole by interpolating along them (line_fill.py)."""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest
from conftest import banded
from PIL import Image

from inpaint_cli.errors import UsageError
from inpaint_cli.inpainting import hole_plan, image_fill, line_fill, masking
from inpaint_cli.inpainting.fill_options import FillOptions, TextureOptions
from inpaint_cli.inpainting.texture import Line, find_line


def disk(shape: tuple[int, int], centre: tuple[int, int], radius: float) -> np.ndarray:
    """A bool HxW disk."""
    yy, xx = np.mgrid[0 : shape[0], 0 : shape[1]]
    return np.hypot(yy - centre[0], xx - centre[1]) < radius


def mean_error(filled: np.ndarray, photo: np.ndarray, hole: np.ndarray) -> float:
    """Mean absolute error (levels) over the hole's pixels."""
    return float(np.abs(filled[hole].astype(float) - photo[hole].astype(float)).mean())


def test_stripes_crossing_a_hole_are_carried_straight_through_it() -> None:
    photo, _, _ = banded(np.deg2rad(30), band=24, size=240)
    hole = disk(photo.shape[:2], (120, 120), 45)
    grey = photo.copy()
    grey[hole] = 128  # what the earlier stages left: nothing of the stripes
    line = find_line(grey.astype(np.float32), hole, hole, 90, TextureOptions())
    assert line is not None and line.strength == 1.0 and abs(line.angle % np.pi - np.deg2rad(30)) < 0.02
    continued = line_fill.continue_line(grey, hole, hole, line)
    assert np.array_equal(continued[~hole], photo[~hole])
    # Stripes 24 px wide: a flat fill is off by half their contrast everywhere; carried through, only the pixels
    # next to a stripe's edge are (the colours are read through a 0.5 px Gaussian).
    assert mean_error(grey, photo, hole) > 40
    assert mean_error(continued, photo, hole) < 10


def test_a_weak_edge_moves_the_fill_part_of_the_way() -> None:
    photo, _, _ = banded(0.0, band=30, size=200)
    hole = disk(photo.shape[:2], (100, 100), 30)
    grey = photo.copy()
    grey[hole] = 128
    full = line_fill.continue_line(grey, hole, hole, Line(1.0, 0.0, (100.0, 100.0))).astype(float)
    half = line_fill.continue_line(grey, hole, hole, Line(0.5, 0.0, (100.0, 100.0))).astype(float)
    assert np.abs(half[hole] - (128 + 0.5 * (full[hole] - 128))).max() <= 0.5 + 1e-9


def test_a_pixel_meeting_no_known_colour_along_the_edge_keeps_its_own() -> None:
    photo, _, _ = banded(0.0, band=30, size=200)
    band = np.zeros(photo.shape[:2], bool)
    band[90:110, :] = True  # along the stripes from one side of the crop to the other: nothing known along it
    spot = disk(photo.shape[:2], (40, 100), 15)
    grey = photo.copy()
    grey[band | spot] = 128
    continued = line_fill.continue_line(grey, band | spot, band | spot, Line(1.0, 0.0, (100.0, 100.0)))
    assert (continued[band] == 128).all()
    assert mean_error(continued, photo, spot) < mean_error(grey, photo, spot) / 4  # the spot is carried through


def test_a_dark_cable_is_carried_through_no_darker_than_it_is() -> None:
    # Bicubic resampling overshoots beside a sharp edge: a line of 20 on 250 came through at 10 (near-black).
    photo = np.full((300, 300, 3), 250, np.uint8)
    for angle in np.deg2rad([0, 23, 37, 61, 90, 128]):
        cable = photo.copy()
        along = np.array([np.cos(angle), np.sin(angle)])
        ends = [tuple(int(v) for v in np.rint(np.array([150, 150]) + sign * 200 * along)) for sign in (-1, 1)]
        cv2.line(cable, ends[0], ends[1], (20, 20, 20), 3)
        hole = disk(cable.shape[:2], (150, 150), 40)
        grey = cable.copy()
        grey[hole] = 128
        line = find_line(grey.astype(np.float32), hole, hole, 80, TextureOptions())
        assert line is not None
        continued = line_fill.continue_line(grey, hole, hole, line)
        assert continued[hole].min() >= 20, np.rad2deg(angle)
        assert mean_error(continued, cable, hole) < mean_error(grey, cable, hole) / 4  # and it is carried through


def test_an_edge_is_carried_to_the_photo_border_but_fades_out_of_a_crop_that_merely_ends() -> None:
    photo, _, _ = banded(0.0, band=30, size=200)
    hole = np.zeros(photo.shape[:2], bool)
    hole[60:140, 150:] = True  # known to the left along the stripes, nothing to the right of it in the crop
    grey = photo.copy()
    grey[hole] = 128
    line = Line(1.0, 0.0, (100.0, 100.0))
    at_border = line_fill.continue_line(grey, hole, hole, line, photo_edges=(True, True, True, True), fade=10)
    assert mean_error(at_border, photo, hole) < mean_error(grey, photo, hole) / 4  # the stripes run on to the border
    # Where the crop's right side is not the photo's, what lies beyond is unknown: one colour copied along
    # streaked a sky's gradient. The move fades as exp(-distance / fade): 40 px from the colour met, 2 %.
    cut = line_fill.continue_line(grey, hole, hole, line, photo_edges=(True, True, False, True), fade=10)
    far = hole.copy()
    far[:, :190] = False
    assert np.abs(cut[far].astype(float) - 128).max() <= 0.02 * 128 + 1
    near = hole.copy()
    near[:, 152:] = False
    assert mean_error(cut, photo, near) < mean_error(grey, photo, near) / 2


def test_pieces_that_found_different_edges_meet_without_a_step() -> None:
    """A long hole is carried piece by piece; where a piece that found an edge meets one that found none, their
    moves are blended over a quarter of the hole's thickness on either side instead of meeting in a step."""
    photo = np.full((400, 1200, 3), 100, np.uint8)
    photo[:, :600][:, (np.arange(600) // 20) % 2 == 1] = 160  # upright stripes on the left half, flat grey beyond
    hole = np.zeros(photo.shape[:2], bool)
    hole[180:220, 100:1100] = True  # 40 px thick: pieces of 384 px, meeting at columns 484 and 868
    part = hole_plan.HolePart(hole, masking.hole_regions(hole))

    def filled(feather: float) -> np.ndarray:
        image = photo.copy()
        image[hole] = 128  # a fill that missed the flat grey; the edge's pieces put it right, the last keeps it
        result = Image.fromarray(image)
        image_fill._continue_lines(result, part, FillOptions(line_feather=feather))
        return np.asarray(result).astype(float)[180:220, 100:1100, 0]

    steps = np.abs(np.diff(filled(0.0), axis=1)).max(axis=0)
    assert steps[760:775].max() > 20  # without blending: a step where the last piece begins (column 868)
    blended = filled(0.25)
    assert np.abs(np.diff(blended, axis=1))[:, 700:].max() <= 5
    assert np.abs(blended[:, 520:740] - 100).max() <= 1 and np.abs(blended[:, 790:] - 128).max() <= 1


@pytest.mark.parametrize(
    "setting",
    [
        {"line_fade": 0.0},
        {"line_fade": math.nan},
        {"line_feather": -0.1},
        {"line_feather": math.nan},
        {"line_reach": math.nan},
    ],
)
def test_line_fill_settings_out_of_range_or_nan_are_refused(setting: dict[str, float]) -> None:
    """A nan compares false both ways: taken, line_fade=nan switched the fade off without a word."""
    with pytest.raises(UsageError, match="line_"):
        FillOptions(**setting)
