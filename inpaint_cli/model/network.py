"""The network: a U-Net (skip-connection autoencoder) over the holed image plus its mask.

Also its losses and metric, and loading. Targets passed to a loss are packed as
4 channels: the original RGB and the hole mask (1 = hole).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from inpaint_cli.backend import keras
from inpaint_cli.errors import InpaintError
from inpaint_cli.settings import LOSSES, TrainConfig

layers, ops = keras.layers, keras.ops

LEVELS = 4  # encoder levels; inputs must be divisible by 2**LEVELS


@dataclass(frozen=True)
class ModelConfig:
    """What defines the network's shape."""

    input_size: int = 128
    width: int = 20  # filters at the first level, doubling per level (the bottleneck keeps the last level's)
    bottleneck_dilations: tuple[int, ...] = (1, 2, 4)
    # The network starts from SmoothPrefill's guess and predicts a correction to it. Without: holes stay zero
    # and the network paints their colours from nothing (the tutorial's way).
    prefill: bool = True
    mask_input: bool = True  # the network sees the mask; the tutorial's network saw only the zeroed image


@keras.saving.register_keras_serializable(package="inpaint")
class SmoothPrefill(layers.Layer):
    """Each hole painted with a smooth guess from the known pixels around it (push-pull over an image pyramid).

    Pull: halve the image until it is one pixel, averaging only known pixels. Push: from the
    coarsest level down, every pixel keeps its own average where it had known pixels and
    takes the bilinearly enlarged coarser level where it had none, in proportion. Known
    pixels come out unchanged; a hole gets the colours of its surroundings, smoothly.
    Input: NxHxWx4 (RGB with holes zeroed, then the mask); output: NxHxWx3.
    """

    def call(self, inputs: keras.KerasTensor) -> keras.KerasTensor:
        known = 1.0 - inputs[..., 3:]
        # Premultiplied: colour times known share, so averages of them stay weighted by what is known.
        levels = [(inputs[..., :3] * known, known)]
        while levels[-1][1].shape[1] > 1 or levels[-1][1].shape[2] > 1:
            colour, share = levels[-1]
            levels.append((ops.average_pool(colour, 2, 2, "same"), ops.average_pool(share, 2, 2, "same")))
        colour, share = levels.pop()
        painted = colour / ops.maximum(share, 1e-6)
        for colour, share in reversed(levels):
            enlarged = ops.image.resize(painted, colour.shape[1:3], interpolation="bilinear")
            painted = colour + (1.0 - share) * enlarged
        return painted

    def compute_output_shape(self, input_shape: tuple[int | None, ...]) -> tuple[int | None, ...]:
        return (*input_shape[:-1], 3)


@keras.saving.register_keras_serializable(package="inpaint")
class CorrectedColour(layers.Layer):
    """The prefilled image plus the network's correction, kept inside [0, 1]."""

    def call(self, prefilled: keras.KerasTensor, correction: keras.KerasTensor) -> keras.KerasTensor:
        return ops.clip(prefilled + correction, 0.0, 1.0)


def conv_block(tensor: keras.KerasTensor, filters: int, name: str) -> keras.KerasTensor:
    """Two 3x3 convolutions with ReLU, the U-Net's basic unit."""
    for index in (1, 2):
        tensor = layers.Conv2D(filters, 3, padding="same", activation="relu", name=f"{name}_conv{index}")(tensor)
    return tensor


