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

Every strategy trains with the same custom step (_train_step) under strategy.run, because
Keras 3's Model.fit fails under MultiWorkerMirroredStrategy. Across workers only the chief
validates, reports and writes the folder; it also decides the epoch every worker starts
from and sends them its weights (docs/training-multi-worker.md).
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import math
import os
import platform
import posixpath
import subprocess
import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

import numpy as np

from inpaint_cli import __version__, atomic_files, dataset, network, storage
from inpaint_cli.backend import keras, tf
from inpaint_cli.errors import InpaintError, UsageError
from inpaint_cli.runtime import CARD_FILE, CARD_FORMAT, KERAS_FILE, LITERT_FILE
from inpaint_cli.settings import STRATEGIES, TrainConfig
from inpaint_cli.storage import StoragePath

EpochReport = Callable[[int, int, dict[str, float]], None]

BACKUP_DIR = ".backup"  # inside the model folder
OPTIONS_FILE = "options.json"  # in BACKUP_DIR: what a resumed run must match
STATE_FILE = "state.json"  # in BACKUP_DIR: the last completed epoch
STALE_OUTPUTS = (KERAS_FILE, "history.csv", "preview.png")
STARTS = ("auto", "resume", "restart")


@dataclass(frozen=True)
class TrainResult:
    """What a finished `train` wrote and did."""

    card: dict[str, object]  # as written to model.json
    resumed_from: int  # epochs already done when this call started (0: a fresh run)
    notes: list[str] = field(default_factory=list)  # things the user should know, one sentence each
    chief: bool = True  # False on the other workers of a cluster: the chief wrote the folder and holds the card


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


WORKER_TIMEOUT_S = 120.0  # how long a worker of --strategy multi-worker waits for the others to join
WORKER_TIMEOUT_ENV = "INPAINT_WORKER_TIMEOUT"  # seconds; overrides WORKER_TIMEOUT_S
HEARTBEAT_TIMEOUT_S = 30  # a worker that stops answering for this long stops the others (kill -9, lost machine)


def make_strategy(name: str) -> tf.distribute.Strategy:
    """The tf.distribute strategy for --strategy.

    auto: mirrored when more than one GPU is visible, else default. default: one
    device (a GPU when there is one). mirrored: synchronous replicas over this
    machine's GPUs, or over its logical CPU devices when it has no GPU.
    multi-worker: MultiWorkerMirroredStrategy over the machines that the TF_CONFIG
    environment variable describes (see _multi_worker_strategy). The input pipeline
    (including its numpy_function masks) runs on each machine's host CPU.
    """
    if name not in STRATEGIES:
        raise UsageError(f"strategy {name} is not one of {', '.join(STRATEGIES)}")
    if name == "auto":
        # list_physical_devices does not start TensorFlow's runtime, which multi-worker needs to configure first.
        name = "mirrored" if len(tf.config.list_physical_devices("GPU")) > 1 else "default"
    if name == "default":
        return tf.distribute.get_strategy()
    if name == "multi-worker":
        return _multi_worker_strategy()
    devices = tf.config.list_logical_devices("GPU") or tf.config.list_logical_devices("CPU")
    return tf.distribute.MirroredStrategy([device.name for device in devices])


def cluster_addresses() -> tuple[list[str], int]:
    """The addresses of TF_CONFIG's cluster, chief first then the workers, and this process's position in them."""
    text = os.environ.get("TF_CONFIG")
    if not text:
        raise UsageError("multi-worker training needs the TF_CONFIG environment variable describing the cluster")
    try:
        described = json.loads(text)
        jobs, task = described["cluster"], described["task"]
        tasks = [(job, index, at) for job in ("chief", "worker") for index, at in enumerate(jobs.get(job, []))]
        position = [(job, index) for job, index, _ in tasks].index((task["type"], int(task["index"])))
    except (json.JSONDecodeError, KeyError, TypeError, ValueError) as error:
        raise UsageError(f"TF_CONFIG does not describe a cluster with this task in it ({error})") from None
    return [address for _, _, address in tasks], position


def worker_timeout() -> float:
    """Seconds a worker waits for the others to join: WORKER_TIMEOUT_S, or the INPAINT_WORKER_TIMEOUT variable."""
    text = os.environ.get(WORKER_TIMEOUT_ENV, "")
    try:
        return float(text) if text else WORKER_TIMEOUT_S
    except ValueError:
        raise UsageError(f"{WORKER_TIMEOUT_ENV}={text} is not a number of seconds") from None


