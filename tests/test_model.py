import numpy as np
import pytest

from inpaint_cli import model as network
from inpaint_cli.backend import keras


@pytest.mark.parametrize("size", [32, 48, 64])
def test_unet_maps_image_and_mask_to_rgb_of_the_same_size(size: int) -> None:
    unet = network.build_unet(network.ModelConfig(input_size=size, width=4))
    output = unet(np.zeros((2, size, size, 4), np.float32))
    assert tuple(output.shape) == (2, size, size, 3)
    assert float(np.min(output)) >= 0.0 and float(np.max(output)) <= 1.0


def test_unet_has_four_levels_with_skip_connections_from_the_encoder() -> None:
    unet = network.build_unet(network.ModelConfig(input_size=32, width=4))
    joins = [layer for layer in unet.layers if isinstance(layer, keras.layers.Concatenate)]
    assert len(joins) == 4
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


def test_model_inputs_zero_the_holes_and_append_the_mask() -> None:
    image = np.full((1, 4, 4, 3), 0.5, np.float32)
    mask = np.zeros((1, 4, 4, 1), np.float32)
    mask[0, 1, 1] = 1
    packed = np.asarray(network.model_inputs(image, mask))
    assert packed.shape == (1, 4, 4, 4)
    assert (packed[0, 1, 1] == [0, 0, 0, 1]).all() and (packed[0, 0, 0] == [0.5, 0.5, 0.5, 0]).all()
