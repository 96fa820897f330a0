"""`inpaint train`: fit the U-Net on a prepared dataset and write a model folder.

The folder (a local path or any tf.io.gfile URL) holds model.keras (best validation
hole PSNR), model.json (the model card, written last: its presence means "finished"),
history.csv and preview.png. While a run is going it also holds .backup/: the
options of the run and the state after the last completed epoch, so a run that was
killed or interrupted carries on from there when the same command runs again.

Every file is replaced atomically. At the end of each epoch the weights (with the
optimizer's state) go to .backup/ first, then .backup/state.json is replaced: that
rename commits the epoch. history.csv and model.keras are derived from the committed
state afterwards, and again when a run resumes, so a kill at any moment leaves
nothing that a resumed run would count twice or miss.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import platform
import posixpath
import time
import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

import numpy as np

from inpaint_cli import __version__, dataset, network, storage
from inpaint_cli.backend import keras, tf
from inpaint_cli.errors import InpaintError, UsageError
from inpaint_cli.storage import StoragePath

EpochReport = Callable[[int, int, dict[str, float]], None]

BACKUP_DIR = ".backup"  # inside the model folder
OPTIONS_FILE = "options.json"  # in BACKUP_DIR: what a resumed run must match
STATE_FILE = "state.json"  # in BACKUP_DIR: the last completed epoch
CARD_FILE = "model.json"
STALE_OUTPUTS = ("model.keras", "history.csv", "preview.png")
LITERT_FILE = "model.tflite"  # export.LITERT_FILE; export is not imported here, it pulls in LiteRT
STRATEGIES = ("auto", "default", "mirrored", "multi-worker")
STARTS = ("auto", "resume", "restart")


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
    width: int = 16
    seed: int = 0
    hole_weight: float = 6.0
    stroke_fraction: float = 1 / 3
    zoom_fraction: float = 0.5  # share of samples that are enlarged crops (dataset._zoomed)
    loss: str = "hole-l1"  # one of model.LOSSES
    prefill: bool = True  # see model.ModelConfig
    mask_input: bool = True
    init_from: str | None = None  # a model (.keras file or folder) of the same shape whose weights training starts from

    def check(self) -> None:
        if self.epochs < 1 or self.batch_size < 1 or self.width < 1:
            raise UsageError("--epochs, --batch-size and --width must be at least 1")
        if self.loss not in network.LOSSES:
            raise UsageError(f"--loss must be one of {', '.join(network.LOSSES)}, not {self.loss!r}")
        if not self.learning_rate > 0:
            raise UsageError("--learning-rate must be positive")
        if not 0.0 <= self.stroke_fraction <= 1.0 or not 0.0 <= self.zoom_fraction <= 1.0:
            raise UsageError("--stroke-fraction and --zoom-fraction must be in [0, 1]")


@dataclass(frozen=True)
class TrainResult:
    """What a finished `train` wrote and did."""

    card: dict[str, object]  # as written to model.json
    resumed_from: int  # epochs already done when this call started (0: a fresh run)
    notes: list[str] = field(default_factory=list)  # things the user should know, one sentence each


class TrainingInterrupted(InpaintError):
    """Ctrl-C during training; the epochs completed before it are kept (exit status 130)."""

    exit_code = 130

    def __init__(self, completed: int, epochs: int) -> None:
        self.completed, self.epochs = completed, epochs
        if completed:
            message = f"interrupted after epoch {completed} of {epochs}; run the same command again to resume"
        else:
            message = f"interrupted during the first of {epochs} epochs; run the same command again to start it over"
        super().__init__(message)


def make_strategy(name: str) -> tf.distribute.Strategy:
    """The tf.distribute strategy for --strategy.

    auto: mirrored when more than one GPU is visible, else default. default: one
    device (a GPU when there is one). mirrored: synchronous replicas over this
    machine's GPUs, or over its logical CPU devices when it has no GPU.
    multi-worker: MultiWorkerMirroredStrategy over the machines that the TF_CONFIG
    environment variable describes. The input pipeline (including its
    numpy_function masks) runs on each machine's host CPU.
    """
    if name not in STRATEGIES:
        raise UsageError(f"--strategy {name} is not one of {', '.join(STRATEGIES)}")
    if name == "auto":
        # list_physical_devices does not start TensorFlow's runtime, which multi-worker needs to configure first.
        name = "mirrored" if len(tf.config.list_physical_devices("GPU")) > 1 else "default"
    if name == "default":
        return tf.distribute.get_strategy()
    if name == "multi-worker":
        if not os.environ.get("TF_CONFIG"):
            raise UsageError("--strategy multi-worker needs the TF_CONFIG environment variable describing the cluster")
        return tf.distribute.MultiWorkerMirroredStrategy()
    devices = tf.config.list_logical_devices("GPU") or tf.config.list_logical_devices("CPU")
    return tf.distribute.MirroredStrategy([device.name for device in devices])


def is_chief(strategy: tf.distribute.Strategy) -> bool:
    """Whether this process writes the model folder: always, except on the non-chief workers of a cluster."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not resolver.task_type:
        return True
    if resolver.task_type == "chief":
        return True
    has_chief = "chief" in resolver.cluster_spec().as_dict()
    return resolver.task_type == "worker" and resolver.task_id == 0 and not has_chief


