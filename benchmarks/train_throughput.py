"""Training images/s through the real input pipeline beside the same model fed from memory, plus XLA and bfloat16.

Rows, all in one process on the default device (--rows picks and orders them):
  input      the input pipeline alone: training_loop.training_batches iterated without a model, i.e. how
             fast it can feed with no model competing for the cores;
  pipeline   the model fed by training_loop.training_batches (the tf.data stream `inpaint train` fits on);
  memory     the same model fed one batch of the same shape (the pipeline's first) over and over, from
             a tf.data.Dataset.from_tensors(batch).repeat() that does no work;
  xla        as memory, compiled with jit_compile=True (XLA);
  bf16       as memory, under keras.mixed_precision policy "mixed_bfloat16" (the output layer stays
             float32);
  xla-bf16   both;
  pipeline-bf16, pipeline-xla   the pipeline row under bfloat16 or XLA.
Every model row builds a fresh U-Net (model.build_unet, --width, the dataset's sample size, seed 0),
compiles it as `inpaint train` does (network.compile_for_training: Adam on the cosine schedule,
hole-weighted L1, hole PSNR) and runs one fit() of --warmup + --steps steps of --batch-size. The
warm-up steps are not timed (tracing, XLA compiling, the pipeline's first shuffle window); the clock
runs from the end of the last warm-up step to the end of fit(). Rows without xla use Keras's
default jit_compile="auto", as `inpaint train` does: XLA off on a machine without a GPU, on with one.

Prints images/s per row, each row against `memory` (float32, no XLA on a CPU), and the pipeline's
cost: 1 - pipeline / memory (target: at most 10 %). The load average before the run is printed
because other processes on the same cores slow every row.

Usage: python benchmarks/train_throughput.py [--dataset DIR] [--steps 40] [--warmup 5] [--batch-size 32]
                                             [--width 16] [--rows input,pipeline,memory,xla,bf16]
Without --dataset, the first --photos-count (512) photos of ../shared/data/mountains/train are prepared
(128 px, `inpaint prepare`'s defaults) into a temporary folder first.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DEFAULT_PHOTOS = REPO.parent / "shared" / "data" / "mountains" / "train"
TARGET_PIPELINE_COST = 0.10


@dataclass(frozen=True)
class Row:
    """One measurement: what feeds the model, whether XLA compiles it, the Keras dtype policy."""

    feed: str  # "pipeline", "memory" or "none" (the input pipeline alone)
    jit_compile: bool | str = "auto"
    policy: str = "float32"


ROWS = {
    "input": Row("none"),
    "pipeline": Row("pipeline"),
    "memory": Row("memory"),
    "xla": Row("memory", jit_compile=True),
    "bf16": Row("memory", policy="mixed_bfloat16"),
    "xla-bf16": Row("memory", jit_compile=True, policy="mixed_bfloat16"),
    "pipeline-bf16": Row("pipeline", policy="mixed_bfloat16"),
    "pipeline-xla": Row("pipeline", jit_compile=True),
}
BASELINE = "memory"


def prepare_small(photos: Path, count: int, folder: Path) -> Path:
    """Prepare the first count photos of a folder (sorted by name) with `inpaint prepare`'s defaults."""
    from inpaint_cli.training import dataset

    files = sorted(path for path in photos.iterdir() if path.suffix.lower() in {".jpg", ".jpeg", ".png"})[:count]
    if not files:
        sys.exit(f"no photos in {photos}")
    dataset.prepare(files, folder, dataset.PrepareConfig())
    return folder


def input_only(batches, warmup: int, steps: int) -> float:
    """Images/s of the input pipeline iterated alone."""
    iterator = iter(batches)
    for _ in range(warmup):
        next(iterator)
    started = time.perf_counter()
    count = 0
    for _ in range(steps):
        inputs, _ = next(iterator)
        count += int(inputs.shape[0])
    return count / (time.perf_counter() - started)


