"""Which photos a fill reads and where each result goes: paths only, no pixels.

Neither numpy nor the model is needed here, so `inpaint fill` checks its arguments and starts
decoding the first photo before those load.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from inpaint_cli import images
from inpaint_cli.errors import UsageError

OUTPUT_MARK = ".filled"


def output_path(photo: Path, out: Path | None, out_dir: Path | None, relative_folder: Path = Path()) -> Path:
    """Where the filled copy of photo goes: --out, inside --out-dir, or <stem>.filled<suffix> beside it."""
    if out is not None:
        return out
    folder = out_dir / relative_folder if out_dir is not None else photo.parent
    return folder / f"{photo.stem}{OUTPUT_MARK}{photo.suffix}"


@dataclass(frozen=True)
class FillJob:
    """One photo to fill: where it is, where its result goes, and its mask file if any."""

    photo: Path
    target: Path
    mask_path: Path | None


def plan_jobs(
    inputs: list[Path],
    out: Path | None = None,
    out_dir: Path | None = None,
    mask: Path | None = None,
    mask_dir: Path | None = None,
) -> list[FillJob]:
    """Expand files and folders into fill jobs, checking how --out, --out-dir and masks combine; creates nothing.

    Folders are searched recursively; earlier results (<stem>.filled.*) are skipped.
    Under --out-dir, each photo keeps its path relative to the folder it was found in.
    """
    if out is not None and out_dir is not None:
        raise UsageError("give --out or --out-dir, not both")
    if mask is not None and mask_dir is not None:
        raise UsageError("give --mask or --mask-dir, not both")
    for folder, option in ((out_dir, "--out-dir"), (mask_dir, "--mask-dir")):
        if folder is not None and folder.exists() and not folder.is_dir():
            raise UsageError(f"{option} {folder} is a file, not a folder")
    if mask_dir is not None and not mask_dir.is_dir():
        raise UsageError(f"--mask-dir {mask_dir} does not exist")
    if mask is not None and not mask.is_file():
        raise UsageError(f"mask {mask} does not exist" if not mask.exists() else f"mask {mask} is not a file")
    found: list[tuple[Path, Path]] = []
    for source in inputs:
        if source.is_dir():
            photos = [path for path in images.find_images([source]) if not path.stem.endswith(OUTPUT_MARK)]
            found.extend((path, path.parent.relative_to(source)) for path in photos)
        elif source.exists():
            found.append((source, Path()))
        else:
            raise UsageError(f"{source} does not exist")
    if not found:
        raise UsageError(f"no photos (JPEG, PNG, WebP, BMP, TIFF) in {', '.join(map(str, inputs))}")
    if out is not None and (len(found) > 1 or inputs[0].is_dir()):
        raise UsageError(f"--out names one file but {len(found)} photos were given; use --out-dir")
    masks = _masks_by_stem(mask_dir) if mask_dir is not None else {}
    return [
        FillJob(photo, output_path(photo, out, out_dir, relative), mask or masks.get(photo.stem))
        for photo, relative in found
    ]


def make_output_folders(jobs: list[FillJob], out_dir: Path | None) -> None:
    """Create out_dir and the subfolders its results go to; call it once every argument is checked.

    Without out_dir nothing is created: --out must name a file in an existing folder.
    """
    if out_dir is None:
        return
    for folder in dict.fromkeys(job.target.parent for job in jobs):
        folder.mkdir(parents=True, exist_ok=True)


def _masks_by_stem(mask_dir: Path) -> dict[str, Path]:
    """Mask files in mask_dir by file stem (photo.jpg matches photo.png)."""
    return {path.stem: path for path in images.find_images([mask_dir])}


def check_output(photo: Path, target: Path, force: bool) -> None:
    """Refuse to overwrite the input, or an existing output without force."""
    if target.exists() and target.resolve() == photo.resolve():
        raise UsageError(f"output {target} is the input photo; choose another --out")
    if target.exists() and not force:
        raise UsageError(f"{target} already exists; use --force to replace it")
    if target.is_dir():
        raise UsageError(f"output {target} is a folder")
    if not target.parent.is_dir():
        raise UsageError(f"folder {target.parent} does not exist (for --out {target})")
