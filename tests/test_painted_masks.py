"""Masks people paint: holes at the photo's edge, tiny and thin photos, specks and long strokes."""

from __future__ import annotations

import tracemalloc

import cv2
import numpy as np
import pytest
from conftest import landscape
from PIL import Image

from inpaint_cli.inpainting import context_windows, hole_plan, image_fill, masking
from inpaint_cli.model import runtime
from inpaint_cli.stages import filling

COLOUR = (30, 120, 200)


@pytest.fixture(scope="module")
def bundled() -> runtime.Predictor:
    return runtime.load_predictor()


def one_colour(height: int, width: int) -> np.ndarray:
    """A photo of one colour, uint8 HxWx3."""
    return np.broadcast_to(np.array(COLOUR, np.uint8), (height, width, 3)).copy()


def hole_at(height: int, width: int, rows: slice, columns: slice) -> np.ndarray:
    """A bool height x width mask, true in rows x columns."""
    hole = np.zeros((height, width), bool)
    hole[rows, columns] = True
    return hole


EDGE_CASES = {
    "corner box": (600, 800, slice(0, 100), slice(0, 100)),
    "box on the top edge": (600, 800, slice(0, 100), slice(300, 400)),
    "blob across the right edge": (600, 800, slice(250, 420), slice(690, 800)),
    "3x3 photo": (3, 3, slice(1, 2), slice(1, 2)),
    "1x200 strip": (1, 200, slice(0, 1), slice(50, 60)),
    "600x8 banner": (8, 600, slice(0, 8), slice(100, 140)),
    "600x30 banner": (30, 600, slice(0, 30), slice(100, 140)),
    "600x40 banner": (40, 600, slice(0, 40), slice(100, 140)),
    "600x64 banner": (64, 600, slice(0, 64), slice(100, 170)),
}


@pytest.mark.parametrize("smooth", [False, True], ids=["textured", "smooth"])
@pytest.mark.parametrize("case", list(EDGE_CASES))
def test_a_hole_at_the_edge_or_in_a_tiny_photo_comes_back_in_the_photos_colour(
    bundled: runtime.Predictor, case: str, smooth: bool
) -> None:
    height, width, rows, columns = EDGE_CASES[case]
    photo, hole = one_colour(height, width), hole_at(height, width, rows, columns)
    filled = filling.fill_image(photo, hole, filling.FillOptions(texture=not smooth), bundled)
    error = np.abs(filled[hole].astype(int) - COLOUR)
    assert error.max() <= 3, f"{case}: hole pixels up to {error.max()} levels off the photo's colour"
    assert np.array_equal(filled[~hole], photo[~hole])


def sky_gradient(height: int, width: int) -> np.ndarray:
    """A smooth sky, darker at the top and slightly warmer to the right, uint8 HxWx3."""
    yy, xx = np.mgrid[0:height, 0:width].astype(float)
    rgb = [70 + 60 * yy / height + 10 * xx / width, 120 + 50 * yy / height, 230 - 20 * yy / height]
    return np.stack(rgb, axis=-1).round().astype(np.uint8)


@pytest.mark.parametrize(
    ("rows", "columns", "at_most"),
    [(slice(0, 80), slice(150, 230), 1.0), (slice(0, 80), slice(0, 80), 3.0), (slice(230, 300), slice(330, 400), 1.0)],
    ids=["top edge", "top-left corner", "bottom-right corner"],
)
def test_a_hole_at_the_edge_of_a_smooth_gradient_continues_it(
    bundled: runtime.Predictor, rows: slice, columns: slice, at_most: float
) -> None:
    # The network's own smooth guess averages the known pixels around the hole, all on one side of it here:
    # too dark at the top of a sky that brightens downwards. Diffusion carries the hole's border in. (The tone
    # blend, which would take diffusion's low-pass half way into either, is off to compare the two alone.)
    sky, hole = sky_gradient(300, 400), hole_at(300, 400, rows, columns)
    errors = {
        flat_fill: np.abs(
            filling.fill_image(sky, hole, filling.FillOptions(flat_fill=flat_fill, tone_share=0), bundled).astype(int)
            - sky
        )[hole].mean()
        for flat_fill in ("edge-diffusion", "prefill")
    }
    assert errors["edge-diffusion"] <= at_most
    assert errors["edge-diffusion"] < errors["prefill"] / 2


