"""Which photos a fill reads and where each result goes: paths only, no pixels.

Neither numpy nor the model is needed here, so `inpaint fill` checks its arguments and starts
decoding the first photo before those load.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from inpaint_cli.errors import InpaintError, OutputExists, UsageError
from inpaint_cli.files import images

OUTPUT_MARK = ".filled"


def output_path(photo: Path, out: Path | None, out_dir: Path | None, relative_folder: Path = Path()) -> Path:
    """Where the filled copy of photo goes: --out, inside --out-dir, or <stem>.filled<suffix> beside it."""
    if out is not None:
        return out
    folder = out_dir / relative_folder if out_dir is not None else photo.parent
    return folder / f"{photo.stem}{OUTPUT_MARK}{photo.suffix}"


@dataclass(frozen=True)
class FillJob:
    """One photo to fill: where it is, where its result goes, and its mask file if any.

    mask_sought: under --mask-dir, the mask path looked for without its suffix (mask_dir/sub-folders/stem).
    """

    photo: Path
    target: Path
    mask_path: Path | None
    mask_sought: Path | None = None


def plan_jobs(
    inputs: list[Path],
    out: Path | None = None,
    out_dir: Path | None = None,
    mask: Path | None = None,
    mask_dir: Path | None = None,
) -> list[FillJob]:
    """Expand files and folders into fill jobs, checking how --out, --out-dir and masks combine; creates nothing.

    Folders are searched recursively; earlier results (<stem>.filled.*) are skipped, and a
    photo given twice is filled once. Under --out-dir, each photo keeps its path relative to
    the folder it was found in, and under --mask-dir its mask is found at the same relative
    path with any image suffix (two candidates are an error naming both).
    """
    if out is not None and out_dir is not None:
        raise UsageError("give one output file or an output folder, not both")
    if mask is not None and mask_dir is not None:
        raise UsageError("give one mask or a folder of masks, not both")
    for folder, role in ((out_dir, "output folder"), (mask_dir, "mask folder")):
        if folder is not None and folder.exists() and not folder.is_dir():
            raise UsageError(f"the {role} {folder} is a file, not a folder")
    if mask_dir is not None and not mask_dir.is_dir():
        raise UsageError(f"the mask folder {mask_dir} does not exist")
    if mask is not None and not mask.is_file():
        raise UsageError(f"mask {mask} does not exist" if not mask.exists() else f"mask {mask} is not a file")
    found: list[tuple[Path, Path]] = []
    for source in inputs:
        if source.is_dir():
            photos = [path for path in images.find_images([source]) if not path.stem.endswith(OUTPUT_MARK)]
            found.extend((path, path.parent.relative_to(source)) for path in photos)
        else:
            found.append((images.regular_file(source), Path()))
    if not found:
        raise UsageError(f"no photos (JPEG, PNG, WebP, BMP, TIFF) in {', '.join(map(str, inputs))}")
    unique: dict[Path, tuple[Path, Path]] = {}
    for photo, relative in found:
        unique.setdefault(photo.resolve(), (photo, relative))
    found = list(unique.values())
    if out is not None and (len(found) > 1 or inputs[0].is_dir()):
        raise UsageError(f"one output file was named but {len(found)} photos were given; name an output folder")
    jobs, listed = [], {}
    for photo, relative in found:
        target = output_path(photo, out, out_dir, relative)
        if mask_dir is None:
            jobs.append(FillJob(photo, target, mask))
        else:
            sought = mask_dir / relative / photo.stem
            photo_mask = _mask_for(photo, sought, listed)
            if photo_mask is not None and photo_mask.resolve() == photo.resolve():
                raise UsageError(f"--mask-dir {mask_dir} holds the photos themselves: {photo} would be its own mask")
            jobs.append(FillJob(photo, target, photo_mask, sought))
    return jobs


def refuse_clashes(jobs: list[tuple[str, str, str | None]], force: bool, exists: Callable[[str], bool]) -> None:
    """Refuse, before anything is written, a run in which one result would be lost: two results going to one file
    (unless that file exists and is kept, so each is refused on its own), or with --force a result going onto a
    mask or onto another photo of the run (without it, an existing file is kept anyway).

    Two results whose paths differ only in letter case are one file on macOS, Windows and FAT or exFAT drives:
    the second would fail at write time, after the first was written, or with --force replace it. They are
    refused too, unless both lie beside their photos: those two photos exist apart there, so case counts.

    jobs: (photo, target, mask) of the jobs to do, as the caller compares them (resolved paths, or URLs);
    onto its own photo: check_output.
    """
    photos = {photo for photo, _, _ in jobs}
    masks = {mask for _, _, mask in jobs if mask is not None}
    written: dict[str, str] = {}
    first_of_any_case: dict[str, tuple[str, str]] = {}  # target.casefold(): the first (photo, target)
    for photo, target, _ in jobs:
        if target in written and (force or not exists(target)):
            raise UsageError(
                f"{written[target]} and {photo} would both be written to {target}; fill them one at a time"
            )
        other_photo, other_target = first_of_any_case.setdefault(target.casefold(), (photo, target))
        beside_their_photos = _beside(photo, target) and _beside(other_photo, other_target)
        if other_target != target and not beside_their_photos and (force or not exists(target)):
            raise UsageError(
                f"{other_photo} and {photo} would be written to {other_target} and {target}, one file where letter "
                "case does not count (macOS, Windows); fill them into different folders"
            )
        written.setdefault(target, photo)
        if force and target in masks:
            raise UsageError(f"output {target} is a mask of this run; choose another output")
        if force and target in photos and target != photo:
            raise UsageError(f"output {target} is a photo of this run; choose another output")


def _same_file(first: Path, second: Path) -> bool:
    """Whether two existing paths name one file (os.path.samefile), False where either cannot be read."""
    try:
        return first.samefile(second)
    except OSError:
        return False


def _beside(photo: str, target: str) -> bool:
    """Whether target lies in photo's folder (a path or a URL)."""
    return os.path.dirname(photo) == os.path.dirname(target)