# The watchdog of _multi_worker_strategy runs in a process of its own: while TensorFlow waits for the
# cluster, it holds Python's lock in native code, where no thread, signal handler or exception runs.
_WATCHDOG = r"""
import os, select, signal, socket, sys
parent, timeout, variable = int(sys.argv[1]), float(sys.argv[2]), sys.argv[3]
others = sys.argv[4:]
if select.select([sys.stdin], [], [], timeout)[0]:
    sys.exit(0)  # the cluster formed, or the worker ended: nothing to do

def reachable(address):
    host, _, port = address.rpartition(":")
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=2):
            return True
    except (OSError, ValueError):
        return False

missing = [address for address in others if not reachable(address)] or others
plural = "s" if len(missing) > 1 else ""
sys.stderr.write(
    f"Error: cannot reach the worker{plural} at {', '.join(missing)} within {timeout:g} s (TF_CONFIG); "
    f"start every worker of the cluster, or give them longer with {variable}\n"
)
sys.stderr.flush()
os.kill(parent, signal.SIGKILL)
"""


def _multi_worker_strategy() -> tf.distribute.Strategy:
    """MultiWorkerMirroredStrategy over TF_CONFIG's cluster; one line and the end of the process if it does not form.

    TensorFlow waits for the other workers without end, in native code that holds Python's
    lock, so a watchdog process ends this one (SIGKILL) after worker_timeout() seconds,
    naming the workers it cannot connect to.
    """
    addresses, position = cluster_addresses()
    timeout = worker_timeout()
    # TensorFlow's coordination service (on the chief) also watches the workers once training runs:
    # one that stops answering for HEARTBEAT_TIMEOUT_S seconds makes the collective steps of the others fail.
    from tensorflow.python.eager import context

    context.context().configure_coordination_service(
        service_type="standalone",
        service_leader=_coordination_leader(),
        heartbeat_timeout_in_ms=HEARTBEAT_TIMEOUT_S * 1000,
        shutdown_barrier_timeout_in_ms=int(timeout * 1000),
        allow_new_incarnation_to_reconnect=True,
    )
    others = [address for index, address in enumerate(addresses) if index != position]
    watchdog = subprocess.Popen(
        [sys.executable, "-c", _WATCHDOG, str(os.getpid()), str(timeout), WORKER_TIMEOUT_ENV, *others],
        stdin=subprocess.PIPE,
    )
    try:
        return tf.distribute.MultiWorkerMirroredStrategy()
    finally:
        watchdog.stdin.close()
        watchdog.wait()


def _coordination_leader() -> str:
    """The coordination service's leader as TensorFlow names it: the chief, else worker 0."""
    described = json.loads(os.environ["TF_CONFIG"])
    job = "chief" if described["cluster"].get("chief") else "worker"
    return f"/job:{job}/replica:0/task:0"


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