def test_a_photo_with_almost_nothing_known_is_interpolated_with_a_warning(bundled: runtime.Predictor) -> None:
    photo = one_colour(200, 200)
    hole = np.ones((200, 200), bool)
    hole[95:105, 95:105] = False  # all but 10x10 pixels
    warnings: list[str] = []
    filled = image_fill.fill_image(photo, hole, filling.FillOptions(), bundled, warnings.append)
    assert np.abs(filled.astype(int) - COLOUR).max() <= 1
    assert any("0.2% of the photo is known" in warning for warning in warnings), warnings


@pytest.mark.parametrize("shape", [(8, 600), (5, 5), (2000, 3)])
def test_a_thin_photo_with_almost_nothing_known_warns_too(bundled: runtime.Predictor, shape: tuple[int, int]) -> None:
    photo, hole = one_colour(*shape), np.ones(shape, bool)
    hole[-1, -1] = False  # one pixel known
    warnings: list[str] = []
    filled = image_fill.fill_image(photo, hole, filling.FillOptions(), bundled, warnings.append)
    assert np.abs(filled.astype(int) - COLOUR).max() <= 1
    assert any("of the photo is known" in warning for warning in warnings), warnings


@pytest.mark.parametrize("hole_columns", [slice(280, 380), slice(310, 380)], ids=["into it", "beside it"])
def test_colours_hidden_under_transparency_do_not_reach_the_fill(
    bundled: runtime.Predictor, hole_columns: slice
) -> None:
    """A cut-out stores black under its transparent half; the hole beside (or into) it is filled in the sky's blue."""
    pixels = np.zeros((400, 600, 4), np.uint8)
    pixels[..., :3], pixels[..., 3] = COLOUR, 255
    pixels[:, :300] = 0  # transparent black
    hole = hole_at(400, 600, slice(150, 250), hole_columns)
    image = Image.fromarray(pixels, "RGBA")
    filled = np.asarray(image_fill.fill_pillow(image, hole, filling.FillOptions(), bundled, lambda note: None))
    visible = hole & (pixels[..., 3] == 255)
    error = np.abs(filled[..., :3][visible].astype(int) - COLOUR)
    assert error.max() <= 3, f"visible hole pixels up to {error.max()} levels off the sky"
    assert np.array_equal(filled[~hole], pixels[~hole])  # the hidden black is put back, alpha untouched


def test_specks_share_network_windows() -> None:
    """400 specks on a 1 MP photo took one window each plus its mirror (744 network calls); now a few per window."""
    rng = np.random.default_rng(3)
    speckled = np.zeros((1000, 1000), np.uint8)
    for _ in range(400):
        cv2.circle(speckled, (int(rng.integers(0, 1000)), int(rng.integers(0, 1000))), int(rng.integers(1, 4)), 1, -1)
    hole = speckled > 0
    squares = masking.hole_squares(hole, min_side=64)
    windows = context_windows._windows(squares, hole, 128, (3.0, 6.0), lambda square, why: None)
    assert sorted(index for window in windows for index in window.square_indices) == list(range(len(squares)))
    assert len(windows) < len(squares) / 2.5
    assert not any(context_windows._mirrored(window, squares, 128) for window in windows)


