"""Training the network from photo folders on any Keras backend: JAX on a GPU machine without TensorFlow.

The same network, loss, optimizer schedule, split and samples as `inpaint train` (see photo_arrays.py),
fed from NumPy batches drawn ahead by processes (photo_arrays.BatchStream) instead of a tf.data
pipeline. What it leaves is a model folder that `inpaint export` and `inpaint fill` take as they are:
model.keras (the best epoch by validation hole PSNR, without optimizer state), model.json, history.csv
and preview.png. The card and the best model are written after every epoch, so a run stopped by a time
limit or Ctrl-C leaves the best model so far.

It does not resume an interrupted run and knows no distribution strategy: `inpaint train` does both.
"""

from __future__ import annotations

import json
import math
import platform
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict
from pathlib import Path

import numpy as np

from inpaint_cli.backend import keras
from inpaint_cli.errors import InpaintError, UsageError
from inpaint_cli.files.atomic_files import write_atomically
from inpaint_cli.interrupts import how_stopped
from inpaint_cli.model import network
from inpaint_cli.model.model_folder import CARD_FILE, HISTORY_FILE, KERAS_FILE, PREVIEW_FILE, card_text
from inpaint_cli.settings import PrepareConfig, RunLimits, TrainConfig
from inpaint_cli.training.photo_arrays import BatchDrawer, BatchStream, PhotoArrays, load_photo_arrays
from inpaint_cli.training.training_outputs import (
    best_row,
    card_fields,
    history_csv,
    load_initial_weights,
    write_preview,
)


def packed(images: np.ndarray, masks: np.ndarray) -> tuple[object, object]:
    """network.training_pair of uint8 batches, made float32 in keras.ops.

    On a GPU this runs there on the uint8 batch (a quarter of float32's bytes to copy); in NumPy it took
    39 ms per batch of 64 at 128 px, a ceiling of 1,650 samples/s for the whole run.
    """
    ops = keras.ops
    return network.training_pair(ops.cast(images, "float32") / 255.0, ops.cast(masks, "float32"))


def _packed_batches(batches: Iterator[tuple[np.ndarray, np.ndarray]]) -> Iterator[tuple[object, object]]:
    return (packed(images, masks) for images, masks in batches)


def train_from_photos(
    folders: list[Path],
    out: Path,
    config: TrainConfig,
    prepare: PrepareConfig,
    limits: RunLimits = RunLimits(),  # noqa: B008 (frozen: one shared default is safe)
    report: Callable[[str], None] = print,
    command: str | None = None,
) -> dict[str, object]:
    """Train on the photos under folders; write the model folder out; return its card."""
    config.check()
    limits.check()
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise UsageError(f"{out} is not empty; choose a new folder for the model")
    arrays = load_photo_arrays(folders, prepare)
    steps = limits.steps_per_epoch or math.ceil(len(arrays.train) / config.batch_size)  # as `inpaint train`
    report(f"{len(arrays.train)} training and {len(arrays.validation)} validation photos, {steps} steps per epoch")
    keras.utils.set_random_seed(config.seed)
    model_config = network.ModelConfig(
        input_size=prepare.size, width=config.width, prefill=config.prefill, mask_input=config.mask_input
    )
    policy = keras.mixed_precision.global_policy()
    stream = None
    try:
        if limits.mixed_bfloat16:
            keras.mixed_precision.set_global_policy("mixed_bfloat16")
        unet = network.build_unet(model_config)
        twin = network.inference_copy(model_config, config)
        if config.init_from:
            load_initial_weights(unet, config.init_from, config.seed, config.width)
        network.compile_for_training(unet, config, steps * config.epochs)
        out.mkdir(parents=True, exist_ok=True)
        stream = BatchStream(BatchDrawer(arrays.train, config, prepare), limits.processes)
        validation = packed(arrays.validation, arrays.validation_masks)

        def publish(rows: list[dict[str, float]], seconds: float) -> None:
            card = _card(rows, seconds, config, prepare, model_config, unet, arrays, folders, steps, command)
            write_atomically(out / HISTORY_FILE, lambda path: path.write_text(history_csv(rows)))
            write_atomically(out / CARD_FILE, lambda path: path.write_text(card_text(card)))
            row = rows[-1]
            report(
                f"epoch {len(rows)}/{config.epochs}  loss {row['loss']:.4f}  hole PSNR {row['hole_psnr']:.2f} dB  "
                f"validation {row['val_hole_psnr']:.2f} dB  {seconds:.0f} s"
            )

        rows = _fit_epochs(unet, twin, stream, validation, config, limits, steps, out, publish)
    finally:
        if stream is not None:
            stream.close()
        keras.mixed_precision.set_global_policy(policy)
    if len(rows) < config.epochs:
        report(f"Stopped after epoch {len(rows)}: past the {limits.minutes:g} minutes asked for.")
    best = keras.saving.load_model(out / KERAS_FILE, compile=False)
    pairs = zip(arrays.validation / np.float32(255), arrays.validation_masks, strict=True)
    write_preview(best, pairs, out / PREVIEW_FILE)
    return json.loads((out / CARD_FILE).read_text())