def build_unet(config: ModelConfig) -> keras.Model:
    """The skip-connection autoencoder: 4 encoder levels, a dilated bottleneck, 4 decoder levels.

    Input: float32 NxHxWx4 (holed RGB in [0, 1] with holes zeroed, then the mask), whatever
    the config: without mask_input the U-Net does not see the mask (the prefill, when on, uses it
    to know which pixels to paint); with neither, the network ignores the 4th channel.
    Output: NxHxWx3 RGB in [0, 1]. H = W = config.input_size, which must be divisible by 16.
    """
    inputs = keras.Input((config.input_size, config.input_size, 4), name="holed_image_and_mask")
    widths = [config.width * 2**level for level in range(LEVELS)]
    skips = []
    # float32 like the output: known pixels pass through the prefill and must keep their exact values.
    prefilled = SmoothPrefill(dtype="float32", name="smooth_prefill")(inputs) if config.prefill else None
    if prefilled is None:
        tensor = inputs if config.mask_input else inputs[..., :3]
    else:
        tensor = (
            layers.Concatenate(name="prefilled_and_mask")([prefilled, inputs[..., 3:]])
            if config.mask_input
            else prefilled
        )
    # Encoder: features at each scale are kept for the skip connections.
    for level, filters in enumerate(widths):
        tensor = conv_block(tensor, filters, f"encoder{level}")
        skips.append(tensor)
        tensor = layers.MaxPooling2D(2, name=f"encoder{level}_pool")(tensor)
    # Bottleneck: dilated convolutions widen the receptive field to the whole window.
    bottleneck_filters = widths[-1]
    tensor = layers.Conv2D(bottleneck_filters, 3, padding="same", activation="relu", name="bottleneck_in")(tensor)
    for rate in config.bottleneck_dilations:
        tensor = layers.Conv2D(
            bottleneck_filters,
            3,
            padding="same",
            dilation_rate=rate,
            activation="relu",
            name=f"bottleneck_dilated{rate}",
        )(tensor)
    # Decoder: upsample, join the encoder's features of the same scale, refine.
    for level in reversed(range(LEVELS)):
        filters = widths[level]
        tensor = layers.Conv2DTranspose(filters, 2, strides=2, padding="same", name=f"decoder{level}_up")(tensor)
        tensor = layers.Concatenate(name=f"decoder{level}_skip")([tensor, skips[level]])
        tensor = conv_block(tensor, filters, f"decoder{level}")
    # float32 even under a mixed-precision policy: colours and loss keep full resolution (bfloat16 has 8 bits).
    if prefilled is None:
        outputs = layers.Conv2D(3, 1, activation="sigmoid", dtype="float32", name="rgb")(tensor)
    else:
        # Starts at zero: an untrained network returns the prefill, and learns only what to change.
        correction = layers.Conv2D(3, 1, kernel_initializer="zeros", dtype="float32", name="correction")(tensor)
        outputs = CorrectedColour(dtype="float32", name="rgb")(prefilled, correction)
    return keras.Model(inputs, outputs, name="inpaint_unet")


@keras.saving.register_keras_serializable(package="inpaint")
class HoleWeightedL1(keras.losses.Loss):
    """Mean absolute error where hole pixels weigh hole_weight times more than known ones."""

    def __init__(self, hole_weight: float = 6.0, name: str = "hole_weighted_l1", **kwargs: object) -> None:
        super().__init__(name=name, **kwargs)
        self.hole_weight = hole_weight

    def call(self, y_true: keras.KerasTensor, y_pred: keras.KerasTensor) -> keras.KerasTensor:
        target, mask = y_true[..., :3], y_true[..., 3:]
        weights = 1.0 + (self.hole_weight - 1.0) * mask
        return ops.mean(weights * self.error(target - y_pred), axis=(1, 2, 3))

    @staticmethod
    def error(difference: keras.KerasTensor) -> keras.KerasTensor:
        return ops.abs(difference)

    def get_config(self) -> dict[str, object]:
        return {**super().get_config(), "hole_weight": self.hole_weight}


@keras.saving.register_keras_serializable(package="inpaint")
class HoleWeightedMSE(HoleWeightedL1):
    """Squared error where hole pixels weigh hole_weight times more: the error that hole PSNR measures."""

    def __init__(self, hole_weight: float = 6.0, name: str = "hole_weighted_mse", **kwargs: object) -> None:
        super().__init__(hole_weight=hole_weight, name=name, **kwargs)

    @staticmethod
    def error(difference: keras.KerasTensor) -> keras.KerasTensor:
        return ops.square(difference)


@keras.saving.register_keras_serializable(package="inpaint")
class ImageMSE(keras.losses.Loss):
    """Mean squared error over the whole image, holes and known pixels alike (the tutorial's loss)."""

    def __init__(self, name: str = "image_mse", **kwargs: object) -> None:
        super().__init__(name=name, **kwargs)

    def call(self, y_true: keras.KerasTensor, y_pred: keras.KerasTensor) -> keras.KerasTensor:
        return ops.mean(ops.square(y_true[..., :3] - y_pred), axis=(1, 2, 3))


