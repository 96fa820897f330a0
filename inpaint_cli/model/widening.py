"""Widening a trained network: a wider U-Net that computes what the narrower one computes (Net2WiderNet).

Trained from scratch, a network sits at the smooth prefill's score for 5-18 epochs before it improves; a wider one
started from the bundled model widened starts where that model is, and training has only to find a use for its
new filters. Each new filter of a layer is a copy of one of the layer's old filters (drawn at random); the layers
that read it divide the copies' incoming weights by the number of copies, so their sums, and the output, stay the
same (ReLU passes copies through alike). A little noise on the kernels lets the copies grow apart in training.
(Chen, Goodfellow and Shlens, "Net2Net: accelerating learning via knowledge transfer", 2016.)
"""

from __future__ import annotations

import numpy as np

from inpaint_cli.backend import keras
from inpaint_cli.model.network import LEVELS

ALIKE = ("kernel_size", "strides", "dilation_rate", "padding", "activation")  # what must match, layer by layer
ChannelMap = tuple[np.ndarray, np.ndarray]  # new channel -> old channel, and how many new channels each old one has


def widen(narrow: keras.Model, wide: keras.Model, seed: int = 0, noise: float = 1e-3) -> None:
    """Set wide's weights so that it computes what narrow computes, up to noise x each kernel's spread.

    Both are build_unet networks with the same options but wide's width; ValueError when their layers differ
    otherwise or wide is the narrower one.
    """
    rng = np.random.default_rng(seed)
    _check_same_layers(narrow, wide)
    maps: dict[str, ChannelMap] = {}
    for name, sources in _readers(wide):
        old_kernel, old_bias = (weight.numpy() for weight in narrow.get_layer(name).weights)
        layer = wide.get_layer(name)
        transposed = isinstance(layer, keras.layers.Conv2DTranspose)
        kernel = np.moveaxis(old_kernel, 2, 3) if transposed else old_kernel  # as (h, w, in, out)
        new_shape = tuple(layer.weights[0].shape)
        new_out = new_shape[2] if transposed else new_shape[3]
        old_in, old_out = kernel.shape[2], kernel.shape[3]
        to_old, copies = _joined([maps[source] for source in sources]) if sources else _identity(old_in)
        if len(to_old) != (new_shape[3] if transposed else new_shape[2]) or new_out < old_out:
            raise ValueError(f"layer {name} of the model to widen does not fit ({old_kernel.shape} -> {new_shape})")
        outputs = _identity(old_out) if name == "correction" or name == "rgb" else _drawn(old_out, new_out, rng)
        kernel = kernel[:, :, to_old, :][:, :, :, outputs[0]] / copies[to_old][None, None, :, None]
        kernel = np.moveaxis(kernel, 3, 2) if transposed else kernel
        if noise > 0 and name not in ("correction", "rgb"):  # the colours start where the narrow one's are
            kernel = kernel + rng.normal(0, noise * (float(kernel.std()) + 1e-8), kernel.shape)
        layer.set_weights([kernel.astype(np.float32), old_bias[outputs[0]].astype(np.float32)])
        maps[name] = outputs


def _check_same_layers(narrow: keras.Model, wide: keras.Model) -> None:
    """ValueError unless both have the same weighted layers in the same order, alike but for their filter counts."""

    def shape_of(model: keras.Model) -> list[tuple[object, ...]]:
        return [
            (layer.name, type(layer).__name__, *(getattr(layer, key, None) for key in ALIKE))
            for layer in model.layers
            if layer.weights
        ]

    narrow_layers, wide_layers = shape_of(narrow), shape_of(wide)
    if narrow_layers != wide_layers:
        differing = next(
            (pair for pair in zip(narrow_layers, wide_layers, strict=False) if pair[0] != pair[1]),
            (narrow_layers[len(wide_layers) :] or wide_layers[len(narrow_layers) :], "nothing"),
        )
        raise ValueError(f"its layers differ from this network's: {differing[0]} against {differing[1]}")


def _readers(wide: keras.Model) -> list[tuple[str, list[str]]]:
    """The weighted layers of a build_unet network in order, each with the layers whose outputs it reads (in
    concatenation order; none for the first, which reads the input)."""
    order: list[tuple[str, list[str]]] = []
    previous: list[str] = []
    for level in range(LEVELS):
        order += [(f"encoder{level}_conv1", previous), (f"encoder{level}_conv2", [f"encoder{level}_conv1"])]
        previous = [f"encoder{level}_conv2"]
    order.append(("bottleneck_in", previous))
    previous = ["bottleneck_in"]
    for layer in wide.layers:
        if layer.name.startswith("bottleneck_dilated"):
            order.append((layer.name, previous))
            previous = [layer.name]
    for level in reversed(range(LEVELS)):
        order += [
            (f"decoder{level}_up", previous),
            (f"decoder{level}_conv1", [f"decoder{level}_up", f"encoder{level}_conv2"]),
            (f"decoder{level}_conv2", [f"decoder{level}_conv1"]),
        ]
        previous = [f"decoder{level}_conv2"]
    last = "correction" if any(layer.name == "correction" for layer in wide.layers) else "rgb"
    return [*order, (last, previous)]


def _identity(channels: int) -> ChannelMap:
    return np.arange(channels), np.ones(channels, np.int64)


def _drawn(old: int, new: int, rng: np.random.Generator) -> ChannelMap:
    """The old channels, then new - old copies of channels drawn at random."""
    to_old = np.concatenate([np.arange(old), rng.integers(0, old, new - old)])
    return to_old, np.bincount(to_old, minlength=old)


def _joined(parts: list[ChannelMap]) -> ChannelMap:
    """The map of a concatenation: each part's old channels counted after the parts before it."""
    to_old, copies, offset = [], [], 0
    for part_to_old, part_copies in parts:
        to_old.append(part_to_old + offset)
        copies.append(part_copies)
        offset += len(part_copies)
    return np.concatenate(to_old), np.concatenate(copies)
