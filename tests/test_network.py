import numpy as np
import pytest

from inpaint_cli.backend import keras
from inpaint_cli.errors import InpaintError
from inpaint_cli.model import network


def holed_gradient(size: int, hole: slice) -> tuple[np.ndarray, np.ndarray]:
    """A smooth image (red rises left to right, green constant) and the network input with a square hole."""
    image = np.zeros((1, size, size, 3), np.float32)
    image[..., 0] = np.linspace(0.1, 0.9, size)[None, :]
    image[..., 1] = 0.5
    mask = np.zeros((1, size, size, 1), np.float32)
    mask[:, hole, hole] = 1
    return image, np.concatenate([image * (1 - mask), mask], axis=-1)


@pytest.mark.parametrize(
    ("size", "prefill", "mask_input"), [(32, True, True), (48, False, True), (64, False, False), (32, True, False)]
)
def test_unet_maps_image_and_mask_to_rgb_of_the_same_size(size: int, prefill: bool, mask_input: bool) -> None:
    config = network.ModelConfig(input_size=size, width=4, prefill=prefill, mask_input=mask_input)
    unet = network.build_unet(config)
    output = unet(np.random.default_rng(0).random((2, size, size, 4), np.float32))
    assert tuple(output.shape) == (2, size, size, 3)
    assert float(np.min(output)) >= 0.0 and float(np.max(output)) <= 1.0


def test_unet_has_four_levels_with_skip_connections_from_the_encoder() -> None:
    unet = network.build_unet(network.ModelConfig(input_size=32, width=4))
    joins = [layer for layer in unet.layers if isinstance(layer, keras.layers.Concatenate)]
    skips = [f"decoder{level}_skip" for level in range(4)]
    assert sorted(join.name for join in joins) == [*skips, "prefilled_and_mask"]
    for level in range(4):
        join = unet.get_layer(f"decoder{level}_skip")
        sources = {tensor._keras_history.operation.name for tensor in join.input}
        assert sources == {f"decoder{level}_up", f"encoder{level}_conv2"}
    widths = [unet.get_layer(f"encoder{level}_conv2").filters for level in range(4)]
    assert widths == [4, 8, 16, 32]


def test_hole_psnr_counts_hole_pixels_only() -> None:
    target = np.zeros((1, 8, 8, 3), np.float32)
    mask = np.zeros((1, 8, 8, 1), np.float32)
    mask[0, :2, :2] = 1
    prediction = np.zeros_like(target)
    prediction[0, :2, :2] = 0.1  # error 0.1 inside the hole: MSE 0.01 -> 20 dB
    prediction[0, 5:, 5:] = 1.0  # large error outside the hole must not count
    psnr = network.hole_psnr(np.concatenate([target, mask], -1), prediction)
    assert float(psnr[0]) == pytest.approx(20.0, abs=1e-3)


def test_loss_weighs_hole_pixels_more() -> None:
    target = np.zeros((1, 4, 4, 4), np.float32)
    target[0, :2, :, 3] = 1  # the top half is hole
    error_in_hole = np.zeros((1, 4, 4, 3), np.float32)
    error_in_hole[0, 0, 0] = 1
    error_outside = np.zeros((1, 4, 4, 3), np.float32)
    error_outside[0, 3, 3] = 1
    loss = network.HoleWeightedL1(hole_weight=6.0)
    assert float(loss(target, error_in_hole)) == pytest.approx(6 * float(loss(target, error_outside)))
    squared = network.training_loss("hole-mse", 6.0)
    assert isinstance(squared, network.HoleWeightedMSE)
    assert float(squared(target, error_in_hole * 0.5)) == pytest.approx(6 * 3 * 0.25 / 48)  # squared, weighted
    assert float(squared(target, error_outside * 0.5)) == pytest.approx(3 * 0.25 / 48)
    assert float(loss(target, error_in_hole * 0.5)) == pytest.approx(6 * 3 * 0.5 / 48)  # absolute


def test_model_inputs_zero_the_holes_and_append_the_mask() -> None:
    image = np.full((1, 4, 4, 3), 0.5, np.float32)
    mask = np.zeros((1, 4, 4, 1), np.float32)
    mask[0, 1, 1] = 1
    packed = np.asarray(network.model_inputs(image, mask))
    assert packed.shape == (1, 4, 4, 4)
    assert (packed[0, 1, 1] == [0, 0, 0, 1]).all() and (packed[0, 0, 0] == [0.5, 0.5, 0.5, 0]).all()


def test_smooth_prefill_keeps_known_pixels_and_continues_a_smooth_image_into_the_hole() -> None:
    image, inputs = holed_gradient(64, slice(20, 44))
    prefilled = np.asarray(network.SmoothPrefill()(inputs))
    hole = inputs[..., 3] == 1
    assert np.array_equal(prefilled[~hole], image[~hole])
    assert np.abs(prefilled - image)[hole].mean() < 0.01  # a zeroed hole would be off by 0.5 on average


def test_an_untrained_prefill_network_returns_the_prefill_and_learns_a_correction() -> None:
    _, inputs = holed_gradient(32, slice(8, 24))
    keras.utils.set_random_seed(0)
    unet = network.build_unet(network.ModelConfig(input_size=32, width=4))
    assert np.allclose(unet(inputs), network.SmoothPrefill()(inputs), atol=1e-6)


@pytest.mark.parametrize("prefill", [True, False])
def test_with_smooth_fill_appends_the_smooth_fill_to_the_networks(prefill: bool) -> None:
    _, inputs = holed_gradient(32, slice(8, 24))
    unet = network.build_unet(network.ModelConfig(input_size=32, width=4, prefill=prefill))
    if prefill:  # an untrained prefill network returns its prefill; a bias makes its fill differ
        unet.get_layer("correction").bias.assign(np.full(3, 0.1, np.float32))
    both = np.asarray(network.with_smooth_fill(unet)(inputs))
    assert both.shape == (1, 32, 32, 6)
    assert np.array_equal(both[..., :3], np.asarray(unet(inputs)))
    assert np.allclose(both[..., 3:], network.SmoothPrefill()(inputs), atol=1e-6)
    assert not np.allclose(both[..., :3], both[..., 3:], atol=0.05)


def test_a_network_without_mask_input_ignores_the_mask_channel() -> None:
    _, inputs = holed_gradient(32, slice(8, 24))
    unet = network.build_unet(network.ModelConfig(input_size=32, width=4, prefill=False, mask_input=False))
    other = inputs.copy()
    other[..., 3] = 1 - other[..., 3]
    assert np.array_equal(np.asarray(unet(inputs)), np.asarray(unet(other)))


def test_image_mse_counts_every_pixel_alike() -> None:
    target = np.zeros((1, 4, 4, 4), np.float32)
    target[0, :2, :, 3] = 1
    prediction = np.zeros((1, 4, 4, 3), np.float32)
    prediction[0, 3, 3] = 0.5  # outside the hole: 3 values of 0.25 over 48
    assert float(network.ImageMSE()(target, prediction)) == pytest.approx(3 * 0.25 / 48)
    assert isinstance(network.training_loss("mse", 6.0), network.ImageMSE)
    with pytest.raises(InpaintError, match="unknown loss"):
        network.training_loss("l3", 6.0)
