"""`inpaint train --strategy multi-worker` with two real worker processes on 127.0.0.1.

Each test starts `inpaint train` twice with TF_CONFIG naming two free local ports, as a user
would in two shells. A tiny dataset (32 px, width-2 network, batch 4) keeps a run near 20 s
on two busy cores. One TF process pair runs at a time.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import prepared_dataset

from inpaint_cli.model import runtime
from inpaint_cli.training import cluster, dataset, training_loop

PREPARE = dataset.PrepareConfig(size=32, hole_min=4, hole_max=12, val_fraction=0.25, seed=0)
CONFIG = training_loop.TrainConfig(epochs=2, batch_size=4, learning_rate=3e-3, width=2, seed=0)
OPTIONS = ["--epochs", "2", "--batch-size", "4", "--learning-rate", "0.003", "--width", "2"]
FINISHED_FILES = ["history.csv", "model.json", "model.keras", "preview.png"]


@pytest.fixture(scope="module")
def dataset_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A prepared dataset of 40 small photos: about 30 train samples, so 8 steps of 4 per epoch."""
    return prepared_dataset(tmp_path_factory, 40, PREPARE)


def free_ports(count: int) -> list[int]:
    """Ports that nothing listens on now (bound to port 0, then released)."""
    sockets = [socket.socket() for _ in range(count)]
    try:
        for each in sockets:
            each.bind(("127.0.0.1", 0))
        return [each.getsockname()[1] for each in sockets]
    finally:
        for each in sockets:
            each.close()


class Worker:
    """One `inpaint train --strategy multi-worker` process; its stdout and stderr go to files."""

    def __init__(self, index: int, ports: list[int], arguments: list[str], log_dir: Path, timeout: float = 60) -> None:
        cluster = {"worker": [f"127.0.0.1:{port}" for port in ports]}
        environment = {
            **os.environ,
            "TF_CONFIG": json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}}),
            "INPAINT_WORKER_TIMEOUT": str(timeout),
            "TF_CPP_MIN_LOG_LEVEL": "3",
        }
        log_dir.mkdir(parents=True, exist_ok=True)
        self.stdout_path, self.stderr_path = log_dir / f"worker{index}.out", log_dir / f"worker{index}.err"
        with self.stdout_path.open("w") as stdout, self.stderr_path.open("w") as stderr:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "inpaint_cli.cli", *arguments, "--strategy", "multi-worker"],
                stdout=stdout,
                stderr=stderr,
                env=environment,
            )

    def wait(self, seconds: float = 300) -> int:
        try:
            return self.process.wait(timeout=seconds)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise AssertionError(f"worker still running after {seconds} s: {self.output()}") from None

    def output(self) -> str:
        return self.stdout_path.read_text() + self.stderr_path.read_text()

    def errors(self) -> list[str]:
        return [line for line in self.stderr_path.read_text().splitlines() if line.strip()]


def run_cluster(ports: list[int], arguments: list[str], log_dir: Path) -> list[Worker]:
    """Both workers to the end; each must exit 0."""
    workers = [Worker(index, ports, arguments, log_dir) for index in range(len(ports))]
    for worker in workers:
        assert worker.wait() == 0, worker.output()
    return workers


def history(folder: Path) -> list[dict[str, float]]:
    if not (folder / "history.csv").is_file():
        return []
    with (folder / "history.csv").open() as handle:
        return [{key: float(value) for key, value in row.items()} for row in csv.DictReader(handle)]


def weights_of(folder: Path) -> np.ndarray:
    return np.concatenate([weights.ravel() for weights in runtime.load_network(folder).get_weights()])


