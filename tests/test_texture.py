"""The texture stage: detail from the photo's own pixels in the hole, nothing changed outside it."""

from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import pytest
from conftest import banded, landscape

from inpaint_cli.inpainting import context_windows, hole_plan, image_fill, masking, texture
from inpaint_cli.inpainting.fill_options import TextureOptions
from inpaint_cli.inpainting.rectangles import Box
from inpaint_cli.model import runtime
from inpaint_cli.stages import evaluation, filling

SMOOTH = filling.FillOptions(texture=False)
# Neither of the two ways straight edges are continued: line mode (texture.py) and the line fill (line_fill.py).
WITHOUT_LINES = filling.FillOptions(
    texture_options=replace(filling.FillOptions().texture_options, line_mode=False), line_fill=False
)


@pytest.fixture(scope="module")
def tiny_model(tiny_model_dir: Path) -> runtime.Predictor:
    return runtime.load_predictor(tiny_model_dir)


def periodic(kind: str, height: int = 480, width: int = 480) -> np.ndarray:
    """A generated photo with a strong texture: stripes, a checkerboard or noise, uint8 HxWx3.

    Big enough for the texture stage's full strength (image_fill.texture_strength) on a 64 px hole.
    """
    yy, xx = np.mgrid[0:height, 0:width]
    rng = np.random.default_rng(7)
    if kind == "stripes":
        grey = 128 + 90 * np.sin(2 * np.pi * (xx + 0.5 * yy) / 11)
    elif kind == "checkerboard":
        grey = np.where(((yy // 6) + (xx // 6)) % 2 == 0, 50, 200).astype(float)
    else:
        grey = 128 + rng.normal(0, 40, (height, width))
    colour = np.stack([grey, 0.8 * grey + 20, 0.6 * grey + 40], axis=-1)
    return np.clip(colour, 0, 255).astype(np.uint8)


def gradient_energy(image: np.ndarray, where: np.ndarray) -> float:
    """Mean Sobel gradient magnitude of the luminance over the pixels where is true."""
    return float(evaluation.sobel_magnitude(image)[where].mean())


def ring_around(hole: np.ndarray, width: int) -> np.ndarray:
    """The known pixels within width of the hole's bounding box."""
    rows, columns = np.flatnonzero(hole.any(axis=1)), np.flatnonzero(hole.any(axis=0))
    ring = np.zeros_like(hole)
    ring[max(0, rows[0] - width) : rows[-1] + 1 + width, max(0, columns[0] - width) : columns[-1] + 1 + width] = True
    return ring & ~hole


@pytest.mark.parametrize("kind", ["stripes", "checkerboard", "noise"])
def test_a_textured_hole_gets_the_surroundings_gradient_energy_and_the_smooth_fill_far_less(
    tiny_model: runtime.Predictor, kind: str
) -> None:
    photo = periodic(kind)
    hole = masking.draw_boxes([Box(120, 110, 64)], *photo.shape[:2]) > 0
    inner = np.zeros_like(hole)
    inner[112:172, 122:182] = True  # the hole less a 2 px border, where Sobel would see the seam itself
    around = gradient_energy(photo, ring_around(hole, 32))
    textured = filling.fill_image(photo, hole, predictor=tiny_model)
    smooth = filling.fill_image(photo, hole, SMOOTH, tiny_model)
    assert gradient_energy(textured, inner) == pytest.approx(around, rel=0.2)
    assert gradient_energy(smooth, inner) < 0.5 * around


def test_the_texture_stage_changes_no_pixel_outside_the_hole_and_is_deterministic(
    tiny_model: runtime.Predictor,
) -> None:
    photo = landscape(300, 400, seed=3)
    rng = np.random.default_rng(2)
    hole = masking.random_stroke_mask(rng, 300, 20, 40) > 0
    hole = np.pad(hole, ((0, 0), (0, 100)))
    hole[40:100, 300:380] = True
    first = filling.fill_image(photo, hole, predictor=tiny_model)
    second = filling.fill_image(photo.copy(), hole.copy(), predictor=tiny_model)
    assert np.array_equal(first[~hole], photo[~hole])
    assert np.array_equal(first, second)
    assert not np.array_equal(first[hole], filling.fill_image(photo, hole, SMOOTH, tiny_model)[hole])


def test_a_flat_sky_gets_no_seams(tiny_model: runtime.Predictor) -> None:
    yy = np.mgrid[0:300, 0:400][0].astype(float)
    sky = np.stack([90 + 40 * yy / 300, 140 + 30 * yy / 300, 230 - 10 * yy / 300], axis=-1).round().astype(np.uint8)
    hole = masking.draw_boxes([Box(150, 100, 96)], 300, 400) > 0
    textured = filling.fill_image(sky, hole, predictor=tiny_model)
    smooth = filling.fill_image(sky, hole, SMOOTH, tiny_model)
    step = np.abs(np.diff(textured.astype(int), axis=1)).max(axis=-1)  # any seam shows as a jump between columns
    assert step[hole[:, 1:]].max() <= 2
    assert np.abs(textured.astype(int) - smooth.astype(int)).max() <= 2


def test_smooth_is_the_networks_fill_alone(tiny_model: runtime.Predictor) -> None:
    photo = landscape(200, 300, seed=5)
    hole = masking.draw_boxes([Box(100, 50, 48), Box(10, 140, 30)], 200, 300) > 0
    expected = photo.copy()
    options = filling.FillOptions()
    squares = context_windows.network_squares(
        hole_plan.HolePart(hole, masking.hole_regions(hole)), tiny_model.input_size
    )
    for square, rgb, _ in context_windows.square_fills(
        lambda box: photo[box.slices],
        hole,
        squares,
        tiny_model,
        options.context_factors,
        options.flat_detail,
        options.flat_fill,
        options.mirror,
        lambda square, why: None,
    ):
        expected[square.slices][hole[square.slices]] = rgb[hole[square.slices]]
    assert np.array_equal(filling.fill_image(photo, hole, SMOOTH, tiny_model), expected)


def test_a_hole_filled_at_the_scale_of_the_whole_photo_gets_no_texture(tiny_model: runtime.Predictor) -> None:
    photo = periodic("noise", 120, 120)  # the tiny model's finest window (3 x 40 px) shows all of it
    hole = masking.draw_boxes([Box(40, 40, 40)], 120, 120) > 0
    untoned = filling.FillOptions(tone_share=0)  # the tone blend is a stage of its own
    assert np.array_equal(
        filling.fill_image(photo, hole, untoned, tiny_model), filling.fill_image(photo, hole, SMOOTH, tiny_model)
    )
    region = masking.hole_regions(hole)[0]
    assert image_fill.texture_strength(region, (120, 120), 32, 3.0) == 0.0  # the window shows the whole photo
    assert image_fill.texture_strength(region, (180, 240), 32, 3.0) == pytest.approx(0.5)
    assert image_fill.texture_strength(region, (4000, 3000), 32, 3.0) == 1.0
    # A hole no wider than the network's input is filled from an unscaled window: less of the stage, or none.
    assert image_fill.texture_strength(region, (4000, 3000), 120, 3.0) == pytest.approx(0.5)
    assert image_fill.texture_strength(region, (4000, 3000), 240, 3.0) == 0.0


def straight_stroke(shape: tuple[int, int], centre: np.ndarray, direction: np.ndarray, width: int) -> np.ndarray:
    """A 180 px straight stroke, width px wide, centred on centre (y, x) along direction (y, x): bool HxW."""
    ends = [np.rint(centre + sign * 90 * direction).astype(int) for sign in (-1, 1)]
    mask = np.zeros(shape, np.uint8)
    cv2.line(mask, (ends[0][1], ends[0][0]), (ends[1][1], ends[1][0]), 1, width)
    return mask > 0


def hole_rmse(filled: np.ndarray, photo: np.ndarray, hole: np.ndarray) -> float:
    """Root-mean-square error (levels) of the fill over the hole's pixels."""
    return float(np.sqrt(np.mean((filled[hole].astype(float) - photo[hole].astype(float)) ** 2)))


def test_a_stroke_across_stripes_continues_them() -> None:
    # Stripes at 45 degrees, a 48 px stroke across them; the same stroke along the middle of one stripe is the
    # yardstick. The bundled model: the tiny one's guide is noise, worse inside one stripe than across them.
    photo, along, across = banded(np.pi / 4)
    centre = np.array([240.0, 240.0])
    offset = ((np.floor(centre @ across / 80) + 0.5) * 80 - centre @ across) * across  # to the middle of its stripe
    crossing = straight_stroke(photo.shape[:2], centre, across, 48)
    within = straight_stroke(photo.shape[:2], centre + offset, along, 48)
    predictor = image_fill.bundled_predictor()
    crossing_error = hole_rmse(filling.fill_image(photo, crossing, predictor=predictor), photo, crossing)
    within_error = hole_rmse(filling.fill_image(photo, within, predictor=predictor), photo, within)
    assert crossing_error <= 2 * within_error
    # It is line mode and the line fill (both on by default) that continue them: without, the stripes break.
    without = hole_rmse(filling.fill_image(photo, crossing, WITHOUT_LINES, predictor), photo, crossing)
    assert without > 2 * within_error


def test_a_sky_hole_beside_stone_gets_no_stone() -> None:
    """Where the only sources near a sky hole are stone, the stone's texture stays out of the sky: texture fades with
    its source's colour's distance from the fill's there (a wall's blocks were pasted into a blue sky)."""
    rng = np.random.default_rng(3)
    photo = np.zeros((240, 240, 3), np.uint8)
    photo[:] = (110, 160, 220)
    stone = np.clip(rng.normal(0, 45, (41, 41)).repeat(6, 0).repeat(6, 1)[:240, :240] + 185, 0, 255)
    photo[100:] = np.stack([stone, stone * 0.95, stone * 0.85], -1)[100:].astype(np.uint8)
    hole = np.zeros(photo.shape[:2], bool)
    hole[:92, 60:180] = True  # at the top edge, 8 px of sky between it and the stone
    guide = photo.copy()  # the network's fill: the sky's colour

    def error(options: TextureOptions) -> float:
        return float(np.abs(texture.add_texture(guide, hole, 1.0, options)[hole].astype(float) - photo[hole]).mean())

    assert error(replace(TextureOptions(), colour_agreement=0.0)) > 10  # without the check: stone in the sky
    assert error(TextureOptions()) < 3
