"""Train inpaint's network from photo folders on any Keras backend, e.g. JAX on a GPU machine with no TensorFlow.

    KERAS_BACKEND=jax python scripts/train_from_photos.py PHOTOS... --out MODEL [--epochs 40] [--width 20]

The same network, loss, schedule, split and samples as `inpaint prepare` + `inpaint train` with the same
options and the defaults of the others (inpaint_cli/training/array_training.py); no resuming and no
strategies. Needs numpy, Pillow and
Keras 3 with a backend; bring MODEL back and run `inpaint export MODEL` where TensorFlow is installed.
docs/training.md ("Training on a GPU without TensorFlow") shows how the wheels and photos travel.
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a checkout without installing it

from inpaint_cli.errors import InpaintError, UsageError  # noqa: E402
from inpaint_cli.interrupts import how_stopped, raise_on_sigterm  # noqa: E402
from inpaint_cli.settings import PrepareConfig, RunLimits, TrainConfig  # noqa: E402


def main() -> int:
    defaults, prepare_defaults = TrainConfig(), PrepareConfig()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("photos", nargs="+", type=Path, help="Folders (or files) of training photos.")
    parser.add_argument("--out", type=Path, required=True, help="The model folder to write (new or empty).")
    parser.add_argument("--epochs", type=int, default=defaults.epochs)
    parser.add_argument("--batch-size", type=int, default=defaults.batch_size)
    parser.add_argument("--learning-rate", type=float, default=defaults.learning_rate)
    parser.add_argument(
        "--width", type=int, help=f"Filters at the first U-Net level (default: --init-from's, else {defaults.width})."
    )
    parser.add_argument("--stroke-fraction", type=float, default=defaults.stroke_fraction)
    parser.add_argument("--painted-fraction", type=float, default=defaults.painted_fraction)
    parser.add_argument("--zoom-fraction", type=float, default=defaults.zoom_fraction)
    parser.add_argument("--seed", type=int, default=defaults.seed)
    parser.add_argument(
        "--init-from",
        help="A model to start from (.keras, folder, or 'bundled'); with a larger --width it is widened first.",
    )
    parser.add_argument("--size", type=int, default=prepare_defaults.size, help="Sample side (as prepare --size).")
    parser.add_argument("--hole-min", type=int, default=prepare_defaults.hole_min, help="As prepare --hole-min.")
    parser.add_argument("--hole-max", type=int, default=prepare_defaults.hole_max, help="As prepare --hole-max.")
    parser.add_argument("--val-fraction", type=float, default=prepare_defaults.val_fraction)
    parser.add_argument("--steps-per-epoch", type=int, help="Default: one pass over the training photos.")
    parser.add_argument("--minutes", type=float, help="Stop after the first epoch that ends past this many minutes.")
    parser.add_argument(
        "--processes", type=int, default=0, help="Processes drawing batches ahead (default 0: in this one)."
    )
    parser.add_argument("--bfloat16", action="store_true", help="Mixed bfloat16 precision (recent GPUs).")
    args = parser.parse_args()
    raise_on_sigterm()  # kill, timeout or a scheduler stops it as Ctrl-C does: what was published stays
    try:
        return train(args)
    except InpaintError as error:
        print(f"Error: {error}", file=sys.stderr)
        return error.exit_code
    except KeyboardInterrupt as stop:  # outside the epochs (loading photos, building the model): nothing to keep
        stopped, status = how_stopped(stop)
        print(f"Error: {stopped}", file=sys.stderr)
        return status


def train(args: argparse.Namespace) -> int:
    """Check the options, train, and say where the best model is; InpaintError for the user's mistakes."""
    from inpaint_cli.model.model_folder import model_location
    from inpaint_cli.training.starting_point import starting_width

    missing = [str(folder) for folder in args.photos if not folder.exists()]
    if missing:
        raise UsageError(f"no such file or folder: {', '.join(missing)}")
    init_from = model_location(args.init_from) if args.init_from else None  # a gs:// URL keeps its "//"
    config = TrainConfig(
        epochs=args.epochs,
        batch_size=args.batch_size,
        learning_rate=args.learning_rate,
        width=starting_width(args.width, init_from),
        seed=args.seed,
        stroke_fraction=args.stroke_fraction,
        painted_fraction=args.painted_fraction,
        zoom_fraction=args.zoom_fraction,
        init_from=init_from,
    )
    prepare = PrepareConfig(
        size=args.size, hole_min=args.hole_min, hole_max=args.hole_max, val_fraction=args.val_fraction
    )
    limits = RunLimits(args.steps_per_epoch, args.minutes, args.processes, args.bfloat16)
    for options in (config, prepare, limits):
        options.check()
    try:
        from inpaint_cli.training.array_training import train_from_photos
    except InpaintError as error:
        hint = "" if os.environ.get("KERAS_BACKEND") else "; or set KERAS_BACKEND=jax to train without TensorFlow"
        raise InpaintError(f"{error}{hint}") from None
    card = train_from_photos(args.photos, args.out, config, prepare, limits, command=shlex.join(["python", *sys.argv]))
    best = card["best"]
    print(f"Best validation hole PSNR {best['val_hole_psnr']:.2f} dB at epoch {best['epoch']}; model in {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
