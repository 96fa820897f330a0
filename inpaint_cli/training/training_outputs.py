"""What `train` publishes in the model folder besides the network: history.csv, preview.png, the card's contents.

The card's file name, format and reading are model_folder.py's; here is what a training run records in it.
"""

from __future__ import annotations

import csv
import io
import math
import platform
import warnings
from dataclasses import asdict

import numpy as np

from inpaint_cli import __version__
from inpaint_cli.backend import keras, tf
from inpaint_cli.errors import UsageError
from inpaint_cli.model import network, widening
from inpaint_cli.model.model_folder import CARD_FORMAT
from inpaint_cli.settings import TrainConfig
from inpaint_cli.training import starting_point, storage
from inpaint_cli.training.dataset import TrainingInputs
from inpaint_cli.training.storage import StoragePath


def history_csv(rows: list[dict[str, float]]) -> str:
    """history.csv: one row per epoch, the epoch number (from 1, as the console counts) first."""
    columns = ["epoch", *sorted({key for row in rows for key in row} - {"epoch"})]
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(map(counted_from_one, rows))
    return buffer.getvalue()


def counted_from_one(row: dict[str, float]) -> dict[str, float]:
    """A history row as published (history.csv, the card): its epoch counted from 1, as the console counts.

    The rows in .backup/state.json keep Keras's epoch index (from 0), which resuming compares with.
    """
    return {**row, "epoch": row["epoch"] + 1} if "epoch" in row else row


def best_row(rows: list[dict[str, float]]) -> dict[str, float]:
    """The first epoch with the highest validation hole PSNR (empty when none has one)."""
    best: dict[str, float] = {}
    for row in rows:
        if row.get("val_hole_psnr", -math.inf) > best.get("val_hole_psnr", -math.inf):
            best = row
    return best


def model_card(
    state: dict[str, object],
    config: TrainConfig,
    model_config: network.ModelConfig,
    unet: keras.Model,
    inputs: TrainingInputs,
    dataset_dir: StoragePath,
    strategy: str,
    replicas: int,
    command: str | None,
) -> dict[str, object]:
    """model.json: how the model was made (command, options, dataset, versions) and how well it did."""
    rows = state["history"]
    samples_per_epoch = inputs.steps_per_epoch * config.batch_size
    return {
        **card_fields(rows, float(state["train_seconds"]), samples_per_epoch, config, model_config, unet, command),
        "strategy": {"name": strategy, "replicas": replicas},
        "dataset": {
            "path": storage.as_text(dataset_dir),
            "manifest_sha256": inputs.digest,
            "counts": inputs.manifest["counts"],
            "prepare": inputs.manifest["parameters"],
        },
        "resumed_at_epochs": state.get("resumed_at", []),  # where runs that were cut short went on
        "versions": {
            "python": platform.python_version(),
            "tensorflow": tf.__version__,
            "keras": keras.__version__,
            "numpy": np.__version__,
        },
    }


def card_fields(
    rows: list[dict[str, float]],
    seconds: float,
    samples_per_epoch: int,
    config: TrainConfig,
    model_config: network.ModelConfig,
    unet: keras.Model,
    command: str | None,
) -> dict[str, object]:
    """What every card records, however the model was trained: the network, the options, the best epoch, the time."""
    return {
        "format": CARD_FORMAT,
        "inpaint_version": __version__,
        **({"command": command} if command else {}),
        "model": network.config_as_dict(model_config),
        "input_size": model_config.input_size,
        "width": config.width,
        "parameters": int(unet.count_params()),
        "training": asdict(config),
        **({"initialised_from": parent_record(config.init_from)} if config.init_from else {}),
        "best": counted_from_one(best_row(rows)),
        "epochs_run": len(rows),
        "train_seconds": round(seconds, 1),
        "train_images_per_second": round(samples_per_epoch * len(rows) / max(seconds, 1e-9), 1),
    }


def parent_record(model: str) -> dict[str, object]:
    """What the model card records of the model training started from: where it was and how it was trained."""
    parent = starting_point.parent_card(model)
    return {"path": model, "width": parent.get("width"), "command": parent.get("command"), "best": parent.get("best")}


def load_initial_weights(unet: keras.Model, model: str, seed: int = 0, width: int | None = None) -> None:
    """Start from the weights of another model (fine-tuning); one-line errors.

    A model of the same shape loads as it is; a narrower one with the same options is widened to unet's width
    (widening.py, its new filters drawn with seed), so a wider network starts where the bundled one is instead of
    at the smooth prefill. width: unet's --width, to say so when the model to start from is wider.
    """
    model_file = starting_point.model_file_to_start_from(model)
    with storage.local_copy(model_file) as local, warnings.catch_warnings():
        # Keras says it skips the saved optimizer (fine-tuning starts a fresh one, on purpose) and the
        # weightless containers of ops; a test checks that every weight arrives.
        warnings.filterwarnings("ignore", message="Skipping (variable loading for optimizer|nested container)")
        try:
            unet.load_weights(local)
            return
        except ValueError as error:
            reason = str(error).strip().splitlines()[0]
        try:
            narrow = keras.saving.load_model(local, compile=False)
        except Exception:  # noqa: BLE001 - whatever Keras raises for a file it cannot build, the line below says it
            narrow = None
    try:
        if narrow is None:
            raise ValueError(reason)
        widening.widen(narrow, unet, seed)
    except ValueError as error:
        parent_width = starting_point.parent_card(model).get("width")
        if width is not None and isinstance(parent_width, int) and parent_width > width:
            raise UsageError(
                f"--width {width} is narrower than the model to start from, {model} (width {parent_width}); leave "
                "--width out to keep its width, or give a larger one to widen it"
            ) from None
        raise UsageError(f"the model to start from, {model}, does not match this network ({error})") from None


def write_preview(unet, pairs, path: StoragePath, count: int = 6) -> None:
    """A PNG grid of the first count validation samples, one row each: holed | filled | original.

    pairs: (image, mask) NumPy arrays, HxWx3 and HxWx1 in [0, 1].
    """
    from itertools import islice

    from PIL import Image

    rows = []
    for image, mask in islice(pairs, count):
        predicted = unet.predict(network.model_inputs(image[None], mask[None]), verbose=0)[0]
        filled = image * (1 - mask) + predicted * mask
        rows.append(np.concatenate([image * (1 - mask), filled, image], axis=1))
    grid = (np.clip(np.concatenate(rows, axis=0), 0, 1) * 255).round().astype(np.uint8)
    storage.write_atomically(path, lambda temporary: Image.fromarray(grid).save(temporary, format="PNG"))
