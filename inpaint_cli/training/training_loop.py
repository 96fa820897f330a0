"""`inpaint train`: fit the U-Net on a prepared dataset and write a model folder; the training loop.

The folder (a local path or any tf.io.gfile URL) holds model.keras (best validation
hole PSNR), model.json (the model card, written last: its presence means "finished"),
history.csv and preview.png (model_folder.py names them, training_outputs.py writes the
last three). While a run is going it also holds .backup/, from which a run that was
killed or interrupted carries on (resuming.py). The cluster of --strategy is cluster.py's,
what its workers do together worker_sync.py's.

Every strategy trains with the same custom step (_train_step) under strategy.run, because
Keras 3's Model.fit fails under MultiWorkerMirroredStrategy. Across workers only the chief
validates, reports and writes the folder; it also decides the epoch every worker starts
from and sends them its weights (docs/training-multi-worker.md).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

from inpaint_cli.backend import keras, tf
from inpaint_cli.errors import InpaintError, UsageError
from inpaint_cli.interrupts import how_stopped
from inpaint_cli.model import network
from inpaint_cli.model.model_folder import (
    CARD_FILE,
    KERAS_FILE,
    LITERT_FILE,
    PREVIEW_FILE,
    card_text,
)
from inpaint_cli.settings import TrainConfig
from inpaint_cli.training import dataset, storage
from inpaint_cli.training.cluster import is_chief, is_multi_worker, make_strategy
from inpaint_cli.training.dataset import TrainingInputs
from inpaint_cli.training.resuming import TrainingFolder
from inpaint_cli.training.storage import StoragePath
from inpaint_cli.training.training_outputs import load_initial_weights, model_card, write_preview
from inpaint_cli.training.worker_sync import all_workers_start, copy_chief_variables, same_options_on_every_worker

EpochReport = Callable[[int, int, dict[str, float]], None]


@dataclass(frozen=True)
class TrainResult:
    """What a finished `train` wrote and did."""

    card: dict[str, object]  # as written to model.json
    resumed_from: int  # epochs already done when this call started (0: a fresh run)
    notes: list[str] = field(default_factory=list)  # things the user should know, one sentence each
    chief: bool = True  # False on the other workers of a cluster: the chief wrote the folder and holds the card


class TrainingInterrupted(InpaintError):
    """Ctrl-C (exit status 130) or SIGTERM (143, as for the other commands) during training; the epochs completed
    before it are kept, so the same command resumes after them."""

    exit_code = 130

    def __init__(self, completed: int, epochs: int, stop: KeyboardInterrupt | None = None) -> None:
        self.completed, self.epochs = completed, epochs
        stopped, self.exit_code = how_stopped(stop)
        if completed:
            message = f"{stopped} after epoch {completed} of {epochs}; run the same command again to resume"
        else:
            message = f"{stopped} during the first of {epochs} epochs; run the same command again to start it over"
        super().__init__(message)


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
            painted_fraction=config.painted_fraction,
            seed=config.seed,
            start=start,
            zoom_fraction=config.zoom_fraction,
            share=share,
        )
        # The stream is endless: every batch is whole.
        .batch(context.get_per_replica_batch_size(config.batch_size), drop_remainder=True)
        .map(network.training_pair, num_parallel_calls=tf.data.AUTOTUNE)
        .prefetch(tf.data.AUTOTUNE)
    )


def _check_replicas(distribution: tf.distribute.Strategy, config: TrainConfig) -> int:
    """The number of replicas, which must split the global batch evenly: every replica's share weighs the same."""
    replicas = int(distribution.num_replicas_in_sync)
    if config.batch_size % replicas:
        raise UsageError(f"a batch of {config.batch_size} does not split evenly over the {replicas} replicas")
    return replicas


def _begin(
    dataset_dir: StoragePath, config: TrainConfig, folder: TrainingFolder, start: str
) -> tuple[TrainingInputs, dict]:
    """Open the dataset, then (on the chief) check the folder against --resume/--restart: the state to start from.

    A bad dataset fails before the folder changes; a state with epoch 0 is a fresh run.
    """
    if storage.same_place(dataset_dir, folder.path):
        raise UsageError(f"--out {folder.path} is the dataset's folder; give the model a folder of its own")
    inputs = dataset.open_for_training(dataset_dir, config.batch_size)
    samples = int(inputs.manifest["counts"]["train"])
    if config.batch_size > max(samples, TrainConfig.batch_size):  # batches repeat the samples: a huge one takes hours
        raise UsageError(
            f"--batch-size {config.batch_size} is more than the {samples} training samples; give "
            f"{max(samples, TrainConfig.batch_size)} or fewer"
        )
    options = {"training": asdict(config), "dataset_sha256": inputs.digest}
    state = folder.start(start, options) if folder.writes else None
    return inputs, state or {"epoch": 0, "history": []}


def _build_network(
    distribution: tf.distribute.Strategy,
    model_config: network.ModelConfig,
    config: TrainConfig,
    inputs: TrainingInputs,
    folder: TrainingFolder,
    state: dict[str, object],
) -> keras.Model:
    """The network and its optimizer, built in the strategy's scope with the weights training starts from.

    Only the chief reads the backup or --init-from (the other workers need not see the model
    folder); its variables are then copied to every worker, so all start the same.
    """
    with distribution.scope():
        unet = network.build_unet(model_config)
        network.compile_for_training(unet, config, inputs.steps_per_epoch * config.epochs)
        unet.optimizer.build(unet.trainable_variables)  # now, not in the first step: a backup's state loads into it
    # Outside the scope: a variable that loading makes in it would be a collective op on the chief alone.
    if folder.writes and state["epoch"]:
        with storage.local_copy(folder.backup_file(str(state["weights"]))) as weights:
            unet.load_weights(weights)
    elif folder.writes and config.init_from:
        load_initial_weights(unet, config.init_from, config.seed, config.width)
    copy_chief_variables(distribution, [*unet.variables, *unet.optimizer.variables])
    return unet