def training_loss(name: str, hole_weight: float) -> keras.losses.Loss:
    """The loss called name in LOSSES: "hole-l1" (HoleWeightedL1), "hole-mse" (HoleWeightedMSE) or "mse" (ImageMSE)."""
    if name not in LOSSES:
        raise InpaintError(f"unknown loss {name!r}; choose one of {', '.join(LOSSES)}")
    if name == "mse":
        return ImageMSE()
    return HoleWeightedL1(hole_weight) if name == "hole-l1" else HoleWeightedMSE(hole_weight)


@keras.saving.register_keras_serializable(package="inpaint")
def hole_psnr(y_true: keras.KerasTensor, y_pred: keras.KerasTensor) -> keras.KerasTensor:
    """Per-image PSNR (dB, peak 1.0) over hole pixels only."""
    target, mask = y_true[..., :3], y_true[..., 3:]
    squared_error = ops.sum(mask * ops.square(target - y_pred), axis=(1, 2, 3))
    hole_values = ops.maximum(ops.sum(mask, axis=(1, 2, 3)) * 3.0, 1.0)
    mse = ops.maximum(squared_error / hole_values, 1e-10)
    return -10.0 * ops.log(mse) / ops.log(10.0)


def compile_for_training(unet: keras.Model, config: TrainConfig, total_steps: int, **options: object) -> None:
    """Compile unet as `train` does: Adam on a cosine schedule over total_steps, config's loss, hole PSNR.

    options go to Model.compile as they are (the throughput benchmark passes jit_compile).
    """
    schedule = keras.optimizers.schedules.CosineDecay(config.learning_rate, total_steps, alpha=0.01)
    unet.compile(
        optimizer=keras.optimizers.Adam(schedule),
        loss=training_loss(config.loss, config.hole_weight),
        metrics=[hole_psnr],
        **options,
    )


def inference_copy(model_config: ModelConfig, config: TrainConfig) -> keras.Model:
    """A twin of a network in training, for validating and saving it: compiled without an optimizer, so its
    model.keras holds no optimizer state (a third of the size), and in float32 whatever the global policy."""
    policy = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy("float32")
    try:
        copy = build_unet(model_config)
    finally:
        keras.mixed_precision.set_global_policy(policy)
    # optimizer=None: compile's default, RMSprop, would be built by evaluate on JAX and saved (twice the file).
    copy.compile(optimizer=None, loss=training_loss(config.loss, config.hole_weight), metrics=[hole_psnr])
    return copy


def model_inputs(image: keras.KerasTensor, mask: keras.KerasTensor) -> keras.KerasTensor:
    """The network's input: the image with holes zeroed, plus the mask as a 4th channel."""
    return ops.concatenate([image * (1.0 - mask), mask], axis=-1)


def training_pair(image: keras.KerasTensor, mask: keras.KerasTensor) -> tuple[keras.KerasTensor, keras.KerasTensor]:
    """(network input, target) for fit: the target carries the mask beside the image, for the loss."""
    return model_inputs(image, mask), ops.concatenate([image, mask], axis=-1)


def with_smooth_fill(unet: keras.Model) -> keras.Model:
    """The network for filling: its RGB fill, then SmoothPrefill's smooth fill of the same input (6 channels).

    fill uses the smooth fill where a window is flat (sky, water, walls), where the network's
    correction adds more noise than it takes away. A prefill network reuses its own prefill.
    """
    try:
        smooth = unet.get_layer("smooth_prefill").output
    except ValueError:
        smooth = SmoothPrefill(dtype="float32", name="smooth_fill")(unet.input)
    outputs = layers.Concatenate(dtype="float32", name="fill_and_smooth_fill")([unet.output, smooth])
    return keras.Model(unet.input, outputs, name=unet.name)


def config_as_dict(config: ModelConfig) -> dict[str, object]:
    """The ModelConfig as JSON-ready values, for the model card."""
    return {**asdict(config), "bottleneck_dilations": list(config.bottleneck_dilations)}