def _pack(image, mask):
    """(network input, target) with the mask packed beside the target for the loss."""

    return network.model_inputs(image, mask), tf.concat([image, mask], axis=-1)


def training_batches(dataset_dir: StoragePath, manifest: dict[str, object], config: TrainConfig, start: int = 0):
    """What `train` fits on: endless whole batches of (network input, packed target) from sample start of the stream."""
    return (
        dataset.training_stream(
            dataset_dir,
            manifest,
            stroke_fraction=config.stroke_fraction,
            seed=config.seed,
            start=start,
            zoom_fraction=config.zoom_fraction,
        )
        .batch(config.batch_size, drop_remainder=True)  # the stream is endless: every batch is whole
        .map(_pack, num_parallel_calls=tf.data.AUTOTUNE)
        .prefetch(tf.data.AUTOTUNE)
    )


def compile_for_training(unet: keras.Model, config: TrainConfig, total_steps: int, **options: object) -> None:
    """Compile unet as `train` does: Adam on a cosine schedule over total_steps, config's loss, hole PSNR.

    options go to Model.compile as they are (the throughput benchmark passes jit_compile).
    """
    schedule = keras.optimizers.schedules.CosineDecay(config.learning_rate, total_steps, alpha=0.01)
    unet.compile(
        optimizer=keras.optimizers.Adam(schedule),
        loss=network.training_loss(config.loss, config.hole_weight),
        metrics=[network.hole_psnr],
        **options,
    )


def _history_csv(rows: list[dict[str, float]]) -> str:
    """history.csv: one row per epoch, the epoch number (from 0) first."""
    columns = ["epoch", *sorted({key for row in rows for key in row} - {"epoch"})]
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def _best_row(rows: list[dict[str, float]]) -> dict[str, float]:
    """The first epoch with the highest validation hole PSNR (empty when none has one)."""
    best: dict[str, float] = {}
    for row in rows:
        if row.get("val_hole_psnr", -math.inf) > best.get("val_hole_psnr", -math.inf):
            best = row
    return best


