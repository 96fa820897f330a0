"""Training survives kill -9 and Ctrl-C, refuses to overwrite a finished model, splits batches over replicas,
and reads and writes tf.io.gfile paths. Tiny models (width 2, 32 px, batch 4) keep it quick."""

from __future__ import annotations

import csv
import dataclasses
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import prepared_dataset
from typer.testing import CliRunner

from inpaint_cli.cli import app
from inpaint_cli.errors import InpaintError, UsageError
from inpaint_cli.model import runtime
from inpaint_cli.training import cluster, dataset, storage, training_loop

PREPARE = dataset.PrepareConfig(size=32, hole_min=4, hole_max=12, val_fraction=0.25, seed=0)
TINY = training_loop.TrainConfig(epochs=2, batch_size=4, learning_rate=3e-3, width=2, seed=0)
ONE_EPOCH = dataclasses.replace(TINY, epochs=1)
FINISHED_FILES = ["history.csv", "model.json", "model.keras", "preview.png"]
runner = CliRunner()


@pytest.fixture(scope="module")
def dataset_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A prepared dataset of 24 small photos (about 18 train, 6 validation), shared by the module."""
    return prepared_dataset(tmp_path_factory, 24, PREPARE)


@pytest.fixture(scope="module")
def interrupted_run(dataset_dir: Path, tmp_path_factory: pytest.TempPathFactory):
    """A TINY run stopped like Ctrl-C after epoch 1 of 2, and what train raised; tests resume copies of the folder."""
    folder = tmp_path_factory.mktemp("interrupted") / "model"
    with pytest.raises(training_loop.TrainingInterrupted) as stopped:
        training_loop.train(dataset_dir, folder, TINY, interrupt_after(1))
    return folder, stopped.value


def finished_folder(folder: Path) -> Path:
    """A stand-in for a finished model folder: what the refusal looks at is model.json."""
    folder.mkdir()
    for name in FINISHED_FILES:
        (folder / name).write_text("{}")
    return folder


def no_report(epoch: int, total: int, logs: dict[str, float]) -> None:
    pass


def interrupt_after(epochs_done: int):
    """An on_epoch report that acts like Ctrl-C once epochs_done epochs have ended."""

    def report(epoch: int, total: int, logs: dict[str, float]) -> None:
        if epoch + 1 == epochs_done:
            raise KeyboardInterrupt

    return report


def history_epochs(folder: Path) -> list[int]:
    if not (folder / "history.csv").is_file():
        return []
    with (folder / "history.csv").open() as handle:
        return [int(row["epoch"]) for row in csv.DictReader(handle)]


def weights_of(folder: Path) -> np.ndarray:

    return np.concatenate([weights.ravel() for weights in runtime.load_network(folder).get_weights()])


@pytest.mark.slow
def test_a_killed_run_resumes_and_counts_each_epoch_once(dataset_dir: Path, tmp_path: Path) -> None:
    # Killed once 2 epochs are in history.csv: the 4 more keep it running for seconds after that.
    epochs, folder = 6, tmp_path / "model"
    arguments = ["train", str(dataset_dir), "--out", str(folder), "--epochs", str(epochs), "--width", "2"]
    arguments += ["--batch-size", "4"]
    process = subprocess.Popen(
        [sys.executable, "-m", "inpaint_cli.cli", *arguments], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    deadline = time.monotonic() + 600  # generous: CI machines can be slow and busy
    while len(history_epochs(folder)) < 2:
        assert process.poll() is None, f"training ended before it could be killed: {process.stderr.read()}"
        assert time.monotonic() < deadline, "no epoch in history.csv after 600 s"
        time.sleep(0.02)
    process.kill()  # SIGKILL: no handler runs, wherever it lands
    process.wait(timeout=60)
    process.stderr.close()
    assert process.returncode == -signal.SIGKILL
    assert (folder / ".backup").is_dir() and not (folder / "model.json").exists()

    result = runner.invoke(app, arguments)  # the same command again
    assert result.exit_code == 0, result.output
    assert "Resuming the interrupted run in" in result.output
    assert history_epochs(folder) == list(range(1, epochs + 1))
    assert sorted(path.name for path in folder.iterdir()) == FINISHED_FILES
    card = json.loads((folder / "model.json").read_text())
    assert card["epochs_run"] == epochs and len(card["resumed_at_epochs"]) == 1


@pytest.mark.slow
def test_an_interrupted_run_resumes_to_the_result_of_an_uninterrupted_one(
    dataset_dir: Path, interrupted_run: tuple[Path, training_loop.TrainingInterrupted], tmp_path: Path
) -> None:
    whole = training_loop.train(dataset_dir, tmp_path / "whole", TINY, no_report)
    cut, stopped = interrupted_run
    folder = shutil.copytree(cut, tmp_path / "cut")
    assert str(stopped) == "interrupted after epoch 1 of 2; run the same command again to resume"
    assert stopped.exit_code == 130
    assert history_epochs(folder) == [1] and not (folder / "model.json").exists()
    options = json.loads((folder / ".backup" / "options.json").read_text())
    assert options["training"]["epochs"] == 2 and options["dataset_sha256"] == dataset.manifest_digest(dataset_dir)

    other = dataclasses.replace(TINY, epochs=4, learning_rate=1e-3)
    with pytest.raises(UsageError) as refused:
        training_loop.train(dataset_dir, folder, other, no_report)
    assert str(refused.value) == (
        f"{folder} holds an interrupted run with other options "
        "(--epochs was 2, now 4; --learning-rate was 0.003, now 0.001); "
        "run it again with the options it had to resume it, or use --restart to start over"
    )
    assert history_epochs(folder) == [1]  # the refused call changed nothing

    # What a kill in the middle of atomic writes leaves behind is swept away on resuming.
    (folder / ".tmp-a1b2c3-model.keras").write_bytes(b"half a model")
    (folder / ".backup" / ".tmp-d4e5f6-epoch-0002.weights.h5").write_bytes(b"half the weights")
    resumed = training_loop.train(dataset_dir, folder, TINY, no_report, start="resume")
    assert resumed.resumed_from == 1 and resumed.card["resumed_at_epochs"] == [1]
    assert history_epochs(folder) == [1, 2]
    assert sorted(path.name for path in folder.iterdir()) == FINISHED_FILES
    # The data stream and the optimizer's state carry on where they stopped, so on a CPU the two runs
    # agree to float rounding; GPU kernels may add in another order from one run to the next, which
    # Adam's first steps can magnify.
    from inpaint_cli.backend import tf

    tolerance = 1e-2 if tf.config.list_physical_devices("GPU") else 1e-5
    for key in ("loss", "val_loss", "val_hole_psnr"):
        assert resumed.card["best"][key] == pytest.approx(whole.card["best"][key], rel=tolerance)
    np.testing.assert_allclose(weights_of(folder), weights_of(tmp_path / "whole"), atol=tolerance)


def test_ctrl_c_in_train_prints_how_to_resume_and_exits_130(
    dataset_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def interrupted(*arguments: object, **options: object) -> None:
        raise training_loop.TrainingInterrupted(7, 40)

    monkeypatch.setattr(training_loop, "train", interrupted)
    result = runner.invoke(app, ["train", str(dataset_dir), "--out", str(tmp_path / "model")])
    assert result.exit_code == 130
    assert result.output == "Error: interrupted after epoch 7 of 40; run the same command again to resume\n"


@pytest.fixture
def sigterm_caught_here():
    """SIGTERM's handler put back after the test; meanwhile one that only records it, so that a `train` which
    leaves SIGTERM alone fails the test instead of ending pytest."""
    before, received = signal.getsignal(signal.SIGTERM), []
    signal.signal(signal.SIGTERM, lambda number, frame: received.append(number))
    yield received
    signal.signal(signal.SIGTERM, before)


def test_sigterm_in_train_stops_as_ctrl_c_does_keeping_the_finished_epoch(
    dataset_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, sigterm_caught_here: list[int]
) -> None:
    commit_epoch = training_loop._EpochCommit.__call__

    def terminated_after_the_first_epoch(self, model, epoch: int, logs: dict[str, float]) -> None:
        commit_epoch(self, model, epoch, logs)
        if epoch == 0:
            os.kill(os.getpid(), signal.SIGTERM)  # as `timeout`, a scheduler or a container stop sends it

    folder = tmp_path / "model"
    arguments = ["train", str(dataset_dir), "--out", str(folder), "--epochs", "2", "--width", "2", "--batch-size", "4"]
    with monkeypatch.context() as patched:
        patched.setattr(training_loop._EpochCommit, "__call__", terminated_after_the_first_epoch)
        result = runner.invoke(app, arguments)
    assert sigterm_caught_here == [], "train left SIGTERM to the default handler"
    assert result.exit_code == 143, result.output
    assert result.output.splitlines()[-1] == (
        "Error: terminated after epoch 1 of 2; run the same command again to resume"
    )
    assert history_epochs(folder) == [1] and not (folder / "model.json").exists()
    assert json.loads((folder / ".backup" / "state.json").read_text())["epoch"] == 1  # what the same command resumes


def test_nothing_to_resume_is_refused(dataset_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(UsageError) as refused:
        training_loop.train(dataset_dir, tmp_path / "model", TINY, no_report, start="resume")
    assert str(refused.value) == (
        f"nothing to resume in {tmp_path / 'model'}: it holds no interrupted run (.backup/); "
        "leave out --resume to start one"
    )


@pytest.mark.slow
def test_a_finished_model_is_replaced_only_with_restart(dataset_dir: Path, tmp_path: Path) -> None:
    folder = finished_folder(tmp_path / "model")
    with pytest.raises(UsageError) as refused:
        training_loop.train(dataset_dir, folder, ONE_EPOCH, no_report)
    assert str(refused.value) == (
        f"{folder} already holds a trained model (model.json); "
        "use --restart to train it again from scratch, or choose another --out"
    )
    with pytest.raises(UsageError, match="holds a finished model, not an interrupted run; use --restart"):
        training_loop.train(dataset_dir, folder, ONE_EPOCH, no_report, start="resume")
    assert (folder / "model.json").read_text() == "{}"

    (folder / "model.tflite").write_bytes(b"an export of the old model")
    result = training_loop.train(
        dataset_dir, folder, dataclasses.replace(ONE_EPOCH, seed=1), no_report, start="restart"
    )
    assert result.card["training"]["seed"] == 1 and result.resumed_from == 0
    assert result.notes == [
        f"Removed the old model.tflite of an earlier run; `inpaint export {folder}` makes a fresh one."
    ]
    assert sorted(path.name for path in folder.iterdir()) == FINISHED_FILES
    assert json.loads((folder / "model.json").read_text()) == result.card


def test_train_command_refusals_are_one_line(dataset_dir: Path, tmp_path: Path) -> None:
    folder = finished_folder(tmp_path / "model")
    base = ["train", str(dataset_dir), "--out", str(folder), "--epochs", "1", "--width", "2"]
    for extra, message in [
        ([], f"Error: {folder} already holds a trained model (model.json); use --restart to train it again"),
        (["--resume", "--restart"], "Error: --resume and --restart exclude each other"),
        (["--restart", "--strategy", "ring"], "Error: Invalid value for '--strategy': 'ring' is not one of 'auto'"),
    ]:
        result = runner.invoke(app, base + extra)
        assert result.exit_code == 2, result.output
        assert result.output.startswith(message) and result.output.count("\n") == 1, result.output


def test_multi_worker_needs_tf_config(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TF_CONFIG", raising=False)
    with pytest.raises(UsageError, match="needs the TF_CONFIG environment variable"):
        cluster.make_strategy("multi-worker")


def test_only_the_chief_writes_the_model_folder() -> None:
    from inpaint_cli.backend import tf

    def strategy(task_type: str | None, task_id: int = 0, chief: bool = False) -> object:
        jobs = {"worker": ["a:1", "b:1"], **({"chief": ["c:1"]} if chief else {})}
        resolver = type("Resolver", (), {"task_type": task_type, "task_id": task_id})()
        resolver.cluster_spec = lambda: tf.train.ClusterSpec(jobs)
        return type("Strategy", (), {"cluster_resolver": resolver})()

    assert cluster.is_chief(tf.distribute.get_strategy())
    assert cluster.is_chief(strategy(None))
    assert cluster.is_chief(strategy("worker", 0))
    assert not cluster.is_chief(strategy("worker", 1))
    assert not cluster.is_chief(strategy("worker", 0, chief=True))
    assert cluster.is_chief(strategy("chief", 0, chief=True))


MIRRORED_SCRIPT = """
import json, sys
import numpy as np
from inpaint_cli.backend import tf, keras

