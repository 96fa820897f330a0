"""The `inpaint` command line: parse, call the library, render with rich.

TensorFlow is imported only inside the commands that need it, so `--help` and
`--version` stay fast.
"""

from __future__ import annotations

import os
import shlex
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from inpaint_cli import __version__
from inpaint_cli.errors import InpaintError, OutputExists, TooManyPixels, UsageError
from inpaint_cli.interrupts import TERMINATED_STATUS, Terminated, raise_on_sigterm
from inpaint_cli.model.model_folder import BUNDLED, model_location
from inpaint_cli.settings import (
    EVALUATION_SEED,
    EXPORT_TOLERANCE,
    MAX_SEED,
    SERVE_HOST,
    SERVE_PORT,
    Loss,
    PrepareConfig,
    Strategy,
    TrainConfig,
)

DEFAULT_LOSS = Loss(TrainConfig.loss)

# Options that several commands take, declared once: one name, one help.
ModelOption = Annotated[
    str, typer.Option(help="A model folder, .tflite or .keras file, or 'bundled' (the model inpaint ships).")
]
MaxPixelsOption = Annotated[
    int | None,
    typer.Option(
        help="Largest photo to read, in pixels (default $INPAINT_MAX_PIXELS or 89478485, "
        "Pillow's guard against decompression bombs).",
        show_default=False,
    ),
]

if TYPE_CHECKING:
    from rich.console import Console
    from rich.progress import Progress

    from inpaint_cli.stages.filling import PhotoOutcome

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

    class GoesOnWithoutReader(Console):
        """A console that goes quiet when its reader goes away (`inpaint train ... | head -1`).

        rich's own ends the program with exit status 1 and no word: a training run would be lost.
        The command goes on, its output dropped, and ends with its own exit status.
        """

        def on_broken_pipe(self) -> None:
            self.quiet = True
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, (sys.stderr if stderr else sys.stdout).fileno())

    return GoesOnWithoutReader(stderr=stderr, soft_wrap=True)


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
        except InpaintError as error:  # raised outside a command's user_errors, e.g. importing TensorFlow
            if not standalone_mode or debug_mode["enabled"]:
                raise
            print_error(with_hint(error))
            sys.exit(error.exit_code)
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
        print_error(with_hint(error))
        raise typer.Exit(error.exit_code) from None
    except Terminated:
        print_error("terminated; nothing was left half-written")
        raise typer.Exit(TERMINATED_STATUS) from None
    except KeyboardInterrupt:
        print_error("interrupted; nothing was left half-written")
        raise typer.Exit(130) from None
    except Exception as error:  # a bug, not a user mistake: still one line, the traceback on --debug
        if debug_mode["enabled"]:
            raise
        print_error(f"unexpected {type(error).__name__}: {error} (run with --debug for the traceback)")
        raise typer.Exit(1) from None


def with_hint(error: InpaintError) -> str:
    """The library's message, plus the option that resolves it where there is one."""
    if isinstance(error, OutputExists):
        return f"{error}; use --force to replace it" + (" (or --skip-existing to keep it)" if error.keepable else "")
    if isinstance(error, TooManyPixels) and error.pixels:
        return f"{error} or --max-pixels {error.pixels}"
    if isinstance(error, TooManyPixels):
        return f"{error} or --max-pixels"
    return str(error)


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
    """Fill holes in photos with a small U-Net that ships with the tool.

    Example: inpaint fill holiday.jpg --box 770,672,68   (writes holiday.filled.jpg)
    """
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
    """A bar on stderr that disappears when done, drawn only on a terminal; rich.progress is imported only here.

    Elsewhere (a pipe, a log file) it would leave a blank line; its console still prints the lines given to it.
    """
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=console(stderr=True),
        disable=not console(stderr=True).is_terminal,
        transient=True,  # the summary line stays; an error leaves no half-drawn bar
    )


def file_progress(progress: Progress, description: str) -> Callable[[int, int, Path, str | None], None]:
    """A per-file callback (done, total, path, why skipped) that moves a bar and prints a skipped file's warning."""
    task = progress.add_task(description, total=None)

    def on_file(done: int, total: int, path: Path, skipped: str | None) -> None:
        if skipped:
            progress.console.print(f"Warning: skipped {skipped}", markup=False, highlight=False)
        progress.update(task, completed=done, total=total)

    return on_file


def _at_least(minimum: int, help_text: str) -> typer.models.OptionInfo:
    """A whole-number option that Typer checks is at least minimum."""
    return typer.Option(min=minimum, help=help_text)


