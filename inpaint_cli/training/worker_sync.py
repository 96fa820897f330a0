"""What the workers of a cluster do together, each through one all-reduce: agree on the options and the
epoch to start from, and start from the chief's weights.

Every collective step must run on every worker alike, or the others wait in it; so each of these runs on
all workers, also where one of them fails, and says so to the others. Single-process strategies skip them.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import asdict
from typing import TypeVar

import numpy as np

from inpaint_cli.backend import tf
from inpaint_cli.errors import InpaintError, UsageError
from inpaint_cli.settings import TrainConfig
from inpaint_cli.training import dataset
from inpaint_cli.training.cluster import cluster_addresses, is_multi_worker
from inpaint_cli.training.storage import StoragePath

Began = TypeVar("Began")


def all_workers_start(
    distribution: tf.distribute.Strategy, begin: Callable[[], tuple[Began, dict]]
) -> tuple[Began, dict]:
    """Run begin() on every worker; its result, with the chief's epoch to start from on all of them.

    Every worker must start from the epoch the chief's folder holds, and a worker that fails
    to begin (a refused --resume, a missing dataset) must stop the others rather than leave
    them waiting in the first step: each says whether it failed, through one all-reduce.
    """
    if not is_multi_worker(distribution):
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


def same_options_on_every_worker(
    distribution: tf.distribute.Strategy, config: TrainConfig, dataset_dir: StoragePath
) -> None:
    """Refuse, on every worker alike and before the folder changes, workers started with different training options.

    Each worker puts a fingerprint of each option (and of its dataset's manifest) in its own row of a
    table; one all-reduce gives every worker the whole table, so all find the same differences.
    """
    if not is_multi_worker(distribution):
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


def copy_chief_variables(distribution: tf.distribute.Strategy, variables: list) -> None:
    """Give every worker the chief's values of variables (weights and optimizer state), which only the chief loaded."""
    if not is_multi_worker(distribution):
        return
    # One dtype, so that the all-reduce packs them together; float64 holds float32 and step counts exactly.
    values = [tf.cast(tf.convert_to_tensor(variable.value), tf.float64) for variable in variables]
    for variable, value in zip(variables, _from_each_worker(distribution, values, chief_only=True), strict=True):
        variable.assign(tf.cast(value, variable.dtype))