def _fit_epochs(
    unet: keras.Model,
    twin: keras.Model,
    stream: BatchStream,
    validation: tuple[object, object],
    config: TrainConfig,
    limits: RunLimits,
    steps: int,
    out: Path,
    publish: Callable[[list[dict[str, float]], float], None],
) -> list[dict[str, float]]:
    """Train epoch by epoch, validate on the float32 twin, save it when best and publish; the history rows.

    publish(rows, seconds) writes history.csv and model.json and reports the epoch.
    """
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
            rows.append({**row, **{f"val_{key}": float(value) for key, value in scores.items()}})
            if not best_row(rows):
                raise InpaintError(
                    f"training diverged: no validation hole PSNR after epoch {epoch + 1}; try a lower --learning-rate"
                )
            if best_row(rows) is rows[-1]:
                write_atomically(out / KERAS_FILE, twin.save)
            seconds = time.perf_counter() - started
            publish(rows, seconds)
            if limits.minutes is not None and seconds > 60 * limits.minutes and epoch + 1 < config.epochs:
                break
    except KeyboardInterrupt as stop:  # Ctrl-C, or SIGTERM raised as Terminated (interrupts.raise_on_sigterm)
        where = f"after epoch {len(rows)}; the best model so far is in {out}" if rows else "during the first epoch"
        raise Interrupted(where, stop) from None
    return rows


class Interrupted(InpaintError):
    """Ctrl-C (exit status 130) or SIGTERM (143) during training: what was published stays."""

    exit_code = 130

    def __init__(self, where: str, stop: KeyboardInterrupt | None = None) -> None:
        stopped, self.exit_code = how_stopped(stop)
        super().__init__(f"{stopped} {where}")


def _card(
    rows: list[dict[str, float]],
    seconds: float,
    config: TrainConfig,
    prepare: PrepareConfig,
    model_config: network.ModelConfig,
    unet: keras.Model,
    arrays: PhotoArrays,
    folders: list[Path],
    steps: int,
    command: str | None,
) -> dict[str, object]:
    """model.json: what `inpaint train` records, with the photo folders in place of a prepared dataset."""
    return {
        **card_fields(rows, seconds, steps * config.batch_size, config, model_config, unet, command),
        "strategy": {"name": f"keras-{keras.backend.backend()}", "replicas": 1},
        "photos": {
            "folders": [str(folder) for folder in folders],
            "counts": {"train": len(arrays.train), "validation": len(arrays.validation), "skipped": arrays.skipped},
            "prepare": asdict(prepare),
            "steps_per_epoch": steps,
        },
        "versions": {
            "python": platform.python_version(),
            "keras": keras.__version__,
            "backend": keras.backend.backend(),
            "numpy": np.__version__,
        },
    }