def test_specks_are_filled_as_well_in_shared_windows_as_alone(bundled: runtime.Predictor) -> None:
    """Each speck of a shared window keeps its context: its fill is close to that of the speck filled on its own."""
    photo = landscape(300, 300, seed=4)
    jitter = np.random.default_rng(5).integers(-6, 7, (36, 2))
    centres = [(30 + 45 * (k % 6) + dx, 30 + 45 * (k // 6) + dy) for k, (dx, dy) in enumerate(jitter)]
    together = np.zeros((300, 300), bool)
    for x, y in centres:
        together[y - 2 : y + 2, x - 2 : x + 2] = True
    smooth = filling.FillOptions(texture=False, diffuse_below=0)  # the network's fill, not diffusion
    filled_together = filling.fill_image(photo, together, smooth, bundled)
    for x, y in centres[::7]:
        alone = hole_at(300, 300, slice(y - 2, y + 2), slice(x - 2, x + 2))
        filled_alone = filling.fill_image(photo, alone, smooth, bundled)
        difference = np.abs(filled_alone[alone].astype(int) - filled_together[alone]).mean()
        assert difference < 6, f"speck at {x},{y}: {difference:.1f} levels apart"


def _texture_stage_peak_bytes(photo: np.ndarray, hole: np.ndarray, guide: np.ndarray) -> int:
    """Peak bytes that the texture stage allocates (tracemalloc: NumPy and OpenCV's arrays) on a filled guide."""
    from PIL import Image

    result = Image.fromarray(guide)
    tracemalloc.start()
    try:
        network = hole_plan.HolePart(hole, masking.hole_regions(hole))
        image_fill._add_texture(result, network, 128, 3.0, filling.FillOptions().texture_options)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_the_texture_stage_of_a_long_stroke_allocates_about_what_a_box_of_its_area_does() -> None:
    """The texture stage's memory follows the hole's pixels, not its bounding rectangle (no timing here: the
    benchmark measures seconds, benchmarks/painted_masks.py --cost)."""
    photo = landscape(2000, 3000, seed=6)
    stroke = np.zeros((2000, 3000), np.uint8)
    cv2.polylines(stroke, [np.array([[100, 150], [1400, 1800], [2900, 300]])], False, 1, 40)
    stroke = stroke > 0
    side = int(np.sqrt(stroke.sum()))
    box = hole_at(2000, 3000, slice(800, 800 + side), slice(1200, 1200 + side))
    guide = cv2.GaussianBlur(photo, (0, 0), 3)  # a smooth stand-in for the network's fill
    stroke_bytes = _texture_stage_peak_bytes(photo, stroke, np.where(stroke[..., None], guide, photo))
    box_bytes = _texture_stage_peak_bytes(photo, box, np.where(box[..., None], guide, photo))
    assert stroke_bytes < 3 * box_bytes, f"stroke {stroke_bytes / 2**20:.0f} MB, box {box_bytes / 2**20:.0f} MB"


def harmonic_surface(height: int, width: int) -> np.ndarray:
    """A smooth uint8 RGB surface whose Laplacian is zero: each channel a + b Re or Im (z^7), z the centred pixel."""
    y, x = np.mgrid[0:height, 0:width].astype(np.float64)
    z = ((x - width / 2) + 1j * (y - height / 2)) / np.hypot(height / 2, width / 2)
    channels = [128 + 100 * (z**7).real, 128 + 100 * (z**7).imag, 128 + 60 * (z**6).real]
    return np.clip(np.stack(channels, axis=-1) + 0.5, 0, 255).astype(np.uint8)


def specks_and_a_line(height: int, width: int) -> np.ndarray:
    """80 specks of 5 px and a 2 px line across, some touching the photo's edge."""
    mask = np.zeros((height, width), np.uint8)
    for x, y in np.random.default_rng(11).integers(0, min(height, width), (80, 2)):
        cv2.circle(mask, (int(x), int(y)), 2, 1, -1)
    cv2.line(mask, (0, 40), (width - 1, height - 40), 1, 2)
    return mask > 0


def test_specks_and_thin_lines_carry_a_smooth_surface_through_them(bundled: runtime.Predictor) -> None:
    # The biharmonic fill is exact on a surface with no Laplacian, up to rounding. In the photo's corners, where
    # the surface goes on rising beyond any known colour near, the fill stops at that range.
    photo, mask = harmonic_surface(300, 400), specks_and_a_line(300, 400)
    filled = filling.fill_image(photo, mask, filling.FillOptions(), bundled)
    assert np.array_equal(filled[~mask], photo[~mask])
    error = np.abs(filled.astype(int) - photo).max(axis=-1)
    inland = np.zeros_like(mask)
    inland[10:-10, 10:-10] = True
    assert error[mask & inland].max() <= 1
    assert error[mask].max() <= 8


def test_navier_stokes_thin_fill_is_opencvs(bundled: runtime.Predictor) -> None:
    photo, mask = landscape(300, 400, seed=10), specks_and_a_line(300, 400)
    filled = filling.fill_image(photo, mask, filling.FillOptions(thin_fill="navier-stokes"), bundled)
    expected = cv2.inpaint(photo, mask.astype(np.uint8), 5, cv2.INPAINT_NS)
    assert np.abs(filled.astype(int) - expected).max() <= 1


def test_a_painted_mask_changes_no_pixel_outside_it_and_fills_the_same_twice(bundled: runtime.Predictor) -> None:
    photo = landscape(400, 600, seed=8)
    mask = np.zeros((400, 600), np.uint8)
    cv2.ellipse(mask, (560, 120), (90, 60), 20, 0, 360, 1, -1)  # an object cut by the right edge
    cv2.polylines(mask, [np.array([[40, 380], [200, 250], [330, 300], [420, 60]])], False, 1, 25)  # a stroke
    for x, y in np.random.default_rng(9).integers(0, 400, (60, 2)):
        cv2.circle(mask, (int(x), int(y)), 2, 1, -1)  # specks
    hole = mask > 0
    first = filling.fill_image(photo, hole, filling.FillOptions(), bundled)
    second = filling.fill_image(photo, hole, filling.FillOptions(), bundled)
    assert np.array_equal(first[~hole], photo[~hole])
    assert np.array_equal(first, second)


def test_the_tone_blend_moves_a_holes_tone_towards_its_border(bundled: runtime.Predictor) -> None:
    # The network's prefill at the top of a sky that brightens downwards averages only the pixels below: too
    # bright (test_a_hole_at_the_edge_of_a_smooth_gradient_continues_it). Half of diffusion's low-pass near the
    # border takes it much of the way back; nothing outside the hole changes.
    sky, hole = sky_gradient(300, 400), hole_at(300, 400, slice(0, 80), slice(150, 230))
    errors = {}
    for share in (0.0, 0.5):
        options = filling.FillOptions(flat_fill="prefill", tone_share=share)
        filled = filling.fill_image(sky, hole, options, bundled)
        assert np.array_equal(filled[~hole], sky[~hole])
        errors[share] = np.abs(filled.astype(int) - sky)[hole].mean()
    assert errors[0.5] < 0.75 * errors[0.0], errors


def test_a_network_of_crossing_hairlines_is_thin() -> None:
    # Its area over its bounding rectangle's side is that of a thick hole; no pixel is far from a known one.
    mask = np.zeros((400, 400), np.uint8)
    for offset in range(20, 400, 40):
        cv2.line(mask, (offset, 0), (offset, 399), 1, 2)
        cv2.line(mask, (0, offset), (399, offset), 1, 2)
    cv2.line(mask, (0, 0), (399, 399), 1, 2)
    plan = hole_plan.plan_holes(mask > 0, filling.FillOptions())
    assert plan.diffuse is not None and np.array_equal(plan.diffuse, mask > 0)
    assert not plan.network.regions


def test_a_large_thin_hole_is_filled_in_tiles_alike(
    bundled: runtime.Predictor, monkeypatch: pytest.MonkeyPatch
) -> None:
    photo, mask = harmonic_surface(300, 400), specks_and_a_line(300, 400)
    monkeypatch.setattr(image_fill, "BIHARMONIC_PIXELS", 100)
    monkeypatch.setattr(image_fill, "BIHARMONIC_TILE", 64)
    filled = filling.fill_image(photo, mask, filling.FillOptions(), bundled)
    assert np.array_equal(filled[~mask], photo[~mask])
    inland = np.zeros_like(mask)
    inland[10:-10, 10:-10] = True
    assert np.abs(filled.astype(int) - photo).max(axis=-1)[mask & inland].max() <= 3  # in one piece: 1
