"""Training the network from photo folders on any Keras backend: JAX on a GPU machine without TensorFlow.

The same network, loss, optimizer schedule, split and samples as `inpaint train` (see photo_arrays.py),
fed from NumPy arrays through a keras.utils.PyDataset instead of a tf.data pipeline. What it leaves is
a model folder that `inpaint export` and `inpaint fill` take as they are: model.keras (the best epoch by
validation hole PSNR), model.json, history.csv and preview.png. The card and the best model are written
after every epoch, so a run stopped by a time limit leaves the best model so far.

It does not resume an interrupted run and knows no distribution strategy: `inpaint train` does both.
"""

from __future__ import annotations

import platform
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from inpaint_cli import __version__
from inpaint_cli.backend import keras
from inpaint_cli.errors import UsageError
from inpaint_cli.files.atomic_files import write_atomically
from inpaint_cli.model import network
from inpaint_cli.model.model_folder import CARD_FILE, CARD_FORMAT, HISTORY_FILE, KERAS_FILE, PREVIEW_FILE, card_text
from inpaint_cli.settings import PrepareConfig, TrainConfig
from inpaint_cli.training.photo_arrays import BatchDrawer, BatchStream, PhotoArrays, load_photo_arrays
from inpaint_cli.training.training_outputs import best_row, counted_from_one, history_csv, write_preview


@dataclass(frozen=True)
class RunLimits:
    """How long a run goes and how it is fed, beside TrainConfig's options."""

    steps_per_epoch: int | None = None  # None: one pass over the training photos per epoch
    minutes: float | None = None  # stop after the first epoch that ends past this many minutes
    processes: int = 0  # processes drawing batches ahead (photo_arrays.BatchStream); 0 draws them in this one
    mixed_bfloat16: bool = False  # keras's "mixed_bfloat16" policy: about twice as fast on recent GPUs


def packed(images: np.ndarray, masks: np.ndarray) -> tuple[object, object]:
    """(network input, target with the mask beside it) in float32 from uint8 batches: as model_inputs and the loss.

    In keras.ops, so on a GPU it runs there on the uint8 batch (a quarter of float32's bytes to copy); in
    NumPy it took 39 ms per batch of 64 at 128 px, a ceiling of 1,650 samples/s for the whole run.
    """
    ops = keras.ops
    images, masks = ops.cast(images, "float32") / 255.0, ops.cast(masks, "float32")
    return ops.concatenate([images * (1.0 - masks), masks], axis=-1), ops.concatenate([images, masks], axis=-1)


def _packed_batches(batches: Iterator[tuple[np.ndarray, np.ndarray]]) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    return (packed(images, masks) for images, masks in batches)


def train_from_photos(
    folders: list[Path],
    out: Path,
    config: TrainConfig,
    prepare: PrepareConfig,
    limits: RunLimits = RunLimits(),
    report: Callable[[str], None] = print,
    command: str | None = None,
) -> dict[str, object]:
    """Train on the photos under folders; write the model folder out; return its card."""
    config.check()
    if out.exists() and any(out.iterdir()):
        raise UsageError(f"{out} is not empty; choose a new folder for the model")
    arrays = load_photo_arrays(folders, prepare)
    steps = limits.steps_per_epoch or max(1, len(arrays.train) // config.batch_size)
    report(f"{len(arrays.train)} training and {len(arrays.validation)} validation photos, {steps} steps per epoch")
    keras.utils.set_random_seed(config.seed)
    model_config = network.ModelConfig(
        input_size=prepare.size, width=config.width, prefill=config.prefill, mask_input=config.mask_input
    )
    policy = keras.mixed_precision.global_policy()
    if limits.mixed_bfloat16:
        keras.mixed_precision.set_global_policy("mixed_bfloat16")
    unet = network.build_unet(model_config)
    twin = network.inference_copy(model_config, config)
    if config.init_from:
        unet.set_weights(keras.saving.load_model(config.init_from, compile=False).get_weights())
    network.compile_for_training(unet, config, steps * config.epochs)
    out.mkdir(parents=True, exist_ok=True)
    validation = packed(arrays.validation, arrays.validation_masks)
    stream = BatchStream(BatchDrawer(arrays.train, config, prepare), limits.processes)
    rows: list[dict[str, float]] = []
    started = time.perf_counter()
    try:
        for epoch in range(config.epochs):
            batches = _packed_batches(stream.epoch(epoch, steps))
            fitted = unet.fit(
                batches, steps_per_epoch=steps, epochs=epoch + 1, initial_epoch=epoch, shuffle=False, verbose=0
            )
            twin.set_weights(unet.get_weights())
            scores = twin.evaluate(*validation, batch_size=config.batch_size, verbose=0, return_dict=True)
            row = {"epoch": epoch, **{key: float(values[-1]) for key, values in fitted.history.items()}}
            row.update({f"val_{key}": float(value) for key, value in scores.items()})
            rows.append(row)
            if best_row(rows) is row:
                write_atomically(out / KERAS_FILE, twin.save)
            seconds = time.perf_counter() - started
            card = _card(rows, config, prepare, model_config, unet, arrays, folders, steps, seconds, command)
            write_atomically(out / HISTORY_FILE, lambda path: path.write_text(history_csv(rows)))
            write_atomically(out / CARD_FILE, lambda path, card=card: path.write_text(card_text(card)))
            report(
                f"epoch {epoch + 1}/{config.epochs}  loss {row['loss']:.4f}  hole PSNR {row['hole_psnr']:.2f} dB  "
                f"validation {row['val_hole_psnr']:.2f} dB  {seconds:.0f} s"
            )
            if limits.minutes is not None and seconds > 60 * limits.minutes and epoch + 1 < config.epochs:
                report(f"Stopped after epoch {epoch + 1}: past the {limits.minutes:g} minutes asked for.")
                break
    finally:
        stream.close()
        keras.mixed_precision.set_global_policy(policy)
    best = keras.saving.load_model(out / KERAS_FILE, compile=False)
    pairs = zip(arrays.validation / np.float32(255), arrays.validation_masks, strict=True)
    write_preview(best, pairs, out / PREVIEW_FILE)
    return card


def _card(
    rows: list[dict[str, float]],
    config: TrainConfig,
    prepare: PrepareConfig,
    model_config: network.ModelConfig,
    unet: keras.Model,
    arrays: PhotoArrays,
    folders: list[Path],
    steps: int,
    seconds: float,
    command: str | None,
) -> dict[str, object]:
    """model.json: what `inpaint train` records, with the photo folders in place of a prepared dataset."""
    return {
        "format": CARD_FORMAT,
        "inpaint_version": __version__,
        **({"command": command} if command else {}),
        "model": network.config_as_dict(model_config),
        "input_size": prepare.size,
        "width": config.width,
        "parameters": int(unet.count_params()),
        "training": asdict(config),
        "strategy": {"name": f"keras-{keras.backend.backend()}", "replicas": 1},
        "photos": {
            "folders": [str(folder) for folder in folders],
            "counts": {"train": len(arrays.train), "validation": len(arrays.validation), "skipped": arrays.skipped},
            "prepare": asdict(prepare),
            "steps_per_epoch": steps,
        },
        "best": counted_from_one(best_row(rows)),
        "epochs_run": len(rows),
        "train_seconds": round(seconds, 1),
        "train_images_per_second": round(steps * config.batch_size * len(rows) / max(seconds, 1e-9), 1),
        "versions": {
            "python": platform.python_version(),
            "keras": keras.__version__,
            "backend": keras.backend.backend(),
            "numpy": np.__version__,
        },
    }