@app.command()
def prepare(
    sources: Annotated[list[Path], typer.Argument(help="Photo files or folders (searched recursively).")],
    out: Annotated[str, typer.Option("--out", help="Dataset folder to write (a local path or a tf.io.gfile URL).")],
    size: Annotated[int, _at_least(16, "Side of the square samples in pixels (multiple of 16).")] = PrepareConfig.size,
    holes_per_image: Annotated[int, _at_least(1, "Square holes drawn per sample.")] = PrepareConfig.holes_per_image,
    hole_min: Annotated[int, _at_least(1, "Smallest hole side in pixels, at --size.")] = PrepareConfig.hole_min,
    hole_max: Annotated[int, _at_least(1, "Largest hole side in pixels, at --size.")] = PrepareConfig.hole_max,
    val_fraction: Annotated[
        float, typer.Option(help="Share of files held out for validation (by path hash).")
    ] = PrepareConfig.val_fraction,
    seed: Annotated[
        int, typer.Option(min=0, max=MAX_SEED, help="Seed of the hole positions and sizes.")
    ] = PrepareConfig.seed,
    preview: Annotated[
        Path | None,
        typer.Option(help="Write a contact sheet of holed samples to this image (format by suffix: .png, .jpg, ...)."),
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Replace an existing dataset in --out (and an existing --preview file).")
    ] = False,
) -> None:
    """Turn folders of photos into a masked training dataset (TFRecord shards + manifest.json).

    Example: inpaint prepare photos/ --out dataset --size 128
    """
    from inpaint_cli.training import dataset

    raise_on_sigterm()  # kill or timeout removes the unfinished dataset, as Ctrl-C does
    with user_errors(), progress_bar() as progress:
        on_file = file_progress(progress, "Preparing")
        config = PrepareConfig(size, holes_per_image, hole_min, hole_max, val_fraction, seed)
        manifest = dataset.prepare(sources, out, config, on_file=on_file, force=force, preview=preview)
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
    epochs: Annotated[int, typer.Option(min=1, help="Passes over the training split.")] = TrainConfig.epochs,
    batch_size: Annotated[
        int, typer.Option(min=1, help="Samples per step over all replicas (split between them).")
    ] = TrainConfig.batch_size,
    learning_rate: Annotated[
        float,
        typer.Option(
            help="Peak learning rate (cosine decay to 1 %) for the global batch; not scaled with the number of "
            "replicas (learning rate x replicas is a good start when you add them)."
        ),
    ] = TrainConfig.learning_rate,
    width: Annotated[
        int | None,
        typer.Option(
            min=1,
            help="Filters at the first U-Net level (doubling per level); a wider one than --init-from's widens it.",
            show_default=f"--init-from's, else {TrainConfig.width}",
        ),
    ] = None,
    seed: Annotated[
        int, typer.Option(min=0, max=MAX_SEED, help="Seed of weights, shuffling and training holes.")
    ] = TrainConfig.seed,
    stroke_fraction: Annotated[
        float,
        typer.Option(
            help="Share of the training holes that are free-form strokes (of those not painted, with "
            "--painted-fraction); the rest are squares.",
            show_default="1/3",
        ),
    ] = TrainConfig.stroke_fraction,
    painted_fraction: Annotated[
        float,
        typer.Option(
            help="Share of training holes painted like users do: irregular blobs (about half cut by the border) "
            "and bands across the sample; the rest are squares and strokes."
        ),
    ] = TrainConfig.painted_fraction,
    zoom_fraction: Annotated[
        float, typer.Option(help="Share of training samples that are random crops enlarged to full size (smooth).")
    ] = TrainConfig.zoom_fraction,
    loss: Annotated[
        Loss,
        typer.Option(
            help="hole-l1 (absolute error, hole pixels weigh 6x), hole-mse (squared error, same weights) "
            "or mse (whole image, the tutorial's)."
        ),
    ] = DEFAULT_LOSS,
    prefill: Annotated[
        bool, typer.Option(help="Start from a smooth fill of the holes and learn a correction (else holes stay 0).")
    ] = TrainConfig.prefill,
    mask_input: Annotated[
        bool, typer.Option(help="Give the network the hole mask as a 4th input channel.")
    ] = TrainConfig.mask_input,
    init_from: Annotated[
        str | None,
        typer.Option(
            help="Start from the weights of this model (.keras, folder, or 'bundled'): fine-tuning. With a larger "
            "--width it is widened first, computing the same fills."
        ),
    ] = None,
    strategy: Annotated[
        Strategy,
        typer.Option(
            help="auto, default, mirrored (all GPUs of this machine) or multi-worker (machines in TF_CONFIG); "
            "auto is mirrored when more than one GPU is visible."
        ),
    ] = Strategy.AUTO,
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
    (fine-tuning the bundled model on more photos: add --init-from bundled --learning-rate 3e-4)
    """
    from inpaint_cli.training import starting_point, training_loop

    def on_epoch(epoch: int, total: int, logs: dict[str, float]) -> None:
        console().print(
            f"epoch {epoch + 1:>3}/{total}  loss {logs.get('loss', float('nan')):.4f}  "
            f"val hole PSNR {logs.get('val_hole_psnr', float('nan')):.2f} dB"
        )

    def on_start(done: int, total: int) -> None:
        if done:
            console().print(f"Resuming the interrupted run in {out} after epoch {done} of {total}.", highlight=False)

    raise_on_sigterm()  # kill, timeout or a scheduler stops it as Ctrl-C does: the finished epochs kept, resumable
    with user_errors():
        if resume and restart:
            raise UsageError("--resume and --restart exclude each other")
        init_from = model_location(init_from) if init_from else None  # a gs:// URL keeps its two slashes
        if init_from and width is None and strategy is Strategy.MULTI_WORKER:
            # Only the chief reads --init-from; each worker must build the same network without it.
            raise UsageError("with --strategy multi-worker, give --width beside --init-from (only the chief reads it)")
        config = TrainConfig(
            epochs=epochs,
            batch_size=batch_size,
            learning_rate=learning_rate,
            width=starting_point.starting_width(width, init_from, out),
            seed=seed,
            stroke_fraction=stroke_fraction,
            painted_fraction=painted_fraction,
            zoom_fraction=zoom_fraction,
            loss=loss.value,
            prefill=prefill,
            mask_input=mask_input,
            init_from=init_from,
        )
        start = "restart" if restart else "resume" if resume else "auto"
        command = command_line(context, skip={"resume", "restart"})
        result = training_loop.train(
            dataset_dir, out, config, on_epoch, start=start, strategy=strategy.value, on_start=on_start, command=command
        )
    if not result.chief:  # another worker of a cluster: the chief reports and writes the model folder
        console().print(f"This worker's share is done; the chief wrote the model to {out}.", highlight=False)
        return
    best = result.card["best"]
    console().print(
        f"Best validation hole PSNR {best['val_hole_psnr']:.2f} dB (epoch {best['epoch']}); "
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
    ] = EXPORT_TOLERANCE,
) -> None:
    """Write model.tflite (float32 LiteRT) beside model.keras, so `inpaint fill` starts without TensorFlow.

    Example: inpaint export my-model
    """
    from inpaint_cli.stages import export as litert_export

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
        list[str],
        typer.Argument(
            help="Photo files or folders (searched recursively); with --cluster also fsspec URLs (s3://...).",
            show_default=False,
        ),
    ],
    box: Annotated[
        list[str] | None,
        typer.Option("--box", help="Square hole as x,y,size in pixels of the upright photo; repeatable."),
    ] = None,
    mask: Annotated[
        str | None,
        typer.Option(
            help="Mask image of the photo's size (as displayed or as stored) or shape (scaled): a pixel is a hole "
            "where any colour channel is above 127 (white, a red stroke) and it is not transparent (alpha above 127)."
        ),
    ] = None,
    mask_dir: Annotated[
        str | None,
        typer.Option(
            help="Folder of masks matched to photos by relative path: masks/sub/x.png for photos/sub/x.jpg "
            "(holes as for --mask)."
        ),
    ] = None,
    out: Annotated[str | None, typer.Option(help="Output file (one photo only); its suffix sets the format.")] = None,
    out_dir: Annotated[str | None, typer.Option(help="Output folder, created when missing.")] = None,
    model: ModelOption = BUNDLED,
    quality: Annotated[
        int | None,
        typer.Option(
            min=1, max=100, help="JPEG or WebP quality; default: a JPEG keeps the source's, a lossy WebP gets 90."
        ),
    ] = None,
    compare: Annotated[
        Path | None, typer.Option(help="Write a before/after picture with the holes outlined (its suffix: the format).")
    ] = None,
    smooth: Annotated[
        bool,
        typer.Option(
            "--smooth",
            help="Skip the texture stage: the network's smooth fill alone (best in PSNR, but a textured "
            "area shows where the hole was).",
        ),
    ] = False,
    force: Annotated[bool, typer.Option("--force", help="Replace existing outputs.")] = False,
    skip_existing: Annotated[
        bool, typer.Option("--skip-existing", help="Leave existing outputs alone (re-running an interrupted folder).")
    ] = False,
    max_pixels: MaxPixelsOption = None,
    jobs: Annotated[
        int, typer.Option("--jobs", min=0, help="Photos filled at once, each in its own process (0: one per core).")
    ] = 1,
    cluster: Annotated[
        str | None,
        typer.Option(
            help="Fill on a Dask cluster: its scheduler's address, tcp://HOST:8786 (pip install 'inpaint\\[cluster]'; "
            "docs/scale.md)."
        ),
    ] = None,
) -> None:
    """Fill holes in photos; writes <stem>.filled<suffix> beside each photo unless --out/--out-dir is given.

    Example: inpaint fill holiday.jpg --box 770,672,68 --out holiday-fixed.jpg
    """
    from inpaint_cli.inpainting.rectangles import parse_box
    from inpaint_cli.stages import filling

    fast_exit["enabled"] = True
    raise_on_sigterm()  # a folder run stopped by kill or timeout removes its half-written file, as Ctrl-C does
    with user_errors():
        sources = [local_path(text, cluster) for text in photos]  # a cluster's workers read fsspec URLs too
        mask_file, mask_folder, out_file, out_folder = (
            local_path(text, cluster) for text in (mask, mask_dir, out, out_dir)
        )
        boxes = [parse_box(text) for text in box or []]
        request = filling.FillRequest(
            sources, boxes, mask_file, mask_folder, out_file, out_folder, model, quality, compare, force, skip_existing,
            max_pixels,
        )  # fmt: skip
        options = filling.FillOptions(texture=not smooth)
        if cluster is None and len(photos) == 1 and not Path(photos[0]).is_dir():
            outcomes = filling.fill_photos(request, options, on_photo=report_unless_maskless)
            if outcomes[0].error is not None:
                raise outcomes[0].error
            if outcomes[0].no_mask:  # the one photo asked for was not filled: a failure, as in a folder
                raise InpaintError(f"{outcomes[0].photo} was not filled: {outcomes[0].skipped}")
            return
        with progress_bar() as progress:
            on_photo = folder_progress(progress)
            if cluster is not None:
                if jobs != 1:
                    raise UsageError("--jobs is for this machine; a cluster's workers run as many as they were given")
                from inpaint_cli.stages import cluster_fill  # Dask: only here

                outcomes = cluster_fill.fill_on_cluster(cluster, request, options, on_photo)
            else:
                outcomes = filling.fill_photos(request, options, on_photo=on_photo, workers=jobs)
    summary, status = folder_summary(outcomes)
    if status:
        print_error(summary)
        raise typer.Exit(status)
    typer.echo(summary, err=True)


def local_path(text: str | None, cluster: str | None) -> Path | str | None:
    """A path option as a Path, or kept as text for a cluster run (an fsspec URL); a URL needs --cluster."""
    if text is None or cluster is not None:
        return text
    if "://" in text:
        raise UsageError(f"{text} is a URL: the workers of a Dask cluster read URLs (add --cluster)")
    return Path(text)


def folder_progress(progress: Progress) -> Callable[[PhotoOutcome, int, int], None]:
    """The report of a folder run: each photo's lines, and the bar with photos/s and failures so far."""
    import time

    task = progress.add_task("Filling", total=None)
    started, failed = time.monotonic(), [0]

    def on_photo(outcome: PhotoOutcome, done: int, total: int) -> None:
        report_photo(outcome, done, total, progress.console.print, in_folder=True)
        failed[0] += outcome.error is not None
        speed = done / max(time.monotonic() - started, 1e-6)
        failures = f", {failed[0]} failed" if failed[0] else ""
        progress.update(task, completed=done, total=total, description=f"Filling ({speed:.1f} photos/s{failures})")

    return on_photo


