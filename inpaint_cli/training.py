"""`inpaint train`: fit the U-Net on a prepared dataset and write a model folder.

The folder holds model.keras (best validation hole PSNR), model.json (the model
card), history.csv and preview.png.
"""

from __future__ import annotations

import csv
import math
import platform
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from inpaint_cli import __version__, dataset, images
from inpaint_cli import model as network
from inpaint_cli.backend import keras, tf
from inpaint_cli.errors import InpaintError, UsageError

EpochReport = Callable[[int, int, dict[str, float]], None]


@dataclass(frozen=True)
class TrainConfig:
    """Options of `inpaint train`; all are stored in the model card."""

    epochs: int = 40
    batch_size: int = 32
    learning_rate: float = 1e-3  # peak; decays along a cosine to 1 % by the last step
    width: int = 16
    seed: int = 0
    hole_weight: float = 6.0
    stroke_fraction: float = 1 / 3

    def check(self) -> None:
        if self.epochs < 1 or self.batch_size < 1 or self.width < 1:
            raise UsageError("--epochs, --batch-size and --width must be at least 1")
        if not self.learning_rate > 0:
            raise UsageError("--learning-rate must be positive")
        if not 0.0 <= self.stroke_fraction <= 1.0:
            raise UsageError("--stroke-fraction must be in [0, 1]")


def _pack(image, mask):
    """(network input, target) with the mask packed beside the target for the loss."""

    return network.model_inputs(image, mask), tf.concat([image, mask], axis=-1)


def _keras_callbacks(out_dir: Path, epochs: int, model_config: network.ModelConfig, on_epoch: EpochReport):

    inference_copy = network.build_unet(model_config)

    class BestModelSaver(keras.callbacks.Callback):
        """Saves the model atomically whenever validation hole PSNR improves."""

        def __init__(self) -> None:
            super().__init__()
            self.best = -math.inf
            self.best_logs: dict[str, float] = {}

        def on_epoch_end(self, epoch: int, logs: dict[str, float] | None = None) -> None:
            logs = {key: float(value) for key, value in (logs or {}).items()}
            if logs.get("val_hole_psnr", -math.inf) > self.best:
                self.best, self.best_logs = logs["val_hole_psnr"], {"epoch": epoch, **logs}
                # The shipped file holds weights only, not the optimizer's state (a third of the size).
                inference_copy.set_weights(self.model.get_weights())
                images.write_atomically(out_dir / "model.keras", lambda tmp: inference_copy.save(tmp))
            on_epoch(epoch, epochs, logs)

    return BestModelSaver(), keras.callbacks.CSVLogger(str(out_dir / "history.csv"))


def train(dataset_dir: Path, out_dir: Path, config: TrainConfig, on_epoch: EpochReport) -> dict[str, object]:
    """Train a model on dataset_dir into out_dir; on_epoch(epoch, epochs, logs) reports progress.

    Returns the model card that was written as model.json.
    """
    config.check()
    manifest = dataset.load_manifest(dataset_dir)

    keras.utils.set_random_seed(config.seed)
    size = int(manifest["parameters"]["size"])
    train_count = int(manifest["counts"]["train"])
    steps_per_epoch = max(1, math.ceil(train_count / config.batch_size))
    train_data = (
        dataset.read_split(
            dataset_dir, manifest, "train", random_holes=True, stroke_fraction=config.stroke_fraction, seed=config.seed
        )
        .shuffle(min(train_count, 2048), seed=config.seed)
        .repeat()
        .batch(config.batch_size)
        .map(_pack, num_parallel_calls=tf.data.AUTOTUNE)
        .prefetch(tf.data.AUTOTUNE)
    )
    validation_pairs = dataset.read_split(dataset_dir, manifest, "validation", random_holes=False).apply(
        tf.data.experimental.assert_cardinality(int(manifest["counts"]["validation"]))
    )
    validation_data = validation_pairs.batch(config.batch_size).map(_pack).cache().prefetch(tf.data.AUTOTUNE)

    model_config = network.ModelConfig(input_size=size, width=config.width)
    unet = network.build_unet(model_config)
    schedule = keras.optimizers.schedules.CosineDecay(config.learning_rate, steps_per_epoch * config.epochs, alpha=0.01)
    unet.compile(
        optimizer=keras.optimizers.Adam(schedule),
        loss=network.HoleWeightedL1(config.hole_weight),
        metrics=[network.hole_psnr],
    )
    out_dir.mkdir(parents=True, exist_ok=True)
    saver, csv_logger = _keras_callbacks(out_dir, config.epochs, model_config, on_epoch)
    started = time.perf_counter()
    try:
        unet.fit(
            train_data,
            validation_data=validation_data,
            epochs=config.epochs,
            steps_per_epoch=steps_per_epoch,
            callbacks=[saver, csv_logger],
            shuffle=False,
            verbose=0,
        )
    except (tf.errors.DataLossError, tf.errors.InvalidArgumentError) as error:
        first_line = str(error).strip().splitlines()[0]
        raise InpaintError(f"the dataset in {dataset_dir} is damaged ({first_line}); prepare it again") from None
    seconds = time.perf_counter() - started

    best = keras.saving.load_model(out_dir / "model.keras", compile=False)
    write_preview(best, validation_pairs, out_dir / "preview.png")
    card = {
        "format": "inpaint-model-card/1",
        "inpaint_version": __version__,
        "model": network.config_as_dict(model_config),
        "input_size": size,
        "width": config.width,
        "parameters": int(unet.count_params()),
        "training": asdict(config),
        "dataset": {
            "path": str(dataset_dir),
            "manifest_sha256": dataset.manifest_digest(dataset_dir),
            "counts": manifest["counts"],
            "prepare": manifest["parameters"],
        },
        "best": saver.best_logs,
        "epochs_run": len(_read_history(out_dir / "history.csv")),
        "train_seconds": round(seconds, 1),
        "train_images_per_second": round(steps_per_epoch * config.batch_size * config.epochs / seconds, 1),
        "versions": {
            "python": platform.python_version(),
            "tensorflow": tf.__version__,
            "keras": keras.__version__,
            "numpy": np.__version__,
        },
    }
    network.save_card(card, out_dir / "model.json")
    return card


def _read_history(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


def write_preview(unet, pairs, path: Path, count: int = 6) -> None:
    """A PNG grid of validation samples, one row each: holed | filled | original."""
    from PIL import Image

    rows = []
    for image, mask in pairs.take(count):
        image, mask = image.numpy(), mask.numpy()
        predicted = unet.predict(network.model_inputs(image[None], mask[None]), verbose=0)[0]
        filled = image * (1 - mask) + predicted * mask
        rows.append(np.concatenate([image * (1 - mask), filled, image], axis=1))
    grid = (np.clip(np.concatenate(rows, axis=0), 0, 1) * 255).round().astype(np.uint8)
    images.write_atomically(path, lambda tmp: Image.fromarray(grid).save(tmp, format="PNG"))
