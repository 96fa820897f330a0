"""The `inpaint` command line: parse, call the library, render with rich.

TensorFlow is imported only inside the commands that need it, so `--help` and
`--version` stay fast.
"""

from __future__ import annotations

import os
import shlex
import sys
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from inpaint_cli import __version__
from inpaint_cli.errors import InpaintError, UsageError

if TYPE_CHECKING:
    from rich.console import Console
    from rich.progress import Progress

debug_mode = {"enabled": False}  # set by the global --debug option
fast_exit = {"enabled": False}  # set by fill: run() may skip the interpreter's teardown
# Typer raises Click's usage errors; newer Typer vendors Click privately, so find the base class by name.
ClickException = next(cls for cls in typer.BadParameter.__mro__ if cls.__name__ == "ClickException")


@cache
def console(stderr: bool = False) -> Console:
    """rich's console on stdout (or stderr), made on first use.

    Plain lines go through typer.echo instead: importing rich.console takes 25 ms, which a
    one-photo fill (0.35 s in all) does without.
    """
    from rich.console import Console

    return Console(stderr=stderr, soft_wrap=True)


def print_error(message: str) -> None:
    """One `Error: ...` line on stderr, no markup, never wrapped."""
    typer.echo(f"Error: {message}", err=True)


class OneLineErrors(typer.core.TyperGroup):
    """Prints Click's usage errors (unknown command or option, missing argument) as one line.

    Typer draws them as a boxed panel with the usage text; a user needs only what is wrong.
    """

    def main(self, *args: object, standalone_mode: bool = True, **kwargs: object) -> object:
        try:
            result = super().main(*args, standalone_mode=False, **kwargs)
        except ClickException as error:
            if not standalone_mode:
                raise
            context = getattr(error, "ctx", None)
            hint = f" (see {context.command_path} --help)" if context is not None else ""
            print_error(f"{error.format_message()}{hint}")
            sys.exit(error.exit_code)
        except typer.Abort:
            if not standalone_mode:
                raise
            print_error("interrupted")
            sys.exit(130)
        if not standalone_mode:
            return result
        sys.exit(result if isinstance(result, int) else 0)


app = typer.Typer(
    cls=OneLineErrors,
    help="Fill holes in photos with a small neural network (a U-Net), offline.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=True,
)


@contextmanager
def user_errors() -> Iterator[None]:
    """Turn library errors into one `Error: ...` line on stderr and the matching exit status.

    Unexpected exceptions get one line too, unless --debug asks for the traceback.
    """
    try:
        yield
    except InpaintError as error:
        if debug_mode["enabled"]:
            raise
        print_error(str(error))
        raise typer.Exit(error.exit_code) from None
    except KeyboardInterrupt:
        print_error("interrupted; nothing was left half-written")
        raise typer.Exit(130) from None
    except Exception as error:  # a bug, not a user mistake: still one line, the traceback on --debug
        if debug_mode["enabled"]:
            raise
        print_error(f"unexpected {type(error).__name__}: {error} (run with --debug for the traceback)")
        raise typer.Exit(1) from None


def version_callback(value: bool) -> None:
    if value:
        typer.echo(f"inpaint {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: Annotated[
        bool, typer.Option("--version", callback=version_callback, is_eager=True, help="Print the version and exit.")
    ] = False,
    debug: Annotated[bool, typer.Option("--debug", help="Show Python tracebacks for errors.")] = False,
) -> None:
    """Fill holes in photos with a small U-Net that ships with the tool."""
    debug_mode["enabled"] = debug


def command_line(context: typer.Context, skip: set[str] = frozenset()) -> str:
    """The running command with every option spelled out (defaults included), for a model card to record."""
    words = ["inpaint", context.info_name or ""]
    for parameter in context.command.params:
        value = context.params.get(parameter.name)
        if parameter.name in skip or value is None:
            continue
        if parameter.param_type_name == "argument":
            words.extend(str(item) for item in (value if isinstance(value, (list, tuple)) else [value]))
        elif parameter.is_flag and parameter.secondary_opts:
            words.append(parameter.opts[0] if value else parameter.secondary_opts[0])
        elif parameter.is_flag:
            words.extend(parameter.opts[:1] if value else [])
        else:
            words.extend([parameter.opts[0], str(value)])
    return shlex.join(words)


