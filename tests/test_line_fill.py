"""The line fill: straight edges carried through a hole by interpolating along them (line_fill.py)."""

from __future__ import annotations

import cv2
import numpy as np
from conftest import banded

from inpaint_cli.inpainting import line_fill
from inpaint_cli.inpainting.fill_options import TextureOptions
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