class _Folder:
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

        A state with epoch 0 means a run that was interrupted before its first epoch ended.
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
            if interrupted:
                state = self._resumable(options)
                self._sweep()
                return state
            if start == "resume":
                raise UsageError(
                    f"nothing to resume in {self.path}: it holds no interrupted run ({BACKUP_DIR}/); "
                    "leave out --resume to start one"
                )
        if self.writes:
            # model.json first: a restart interrupted here must not leave a folder that looks finished.
            for name in (CARD_FILE, BACKUP_DIR, *STALE_OUTPUTS):
                storage.remove(self.file(name))
            self._sweep()
            storage.makedirs(self.backup)
            storage.write_text(self.backup_file(OPTIONS_FILE), json.dumps(options, indent=2, sort_keys=True) + "\n")
        return None

    def _sweep(self) -> None:
        """Delete the temporary files of atomic writes that a kill cut short."""
        if self.writes:
            pattern = storage.TEMPORARY_PREFIX + "*"
            for leftover in storage.glob(self.file(pattern)) + storage.glob(self.backup_file(pattern)):
                storage.remove(leftover)

    def _resumable(self, options: dict[str, object]) -> dict[str, object]:
        try:
            stored = json.loads(storage.read_text(self.backup_file(OPTIONS_FILE)))
            state_file = self.backup_file(STATE_FILE)
            state = json.loads(storage.read_text(state_file)) if storage.exists(state_file) else None
        except (json.JSONDecodeError, UnicodeDecodeError) as error:
            raise InpaintError(
                f"the interrupted run in {self.path} cannot be read ({error}); use --restart to start over"
            ) from None
        if stored != options:
            raise UsageError(
                f"{self.path} holds an interrupted run with other options ({_differences(stored, options)}); "
                "run it again with the options it had to resume it, or use --restart to start over"
            )
        return state or {"epoch": 0, "history": []}  # no state: stopped before its first epoch ended

    def commit(self, model: keras.Model, state: dict[str, object]) -> None:
        """Save the weights and optimizer state, then state.json, whose atomic replacement ends the epoch."""
        if not self.writes:
            return
        storage.write_atomically(
            self.backup_file(str(state["weights"])), lambda temporary: model.save_weights(temporary)
        )
        storage.write_text(self.backup_file(STATE_FILE), json.dumps(state, indent=1) + "\n")

    def publish(self, state: dict[str, object], model: keras.Model, inference_copy: keras.Model) -> None:
        """Bring history.csv and model.keras up to the committed state; running it twice changes nothing."""
        if not self.writes:
            return
        rows = state["history"]
        storage.write_text(self.file("history.csv"), _history_csv(rows))
        if _best_row(rows) is rows[-1]:
            # The shipped file holds weights only, not the optimizer's state (a third of the size).
            inference_copy.set_weights(model.get_weights())
            storage.write_atomically(self.file("model.keras"), lambda temporary: inference_copy.save(temporary))
        for stale in storage.glob(self.backup_file("*.weights.h5")):
            if not stale.endswith("/" + str(state["weights"])):
                storage.remove(stale)


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


class _EpochCommit(keras.callbacks.Callback):
    """At each epoch end: validate, commit the epoch to .backup/, publish history.csv and the best model, report."""

    def __init__(
        self,
        folder: _Folder,
        state: dict[str, object],
        inference_copy: keras.Model,
        validation_data: tf.data.Dataset,
        epochs: int,
        on_epoch: EpochReport,
    ) -> None:
        super().__init__()
        self.folder, self.state, self.inference_copy = folder, state, inference_copy
        self.validation_data = validation_data
        self.epochs, self.on_epoch = epochs, on_epoch
        self.started = time.perf_counter()
        self.seconds_before = float(state.get("train_seconds", 0.0))

    def on_epoch_end(self, epoch: int, logs: dict[str, float] | None = None) -> None:
        logs = {key: float(value) for key, value in (logs or {}).items()}
        self.inference_copy.set_weights(self.model.get_weights())
        validation = self.inference_copy.evaluate(self.validation_data, verbose=0, return_dict=True)
        logs.update({f"val_{key}": float(value) for key, value in validation.items()})
        # Rows of epochs at or after this one belong to a run that was killed before committing them.
        rows = [row for row in self.state.get("history", []) if row["epoch"] < epoch] + [{"epoch": epoch, **logs}]
        state = {
            "epoch": epoch + 1,
            "weights": f"epoch-{epoch + 1:04d}.weights.h5",
            "history": rows,
            "train_seconds": round(self.seconds_before + time.perf_counter() - self.started, 3),
            "resumed_at": self.state.get("resumed_at", []),
        }
        self.folder.commit(self.model, state)
        self.state = state
        self.folder.publish(state, self.model, self.inference_copy)
        self.on_epoch(epoch, self.epochs, logs)


