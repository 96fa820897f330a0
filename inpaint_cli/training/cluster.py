"""The cluster of --strategy: the tf.distribute strategy, TF_CONFIG's workers, and which one is the chief.

A multi-worker start that does not form within worker_timeout() seconds is ended by a watchdog
process (watchdog.py). Collective steps across the workers are worker_sync.py's.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from inpaint_cli.backend import tf
from inpaint_cli.errors import UsageError
from inpaint_cli.settings import STRATEGIES

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


def _multi_worker_strategy() -> tf.distribute.Strategy:
    """MultiWorkerMirroredStrategy over TF_CONFIG's cluster; one line and the end of the process if it does not form.

    TensorFlow waits for the other workers without end, in native code that holds Python's
    lock, so a watchdog process ends this one (SIGKILL) after worker_timeout() seconds,
    naming the workers it cannot connect to (watchdog.py).
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
    # The watchdog runs in a process of its own: while TensorFlow waits for the cluster, it holds Python's
    # lock in native code, where no thread, signal handler or exception runs.
    watchdog = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "inpaint_cli.training.watchdog",
            str(os.getpid()),
            str(timeout),
            WORKER_TIMEOUT_ENV,
            *others,
        ],
        stdin=subprocess.PIPE,
        env=_watchdog_environment(),
    )
    try:
        return tf.distribute.MultiWorkerMirroredStrategy()
    finally:
        watchdog.stdin.close()
        watchdog.wait()


def _watchdog_environment() -> dict[str, str]:
    """This environment with the folder holding inpaint_cli first on PYTHONPATH, so the watchdog runs this code."""
    here = str(Path(__file__).resolve().parent.parent.parent)
    paths = [here, *(path for path in os.environ.get("PYTHONPATH", "").split(os.pathsep) if path)]
    return {**os.environ, "PYTHONPATH": os.pathsep.join(paths)}


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


def is_multi_worker(distribution: tf.distribute.Strategy) -> bool:
    """Whether this process is one of several workers, which then must do every collective step together."""
    return isinstance(distribution, tf.distribute.MultiWorkerMirroredStrategy) and bool(
        getattr(distribution.extended, "_num_workers", 1) > 1
    )