@pytest.mark.slow
def test_two_workers_train_and_learn_what_one_machine_learns(dataset_dir: Path, tmp_path: Path) -> None:
    folder = tmp_path / "two"
    started = time.perf_counter()
    chief, other = run_cluster(free_ports(2), ["train", str(dataset_dir), "--out", str(folder), *OPTIONS], tmp_path)
    two_seconds = time.perf_counter() - started
    assert sorted(path.name for path in folder.iterdir()) == FINISHED_FILES
    card = json.loads((folder / "model.json").read_text())
    assert card["strategy"] == {"name": "multi-worker", "replicas": 2} and card["epochs_run"] == 2
    two = history(folder)
    assert [row["epoch"] for row in two] == [1, 2]
    # Progress and the model's path come from the chief only.
    lines = chief.output().splitlines()
    assert [line.split()[1] for line in lines if line.startswith("epoch ")] == ["1/2", "2/2"]
    assert "Best validation hole PSNR" in lines[-1]
    assert other.output().strip() == f"This worker's share is done; the chief wrote the model to {folder}."

    # One machine, the same global batch: the same samples in every step, the same initial weights, so the
    # two workers' gradients, averaged over the global batch, must give the same steps to float rounding
    # (measured: losses within 1e-6 relative). A worker that applied only its own half's gradient, or a
    # loss divided by the per-worker batch, moves these curves by whole percents.
    started = time.perf_counter()
    one = training_loop.train(dataset_dir, tmp_path / "one", CONFIG, lambda *report: None, strategy="default")
    one_seconds = time.perf_counter() - started
    assert one.card["strategy"]["replicas"] == 1
    one_rows = history(tmp_path / "one")
    print(f"\ntwo workers: {two_seconds:.1f} s {two}\none worker: {one_seconds:.1f} s {one_rows}")
    for two_row, one_row in zip(two, one_rows, strict=True):
        assert two_row["loss"] == pytest.approx(one_row["loss"], rel=1e-4)
        assert two_row["hole_psnr"] == pytest.approx(one_row["hole_psnr"], abs=1e-3)
        assert abs(two_row["val_hole_psnr"] - one_row["val_hole_psnr"]) < 0.01  # the issue asks for 0.3 dB
    single, double = weights_of(tmp_path / "one"), weights_of(folder)
    assert np.linalg.norm(double - single) <= 1e-4 * np.linalg.norm(single)


@pytest.mark.slow
def test_a_killed_worker_and_its_partner_resume_from_the_same_epoch(dataset_dir: Path, tmp_path: Path) -> None:
    folder, ports = tmp_path / "model", free_ports(2)
    arguments = ["train", str(dataset_dir), "--out", str(folder), *OPTIONS]
    workers = [Worker(index, ports, arguments, tmp_path / "first") for index in range(2)]
    deadline = time.monotonic() + 300
    while not history(folder):  # the chief has committed epoch 1 of 2: the second one is running
        assert all(worker.process.poll() is None for worker in workers), [w.output() for w in workers]
        assert time.monotonic() < deadline, "no epoch in history.csv after 300 s"
        time.sleep(0.02)
    workers[0].process.kill()  # SIGKILL to the chief, which holds TensorFlow's coordination service
    assert workers[0].wait() == -signal.SIGKILL
    # The survivor notices within the heartbeat timeout and stops with one line, rather than waiting forever.
    assert workers[1].wait(cluster.HEARTBEAT_TIMEOUT_S + 60) == 1
    assert len(workers[1].errors()) == 1, workers[1].output()
    assert workers[1].errors()[0].startswith("Error: lost contact with the other workers after epoch ")
    assert workers[1].errors()[0].endswith("run the same command again on every worker to resume")
    assert not (folder / "model.json").exists(), "the kill came after the run had finished"
    assert [row["epoch"] for row in history(folder)] == [1]

    chief, _ = run_cluster(ports, arguments, tmp_path / "again")  # the same two commands again
    assert "Resuming the interrupted run in" in chief.output()
    assert [row["epoch"] for row in history(folder)] == [1, 2]
    assert sorted(path.name for path in folder.iterdir()) == FINISHED_FILES
    card = json.loads((folder / "model.json").read_text())
    assert card["epochs_run"] == 2 and card["resumed_at_epochs"] == [1]


