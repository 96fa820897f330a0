"""The options of `inpaint prepare` and `inpaint train` as frozen dataclasses, and the defaults of
`inpaint export`, `inpaint evaluate` and `inpaint serve`, with no heavy imports.

The command line takes its defaults from here, so they are written once; the dataset's manifest and
the model card store prepare's and train's.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from inpaint_cli.errors import UsageError


class Loss(str, Enum):
    """What training minimises."""

    HOLE_L1 = "hole-l1"  # absolute error, hole pixels weigh hole_weight times more
    HOLE_MSE = "hole-mse"  # squared error, same weights
    MSE = "mse"  # squared error over the whole image, the tutorial's


class Strategy(str, Enum):
    """How training is spread over devices and machines (cluster.make_strategy)."""

    AUTO = "auto"
    DEFAULT = "default"
    MIRRORED = "mirrored"
    MULTI_WORKER = "multi-worker"


LOSSES = tuple(loss.value for loss in Loss)
STRATEGIES = tuple(strategy.value for strategy in Strategy)

EXPORT_TOLERANCE = 1e-4  # largest absolute difference allowed between the two models' outputs, in [0, 1] RGB units
EVALUATION_SEED = 1234  # seed of evaluate's hole sizes and positions: keep it to compare runs
MAX_WIDTH = 128  # filters at the first level: weights grow with its square (101 M at 128)
MAX_SEED = 2**32 - 1  # NumPy's and TensorFlow's seeds are unsigned 32-bit
FLOAT32_MAX = 3.4028234663852886e38  # the training's numbers are float32: a learning rate above is infinite
SERVE_HOST = "127.0.0.1"  # serve listens on loopback unless told otherwise: only this machine reaches the page
SERVE_PORT = 8000


@dataclass(frozen=True)
class PrepareConfig:
    """Parameters of `inpaint prepare`; all are stored in the manifest."""

    size: int = 128
    holes_per_image: int = 1
    hole_min: int = 16
    hole_max: int = 48
    val_fraction: float = 0.1
    seed: int = 0

    def check(self) -> None:
        if self.size < 16 or self.size % 16:
            raise UsageError(f"--size {self.size}: the sample size must be a multiple of 16 (16 or more)")
        if not 1 <= self.hole_min <= self.hole_max <= self.size:
            raise UsageError(
                f"--hole-min {self.hole_min} and --hole-max {self.hole_max} must satisfy "
                f"1 <= --hole-min <= --hole-max <= --size ({self.size}); change --hole-min or --hole-max"
            )
        if self.holes_per_image < 1:
            raise UsageError("holes per image must be at least 1")
        if not 0.0 < self.val_fraction < 1.0:
            raise UsageError(
                f"the validation share {self.val_fraction:g} must be above 0 and below 1: "
                "`inpaint train` picks its best epoch on the validation samples"
            )


@dataclass(frozen=True)
class TrainConfig:
    """Options of `inpaint train`; all are stored in the model card.

    batch_size is the global batch: each step splits it over the replicas of the
    distribution strategy. learning_rate is for that global batch and is not scaled
    when the number of replicas changes; when you add replicas and grow the batch
    with them, the linear scaling rule (learning rate x replicas) is a good start.
    """

    epochs: int = 40
    batch_size: int = 32
    learning_rate: float = 1e-3  # peak; decays along a cosine to 1 % by the last step
    width: int = 20  # the bundled model's; `train` without --width takes its --init-from model's (starting_width)
    seed: int = 0
    hole_weight: float = 6.0
    stroke_fraction: float = 1 / 3
    zoom_fraction: float = 0.5  # share of samples that are enlarged crops (dataset._zoomed)
    loss: str = "hole-l1"  # one of LOSSES
    prefill: bool = True  # see network.ModelConfig
    mask_input: bool = True
    init_from: str | None = None  # a model (.keras file or folder) of the same shape whose weights training starts from
    painted_fraction: float = 0.0  # share of holes that are blobs (about half cut by the border) or bands across it

    def check(self) -> None:
        if self.epochs < 1 or self.batch_size < 1 or self.width < 1:
            raise UsageError("epochs, batch size and width must be at least 1")
        if self.width > MAX_WIDTH:
            raise UsageError(
                f"--width {self.width} is over {MAX_WIDTH} (the bundled model has 20; 128 is 101 M weights)"
            )
        if self.loss not in LOSSES:
            raise UsageError(f"the loss must be one of {', '.join(LOSSES)}, not {self.loss!r}")
        if not 0 < self.learning_rate <= FLOAT32_MAX:
            raise UsageError(f"the learning rate must be positive and finite in float32, not {self.learning_rate:g}")
        if not 0 <= self.seed <= MAX_SEED:
            raise UsageError(f"--seed must be in 0..{MAX_SEED}, not {self.seed}")
        shares = {"stroke": self.stroke_fraction, "painted": self.painted_fraction, "zoom": self.zoom_fraction}
        for name, share in shares.items():
            if not 0.0 <= share <= 1.0:
                raise UsageError(f"--{name}-fraction must be in [0, 1], not {share:g}")


@dataclass(frozen=True)
class RunLimits:
    """How long a run of scripts/train_from_photos.py goes and how it is fed, beside TrainConfig's options."""

    steps_per_epoch: int | None = None  # None: one pass over the training photos per epoch
    minutes: float | None = None  # stop after the first epoch that ends past this many minutes
    processes: int = 0  # processes drawing batches ahead (photo_arrays.BatchStream); 0 draws them in this one
    mixed_bfloat16: bool = False  # keras's "mixed_bfloat16" policy for training; validation and saving stay float32

    def check(self) -> None:
        """One-line errors for values that cannot run."""
        if self.steps_per_epoch is not None and self.steps_per_epoch < 1:
            raise UsageError(f"--steps-per-epoch must be at least 1, not {self.steps_per_epoch}")
        if self.minutes is not None and not self.minutes > 0:
            raise UsageError(f"--minutes must be above 0, not {self.minutes:g}")
        if self.processes < 0:
            raise UsageError(f"--processes must be 0 or more, not {self.processes}")