def train(
    dataset_dir: StoragePath,
    out_dir: StoragePath,
    config: TrainConfig,
    on_epoch: EpochReport,
    start: str = "auto",
    strategy: str = "auto",
    on_start: Callable[[int, int], None] = lambda done, epochs: None,
    command: str | None = None,
) -> TrainResult:
    """Train a model on dataset_dir into out_dir (tf.io.gfile paths); on_epoch(epoch, epochs, logs) reports progress.

    start: "auto" resumes an interrupted run found in out_dir and refuses a finished
    one; "resume" insists on resuming; "restart" deletes what out_dir holds first.
    strategy: one of STRATEGIES (see make_strategy); the model is built and compiled
    in its scope. config.batch_size is the global batch and config.learning_rate is
    not scaled with the number of replicas (see TrainConfig).
    on_start(done, epochs) is called before the first epoch runs (done > 0: resuming).
    command, when given, is recorded in the model card as the command line that trained it.
    Raises TrainingInterrupted on Ctrl-C, after the completed epochs were saved.
    """
    config.check()
    distribution = make_strategy(strategy)  # before anything else starts TensorFlow's runtime
    replicas = int(distribution.num_replicas_in_sync)
    if config.batch_size % replicas:
        # Keras 3 fails on per-replica batches of unequal size (an AddN shape error), so the split must be even.
        raise UsageError(f"--batch-size {config.batch_size} does not split evenly over the {replicas} replicas")
    manifest = dataset.load_manifest(dataset_dir)
    digest = dataset.manifest_digest(dataset_dir)
    # Before the model folder is touched: a dataset without validation samples fails here.
    validation_pairs = dataset.read_split(dataset_dir, manifest, "validation", random_holes=False).apply(
        tf.data.experimental.assert_cardinality(int(manifest["counts"]["validation"]))
    )
    validation_data = validation_pairs.batch(config.batch_size).map(_pack).cache().prefetch(tf.data.AUTOTUNE)
    folder = _Folder(out_dir, writes=is_chief(distribution))
    resumed = folder.start(start, {"training": asdict(config), "dataset_sha256": digest})
    state = resumed or {"epoch": 0, "history": []}
    initial_epoch = int(state["epoch"])
    if initial_epoch:
        state["resumed_at"] = [*state.get("resumed_at", []), initial_epoch]

    keras.utils.set_random_seed(config.seed)
    size = int(manifest["parameters"]["size"])
    train_count = int(manifest["counts"]["train"])
    steps_per_epoch = max(1, math.ceil(train_count / config.batch_size))
    # The stream is a pure function of the seed and the position in it: a resumed run sees the samples
    # the uninterrupted run would have seen, and every strategy sees the same batches.
    train_data = training_batches(
        dataset_dir, manifest, config, start=initial_epoch * steps_per_epoch * config.batch_size
    )
    # Across machines each worker keeps its share of every global batch (the stream has no files to split).
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    train_data = train_data.with_options(options)

    model_config = network.ModelConfig(
        input_size=size, width=config.width, prefill=config.prefill, mask_input=config.mask_input
    )
    with distribution.scope():
        unet = network.build_unet(model_config)
        compile_for_training(unet, config, steps_per_epoch * config.epochs)
        unet.optimizer.build(unet.trainable_variables)  # now, not in the first step: a backup's state loads into it
        if initial_epoch:
            with storage.local_copy(folder.backup_file(str(state["weights"]))) as weights:
                unet.load_weights(weights)
        elif config.init_from:
            _load_initial_weights(unet, config.init_from)
    # Validation runs on this single-device copy: its figures then do not depend on the number of
    # replicas, and Keras 3 cannot split a last, smaller validation batch over replicas.
    inference_copy = network.build_unet(model_config)
    inference_copy.compile(loss=network.training_loss(config.loss, config.hole_weight), metrics=[network.hole_psnr])
    if initial_epoch:
        folder.publish(state, unet, inference_copy)  # finish what a kill may have cut short
    commit = _EpochCommit(folder, state, inference_copy, validation_data, config.epochs, on_epoch)
    on_start(initial_epoch, config.epochs)
    try:
        unet.fit(
            train_data,
            epochs=config.epochs,
            initial_epoch=initial_epoch,
            steps_per_epoch=steps_per_epoch,
            callbacks=[commit],
            shuffle=False,
            verbose=0,
        )
    except KeyboardInterrupt:
        raise TrainingInterrupted(int(commit.state["epoch"]), config.epochs) from None
    except (tf.errors.DataLossError, tf.errors.InvalidArgumentError) as error:
        first_line = str(error).strip().splitlines()[0]
        raise InpaintError(
            f"the dataset in {storage.as_text(dataset_dir)} is damaged ({first_line}); prepare it again"
        ) from None
    state = commit.state
    rows = state["history"]
    card = {
        "format": "inpaint-model-card/1",
        "inpaint_version": __version__,
        **({"command": command} if command else {}),
        "model": network.config_as_dict(model_config),
        "input_size": size,
        "width": config.width,
        "parameters": int(unet.count_params()),
        "training": asdict(config),
        "strategy": {"name": strategy, "replicas": replicas},
        "dataset": {
            "path": storage.as_text(dataset_dir),
            "manifest_sha256": digest,
            "counts": manifest["counts"],
            "prepare": manifest["parameters"],
        },
        **({"initialised_from": _parent(config.init_from)} if config.init_from else {}),
        "best": _best_row(rows),
        "epochs_run": len(rows),
        "resumed_at_epochs": state.get("resumed_at", []),  # where runs that were cut short went on
        "train_seconds": round(float(state["train_seconds"]), 1),
        "train_images_per_second": round(
            steps_per_epoch * config.batch_size * len(rows) / max(float(state["train_seconds"]), 1e-9), 1
        ),
        "versions": {
            "python": platform.python_version(),
            "tensorflow": tf.__version__,
            "keras": keras.__version__,
            "numpy": np.__version__,
        },
    }
    notes = _finish(folder, card, validation_pairs)
    return TrainResult(card=card, resumed_from=initial_epoch, notes=notes)