def _distributed_batches(
    distribution: tf.distribute.Strategy,
    dataset_dir: StoragePath,
    inputs: TrainingInputs,
    config: TrainConfig,
    epoch: int,
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
        folder: TrainingFolder,
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
        loss = float(logs.get("loss", 0.0))
        if not math.isfinite(loss):  # on every worker alike: the loss is averaged over all of them
            raise InpaintError(
                f"training diverged: the loss was {loss} in epoch {epoch + 1}; run it again with a lower "
                "--learning-rate and --restart"
            )
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

    Raises TrainingInterrupted on Ctrl-C or SIGTERM, and one line for a damaged dataset.
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
    except KeyboardInterrupt as stop:  # Ctrl-C, or SIGTERM raised as Terminated (interrupts.raise_on_sigterm)
        raise TrainingInterrupted(int(commit.state["epoch"]), config.epochs, stop) from None
    except (tf.errors.DataLossError, tf.errors.InvalidArgumentError) as error:
        raise InpaintError(
            f"the dataset in {storage.as_text(dataset_dir)} is damaged ({_reason(error)}); prepare it again"
        ) from None


def _reason(error: Exception) -> str:
    """The line of a TensorFlow error that says what went wrong, not "Graph execution error:" or a stack frame."""
    lines = [line.split(" [[")[0].strip() for line in str(error).splitlines()]
    skipped = ("Graph execution error", "Detected at node", "File ", "[[", "{{", "Traceback")
    telling = [line for line in lines if line and not line.startswith(skipped)]
    # TensorFlow quotes the failing op's message, e.g. "{{node X}} ... truncated record at 3848' failed": unquote it
    return telling[-1].removesuffix("' failed").strip() if telling else type(error).__name__


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
    Raises TrainingInterrupted on Ctrl-C or SIGTERM (once the CLI raises it: interrupts.raise_on_sigterm), after the
    completed epochs were saved.
    """
    config.check()
    distribution = make_strategy(strategy)  # before anything else starts TensorFlow's runtime
    replicas = _check_replicas(distribution, config)
    folder = TrainingFolder(out_dir, writes=is_chief(distribution))
    commit: _EpochCommit | None = None
    state: dict[str, object] = {"epoch": 0}
    try:
        same_options_on_every_worker(distribution, config, dataset_dir)
        inputs, state = all_workers_start(distribution, lambda: _begin(dataset_dir, config, folder, start))
        initial_epoch = int(state["epoch"])
        if initial_epoch:
            state["resumed_at"] = [*state.get("resumed_at", []), initial_epoch]
        keras.utils.set_random_seed(config.seed)
        model_config = network.ModelConfig(
            input_size=inputs.size, width=config.width, prefill=config.prefill, mask_input=config.mask_input
        )
        unet = _build_network(distribution, model_config, config, inputs, folder, state)
        inference_copy = network.inference_copy(model_config, config)
        if initial_epoch:
            folder.publish(state, unet, inference_copy)  # finish what a kill may have cut short
        validation = inputs.validation_pairs.batch(config.batch_size).map(network.training_pair)
        validation = validation.cache().prefetch(tf.data.AUTOTUNE)
        commit = _EpochCommit(folder, state, inference_copy, validation, config.epochs, on_epoch)
        batches = _distributed_batches(distribution, dataset_dir, inputs, config, initial_epoch)
        if folder.writes:
            on_start(initial_epoch, config.epochs)
        _run_epochs(distribution, unet, batches, config, inputs.steps_per_epoch, initial_epoch, commit, dataset_dir)
    except LOST_WORKER_ERRORS as error:
        if not is_multi_worker(distribution):
            raise
        done = int((commit.state if commit else state)["epoch"])
        raise InpaintError(
            f"lost contact with the other workers after epoch {done} of {config.epochs} "
            f"({type(error).__name__}); run the same command again on every worker to resume"
        ) from None
    if not folder.writes:
        return TrainResult(card={}, resumed_from=initial_epoch, chief=False)
    card = model_card(commit.state, config, model_config, unet, inputs, dataset_dir, strategy, replicas, command)
    notes = _finish(folder, card, inputs.validation_pairs)
    return TrainResult(card=card, resumed_from=initial_epoch, notes=notes)


def _finish(folder: TrainingFolder, card: dict[str, object], validation_pairs) -> list[str]:
    """Write preview.png and model.json, drop a stale model.tflite and the backup; the notes for the user."""
    if not folder.writes:
        return []
    with storage.local_copy(folder.file(KERAS_FILE)) as model_file:
        best = keras.saving.load_model(model_file, compile=False)
    write_preview(best, validation_pairs.as_numpy_iterator(), folder.file(PREVIEW_FILE))
    notes = []
    if storage.exists(folder.file(LITERT_FILE)):
        # `inpaint fill` prefers model.tflite; one from an earlier run would shadow the new model.keras.
        storage.remove(folder.file(LITERT_FILE))
        notes.append(
            f"Removed the old {LITERT_FILE} of an earlier run; `inpaint export {folder.path}` makes a fresh one."
        )
    storage.write_text(folder.file(CARD_FILE), card_text(card))  # last: from here on the folder counts as finished
    storage.remove(folder.backup)
    return notes
