from pathlib import Path

import numpy as np
import pytest
from conftest import landscape

from inpaint_cli.errors import UsageError
from inpaint_cli.inpainting import context_windows, masking
from inpaint_cli.inpainting.rectangles import Box
from inpaint_cli.model import runtime
from inpaint_cli.stages import filling

FLAT = filling.FillOptions().flat_detail


@pytest.fixture(scope="module")
def tiny_model(tiny_model_dir: Path) -> runtime.Predictor:
    return runtime.load_predictor(tiny_model_dir)


def test_context_window_holds_the_hole_and_stays_inside() -> None:
    for square in [Box(0, 0, 10), Box(990, 490, 10), Box(400, 200, 200)]:
        window = context_windows.context_window(square, height=500, width=1000, input_size=128, factor=3.0)
        assert 0 <= window.x and window.x + window.size <= 1000
        assert 0 <= window.y and window.y + window.size <= 500
        assert window.x <= square.x and square.x + square.size <= window.x + window.size
        assert window.y <= square.y and square.y + square.size <= window.y + window.size
    assert context_windows.context_window(Box(500, 200, 10), 500, 1000, 128, 3.0).size == 128  # full resolution
    assert context_windows.context_window(Box(400, 100, 100), 500, 1000, 128, 3.0).size == 300


def test_window_detail_is_the_mean_step_between_known_neighbours() -> None:
    window = np.zeros((8, 8, 4), np.float32)
    window[:, :, :3] = 0.5
    assert context_windows.window_detail(window) == 0.0
    window[:, 4:, :3] = 0.6  # one vertical edge: 8 of the 112 neighbour pairs step by 0.1
    assert context_windows.window_detail(window) == pytest.approx(0.1 * 8 / 112)
    window[2:4, 2:4, :3], window[2:4, 2:4, 3] = 0.0, 1.0  # a hole: its pixels and pairs do not count
    assert context_windows.window_detail(window) == pytest.approx(0.1 * 6 / 100)
    window[::2, :, 3], window[1::2, 1::2, 3] = 1.0, 1.0  # no two known pixels touch: nothing says it is flat
    assert context_windows.window_detail(window) == float("inf")


def test_flat_windows_take_the_smooth_fill_and_detailed_ones_the_networks() -> None:
    fill, smooth = np.full((4, 4, 3), 0.2, np.float32), np.full((4, 4, 3), 0.6, np.float32)
    prediction = np.concatenate([fill, smooth], axis=-1)
    flat = np.zeros((4, 4, 4), np.float32)
    assert np.allclose(context_windows.fill_colours(prediction, flat, FLAT, "prefill"), 0.6)
    striped = flat.copy()
    striped[:, ::2, :3] = 0.1  # every horizontal step is 0.1: far above FLAT_DETAIL
    assert np.allclose(context_windows.fill_colours(prediction, striped, FLAT, "prefill"), 0.2)
    low, high = FLAT
    halfway = flat.copy()
    halfway[:, ::2, :3] = (low + high) / 2 * 24 / 12  # 12 of the 24 pairs step
    assert np.allclose(context_windows.fill_colours(prediction, halfway, FLAT, "prefill"), 0.4)
    assert context_windows.fill_colours(fill, flat, FLAT, "diffusion") is fill  # a 3-channel model: no smooth fill


def test_a_flat_window_is_diffused_from_its_border_not_averaged() -> None:
    # A sky that brightens from left to right with a hole at its right end: diffusion carries the bright
    # border in; the prefill (here a wide average) would be too dark. Known pixels step by 0.002 (flat).
    window = np.zeros((32, 32, 4), np.float32)
    window[..., :3] = np.linspace(0.4, 0.462, 32, dtype=np.float32)[None, :, None]
    window[8:24, 24:, :3], window[8:24, 24:, 3] = 0.0, 1.0
    average = np.full((32, 32, 3), 0.43, np.float32)
    prediction = np.concatenate([np.zeros((32, 32, 3), np.float32), average], axis=-1)
    diffused = context_windows.fill_colours(prediction, window, FLAT, "diffusion")
    hole = window[..., 3] > 0
    assert np.all(diffused[hole] > 0.44) and np.all(diffused[hole] < 0.47)
    assert np.allclose(context_windows.fill_colours(prediction, window, FLAT, "prefill")[hole], 0.43)