def report_unless_maskless(outcome: PhotoOutcome, done: int, total: int) -> None:
    """report_photo for one photo, but silent on one without a mask of its own: the error line says it instead."""
    if not outcome.no_mask:
        report_photo(outcome, done, total)


def folder_summary(outcomes: list[PhotoOutcome]) -> tuple[str, int]:
    """The closing line of a folder run, true to what happened, and the exit status.

    A run fails (1) when a photo failed, or when nothing was written and photos were skipped for lack of a mask.
    """
    failed = sum(outcome.error is not None for outcome in outcomes)
    skipped = sum(outcome.error is None and outcome.skipped is not None for outcome in outcomes)
    no_mask = sum(outcome.error is None and outcome.no_mask for outcome in outcomes)
    written = len(outcomes) - failed - skipped
    parts = [f"{written} written" if written else "nothing was written"]
    if skipped:
        parts.append(f"{skipped} skipped")
    if failed:
        head = (
            f"all {failed} photos failed" if failed == len(outcomes) else f"{failed} of {len(outcomes)} photos failed"
        )
        return f"{head}; {', '.join(parts)}", 1
    if no_mask and not written:
        return f"no photo has a mask of its own in --mask-dir; {', '.join(parts)}", 1
    return f"Done: {', '.join(parts)}.", 0


