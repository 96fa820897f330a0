"""A narrower model widened (--init-from into a wider --width) computes the fills it computed."""

from pathlib import Path

import numpy as np
import pytest

from inpaint_cli.errors import UsageError
from inpaint_cli.model import network, widening
from inpaint_cli.training.training_outputs import load_initial_weights


def trained_looking(config: network.ModelConfig) -> network.keras.Model:
    """A fresh network whose correction is not zero (a fresh one returns the smooth prefill alone)."""
    unet = network.build_unet(config)
    if config.prefill:
        correction = unet.get_layer("correction")
        kernel, bias = correction.get_weights()
        correction.set_weights([np.random.default_rng(7).normal(0, 0.2, kernel.shape).astype(np.float32), bias])
    return unet


def holed_batch(size: int) -> np.ndarray:
    rng = np.random.default_rng(3)
    mask = np.zeros((2, size, size, 1), np.float32)
    mask[:, 8:20, 10:26] = 1
    return np.concatenate([rng.random((2, size, size, 3), np.float32) * (1 - mask), mask], axis=-1)


@pytest.mark.parametrize(("prefill", "mask_input"), [(True, True), (False, False)])
def test_a_widened_network_computes_what_the_narrow_one_did(prefill: bool, mask_input: bool) -> None:
    narrow = trained_looking(network.ModelConfig(input_size=32, width=4, prefill=prefill, mask_input=mask_input))
    wide = network.build_unet(network.ModelConfig(input_size=32, width=6, prefill=prefill, mask_input=mask_input))
    widening.widen(narrow, wide, noise=0)
    batch = holed_batch(32)
    expected, widened = narrow.predict(batch, verbose=0), wide.predict(batch, verbose=0)
    assert wide.count_params() > narrow.count_params()
    assert np.abs(widened - expected).max() < 1e-5
    fresh = network.build_unet(network.ModelConfig(input_size=32, width=6, prefill=prefill, mask_input=mask_input))
    assert np.abs(fresh.predict(batch, verbose=0) - expected).max() > 1e-3  # the check can tell fills apart


def test_init_from_a_narrower_model_file_widens_it_with_a_little_noise(tmp_path: Path) -> None:
    narrow = trained_looking(network.ModelConfig(input_size=32, width=4))
    narrow.save(tmp_path / "narrow.keras")
    wide = network.build_unet(network.ModelConfig(input_size=32, width=8))
    load_initial_weights(wide, str(tmp_path / "narrow.keras"))
    batch = holed_batch(32)
    difference = np.abs(wide.predict(batch, verbose=0) - narrow.predict(batch, verbose=0))
    assert 0 < difference.max() < 0.02  # the copies differ by the noise that lets them grow apart in training
    old_filters = narrow.get_layer("encoder0_conv1").get_weights()[0].reshape(-1, 4)
    new_filters = wide.get_layer("encoder0_conv1").get_weights()[0].reshape(-1, 8)[:, 4:]
    for column in new_filters.T:  # each new filter copies an old one (the first layer's input is not copied)
        assert min(np.abs(column - old).max() for old in old_filters.T) < 0.01 * np.abs(old_filters).max()


def test_a_model_that_is_wider_or_built_otherwise_does_not_load(tmp_path: Path) -> None:
    trained_looking(network.ModelConfig(input_size=32, width=8)).save(tmp_path / "wide.keras")
    trained_looking(network.ModelConfig(input_size=32, width=4, prefill=False)).save(tmp_path / "other.keras")
    for source in ("wide.keras", "other.keras"):
        with pytest.raises(UsageError, match="does not match this network"):
            load_initial_weights(
                network.build_unet(network.ModelConfig(input_size=32, width=6)), str(tmp_path / source)
            )


def test_a_model_with_other_bottleneck_dilations_is_not_widened(tmp_path: Path) -> None:
    other = network.ModelConfig(input_size=32, width=4, bottleneck_dilations=(4, 2, 1))
    trained_looking(other).save(tmp_path / "other.keras")
    with pytest.raises(UsageError, match="does not match this network.*dilated"):
        load_initial_weights(
            network.build_unet(network.ModelConfig(input_size=32, width=6)), str(tmp_path / "other.keras")
        )
