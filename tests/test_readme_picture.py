"""The README's first picture shows what `inpaint fill` does today (benchmarks/pictures.py makes it again)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))

import pictures  # noqa: E402


def test_the_readmes_before_and_after_matches_a_fresh_compare_within_jpeg_tolerance() -> None:
    fresh = np.asarray(pictures.fresh_readme_pair(), dtype=np.int16)
    with Image.open(pictures.BEFORE_AFTER) as shipped:
        committed = np.asarray(shipped.convert("RGB"), dtype=np.int16)
    assert committed.shape == fresh.shape
    left, top = pictures.SHOWN[:2]
    x, y, side = (int(value) for value in pictures.EXAMPLE_BOX.split(","))
    after_x = x - left + (pictures.SHOWN[2] - left) + pictures.GAP
    inner = 4  # px: JPEG's chroma smears the red outline this far into the hole
    hole = (slice(y - top + inner, y - top + side - inner), slice(after_x + inner, after_x + side - inner))
    # JPEG at quality 90 moves pixels by a few levels on average; a fill made by other code differs far more.
    assert np.abs(fresh[hole] - committed[hole]).mean() < 6, "examples/before_after.jpg is stale: run pictures.py"
    assert np.abs(fresh - committed).mean() < 2
