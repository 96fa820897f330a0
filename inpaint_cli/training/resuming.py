"""Resuming `train`: the model folder's .backup/, where each completed epoch is committed.

While a run is going the folder holds .backup/: the options of the run (options.json) and the state
after the last completed epoch (state.json, with the weights and optimizer state it names). A run
that was killed or interrupted carries on from there when the same command runs again.

Every file is replaced atomically. At the end of each epoch the weights go to .backup/ first, then
state.json is replaced: that rename commits the epoch. history.csv and model.keras are derived from
the committed state afterwards, and again when a run resumes, so a kill at any moment leaves nothing
that a resumed run would count twice or miss.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict

import numpy as np

from inpaint_cli.backend import keras
from inpaint_cli.errors import InpaintError, UsageError
from inpaint_cli.files import atomic_files
from inpaint_cli.model.model_folder import (
    BACKUP_DIR,
    CARD_FILE,
    HISTORY_FILE,
    KERAS_FILE,
    OPTIONS_FILE,
    STATE_FILE,
    TRAINED_FILES,
)
from inpaint_cli.settings import TrainConfig
from inpaint_cli.training import storage
from inpaint_cli.training.storage import StoragePath
from inpaint_cli.training.training_outputs import best_row, history_csv

STARTS = ("auto", "resume", "restart")


class TrainingFolder:
    """The model folder and its .backup/ subfolder; writes only on the chief."""

    def __init__(self, path: StoragePath, writes: bool) -> None:
        self.path, self.writes = storage.as_text(path), writes
        self.backup = storage.join(self.path, BACKUP_DIR)

    def file(self, name: str) -> str:
        return storage.join(self.path, name)

    def backup_file(self, name: str) -> str:
        return storage.join(self.backup, name)

    def start(self, start: str, options: dict[str, object]) -> dict[str, object] | None:
        """Check the folder against --resume/--restart; the state to resume from, or None to start afresh.

        A run interrupted before its first epoch ended has nothing to resume: it starts afresh, with any options.
        """
        if start not in STARTS:
            raise UsageError(f"start {start!r} is not one of {', '.join(STARTS)}")
        finished = storage.exists(self.file(CARD_FILE))
        interrupted = storage.exists(self.backup_file(OPTIONS_FILE))
        if start != "restart":
            if finished and start == "resume":
                raise UsageError(
                    f"{self.path} holds a finished model, not an interrupted run; "
                    "use --restart to train it again from scratch"
                )
            if finished:
                raise UsageError(
                    f"{self.path} already holds a trained model ({CARD_FILE}); "
                    "use --restart to train it again from scratch, or choose another --out"
                )
            if interrupted and storage.exists(self.backup_file(STATE_FILE)):
                state = self._resumable(options)
                self._sweep()
                return state
            # A run stopped (or failed: a model that did not fit, a damaged shard) before its first epoch ended
            # left nothing to resume: it starts afresh below, whatever its options were.
            foreign = [] if interrupted else [name for name in TRAINED_FILES if storage.exists(self.file(name))]
            if foreign and start != "resume":
                raise UsageError(
                    f"{self.path} holds {', '.join(foreign)} but no model of inpaint's ({CARD_FILE}) and no run to "
                    "resume; choose another --out, or use --restart to replace them"
                )
            if start == "resume":
                what = "its run stopped before its first epoch ended" if interrupted else "it holds no interrupted run"
                raise UsageError(
                    f"nothing to resume in {self.path}: {what} ({BACKUP_DIR}/); leave out --resume to start one"
                )
        if self.writes:
            # model.json first: a restart interrupted here must not leave a folder that looks finished.
            for name in (CARD_FILE, BACKUP_DIR, *TRAINED_FILES):
                storage.remove(self.file(name))
            self._sweep()
            storage.makedirs(self.backup)
            storage.write_text(self.backup_file(OPTIONS_FILE), json.dumps(options, indent=2, sort_keys=True) + "\n")
        return None

    def _sweep(self) -> None:
        """Delete the temporary files of atomic writes that a kill cut short."""
        if self.writes:
            pattern = atomic_files.TEMPORARY_PREFIX + "*"
            for leftover in storage.glob(self.file(pattern)) + storage.glob(self.backup_file(pattern)):
                storage.remove(leftover)

    def _resumable(self, options: dict[str, object]) -> dict[str, object]:
        try:
            stored = json.loads(storage.read_text(self.backup_file(OPTIONS_FILE)))
            state = json.loads(storage.read_text(self.backup_file(STATE_FILE)))
        except (json.JSONDecodeError, UnicodeDecodeError) as error:
            raise InpaintError(
                f"the interrupted run in {self.path} cannot be read ({error}); use --restart to start over"
            ) from None
        stored = _with_new_defaults(stored, options)
        if stored != options:
            raise UsageError(
                f"{self.path} holds an interrupted run with other options ({_differences(stored, options)}); "
                "run it again with the options it had to resume it, or use --restart to start over"
            )
        return state

    def commit(self, model: keras.Model, state: dict[str, object]) -> None:
        """Save the weights and optimizer state, then state.json, whose atomic replacement ends the epoch."""
        if not self.writes:
            return
        weights = self.backup_file(str(state["weights"]))
        storage.check_free_space(weights, checkpoint_bytes(model))
        storage.write_atomically(weights, lambda temporary: model.save_weights(temporary))
        storage.write_text(self.backup_file(STATE_FILE), json.dumps(state, indent=1) + "\n")

    def publish(self, state: dict[str, object], model: keras.Model, inference_copy: keras.Model) -> None:
        """Bring history.csv and model.keras up to the committed state; running it twice changes nothing."""
        if not self.writes:
            return
        rows = state["history"]
        storage.write_text(self.file(HISTORY_FILE), history_csv(rows))
        if best_row(rows) is rows[-1]:
            # The shipped file holds weights only, not the optimizer's state (a third of the size).
            inference_copy.set_weights(model.get_weights())
            # Keras builds the file's weights in memory, or in an HDF5 file beside it when memory is short.
            storage.check_free_space(self.file(KERAS_FILE), checkpoint_bytes(inference_copy))
            storage.write_atomically(self.file(KERAS_FILE), lambda temporary: inference_copy.save(temporary))
        for stale in storage.glob(self.backup_file("*.weights.h5")):
            if not stale.endswith("/" + str(state["weights"])):
                storage.remove(stale)


def checkpoint_bytes(model: keras.Model) -> int:
    """About the size of model.save_weights's file: every variable of the model and its optimizer, with room for
    HDF5's own records (measured: under 1 % of the bundled model's 30 MB checkpoint)."""
    optimizer = getattr(model, "optimizer", None)
    variables = [*model.weights, *(optimizer.variables if optimizer is not None else [])]
    raw = sum(math.prod(variable.shape) * np.dtype(variable.dtype).itemsize for variable in variables)
    return int(raw * 1.05) + 2**20


def _with_new_defaults(stored: dict[str, object], current: dict[str, object]) -> dict[str, object]:
    """stored with the training options it lacks at their defaults: a run interrupted before an option existed
    (such as --painted-fraction) trained as that option's default does, and resumes with it."""
    defaults = asdict(TrainConfig())
    training = stored.get("training")
    if not isinstance(training, dict) or not isinstance(current.get("training"), dict):
        return stored
    missing = {key: defaults[key] for key in current["training"] if key not in training and key in defaults}
    return {**stored, "training": {**training, **missing}} if missing else stored


def _differences(stored: dict[str, object], current: dict[str, object]) -> str:
    """'--epochs was 40, now 50; ...' for the options that differ."""
    parts = []
    for key in sorted(set(stored["training"]) | set(current["training"])):
        before, now = stored["training"].get(key), current["training"].get(key)
        if before != now:
            parts.append(f"--{key.replace('_', '-')} was {before}, now {now}")
    if stored.get("dataset_sha256") != current.get("dataset_sha256"):
        parts.append("the dataset's manifest.json differs")
    return "; ".join(parts) or "stored options differ"