# Two logical CPU devices stand in for two GPUs; this must happen before TensorFlow's runtime starts.
tf.config.set_visible_devices([], "GPU")
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
from inpaint_cli.training import training_loop
from inpaint_cli.errors import UsageError

dataset_dir, out = sys.argv[1], sys.argv[2]
config = training_loop.TrainConfig(epochs=2, batch_size=4, learning_rate=3e-3, width=2, seed=0)
runs = {}
for name in ("default", "mirrored"):
    result = training_loop.train(dataset_dir, f"{out}/{name}", config, lambda *report: None, strategy=name)
    model = keras.saving.load_model(f"{out}/{name}/model.keras", compile=False)
    runs[name] = {
        "replicas": result.card["strategy"]["replicas"],
        "best": result.card["best"],
        "weights": np.concatenate([weights.ravel() for weights in model.get_weights()]).tolist(),
    }
try:
    training_loop.train(dataset_dir, f"{out}/odd", training_loop.TrainConfig(batch_size=5), print, strategy="mirrored")
except UsageError as error:
    runs["odd_batch"] = str(error)
print(json.dumps(runs))
"""


@pytest.mark.slow
def test_mirrored_over_two_logical_cpus_matches_one_device(dataset_dir: Path, tmp_path: Path) -> None:
    finished = subprocess.run(
        [sys.executable, "-c", MIRRORED_SCRIPT, str(dataset_dir), str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=1200,  # about 20 s on an idle 2-core machine
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
    )
    assert finished.returncode == 0, finished.stderr[-3000:]
    runs = json.loads(finished.stdout.strip().splitlines()[-1])
    default, mirrored = runs["default"], runs["mirrored"]
    assert default["replicas"] == 1 and mirrored["replicas"] == 2
    # Same seed, same batches (the training stream does not depend on the strategy) and same initial
    # weights; each replica takes half of every batch and their gradients are summed, so only the order
    # of float additions differs (measured: weights within 3e-8). A tolerance of 1e-5 relative still
    # catches a replica whose half-batch went missing or a loss scaled by the number of replicas.
    weights_default, weights_mirrored = np.array(default["weights"]), np.array(mirrored["weights"])
    assert np.linalg.norm(weights_mirrored - weights_default) <= 1e-5 * np.linalg.norm(weights_default)
    for key in ("loss", "val_loss", "val_hole_psnr"):
        assert mirrored["best"][key] == pytest.approx(default["best"][key], rel=1e-5)
    assert runs["odd_batch"] == "a batch of 5 does not split evenly over the 2 replicas"


@pytest.mark.slow
def test_dataset_and_model_folders_may_be_gfile_urls(dataset_dir: Path, tmp_path: Path) -> None:
    ram = f"ram://{tmp_path.name}"  # TensorFlow's in-memory file system: paths pathlib cannot open
    manifest = dataset.prepare([Path(dataset.load_manifest(dataset_dir)["sources"][0])], f"{ram}/ds", PREPARE)
    assert dataset.load_manifest(f"{ram}/ds") == manifest
    assert storage.read_bytes(f"{ram}/ds/train-00000.tfrecord") == (dataset_dir / "train-00000.tfrecord").read_bytes()

    # The dataset through a file:// URL (the non-local code path), the model into ram://.
    result = training_loop.train(f"file://{dataset_dir}", f"{ram}/model", ONE_EPOCH, no_report)
    assert result.card["dataset"]["path"] == f"file://{dataset_dir}"
    assert storage.glob(f"{ram}/model/*") == [f"{ram}/model/{name}" for name in FINISHED_FILES]
    assert not storage.exists(f"{ram}/model/.backup")
    assert json.loads(storage.read_text(f"{ram}/model/model.json")) == result.card
    with pytest.raises(UsageError, match="already holds a trained model"):
        training_loop.train(str(dataset_dir), f"{ram}/model", ONE_EPOCH, no_report)  # a plain string path too


def test_storage_writes_atomically_and_reports_bad_paths(tmp_path: Path) -> None:
    for folder in (str(tmp_path / "local"), f"ram://{tmp_path.name}/remote", f"file://{tmp_path}/url"):
        storage.makedirs(storage.join(folder, "sub"))
        target = storage.join(folder, "sub", "model.weights.h5")
        storage.write_atomically(target, lambda temporary: temporary.write_bytes(temporary.name.encode()))
        assert storage.read_bytes(target).endswith(b"-model.weights.h5")  # Keras needs the whole suffix
        with pytest.raises(ZeroDivisionError):
            storage.write_atomically(target, lambda temporary: (temporary.write_bytes(b"half"), 1 / 0))
        assert storage.read_bytes(target).endswith(b"-model.weights.h5")
        assert storage.glob(storage.join(folder, "sub", "*")) == [target]  # no temporary file left behind
        storage.remove(folder)
        assert not storage.exists(folder)
    with pytest.raises(InpaintError, match=r"^could not read nosuch://bucket/ds \(.+\)$"):
        storage.exists("nosuch://bucket/ds")
    with pytest.raises(UsageError, match="does not exist"):
        storage.write_text(tmp_path / "missing" / "a.json", "{}")


def test_storage_reads_and_writes_local_paths_without_tensorflow(tmp_path: Path, monkeypatch) -> None:
    """Keras on JAX (scripts/train_from_photos.py) has no TensorFlow: local paths must not need it, URLs say so."""
    from inpaint_cli import backend

    monkeypatch.setattr(backend, "tf", None)
    folder = storage.join(str(tmp_path), "model")
    storage.makedirs(storage.join(folder, ".backup"))
    storage.write_text(storage.join(folder, "model.json"), "{}")
    (tmp_path / "model" / ".tmp-1-a.weights.h5").write_bytes(b"half")
    assert storage.exists(folder) and storage.is_dir(folder) and storage.read_text(f"{folder}/model.json") == "{}"
    assert storage.glob(storage.join(folder, "*.weights.h5")) == [storage.join(folder, ".tmp-1-a.weights.h5")]
    with storage.local_copy(storage.join(folder, "model.json")) as local:
        assert local.read_text() == "{}"
    storage.remove(folder)
    assert not storage.exists(folder)
    with pytest.raises(InpaintError, match=r"^could not read .*missing\.json \(No such file or directory\)$"):
        storage.read_bytes(tmp_path / "missing.json")
    with pytest.raises(UsageError, match="^gs://bucket/ds is a URL: URLs are read through TensorFlow"):
        storage.exists("gs://bucket/ds")


def test_a_run_interrupted_before_an_option_existed_resumes_with_its_default(
    dataset_dir: Path, interrupted_run: tuple[Path, training_loop.TrainingInterrupted], tmp_path: Path
) -> None:
    two_epochs = TINY
    assert two_epochs.epochs == 2
    folder = shutil.copytree(interrupted_run[0], tmp_path / "older")  # stopped after epoch 1 of 2
    stored = folder / ".backup" / "options.json"
    options = json.loads(stored.read_text())
    del options["training"]["painted_fraction"]  # as a version without --painted-fraction wrote it
    stored.write_text(json.dumps(options))
    painted = dataclasses.replace(two_epochs, painted_fraction=0.5)
    with pytest.raises(UsageError, match="--painted-fraction was 0.0, now 0.5"):
        training_loop.train(dataset_dir, folder, painted, no_report)
    resumed = training_loop.train(dataset_dir, folder, two_epochs, no_report, start="resume")
    assert resumed.resumed_from == 1 and history_epochs(folder) == [1, 2]


def test_a_full_disk_stops_training_with_one_line_and_keeps_the_last_epoch(
    dataset_dir: Path,
    interrupted_run: tuple[Path, training_loop.TrainingInterrupted],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Keras's HDF5 writer meeting a full disk crashed the process (segmentation fault); now it is never started."""
    folder = shutil.copytree(interrupted_run[0], tmp_path / "full")  # stopped after epoch 1 of 2
    measured = shutil.disk_usage
    monkeypatch.setattr(shutil, "disk_usage", lambda path: measured(path)._replace(free=100_000))
    with pytest.raises(InpaintError, match=r"not enough disk space to write .*epoch-0001\.weights\.h5: it needs"):
        training_loop.train(dataset_dir, tmp_path / "fresh", TINY, no_report)
    with pytest.raises(InpaintError, match=r"not enough disk space to write .*model\.keras: it needs"):
        training_loop.train(dataset_dir, folder, TINY, no_report)  # resuming brings model.keras up to date first
    assert history_epochs(folder) == [1]
    assert not [name for name in os.listdir(folder / ".backup") if name.startswith(".tmp")]
    monkeypatch.undo()  # space freed: the same call resumes
    resumed = training_loop.train(dataset_dir, folder, TINY, no_report)
    assert resumed.resumed_from == 1 and history_epochs(folder) == [1, 2]


def test_the_checkpoint_estimate_covers_what_keras_writes(tmp_path: Path) -> None:
    from inpaint_cli.model import network
    from inpaint_cli.training.resuming import checkpoint_bytes

    model = network.build_unet(network.ModelConfig(input_size=32, width=4))
    network.compile_for_training(model, TINY, total_steps=10)
    model.optimizer.build(model.trainable_variables)  # its moments, as in a checkpoint after the first step
    model.save_weights(tmp_path / "m.weights.h5")
    written = (tmp_path / "m.weights.h5").stat().st_size
    assert written <= checkpoint_bytes(model) <= written + 2**20 + written // 10