def training_batches(
    dataset_dir: StoragePath,
    manifest: dict[str, object],
    config: TrainConfig,
    start: int = 0,
    context: tf.distribute.InputContext | None = None,
):
    """What `train` fits on: endless whole batches of (network input, packed target) from sample start of the stream.

    With the input context of a strategy, the batches are those of one replica and this
    worker's stream holds only its own slice of every global batch (see dataset.training_stream).
    """
    context = context or tf.distribute.InputContext()
    share = (context.input_pipeline_id, context.num_input_pipelines, config.batch_size)
    return (
        dataset.training_stream(
            dataset_dir,
            manifest,
            stroke_fraction=config.stroke_fraction,
            seed=config.seed,
            start=start,
            zoom_fraction=config.zoom_fraction,
            share=share,
        )
        # The stream is endless: every batch is whole.
        .batch(context.get_per_replica_batch_size(config.batch_size), drop_remainder=True)
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
    """history.csv: one row per epoch, the epoch number (from 1, as the console counts) first."""
    columns = ["epoch", *sorted({key for row in rows for key in row} - {"epoch"})]
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(map(_counted_from_one, rows))
    return buffer.getvalue()


def _counted_from_one(row: dict[str, float]) -> dict[str, float]:
    """A history row as published (history.csv, the card): its epoch counted from 1, as the console counts.

    The rows in .backup/state.json keep Keras's epoch index (from 0), which resuming compares with.
    """
    return {**row, "epoch": row["epoch"] + 1} if "epoch" in row else row


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
            pattern = atomic_files.TEMPORARY_PREFIX + "*"
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
            storage.write_atomically(self.file(KERAS_FILE), lambda temporary: inference_copy.save(temporary))
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


@dataclass
class _Inputs:
    """The prepared dataset as training sees it."""

    manifest: dict[str, object]
    digest: str  # of manifest.json, recorded in the model card and in .backup/options.json
    validation_pairs: tf.data.Dataset  # (image, mask) with the prepared holes
    steps_per_epoch: int

    @property
    def size(self) -> int:
        return int(self.manifest["parameters"]["size"])


def _open_dataset(dataset_dir: StoragePath, config: TrainConfig) -> _Inputs:
    """Read the manifest and the validation split first, so that a bad dataset fails before the model folder changes."""
    manifest = dataset.load_manifest(dataset_dir)
    validation_pairs = dataset.read_split(dataset_dir, manifest, "validation", random_holes=False).apply(
        tf.data.experimental.assert_cardinality(int(manifest["counts"]["validation"]))
    )
    steps = max(1, math.ceil(int(manifest["counts"]["train"]) / config.batch_size))
    return _Inputs(manifest, dataset.manifest_digest(dataset_dir), validation_pairs, steps)


def _check_replicas(distribution: tf.distribute.Strategy, config: TrainConfig) -> int:
    """The number of replicas, which must split the global batch evenly: every replica's share weighs the same."""
    replicas = int(distribution.num_replicas_in_sync)
    if config.batch_size % replicas:
        raise UsageError(f"a batch of {config.batch_size} does not split evenly over the {replicas} replicas")
    return replicas


def _begin(dataset_dir: StoragePath, config: TrainConfig, folder: _Folder, start: str) -> tuple[_Inputs, dict]:
    """Open the dataset, then (on the chief) check the folder against --resume/--restart: the state to start from.

    A bad dataset fails before the folder changes; a state with epoch 0 is a fresh run.
    """
    inputs = _open_dataset(dataset_dir, config)
    options = {"training": asdict(config), "dataset_sha256": inputs.digest}
    state = folder.start(start, options) if folder.writes else None
    return inputs, state or {"epoch": 0, "history": []}


def _all_workers_start(
    distribution: tf.distribute.Strategy, begin: Callable[[], tuple[_Inputs, dict]]
) -> tuple[_Inputs, dict]:
    """Run begin() on every worker; its result, with the chief's epoch to start from on all of them.

    Every worker must start from the epoch the chief's folder holds, and a worker that fails
    to begin (a refused --resume, a missing dataset) must stop the others rather than leave
    them waiting in the first step: each says whether it failed, through one all-reduce.
    """
    if not _multi_worker(distribution):
        return begin()
    addresses, position = cluster_addresses()
    failure, began = None, None
    try:
        began = begin()
    except Exception as error:  # raised again below, once the others know
        failure = error
    failed = np.zeros(len(addresses) + 1, np.float64)
    failed[position] = failure is not None
    failed[-1] = began[1]["epoch"] if began and position == 0 else 0
    shared = _from_each_worker(distribution, [tf.constant(failed)], chief_only=False)[0].numpy()
    if failure is not None:
        raise failure
    if shared[:-1].any():
        names = ", ".join(addresses[index] for index in np.flatnonzero(shared[:-1]))
        raise InpaintError(f"the worker at {names} could not start (see its message); this worker stops too")
    inputs, state = began
    return inputs, {**state, "epoch": int(shared[-1])}


def _same_options_on_every_worker(
    distribution: tf.distribute.Strategy, config: TrainConfig, dataset_dir: StoragePath
) -> None:
    """Refuse, on every worker alike and before the folder changes, workers started with different training options.

    Each worker puts a fingerprint of each option (and of its dataset's manifest) in its own row of a
    table; one all-reduce gives every worker the whole table, so all find the same differences.
    """
    if not _multi_worker(distribution):
        return
    addresses, position = cluster_addresses()
    options = _compared_options(config, dataset_dir)
    table = np.zeros((len(addresses), len(options)), np.float64)
    table[position] = [_fingerprint(value) for value in options.values()]
    table = _from_each_worker(distribution, [tf.constant(table)], chief_only=False)[0].numpy()
    known = table != 0  # 0: a dataset this worker cannot read, which _begin reports in its own words
    differs = (table != table[0]) & known & known[0]
    if differs.any():
        names = [name for name, column in zip(options, differs.T, strict=True) if column.any()]
        others = [addresses[index] for index in np.flatnonzero(differs.any(axis=1))]
        verb = "differs" if len(names) == 1 else "differ"
        raise UsageError(
            f"the workers were started with different options: {', '.join(names)} {verb} between the chief at "
            f"{addresses[0]} and the worker{'s' if len(others) > 1 else ''} at {', '.join(others)}; "
            "run the same command on every worker"
        )


def _compared_options(config: TrainConfig, dataset_dir: StoragePath) -> dict[str, object]:
    """The options that every worker must share, by the name the user knows them: --epochs ..., and the dataset.

    --init-from is left out: only the chief reads it, and it may lie at another path on another machine.
    """
    options: dict[str, object] = {
        f"--{name.replace('_', '-')}": value for name, value in asdict(config).items() if name != "init_from"
    }
    try:
        options["the dataset's manifest.json"] = dataset.manifest_digest(dataset_dir)
    except (OSError, tf.errors.OpError):  # unreadable: _begin says why, on this worker
        options["the dataset's manifest.json"] = None
    return options


def _fingerprint(value: object) -> float:
    """A number that differs, almost surely, between different option values; exact in float64; 0 for None."""
    if value is None:
        return 0.0
    digest = hashlib.sha256(json.dumps(value, sort_keys=True).encode()).digest()
    return float(int.from_bytes(digest[:6], "big") + 1)  # under 2**48: an all-reduce of float64 keeps it exact


def _multi_worker(distribution: tf.distribute.Strategy) -> bool:
    """Whether this process is one of several workers, which then must do every collective step together."""
    return isinstance(distribution, tf.distribute.MultiWorkerMirroredStrategy) and bool(
        getattr(distribution.extended, "_num_workers", 1) > 1
    )


def _from_each_worker(distribution: tf.distribute.Strategy, values: list, chief_only: bool) -> list:
    """The sum over the workers of values (one all-reduce); with chief_only, the chief's values on every worker."""

    def replica(*tensors):
        context = tf.distribute.get_replica_context()
        index = context.replica_id_in_sync_group  # the chief's replicas come first
        keep = index == 0 if chief_only else index % _local_replicas(distribution) == 0  # one per worker
        kept = [tf.where(keep, tensor, tf.zeros_like(tensor)) for tensor in tensors]
        return context.all_reduce(tf.distribute.ReduceOp.SUM, kept)

    summed = distribution.run(tf.function(replica), args=tuple(values))
    return [distribution.experimental_local_results(value)[0] for value in summed]


def _local_replicas(distribution: tf.distribute.Strategy) -> int:
    """The replicas of this worker (its GPUs, or 1), assuming, as TensorFlow does, that all workers have as many."""
    return max(1, int(distribution.num_replicas_in_sync) // int(getattr(distribution.extended, "_num_workers", 1)))


def _copy_chief_variables(distribution: tf.distribute.Strategy, variables: list) -> None:
    """Give every worker the chief's values of variables (weights and optimizer state), which only the chief loaded."""
    if not _multi_worker(distribution):
        return
    # One dtype, so that the all-reduce packs them together; float64 holds float32 and step counts exactly.
    values = [tf.cast(tf.convert_to_tensor(variable.value), tf.float64) for variable in variables]
    for variable, value in zip(variables, _from_each_worker(distribution, values, chief_only=True), strict=True):
        variable.assign(tf.cast(value, variable.dtype))


def _build_network(
    distribution: tf.distribute.Strategy,
    model_config: network.ModelConfig,
    config: TrainConfig,
    inputs: _Inputs,
    folder: _Folder,
    state: dict[str, object],
) -> keras.Model:
    """The network and its optimizer, built in the strategy's scope with the weights training starts from.

    Only the chief reads the backup or --init-from (the other workers need not see the model
    folder); its variables are then copied to every worker, so all start the same.
    """
    with distribution.scope():
        unet = network.build_unet(model_config)
        compile_for_training(unet, config, inputs.steps_per_epoch * config.epochs)
        unet.optimizer.build(unet.trainable_variables)  # now, not in the first step: a backup's state loads into it
    # Outside the scope: a variable that loading makes in it would be a collective op on the chief alone.
    if folder.writes and state["epoch"]:
        with storage.local_copy(folder.backup_file(str(state["weights"]))) as weights:
            unet.load_weights(weights)
    elif folder.writes and config.init_from:
        _load_initial_weights(unet, config.init_from)
    _copy_chief_variables(distribution, [*unet.variables, *unet.optimizer.variables])
    return unet


def _inference_copy(model_config: network.ModelConfig, config: TrainConfig) -> keras.Model:
    """A single-device copy for validation: its figures then do not depend on the number of replicas or workers."""
    copy = network.build_unet(model_config)
    copy.compile(loss=network.training_loss(config.loss, config.hole_weight), metrics=[network.hole_psnr])
    return copy


def _distributed_batches(
    distribution: tf.distribute.Strategy, dataset_dir: StoragePath, inputs: _Inputs, config: TrainConfig, epoch: int
):
    """An iterator over the global batches from epoch on; each worker decodes only its own share of each batch.

    The stream is a pure function of the seed and the position in it: a resumed run sees the
    samples the uninterrupted run would have seen, and every strategy sees the same batches.
    """
    start = epoch * inputs.steps_per_epoch * config.batch_size

    def per_worker(context: tf.distribute.InputContext) -> tf.data.Dataset:
        return training_batches(dataset_dir, inputs.manifest, config, start=start, context=context)

    return iter(distribution.distribute_datasets_from_function(per_worker))


def _train_step(distribution: tf.distribute.Strategy, unet: keras.Model, global_batch: int):
    """One synchronous step over all replicas: step(iterator) -> (mean loss, mean hole PSNR) of the global batch.

    Keras 3's Model.fit fails under MultiWorkerMirroredStrategy (keras-team/keras#20585), so
    this step is the training loop for every strategy: each replica's per-sample losses
    are divided by the global batch, and the optimizer sums the replicas' gradients.
    """
    loss_function, optimizer = unet.loss, unet.optimizer

    def replica_step(network_input, target):
        with tf.GradientTape() as tape:
            predicted = unet(network_input, training=True)
            per_sample = loss_function.call(target, predicted)
            loss = tf.nn.compute_average_loss(per_sample, global_batch_size=global_batch)
        gradients = tape.gradient(loss, unet.trainable_variables)
        optimizer.apply_gradients(zip(gradients, unet.trainable_variables, strict=True))
        psnr = tf.reduce_sum(network.hole_psnr(target, predicted)) / global_batch
        return loss, psnr

    @tf.function
    def step(iterator):
        loss, psnr = distribution.run(replica_step, args=next(iterator))
        total = tf.distribute.ReduceOp.SUM
        return distribution.reduce(total, loss, axis=None), distribution.reduce(total, psnr, axis=None)

    return step


class _EpochCommit:
    """At each epoch end, on the chief: validate, commit the epoch to .backup/, publish history.csv and the model."""

    def __init__(
        self,
        folder: _Folder,
        state: dict[str, object],
        inference_copy: keras.Model,
        validation_data: tf.data.Dataset,
        epochs: int,
        on_epoch: EpochReport,
    ) -> None:
        self.folder, self.state, self.inference_copy = folder, state, inference_copy
        self.validation_data = validation_data
        self.epochs, self.on_epoch = epochs, on_epoch
        self.started = time.perf_counter()
        self.seconds_before = float(state.get("train_seconds", 0.0))

    def __call__(self, model: keras.Model, epoch: int, logs: dict[str, float]) -> None:
        if not self.folder.writes:
            self.state = {**self.state, "epoch": epoch + 1}
            return
        self.inference_copy.set_weights(model.get_weights())
        validation = self.inference_copy.evaluate(self.validation_data, verbose=0, return_dict=True)
        logs = {**logs, **{f"val_{key}": float(value) for key, value in validation.items()}}
        # Rows of epochs at or after this one belong to a run that was killed before committing them.
        rows = [row for row in self.state.get("history", []) if row["epoch"] < epoch] + [{"epoch": epoch, **logs}]
        state = {
            "epoch": epoch + 1,
            "weights": f"epoch-{epoch + 1:04d}.weights.h5",
            "history": rows,
            "train_seconds": round(self.seconds_before + time.perf_counter() - self.started, 3),
            "resumed_at": self.state.get("resumed_at", []),
        }
        self.folder.commit(model, state)
        self.state = state
        self.folder.publish(state, model, self.inference_copy)
        self.on_epoch(epoch, self.epochs, logs)


def _run_epochs(
    distribution: tf.distribute.Strategy,
    unet: keras.Model,
    batches,
    config: TrainConfig,
    steps_per_epoch: int,
    first_epoch: int,
    commit: _EpochCommit,
    dataset_dir: StoragePath,
) -> None:
    """Train the epochs from first_epoch on, committing each; logs are the means over the epoch's steps.

    Raises TrainingInterrupted on Ctrl-C, and one line for a damaged dataset.
    """
    step = _train_step(distribution, unet, config.batch_size)
    try:
        for epoch in range(first_epoch, config.epochs):
            loss_sum, psnr_sum, started = 0.0, 0.0, time.perf_counter()
            for _ in range(steps_per_epoch):
                loss, psnr = step(batches)
                loss_sum, psnr_sum = loss_sum + float(loss), psnr_sum + float(psnr)
            logs = {"loss": loss_sum / steps_per_epoch, "hole_psnr": psnr_sum / steps_per_epoch}
            commit(unet, epoch, {**logs, "seconds": round(time.perf_counter() - started, 3)})  # without validation
    except KeyboardInterrupt:
        raise TrainingInterrupted(int(commit.state["epoch"]), config.epochs) from None
    except (tf.errors.DataLossError, tf.errors.InvalidArgumentError) as error:
        raise InpaintError(
            f"the dataset in {storage.as_text(dataset_dir)} is damaged ({_reason(error)}); prepare it again"
        ) from None


def _reason(error: Exception) -> str:
    """The line of a TensorFlow error that says what went wrong, not "Graph execution error:" or a stack frame."""
    lines = [line.split(" [[")[0].strip() for line in str(error).splitlines()]
    skipped = ("Graph execution error", "Detected at node", "File ", "[[", "{{", "Traceback")
    telling = [line for line in lines if line and not line.startswith(skipped)]
    return telling[-1] if telling else type(error).__name__


LOST_WORKER_ERRORS = (
    tf.errors.UnavailableError,
    tf.errors.AbortedError,
    tf.errors.DeadlineExceededError,
    tf.errors.CancelledError,
    tf.errors.InternalError,
)


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
    Across workers (multi-worker), only the chief validates, writes out_dir and calls
    on_start and on_epoch; the others return a TrainResult with chief False and no card.
    Raises TrainingInterrupted on Ctrl-C, after the completed epochs were saved.
    """
    config.check()
    distribution = make_strategy(strategy)  # before anything else starts TensorFlow's runtime
    replicas = _check_replicas(distribution, config)
    folder = _Folder(out_dir, writes=is_chief(distribution))
    commit: _EpochCommit | None = None
    state: dict[str, object] = {"epoch": 0}
    try:
        _same_options_on_every_worker(distribution, config, dataset_dir)
        inputs, state = _all_workers_start(distribution, lambda: _begin(dataset_dir, config, folder, start))
        initial_epoch = int(state["epoch"])
        if initial_epoch:
            state["resumed_at"] = [*state.get("resumed_at", []), initial_epoch]
        keras.utils.set_random_seed(config.seed)
        model_config = network.ModelConfig(
            input_size=inputs.size, width=config.width, prefill=config.prefill, mask_input=config.mask_input
        )
        unet = _build_network(distribution, model_config, config, inputs, folder, state)
        inference_copy = _inference_copy(model_config, config)
        if initial_epoch:
            folder.publish(state, unet, inference_copy)  # finish what a kill may have cut short
        validation = inputs.validation_pairs.batch(config.batch_size).map(_pack).cache().prefetch(tf.data.AUTOTUNE)
        commit = _EpochCommit(folder, state, inference_copy, validation, config.epochs, on_epoch)
        batches = _distributed_batches(distribution, dataset_dir, inputs, config, initial_epoch)
        if folder.writes:
            on_start(initial_epoch, config.epochs)
        _run_epochs(distribution, unet, batches, config, inputs.steps_per_epoch, initial_epoch, commit, dataset_dir)
    except LOST_WORKER_ERRORS as error:
        if not _multi_worker(distribution):
            raise
        done = int((commit.state if commit else state)["epoch"])
        raise InpaintError(
            f"lost contact with the other workers after epoch {done} of {config.epochs} "
            f"({type(error).__name__}); run the same command again on every worker to resume"
        ) from None
    if not folder.writes:
        return TrainResult(card={}, resumed_from=initial_epoch, chief=False)
    card = _model_card(commit.state, config, model_config, unet, inputs, dataset_dir, strategy, replicas, command)
    notes = _finish(folder, card, inputs.validation_pairs)
    return TrainResult(card=card, resumed_from=initial_epoch, notes=notes)


def _model_card(
    state: dict[str, object],
    config: TrainConfig,
    model_config: network.ModelConfig,
    unet: keras.Model,
    inputs: _Inputs,
    dataset_dir: StoragePath,
    strategy: str,
    replicas: int,
    command: str | None,
) -> dict[str, object]:
    """model.json: how the model was made (command, options, dataset, versions) and how well it did."""
    rows = state["history"]
    seconds = float(state["train_seconds"])
    images = inputs.steps_per_epoch * config.batch_size * len(rows)
    return {
        "format": CARD_FORMAT,
        "inpaint_version": __version__,
        **({"command": command} if command else {}),
        "model": network.config_as_dict(model_config),
        "input_size": inputs.size,
        "width": config.width,
        "parameters": int(unet.count_params()),
        "training": asdict(config),
        "strategy": {"name": strategy, "replicas": replicas},
        "dataset": {
            "path": storage.as_text(dataset_dir),
            "manifest_sha256": inputs.digest,
            "counts": inputs.manifest["counts"],
            "prepare": inputs.manifest["parameters"],
        },
        **({"initialised_from": _parent(config.init_from)} if config.init_from else {}),
        "best": _counted_from_one(_best_row(rows)),
        "epochs_run": len(rows),
        "resumed_at_epochs": state.get("resumed_at", []),  # where runs that were cut short went on
        "train_seconds": round(seconds, 1),
        "train_images_per_second": round(images / max(seconds, 1e-9), 1),
        "versions": {
            "python": platform.python_version(),
            "tensorflow": tf.__version__,
            "keras": keras.__version__,
            "numpy": np.__version__,
        },
    }


def _model_files(model: str) -> tuple[str, str]:
    """The .keras file and the model card beside it, of a model given as a .keras file or as a model folder."""
    folder = (posixpath.dirname(model) or ".") if model.endswith(".keras") else model
    model_file = model if model.endswith(".keras") else storage.join(folder, KERAS_FILE)
    return model_file, storage.join(folder, CARD_FILE)


def _load_initial_weights(unet: keras.Model, model: str) -> None:
    """Start from the weights of another model of the same shape (fine-tuning); one-line errors."""
    model_file, _ = _model_files(model)
    if not storage.exists(model_file):
        raise UsageError(f"the model to start from, {model}, has no {model_file}")
    try:
        with storage.local_copy(model_file) as local, warnings.catch_warnings():
            # Keras says it skips the saved optimizer (fine-tuning starts a fresh one, on purpose) and the
            # weightless containers of ops; a test checks that every weight arrives.
            warnings.filterwarnings("ignore", message="Skipping (variable loading for optimizer|nested container)")
            unet.load_weights(local)
    except ValueError as error:
        first_line = str(error).strip().splitlines()[0]
        raise UsageError(f"the model to start from, {model}, does not match this network ({first_line})") from None


def _parent(model: str) -> dict[str, object]:
    """What the model card records of the model training started from: where it was and how it was trained."""
    _, card_file = _model_files(model)
    parent = json.loads(storage.read_text(card_file)) if storage.exists(card_file) else {}
    best = parent.get("best")
    if parent.get("format") == "inpaint-model-card/1" and isinstance(best, dict) and "epoch" in best:
        best = {**best, "epoch": best["epoch"] + 1}  # its epochs counted from 0; this card's count from 1
    return {"path": model, "command": parent.get("command"), "best": best}


def _finish(folder: _Folder, card: dict[str, object], validation_pairs) -> list[str]:
    """Write preview.png and model.json, drop a stale model.tflite and the backup; the notes for the user."""
    if not folder.writes:
        return []
    with storage.local_copy(folder.file(KERAS_FILE)) as model_file:
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