def fit_throughput(row: Row, batches, model_config, config, warmup: int, steps: int) -> float:
    """Images/s of fit() on a fresh model, warm-up steps left out."""
    from inpaint_cli.backend import keras, tf
    from inpaint_cli.model import network

    class StepClock(keras.callbacks.Callback):
        """Starts the clock when the last warm-up step ends; stops it when fit() ends."""

        def on_train_batch_end(self, batch: int, logs: dict[str, float] | None = None) -> None:
            if batch == warmup - 1:
                self.started = time.perf_counter()

        def on_train_end(self, logs: dict[str, float] | None = None) -> None:
            self.ended = time.perf_counter()

    if row.feed == "memory":
        batches = tf.data.Dataset.from_tensors(next(iter(batches))).repeat()
    keras.backend.clear_session()
    keras.mixed_precision.set_global_policy(row.policy)
    try:
        keras.utils.set_random_seed(0)
        unet = network.build_unet(model_config)
        network.compile_for_training(unet, config, warmup + steps, jit_compile=row.jit_compile)
        clock = StepClock()
        unet.fit(batches, epochs=1, steps_per_epoch=warmup + steps, callbacks=[clock], shuffle=False, verbose=0)
    finally:
        keras.mixed_precision.set_global_policy("float32")
    return steps * config.batch_size / (clock.ended - clock.started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", help="A prepared dataset (default: prepare a small one into a temporary folder).")
    parser.add_argument("--photos", type=Path, default=DEFAULT_PHOTOS, help="Photos for the default dataset.")
    parser.add_argument("--photos-count", type=int, default=512, help="How many of them the default dataset takes.")
    parser.add_argument("--steps", type=int, default=40, help="Timed training steps per row.")
    parser.add_argument("--warmup", type=int, default=5, help="Steps run before the clock starts (at least 1).")
    parser.add_argument("--batch-size", type=int, default=32, help="Samples per step.")
    parser.add_argument("--width", type=int, default=16, help="Filters at the first U-Net level.")
    parser.add_argument("--rows", default="input,pipeline,memory,xla,bf16", help=f"Comma list of: {', '.join(ROWS)}.")
    args = parser.parse_args()
    names = args.rows.split(",")
    unknown = [name for name in names if name not in ROWS]
    if unknown or args.warmup < 1 or args.steps < 1:
        parser.error(f"unknown rows {unknown}" if unknown else "--warmup and --steps must be at least 1")
    load = os.getloadavg()[0]

    from inpaint_cli.backend import keras, tf
    from inpaint_cli.model import network
    from inpaint_cli.training import dataset, training_loop

    with tempfile.TemporaryDirectory(prefix="train-throughput-") as temporary:
        folder = args.dataset or prepare_small(args.photos, args.photos_count, Path(temporary) / "dataset")
        manifest = dataset.load_manifest(folder)
        config = training_loop.TrainConfig(batch_size=args.batch_size, width=args.width)
        model_config = network.ModelConfig(input_size=int(manifest["parameters"]["size"]), width=args.width)
        gpus = tf.config.list_physical_devices("GPU")
        print(
            f"TensorFlow {tf.__version__}, Keras {keras.__version__}, {len(gpus)} GPU(s), {os.cpu_count()} CPUs, "
            f"load average {load:.2f} before the run; jit_compile='auto' means XLA {'on' if gpus else 'off'} here"
        )
        print(
            f"dataset {folder} ({manifest['counts']['train']} train samples), {model_config.input_size} px, "
            f"width {args.width}, batch {args.batch_size}, {args.warmup} warm-up + {args.steps} timed steps per row"
        )
        speeds: dict[str, float] = {}
        for name in names:
            row = ROWS[name]
            batches = training_loop.training_batches(folder, manifest, config)
            if row.feed == "none":
                speeds[name] = input_only(batches, args.warmup, args.steps)
            else:
                speeds[name] = fit_throughput(row, batches, model_config, config, args.warmup, args.steps)
            print(f"{name:<14} {speeds[name]:8.1f} images/s", flush=True)
    if BASELINE not in speeds:
        return
    for name, speed in speeds.items():
        if name != BASELINE:
            print(f"{name} / {BASELINE}: {speed / speeds[BASELINE]:.2f}x")
    if "pipeline" in speeds:
        cost = 1 - speeds["pipeline"] / speeds[BASELINE]
        print(f"pipeline cost: {cost * 100:.1f} % of the in-memory speed (target: at most {TARGET_PIPELINE_COST:.0%})")


if __name__ == "__main__":
    main()