def report_photo(
    outcome: PhotoOutcome,
    done: int,
    total: int,
    say: Callable[..., None] | None = None,
    in_folder: bool = False,
) -> None:
    """Warnings and the result of one photo, on stderr: in a folder run each line names its photo.

    A lone photo's error is raised by the caller instead.
    """

    def line(text: str) -> None:
        if say is None:
            typer.echo(text, err=True)
        else:
            say(text, markup=False, highlight=False)

    named = in_folder or total > 1
    for warning in outcome.warnings:
        line(f"Warning: {outcome.photo}: {warning}" if named else f"Warning: {warning}")
    if outcome.error is not None:
        if named:
            line(f"Error: {outcome.photo}: {with_hint(outcome.error)}")
    elif outcome.skipped is not None:
        line(f"Skipped {outcome.photo}: {outcome.skipped}")
    else:
        line(f"Filled {outcome.photo} -> {outcome.target}")


@app.command()
def evaluate(
    photo_dir: Annotated[Path, typer.Argument(help="Folder of held-out photos (searched recursively, name order).")],
    model: ModelOption = BUNDLED,
    baselines: Annotated[
        str | None,
        typer.Option(
            help="Comma list of classical fills to compare: shiftmap, fsr, telea, ns, biharmonic, mean (default: all)."
        ),
    ] = None,
    smooth: Annotated[bool, typer.Option("--smooth", help="Score the model's fill without the texture stage.")] = False,
    seed: Annotated[
        int, typer.Option(min=0, max=MAX_SEED, help="Seed of the hole sizes and positions (keep it to compare runs).")
    ] = EVALUATION_SEED,
    limit: Annotated[int | None, typer.Option(help="Evaluate only the first N photos.")] = None,
    json_path: Annotated[
        Path | None, typer.Option("--json", help="Write the figures and the protocol to this JSON file.")
    ] = None,
    sheet: Annotated[
        Path | None,
        typer.Option(help="Write an image grid (holed | each method | original) of the first photos (PNG, JPEG, ...)."),
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Replace existing --json and --sheet files.")] = False,
) -> None:
    """Score the model against classical fills on one square hole per photo: hole PSNR, L1, SSIM and speed.

    Example: inpaint evaluate photos/ --json scores.json --sheet sheet.png
    """
    from rich.table import Table

    from inpaint_cli.stages import evaluation, filling

    raise_on_sigterm()  # kill or timeout leaves no half-written --json or --sheet, as Ctrl-C does
    with user_errors(), progress_bar() as progress:
        on_photo = file_progress(progress, "Evaluating")
        result = evaluation.evaluate(
            photo_dir,
            model,
            evaluation.DEFAULT_BASELINES if baselines is None else baselines,
            seed,
            limit,
            filling.FillOptions(texture=not smooth),
            json_path,
            sheet,
            on_photo,
            force,
        )
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


@app.command()
def serve(
    host: Annotated[
        str, typer.Option(help="Address to listen on; any other than 127.0.0.1 lets the network use the page.")
    ] = SERVE_HOST,
    port: Annotated[int, typer.Option(help="Port to listen on (0: any free port).")] = SERVE_PORT,
    model: ModelOption = BUNDLED,
    open_browser: Annotated[bool, typer.Option("--open", help="Open the page in the default browser.")] = False,
    max_pixels: MaxPixelsOption = None,
) -> None:
    """Serve a local web page: open a photo, brush over what should go, fill, download. Ctrl-C stops it (exit 130).

    The page's HTTP API: docs/serve.md.

    Example: inpaint serve --open
    """
    stopped = False
    with user_errors():
        from inpaint_cli.stages import serving  # Starlette and uvicorn: only here

        config = serving.ServeConfig(host, port, model, open_browser, max_pixels)
        try:
            serving.serve(config, on_line=lambda text: typer.echo(text, err=True), on_warning=warn)
        except KeyboardInterrupt:  # uvicorn has shut down cleanly and raises Ctrl-C again
            stopped = True
    if stopped:
        typer.echo("Stopped.", err=True)
        raise typer.Exit(130)


def warn(message: str) -> None:
    """One `Warning: ...` line on stderr."""
    typer.echo(f"Warning: {message}", err=True)


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
