"""The `inpaint` command line: parse, call the library, render with rich.

TensorFlow is imported only inside the commands that need it, so `--help` and
`--version` stay fast.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from inpaint_cli import __version__
from inpaint_cli.errors import InpaintError

app = typer.Typer(
    help="Fill holes in photos with a small neural network (a U-Net), offline.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=True,
)
console = Console(soft_wrap=True)
error_console = Console(stderr=True, soft_wrap=True)


@contextmanager
def user_errors(debug: bool = False) -> Iterator[None]:
    """Turn library errors into one `Error: ...` line on stderr and the matching exit status."""
    try:
        yield
    except InpaintError as error:
        if debug:
            raise
        error_console.print(f"Error: {error}", markup=False, highlight=False, soft_wrap=True)
        raise typer.Exit(error.exit_code) from None
    except KeyboardInterrupt:
        error_console.print("Interrupted.", markup=False)
        raise typer.Exit(130) from None


def version_callback(value: bool) -> None:
    if value:
        console.print(f"inpaint {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: Annotated[
        bool, typer.Option("--version", callback=version_callback, is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    """Fill holes in photos with a small U-Net that ships with the tool."""


def progress_bar() -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=error_console,
        transient=False,
    )


@app.command()
def prepare(
    sources: Annotated[list[Path], typer.Argument(help="Photo files or folders (searched recursively).")],
    out: Annotated[Path, typer.Option("--out", help="Dataset folder to write.")],
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
    console.print(
        f"Wrote {counts['train']} training and {counts['validation']} validation samples to {out} "
        f"({counts['skipped']} skipped)."
    )


@app.command()
def train(
    dataset_dir: Annotated[Path, typer.Argument(help="A folder written by `inpaint prepare`.")],
    out: Annotated[Path, typer.Option("--out", help="Model folder to write.")],
    epochs: Annotated[int, typer.Option(help="Passes over the training split.")] = 40,
    batch_size: Annotated[int, typer.Option(help="Samples per step.")] = 32,
    learning_rate: Annotated[float, typer.Option(help="Peak learning rate (cosine decay to 1 %).")] = 1e-3,
    width: Annotated[int, typer.Option(help="Filters at the first U-Net level (doubling per level).")] = 16,
    seed: Annotated[int, typer.Option(help="Seed of weights, shuffling and training holes.")] = 0,
    stroke_fraction: Annotated[float, typer.Option(help="Share of training holes that are free-form strokes.")] = 1 / 3,
) -> None:
    """Train the U-Net on a prepared dataset; writes model.keras, model.json, history.csv, preview.png.

    Example: inpaint train dataset --out my-model --epochs 40
    """
    from inpaint_cli import training

    config = training.TrainConfig(
        epochs=epochs,
        batch_size=batch_size,
        learning_rate=learning_rate,
        width=width,
        seed=seed,
        stroke_fraction=stroke_fraction,
    )

    def on_epoch(epoch: int, total: int, logs: dict[str, float]) -> None:
        console.print(
            f"epoch {epoch + 1:>3}/{total}  loss {logs.get('loss', float('nan')):.4f}  "
            f"val hole PSNR {logs.get('val_hole_psnr', float('nan')):.2f} dB"
        )

    with user_errors():
        card = training.train(dataset_dir, out, config, on_epoch)
    best = card["best"]
    console.print(
        f"Best validation hole PSNR {best['val_hole_psnr']:.2f} dB (epoch {best['epoch'] + 1}); "
        f"model written to {out}/model.keras"
    )


@app.command()
def fill(
    photos: Annotated[list[Path], typer.Argument(help="Photo files to fill.", show_default=False)],
    box: Annotated[
        list[str], typer.Option("--box", help="Square hole as x,y,size in pixels of the upright photo; repeatable.")
    ],
    out: Annotated[Path | None, typer.Option(help="Output file (one photo only).")] = None,
    out_dir: Annotated[Path | None, typer.Option(help="Output folder, created when missing.")] = None,
    model: Annotated[
        Path | None, typer.Option(help="A .keras file or model folder (default: the bundled model).")
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Replace existing outputs.")] = False,
) -> None:
    """Fill square holes in photos; writes <stem>.filled<suffix> beside each photo unless --out/--out-dir is given.

    Example: inpaint fill examples/bridge.jpg --box 700,420,96
    """
    from inpaint_cli import filling, masking

    with user_errors():
        boxes = [masking.parse_box(text) for text in box]
        targets = fill_targets(photos, out, out_dir)
        filler = filling.Filler(model)
        for photo, target in targets:
            filler.fill_file(photo, target, boxes, force=force)
            console.print(f"Filled {len(boxes)} hole(s) in {photo} -> {target}", highlight=False)


def fill_targets(photos: list[Path], out: Path | None, out_dir: Path | None) -> list[tuple[Path, Path]]:
    """Pair each photo with its output path, checking --out / --out-dir usage."""
    from inpaint_cli import filling
    from inpaint_cli.errors import UsageError

    if out is not None and out_dir is not None:
        raise UsageError("give --out or --out-dir, not both")
    if out is not None and len(photos) > 1:
        raise UsageError(f"--out names one file but {len(photos)} photos were given; use --out-dir")
    if out_dir is not None:
        if out_dir.exists() and not out_dir.is_dir():
            raise UsageError(f"--out-dir {out_dir} is a file, not a folder")
        out_dir.mkdir(parents=True, exist_ok=True)
    return [(photo, filling.output_path(photo, out, out_dir)) for photo in photos]


def run() -> None:
    """Console-script entry point."""
    app()


if __name__ == "__main__":
    sys.exit(run())