def make_output_folders(jobs: list[FillJob], out_dir: Path | None) -> dict[Path, InpaintError]:
    """Create out_dir and the subfolders its results go to; call it once every argument is checked.

    Without out_dir nothing is created: --out must name a file in an existing folder. A
    sub-folder that cannot be created is returned with the reason (its photos fail); out_dir
    itself raises, since nothing could be written.
    """
    if out_dir is None:
        return {}
    failed: dict[Path, InpaintError] = {}
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise InpaintError(f"cannot create the output folder {out_dir} ({error.strerror or error})") from None
    for folder in dict.fromkeys(job.target.parent for job in jobs):
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            failed[folder] = InpaintError(f"cannot create the output folder {folder} ({error.strerror or error})")
    return failed


def _mask_for(photo: Path, sought: Path, listed: dict[Path, dict[str, list[Path]]]) -> Path | None:
    """The mask file at sought with any image suffix, None when there is none; two are an error naming both."""
    folder = sought.parent
    if folder not in listed:
        listed[folder] = _image_files(folder) if folder.is_dir() else {}
    candidates = listed[folder].get(sought.name, [])
    if len(candidates) > 1:
        raise UsageError(f"{' and '.join(map(str, candidates))} both match {photo}; keep one mask per photo")
    return candidates[0] if candidates else None


def _image_files(folder: Path) -> dict[str, list[Path]]:
    """The image files directly in folder, by stem."""
    by_stem: dict[str, list[Path]] = {}
    for path in sorted(folder.iterdir()):
        if path.is_file() and path.suffix.lower() in images.IMAGE_SUFFIXES:
            by_stem.setdefault(path.stem, []).append(path)
    return by_stem


def check_output(photo: Path, target: Path, force: bool) -> None:
    """Refuse to overwrite the input, or an existing output without force.

    The input is any name of the photo's file: a link to it, or where letter case does not count (macOS,
    Windows) PHOTO.JPG for photo.jpg, which resolve() keeps apart.
    """
    if target.exists() and (target.resolve() == photo.resolve() or _same_file(target, photo)):
        raise UsageError(f"output {target} is the input photo; choose another output")
    if target.is_dir():
        raise UsageError(f"output {target} is a folder; name a file in it, or give it as the output folder")
    if target.exists() and not force:
        raise OutputExists(f"{target} already exists", keepable=True)
    if not target.parent.is_dir():
        raise UsageError(f"folder {target.parent} does not exist (for the output {target})")