def progress_bar() -> Progress:
    """A bar on stderr that disappears when done; rich.progress is imported only here."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=console(stderr=True),
        transient=True,  # the summary line stays; an error leaves no half-drawn bar
    )


@app.command()
def prepare(
    sources: Annotated[list[Path], typer.Argument(help="Photo files or folders (searched recursively).")],
    out: Annotated[str, typer.Option("--out", help="Dataset folder to write (a local path or a tf.io.gfile URL).")],
    size: Annotated[int, typer.Option(help="Side of the square samples in pixels (multiple of 16).")] = 128,
    holes_per_image: Annotated[int, typer.Option(help="Square holes drawn per sample.")] = 1,
    hole_min: Annotated[int, typer.Option(help="Smallest hole side in pixels, at --size.")] = 16,
    hole_max: Annotated[int, typer.Option(help="Largest hole side in pixels, at --size.")] = 48,
    val_fraction: Annotated[float, typer.Option(help="Share of files held out for validation (by path hash).")] = 0.1,
    seed: Annotated[int, typer.Option(help="Seed of the hole positions and sizes.")] = 0,
    preview: Annotated[Path | None, typer.Option(help="Write a contact sheet of holed samples to this PNG.")] = None,
    force: Annotated[bool, typer.Option("--force", help="Replace an existing dataset in --out.")] = False,
) -> None:
    """Turn folders of photos into a masked training dataset (TFRecord shards + manifest.json).

    Example: inpaint prepare photos/ --out dataset --size 128
    """
    from inpaint_cli import dataset

    with user_errors(), progress_bar() as progress:
        task = progress.add_task("Preparing", total=None)

        def on_file(done: int, total: int, path: Path, skipped: str | None) -> None:
            if skipped:
                progress.console.print(f"Warning: skipped {skipped}", markup=False, highlight=False)
            progress.update(task, completed=done, total=total)

        config = dataset.PrepareConfig(size, holes_per_image, hole_min, hole_max, val_fraction, seed)
        manifest = dataset.prepare(sources, out, config, on_file=on_file, force=force)
        if preview:
            dataset.write_contact_sheet(out, manifest, preview)
    counts = manifest["counts"]
    console().print(
        f"Wrote {counts['train']} training and {counts['validation']} validation samples to {out} "
        f"({counts['skipped']} skipped)."
    )


@app.command()
def train(
    context: typer.Context,
    dataset_dir: Annotated[
        str, typer.Argument(help="A folder written by `inpaint prepare` (a local path or a tf.io.gfile URL).")
    ],
    out: Annotated[str, typer.Option("--out", help="Model folder to write (a local path or a tf.io.gfile URL).")],
    epochs: Annotated[int, typer.Option(help="Passes over the training split.")] = 40,
    batch_size: Annotated[int, typer.Option(help="Samples per step over all replicas (split between them).")] = 32,
    learning_rate: Annotated[
        float,
        typer.Option(
            help="Peak learning rate (cosine decay to 1 %) for the global batch; not scaled with the number of "
            "replicas (learning rate x replicas is a good start when you add them)."
        ),
    ] = 1e-3,
    width: Annotated[int, typer.Option(help="Filters at the first U-Net level (doubling per level).")] = 16,
    seed: Annotated[int, typer.Option(help="Seed of weights, shuffling and training holes.")] = 0,
    stroke_fraction: Annotated[float, typer.Option(help="Share of training holes that are free-form strokes.")] = 1 / 3,
    zoom_fraction: Annotated[
        float, typer.Option(help="Share of training samples that are random crops enlarged to full size (smooth).")
    ] = 0.5,
    loss: Annotated[
        str,
        typer.Option(
            help="hole-l1 (absolute error, hole pixels weigh 6x), hole-mse (squared error, same weights) "
            "or mse (whole image, the tutorial's)."
        ),
    ] = "hole-l1",
    prefill: Annotated[
        bool, typer.Option(help="Start from a smooth fill of the holes and learn a correction (else holes stay 0).")
    ] = True,
    mask_input: Annotated[bool, typer.Option(help="Give the network the hole mask as a 4th input channel.")] = True,
    init_from: Annotated[
        str | None,
        typer.Option(help="Start from the weights of this model (.keras or folder) of the same shape: fine-tuning."),
    ] = None,
    strategy: Annotated[
        str,
        typer.Option(
            help="auto, default, mirrored (all GPUs of this machine) or multi-worker (machines in TF_CONFIG); "
            "auto is mirrored when more than one GPU is visible."
        ),
    ] = "auto",
    resume: Annotated[
        bool, typer.Option("--resume", help="Resume the interrupted run in --out (the default when there is one).")
    ] = False,
    restart: Annotated[
        bool, typer.Option("--restart", help="Delete what --out holds (a finished or interrupted run) and start over.")
    ] = False,
) -> None:
    """Train the U-Net on a prepared dataset; writes model.keras, model.json, history.csv, preview.png.

    A run that was killed or interrupted resumes from its last completed epoch when the same command runs again.

    Example: inpaint train dataset --out my-model --epochs 40
    (fine-tuning the bundled model on more photos: add --init-from models --learning-rate 3e-4)
    """
    from inpaint_cli import training

    config = training.TrainConfig(
        epochs=epochs,
        batch_size=batch_size,
        learning_rate=learning_rate,
        width=width,
        seed=seed,
        stroke_fraction=stroke_fraction,
        zoom_fraction=zoom_fraction,
        loss=loss,
        prefill=prefill,
        mask_input=mask_input,
        init_from=init_from,
    )

    def on_epoch(epoch: int, total: int, logs: dict[str, float]) -> None:
        console().print(
            f"epoch {epoch + 1:>3}/{total}  loss {logs.get('loss', float('nan')):.4f}  "
            f"val hole PSNR {logs.get('val_hole_psnr', float('nan')):.2f} dB"
        )

    def on_start(done: int, total: int) -> None:
        if done:
            console().print(f"Resuming the interrupted run in {out} after epoch {done} of {total}.", highlight=False)

    with user_errors():
        if resume and restart:
            raise UsageError("--resume and --restart exclude each other")
        start = "restart" if restart else "resume" if resume else "auto"
        command = command_line(context, skip={"resume", "restart"})
        result = training.train(
            dataset_dir, out, config, on_epoch, start=start, strategy=strategy, on_start=on_start, command=command
        )
    if not result.chief:  # another worker of a cluster: the chief reports and writes the model folder
        console().print(f"This worker's share is done; the chief wrote the model to {out}.", highlight=False)
        return
    best = result.card["best"]
    console().print(
        f"Best validation hole PSNR {best['val_hole_psnr']:.2f} dB (epoch {best['epoch'] + 1}); "
        f"model written to {out.rstrip('/')}/model.keras",
        highlight=False,
    )
    for note in result.notes:
        console().print(note, markup=False, highlight=False)


@app.command()
def export(
    model_dir: Annotated[Path, typer.Argument(help="Model folder holding model.keras (as `inpaint train` writes it).")],
    tolerance: Annotated[
        float, typer.Option(help="Largest absolute difference allowed from the Keras model's output (RGB in [0, 1]).")
    ] = 1e-4,
) -> None:
    """Write model.tflite (float32 LiteRT) beside model.keras, so `inpaint fill` starts without TensorFlow.

    Example: inpaint export my-model
    """
    from inpaint_cli import export as litert_export

    with user_errors(), console(stderr=True).status("Converting to LiteRT"):
        result = litert_export.export(model_dir, tolerance=tolerance)
    console().print(
        f"Wrote {result.path} ({result.size_bytes / 1e6:.1f} MB); largest difference from the Keras model "
        f"on {result.samples} sample inputs: {result.max_difference:.2g} (tolerance {result.tolerance:g})",
        highlight=False,
    )


@app.command()
def fill(
    photos: Annotated[
        list[Path], typer.Argument(help="Photo files or folders (searched recursively).", show_default=False)
    ],
    box: Annotated[
        list[str] | None,
        typer.Option("--box", help="Square hole as x,y,size in pixels of the upright photo; repeatable."),
    ] = None,
    mask: Annotated[Path | None, typer.Option(help="Mask image, white = hole (resized to each photo).")] = None,
    mask_dir: Annotated[Path | None, typer.Option(help="Folder of masks matched to photos by file stem.")] = None,
    out: Annotated[Path | None, typer.Option(help="Output file (one photo only); its suffix sets the format.")] = None,
    out_dir: Annotated[Path | None, typer.Option(help="Output folder, created when missing.")] = None,
    model: Annotated[
        Path | None, typer.Option(help="A model folder, .tflite or .keras file (default: the bundled model).")
    ] = None,
    quality: Annotated[
        int | None, typer.Option(min=1, max=100, help="JPEG quality; default: keep the source JPEG's quality.")
    ] = None,
    compare: Annotated[Path | None, typer.Option(help="Write a before/after PNG with the holes outlined.")] = None,
    force: Annotated[bool, typer.Option("--force", help="Replace existing outputs.")] = False,
) -> None:
    """Fill holes in photos; writes <stem>.filled<suffix> beside each photo unless --out/--out-dir is given.

    Example: inpaint fill examples/picos_de_europa.jpg --box 770,672,68
    """
    from inpaint_cli import images, planning

    fast_exit["enabled"] = True
    with user_errors():
        if not box and mask is None and mask_dir is None:
            raise UsageError("no holes to fill: give at least one --box x,y,size or a --mask")
        jobs = planning.plan_jobs(photos, out, out_dir, mask, mask_dir)
        # The first photo decodes in the background from here on, while numpy and the model load (30 ms).
        reader = images.PhotoReader(job.photo for job in jobs)
        from inpaint_cli import filling, masking

        boxes = [masking.parse_box(text) for text in box or []]
        if compare is not None and len(jobs) > 1:
            raise UsageError("--compare writes one picture: use it with one photo")
        planning.make_output_folders(jobs, out_dir)
        if len(jobs) == 1:  # a refused output is reported before the model loads (4 s for a .keras)
            planning.check_output(jobs[0].photo, jobs[0].target, force)
        filler = filling.Filler(model)
        filler.model  # noqa: B018 - load it now
    failures = 0
    # One photo gets no progress bar, and rich.progress is not even imported (10 ms of a 0.4 s fill).
    with progress_bar() if len(jobs) > 1 else nullcontext() as progress:
        task = progress.add_task("Filling", total=len(jobs)) if progress else None

        def say(message: str) -> None:  # on stderr, like the progress bar, whatever the number of photos
            if progress:
                progress.console.print(message, markup=False, highlight=False)
            else:
                typer.echo(message, err=True)

        def warn(message: str) -> None:
            say(f"Warning: {message}")

        for job in jobs:
            try:
                with user_errors():
                    filler.fill_file(
                        job.photo, job.target, boxes, job.mask_path, force, quality, compare, warn, reader.open
                    )
                    say(f"Filled {job.photo} -> {job.target}")
            except typer.Exit as failed:
                if len(jobs) == 1:
                    raise
                failures += 1 if failed.exit_code else 0
            if progress:
                progress.advance(task)
    if failures:
        print_error(f"{failures} of {len(jobs)} photos failed; the others were written")
        raise typer.Exit(1)


@app.command()
def evaluate(
    photo_dir: Annotated[Path, typer.Argument(help="Folder of held-out photos (searched recursively, name order).")],
    model: Annotated[
        Path | None, typer.Option(help="A .keras file or model folder (default: the bundled model).")
    ] = None,
    baselines: Annotated[
        str, typer.Option(help="Comma list of classical fills to compare: telea, ns, biharmonic, mean.")
    ] = "telea,ns,biharmonic,mean",
    seed: Annotated[int, typer.Option(help="Seed of the hole sizes and positions (keep it to compare runs).")] = 1234,
    limit: Annotated[int | None, typer.Option(help="Evaluate only the first N photos.")] = None,
    json_path: Annotated[
        Path | None, typer.Option("--json", help="Write the figures and the protocol to this JSON file.")
    ] = None,
    sheet: Annotated[
        Path | None, typer.Option(help="Write a PNG grid (holed | each method | original) of the first photos.")
    ] = None,
) -> None:
    """Score the model against classical fills on one square hole per photo: hole PSNR, L1, SSIM and speed.

    Example: inpaint evaluate photos/ --json scores.json --sheet sheet.png
    """
    from rich.table import Table

    from inpaint_cli import evaluation

    with user_errors():
        names = evaluation.parse_baselines(baselines)
        evaluation.check_outputs(json_path, sheet)
        with progress_bar() as progress:
            task = progress.add_task("Evaluating", total=None)

            def on_photo(done: int, total: int, path: Path, skipped: str | None) -> None:
                if skipped:
                    progress.console.print(f"Warning: skipped {skipped}", markup=False, highlight=False)
                progress.update(task, completed=done, total=total)

            result = evaluation.run_evaluation(photo_dir, model, names, seed=seed, limit=limit, on_photo=on_photo)
        if json_path:
            evaluation.write_json(result, json_path)
        if sheet:
            evaluation.write_sheet(result, sheet)
    protocol = result.protocol
    table = Table(
        title=f"Hole fill on {protocol.photos} photos at {protocol.size} px",
        caption=f"one square hole of {protocol.hole_min}-{protocol.hole_max} px per photo, seed {protocol.seed}",
    )
    for heading in evaluation.TABLE_COLUMNS:
        table.add_column(heading, justify="left" if heading == "Method" else "right")
    for row in result.table_rows():
        table.add_row(*row)
    console().print(table)
    for written in (json_path, sheet):
        if written:
            console().print(f"Wrote {written}", highlight=False)


def run() -> None:
    """Console-script entry point.

    After `fill`, exits without the interpreter's teardown: freeing a 12 MP image, LiteRT and
    every module took 30 ms of a 0.4 s fill, and fill has closed every file by then (each is
    renamed into place when complete). Other commands exit normally.
    """
    try:
        app()
        code: int = 0
    except SystemExit as stop:
        if not fast_exit["enabled"]:
            raise
        if stop.code is not None and not isinstance(stop.code, int):
            print(stop.code, file=sys.stderr)
        code = stop.code if isinstance(stop.code, int) else 0 if stop.code is None else 1
    if fast_exit["enabled"]:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


if __name__ == "__main__":
    sys.exit(run())
