"""The biharmonic fill of thin holes (diffusion.biharmonic) on generated surfaces."""

from __future__ import annotations

import numpy as np
import pytest

from inpaint_cli.inpainting import diffusion


def ramp(height: int, width: int) -> np.ndarray:
    """uint8 RGB rising left to right (and a little top to bottom in green)."""
    y, x = np.mgrid[0:height, 0:width].astype(np.float64)
    channels = [
        40 + 160 * x / max(width - 1, 1),
        90 + 60 * y / max(height - 1, 1) + 0 * x,
        200 - 100 * x / max(width - 1, 1),
    ]
    return np.clip(np.stack(channels, axis=-1) + 0.5, 0, 255).astype(np.uint8)


@pytest.mark.parametrize(
    ("shape", "gap", "tolerance"),
    [
        ((1, 200), (slice(0, 1), slice(90, 96)), 1),  # a one-pixel-high strip
        ((8, 600), (slice(0, 8), slice(300, 304)), 1),  # a banner cut across
        ((60, 80), (slice(0, 3), slice(20, 26)), 1),  # a speck at the photo's top edge
        # In the corner the ramp rises beyond every known colour within diffusion.CLAMP_REACH: held there.
        ((60, 80), (slice(55, 60), slice(74, 80)), 8),
    ],
)
def test_a_ramp_goes_on_through_a_thin_hole_even_at_the_photos_edge(
    shape: tuple[int, int], gap: tuple, tolerance: int
) -> None:
    photo = ramp(*shape)
    unknown = np.zeros(shape, bool)
    unknown[gap] = True
    noisy = photo.copy()
    noisy[unknown] = 0  # black where unknown: a fill that reads it shows
    filled = diffusion.biharmonic(noisy, unknown)
    assert np.array_equal(filled[~unknown], photo[~unknown])
    assert np.abs(filled[unknown].astype(int) - photo[unknown]).max() <= tolerance


def test_ignored_pixels_lend_no_colour() -> None:
    # A speck beside a black region that is another hole (ignored): the speck is filled from the known ramp only
    # (reading the black would pull it down by tens of levels; its side there is held by fewer terms, hence 10).
    photo = ramp(40, 60)
    unknown, ignored = np.zeros((40, 60), bool), np.zeros((40, 60), bool)
    unknown[18:22, 28:31] = True
    ignored[18:22, 31:45] = True
    noisy = photo.copy()
    noisy[ignored] = 0
    filled = diffusion.biharmonic(noisy, unknown, ignored=ignored)
    assert np.abs(filled[unknown].astype(int) - photo[unknown]).max() <= 10
    assert np.array_equal(filled[~unknown & ~ignored], photo[~unknown & ~ignored])