def _model_files(model: str) -> tuple[str, str]:
    """The .keras file and the model card beside it, of a model given as a .keras file or as a model folder."""
    folder = (posixpath.dirname(model) or ".") if model.endswith(".keras") else model
    model_file = model if model.endswith(".keras") else storage.join(folder, "model.keras")
    return model_file, storage.join(folder, CARD_FILE)


def _load_initial_weights(unet: keras.Model, model: str) -> None:
    """Start from the weights of another model of the same shape (fine-tuning); one-line errors."""
    model_file, _ = _model_files(model)
    if not storage.exists(model_file):
        raise UsageError(f"--init-from {model}: no {model_file}")
    try:
        with storage.local_copy(model_file) as local, warnings.catch_warnings():
            # Keras says it skips the saved optimizer (fine-tuning starts a fresh one, on purpose) and the
            # weightless containers of ops; a test checks that every weight arrives.
            warnings.filterwarnings("ignore", message="Skipping (variable loading for optimizer|nested container)")
            unet.load_weights(local)
    except ValueError as error:
        first_line = str(error).strip().splitlines()[0]
        raise UsageError(f"--init-from {model} does not match this network ({first_line})") from None


def _parent(model: str) -> dict[str, object]:
    """What the model card records of the model training started from: where it was and how it was trained."""
    _, card_file = _model_files(model)
    parent = json.loads(storage.read_text(card_file)) if storage.exists(card_file) else {}
    return {"path": model, "command": parent.get("command"), "best": parent.get("best")}


def _finish(folder: _Folder, card: dict[str, object], validation_pairs) -> list[str]:
    """Write preview.png and model.json, drop a stale model.tflite and the backup; the notes for the user."""
    if not folder.writes:
        return []
    with storage.local_copy(folder.file("model.keras")) as model_file:
        best = keras.saving.load_model(model_file, compile=False)
    write_preview(best, validation_pairs, folder.file("preview.png"))
    notes = []
    if storage.exists(folder.file(LITERT_FILE)):
        # `inpaint fill` prefers model.tflite; one from an earlier run would shadow the new model.keras.
        storage.remove(folder.file(LITERT_FILE))
        notes.append(
            f"Removed the old {LITERT_FILE} of an earlier run; `inpaint export {folder.path}` makes a fresh one."
        )
    text = json.dumps(card, indent=2, sort_keys=True) + "\n"
    storage.write_text(folder.file(CARD_FILE), text)  # last: from here on the folder counts as finished
    storage.remove(folder.backup)
    return notes


def write_preview(unet, pairs, path: StoragePath, count: int = 6) -> None:
    """A PNG grid of validation samples, one row each: holed | filled | original."""
    from PIL import Image

    rows = []
    for image, mask in pairs.take(count):
        image, mask = image.numpy(), mask.numpy()
        predicted = unet.predict(network.model_inputs(image[None], mask[None]), verbose=0)[0]
        filled = image * (1 - mask) + predicted * mask
        rows.append(np.concatenate([image * (1 - mask), filled, image], axis=1))
    grid = (np.clip(np.concatenate(rows, axis=0), 0, 1) * 255).round().astype(np.uint8)
    storage.write_atomically(path, lambda temporary: Image.fromarray(grid).save(temporary, format="PNG"))