def test_a_flat_sky_takes_the_smooth_fill_and_a_textured_photo_the_networks(tiny_model: runtime.Predictor) -> None:
    def grey_network(batch: np.ndarray) -> np.ndarray:  # a network that paints mid-grey; the real smooth fill
        smooth = tiny_model.predict(batch)[..., 3:]
        return np.concatenate([np.full_like(smooth, 0.5), smooth], axis=-1)

    model = runtime.Predictor(grey_network, tiny_model.input_size, tiny_model.path)
    hole = masking.draw_boxes([Box(120, 140, 40)], 200, 300) > 0
    sky = np.zeros((200, 300, 3), np.uint8) + np.array([90, 140, 210], np.uint8)
    smooth = filling.FillOptions(texture=False)  # the network's fill alone, without the texture stage
    assert np.array_equal(filling.fill_image(sky, hole, smooth, model), sky)
    textured = landscape(200, 300, seed=4)  # the hole lies in the ground's texture
    assert set(np.unique(filling.fill_image(textured, hole, smooth, model)[hole])) <= {127, 128}


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"context_factors": (0.5,)}, "context factors must be at least 1"),
        ({"flat_detail": (0.006, 0.003)}, "two increasing thresholds"),
        ({"flat_fill": "average"}, "flat_fill must be one of edge-diffusion, diffusion, prefill"),
        ({"thin_fill": "telea"}, "thin_fill must be one of biharmonic, navier-stokes"),
        ({"tone_share": 1.5}, "tone_share must be in"),
    ],
)
def test_fill_options_refuse_what_cannot_work(changes: dict[str, object], message: str) -> None:
    with pytest.raises(UsageError, match=message):
        filling.FillOptions(**changes)


@pytest.mark.parametrize(
    ("hole_box", "window", "reaches"),
    [
        (Box(0, 40, 10), Box(0, 20, 64), True),  # the photo's left edge
        (Box(90, 40, 10), Box(36, 20, 64), True),  # its right edge: the window ends at the photo's width, 100
        (Box(40, 70, 10), Box(20, 16, 64), True),  # its bottom edge: the window ends at its height, 80
        (Box(10, 30, 10), Box(0, 20, 64), False),  # the window is at the edge, the hole is not
        (Box(40, 20, 10), Box(30, 20, 40), False),  # the hole touches the window's top, which is inside the photo
    ],
)
def test_a_window_knows_whether_its_hole_reaches_the_photos_edge(hole_box: Box, window: Box, reaches: bool) -> None:
    hole = masking.draw_boxes([hole_box], 80, 100) > 0
    assert context_windows._reaches_photo_edge(window, hole) is reaches


def test_inside_the_photo_edge_diffusion_fills_as_the_prefill_does(tiny_model: runtime.Predictor) -> None:
    sky = np.zeros((200, 300, 3), np.uint8) + np.array([90, 140, 210], np.uint8)
    sky[:, :, 0] += np.linspace(0, 40, 300).round().astype(np.uint8)  # a gradient: the two fills would differ
    hole = masking.draw_boxes([Box(120, 80, 40)], 200, 300) > 0
    fills = {
        flat_fill: filling.fill_image(sky, hole, filling.FillOptions(flat_fill=flat_fill), tiny_model)
        for flat_fill in ("edge-diffusion", "prefill", "diffusion")
    }
    assert np.array_equal(fills["edge-diffusion"], fills["prefill"])
    assert not np.array_equal(fills["diffusion"], fills["prefill"])