@pytest.mark.slow
def test_a_worker_that_cannot_reach_the_others_says_so_in_one_line(dataset_dir: Path, tmp_path: Path) -> None:
    ports = free_ports(2)
    arguments = ["train", str(dataset_dir), "--out", str(tmp_path / "model"), *OPTIONS]
    started = time.perf_counter()
    lonely = Worker(0, ports, arguments, tmp_path, timeout=5)  # worker 1 is never started
    lonely.wait(120)
    seconds = time.perf_counter() - started
    assert lonely.process.returncode == -signal.SIGKILL  # TensorFlow holds the process in native code
    assert lonely.errors() == [
        f"Error: cannot reach the worker at 127.0.0.1:{ports[1]} within 5 s (TF_CONFIG); "
        "start every worker of the cluster, or give them longer with INPAINT_WORKER_TIMEOUT"
    ]
    assert seconds < 5 + 60  # the timeout plus TensorFlow's start-up, not forever
    assert not (tmp_path / "model").exists()


def test_workers_split_every_global_batch_between_them(dataset_dir: Path) -> None:
    """Each worker decodes only its slice of each global batch; together the slices are the one-machine stream."""
    manifest = dataset.load_manifest(dataset_dir)
    config = dataclasses.replace(CONFIG, batch_size=6)

    def images(share: tuple[int, int, int], count: int) -> np.ndarray:
        stream = dataset.training_stream(dataset_dir, manifest, seed=0, start=12, share=share)
        return np.stack([image.numpy() for image, _ in stream.take(count)])

    whole = images((0, 1, config.batch_size), 12)
    first, second = images((0, 2, config.batch_size), 6), images((1, 2, config.batch_size), 6)
    for batch in range(2):
        halves = np.concatenate([first[batch * 3 : batch * 3 + 3], second[batch * 3 : batch * 3 + 3]])
        np.testing.assert_array_equal(halves, whole[batch * 6 : batch * 6 + 6])


@pytest.mark.slow
def test_a_chief_that_refuses_to_start_stops_the_other_worker_too(dataset_dir: Path, tmp_path: Path) -> None:
    folder, ports = tmp_path / "model", free_ports(2)
    folder.mkdir()
    (folder / "model.json").write_text("{}")  # a finished model: refused without --restart
    arguments = ["train", str(dataset_dir), "--out", str(folder), *OPTIONS]
    chief, other = [Worker(index, ports, arguments, tmp_path) for index in range(2)]
    assert chief.wait(120) == 2 and other.wait(120) == 1
    assert chief.errors() == [
        f"Error: {folder} already holds a trained model (model.json); "
        "use --restart to train it again from scratch, or choose another --out"
    ]
    assert other.errors() == [
        f"Error: the worker at 127.0.0.1:{ports[0]} could not start (see its message); this worker stops too"
    ]


@pytest.mark.slow
def test_workers_started_with_different_options_all_refuse_in_one_line(dataset_dir: Path, tmp_path: Path) -> None:
    """Issue 21 item 13: chief --epochs 2 and worker --epochs 3 used to run without a word."""
    folder, ports = tmp_path / "model", free_ports(2)
    arguments = ["train", str(dataset_dir), "--out", str(folder)]
    assert OPTIONS[:2] == ["--epochs", "2"]
    chief = Worker(0, ports, [*arguments, *OPTIONS], tmp_path)
    other = Worker(1, ports, [*arguments, "--epochs", "3", *OPTIONS[2:]], tmp_path)
    assert chief.wait(120) == 2 and other.wait(120) == 2, [chief.output(), other.output()]
    expected = (
        f"Error: the workers were started with different options: --epochs differs between the chief at "
        f"127.0.0.1:{ports[0]} and the worker at 127.0.0.1:{ports[1]}; run the same command on every worker"
    )
    assert chief.errors() == [expected] and other.errors() == [expected]
    assert not folder.exists()  # refused before the chief touched the model folder
