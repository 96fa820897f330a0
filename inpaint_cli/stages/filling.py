"""`inpaint fill`: fill the holes of photo files (fill_photos) or of an image in memory (fill_image).

Importing this module is light (no numpy, OpenCV or model): the first photo starts decoding
before those load. The fill itself is image_fill.py's; how it is tuned is a FillOptions.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from inpaint_cli.errors import DiskFull, InpaintError, UsageError
from inpaint_cli.files import images, photo_writing
from inpaint_cli.inpainting.fill_options import FillOptions
from inpaint_cli.stages import fill_paths

if TYPE_CHECKING:
    from inpaint_cli.inpainting.image_fill import fill_image
    from inpaint_cli.inpainting.rectangles import Box
    from inpaint_cli.model.runtime import Predictor

__all__ = ["FillOptions", "FillRequest", "PhotoOutcome", "fill_image", "fill_photos"]

Warn = Callable[[str], None]


def __getattr__(name: str) -> object:
    """fill_image, image_fill.fill_image, looked up when first asked for: this module stays light to import."""
    if name == "fill_image":
        from inpaint_cli.inpainting.image_fill import fill_image

        return fill_image
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


@dataclass(frozen=True)
class FillRequest:
    """What `inpaint fill` was asked: which photos, which holes, where the results go."""

    photos: list[Path]
    boxes: list[Box] = field(default_factory=list)
    mask: Path | None = None  # one mask for every photo, white = hole
    mask_dir: Path | None = None  # masks matched to photos by relative path (sub-folders and stem)
    out: Path | None = None  # one photo's output file
    out_dir: Path | None = None  # outputs under this folder, sub-folders kept
    model: Path | str | None = None  # a model folder, .tflite or .keras; None or "bundled": the bundled model
    quality: int | None = None  # JPEG quality; None keeps the source JPEG's
    compare: Path | None = None  # a before/after PNG, one photo only
    force: bool = False  # replace existing outputs
    skip_existing: bool = False  # leave existing outputs alone (a re-run after an interruption)
    max_pixels: int | None = None  # the largest photo read; None: $INPAINT_MAX_PIXELS or Pillow's 89.5 MP


@dataclass
class PhotoOutcome:
    """What became of one photo: written to target, skipped (and why), or the error that stopped it; and warnings."""

    photo: Path
    target: Path
    error: InpaintError | None = None
    warnings: list[str] = field(default_factory=list)
    skipped: str | None = None  # why nothing was written, when that is no failure
    no_mask: bool = False  # skipped since --mask-dir holds no mask for it


PhotoReport = Callable[[PhotoOutcome, int, int], None]  # outcome, photos done, photos in all


def fill_photos(
    request: FillRequest,
    options: FillOptions = FillOptions(),  # noqa: B008 - frozen, so one shared default is safe
    on_photo: PhotoReport | None = None,
    predictor: Predictor | None = None,
    workers: int = 1,
) -> list[PhotoOutcome]:
    """Fill every photo of the request and write each result atomically, keeping its metadata.

    A photo that fails is reported in its outcome and the others go on. Problems with the
    request itself (no holes, a bad --out, a model that cannot load) raise before any photo
    is written; so does a refused output when there is only one photo. predictor, when
    given, is used instead of loading request.model. workers > 1 fills in that many processes
    (0: one per core), each loading the model once; outcomes and reports come in the same order,
    and the files are the same bytes. A KeyboardInterrupt (or interrupts.Terminated) stops the
    run between two atomic writes: no output is ever half-written.
    """
    if workers < 0:
        raise UsageError(f"--jobs {workers}: give a number of processes, or 0 for one per core")
    if predictor is not None and workers != 1:
        raise UsageError("a loaded predictor fills in this process only: leave workers at 1")
    jobs, skipped, todo = plan_run(request)
    processes = min(workers or _cores(), len(todo))
    # The first photo decodes from here on, while numpy, OpenCV and the model load (about 50 ms of a 12 MP JPEG).
    reader = images.PhotoReader((job.photo for job in todo), request.max_pixels) if processes <= 1 else None
    unmade = fill_paths.make_output_folders(todo, request.out_dir)
    refusals = {job: unmade.get(job.target.parent) or _refusal(job, request) for job in todo}
    if len(jobs) == 1 and todo and refusals[jobs[0]] is not None:  # before the model loads (4 s for a .keras)
        raise refusals[jobs[0]]
    to_fill = {job: None for job in todo if refusals[job] is None}  # a dict: in order, and found at once
    if reader is not None:
        filled = _filled_here(list(to_fill), request, options, predictor, reader)
    else:
        filled = _filled_in_processes(list(to_fill), request, options, processes)
    outcomes = []
    try:
        for job in jobs:
            if job in to_fill:
                outcome = next(filled)
            else:
                outcome = PhotoOutcome(job.photo, job.target, error=refusals.get(job), skipped=skipped[job])
            outcome.no_mask = skipped[job] is not None and job.mask_sought is not None and job.mask_path is None
            if isinstance(outcome.error, DiskFull) and len(outcomes) + 1 < len(jobs):
                raise _stopped_on_full_disk(outcome.error, outcomes, len(jobs))
            outcomes.append(outcome)
            if on_photo is not None:
                on_photo(outcome, len(outcomes), len(jobs))
    finally:
        filled.close()  # stops the worker processes, if any, when interrupted
    return outcomes


def _stopped_on_full_disk(error: DiskFull, outcomes: list[PhotoOutcome], total: int) -> DiskFull:
    """Why a run stops at a full disk, with what it has done: every photo after would fail the same way."""
    written = sum(outcome.error is None and outcome.skipped is None for outcome in outcomes)
    return DiskFull(
        f"{error}; stopped at photo {len(outcomes) + 1} of {total} ({written} written before it): free some space, "
        "then run the same command with --skip-existing to go on"
    )


def _cores() -> int:
    """The cores this process may use; worker_pool (multiprocessing) is imported only for --jobs."""
    from inpaint_cli.stages import worker_pool

    return worker_pool.cpu_count()


def check_request(request: FillRequest) -> None:
    """Refuse a request that cannot be run whatever the files: no holes, contradicting options."""
    if not request.boxes and request.mask is None and request.mask_dir is None:
        raise UsageError("no holes to fill: give at least one box or a mask")
    if request.force and request.skip_existing:
        raise UsageError("--force (replace existing outputs) and --skip-existing (keep them) exclude each other")
    if request.max_pixels is not None and request.max_pixels < 1:
        raise UsageError(f"the pixel limit {request.max_pixels} must be at least 1")


def plan_run(
    request: FillRequest,
) -> tuple[list[fill_paths.FillJob], dict[fill_paths.FillJob, str | None], list[fill_paths.FillJob]]:
    """Check the request and plan it: every job, why each one skipped is skipped (else None), those to do."""
    check_request(request)
    jobs = fill_paths.plan_jobs(request.photos, request.out, request.out_dir, request.mask, request.mask_dir)
    if request.compare is not None:
        if len(jobs) > 1:
            raise UsageError("a comparison picture shows one photo: ask for it with one photo only")
        photo_writing.format_of(request.compare, "the comparison picture ")
        if _same_file(request.compare, jobs[0].target):
            raise UsageError(f"the comparison picture {request.compare} is the output photo too; give it another name")
        if jobs[0].mask_path is not None and _same_file(request.compare, jobs[0].mask_path):
            raise UsageError(f"the comparison picture {request.compare} is the mask; give it another name")
    skipped = {job: _skip_reason(job, request) for job in jobs}
    todo = [job for job in jobs if skipped[job] is None]
    keys = [(_key(job.photo), _key(job.target), _key(job.mask_path) if job.mask_path else None) for job in todo]
    fill_paths.refuse_clashes(keys, request.force, lambda target: Path(target).exists())
    return jobs, skipped, todo


def _key(path: Path) -> str:
    """A path as clashes are found: resolved (links followed, whether or not it exists yet)."""
    return str(path.resolve())


def fill_job(
    job: fill_paths.FillJob,
    request: FillRequest,
    options: FillOptions,
    predictor: Predictor,
    open_photo: Callable[[Path], images.Photo],
) -> PhotoOutcome:
    """Fill one planned photo and write it; what became of it, with its warnings."""
    outcome = PhotoOutcome(job.photo, job.target)
    try:
        _fill_file(job, request, options, predictor, open_photo, outcome.warnings.append)
    except InpaintError as error:
        outcome.error = error
    return outcome


def _filled_here(
    jobs: list[fill_paths.FillJob],
    request: FillRequest,
    options: FillOptions,
    predictor: Predictor | None,
    reader: images.PhotoReader,
) -> Iterator[PhotoOutcome]:
    """The outcome of each job, filled in this process in order; the model loads before the first."""
    from inpaint_cli.inpainting import image_fill  # noqa: F401 - numpy, OpenCV: while the photo decodes
    from inpaint_cli.model import runtime

    if jobs:
        predictor = predictor or runtime.load_predictor(request.model)
    for job in jobs:
        yield fill_job(job, request, options, predictor, reader.open)


def _filled_in_processes(
    jobs: list[fill_paths.FillJob], request: FillRequest, options: FillOptions, processes: int
) -> Iterator[PhotoOutcome]:
    """The outcome of each job, in order, filled by that many worker processes sharing the cores."""
    from inpaint_cli.stages import worker_pool

    threads = max(1, worker_pool.cpu_count() // processes)
    task = worker_pool.WorkerTask(_start_worker, (request, options, threads), _fill_in_worker)
    results = worker_pool.ordered_map(task, jobs, processes)
    try:
        for job, result in zip(jobs, results, strict=True):
            yield result if isinstance(result, PhotoOutcome) else PhotoOutcome(job.photo, job.target, error=result)
    finally:
        results.close()  # stops the workers now, not when the generator is collected


def _start_worker(request: FillRequest, options: FillOptions, threads: int) -> tuple:
    """A worker process's setup: its share of the cores for OpenCV and LiteRT, and the model, loaded once."""
    import cv2

    from inpaint_cli.model import runtime

    cv2.setNumThreads(threads)
    return request, options, runtime.load_predictor(request.model, threads)


def _fill_in_worker(state: tuple, job: fill_paths.FillJob) -> PhotoOutcome:
    """Fill one job in a worker process, with what _start_worker set up."""
    request, options, predictor = state
    return fill_job(job, request, options, predictor, lambda path: images.open_photo(path, request.max_pixels))


def _same_file(first: Path, second: Path) -> bool:
    """Whether two paths name one file, whether or not it exists yet."""
    return first.resolve() == second.resolve()


def _skip_reason(job: fill_paths.FillJob, request: FillRequest) -> str | None:
    """Why the job is skipped rather than filled (an output kept, no mask of its own), or None."""
    if request.skip_existing and job.target.is_file() and not _same_file(job.target, job.photo):
        return f"{job.target} already exists (--skip-existing)"
    if job.mask_sought is not None and job.mask_path is None and not request.boxes:
        return f"no mask for it in {request.mask_dir} (looked for {job.mask_sought}.*)"
    return None


def _refusal(job: fill_paths.FillJob, request: FillRequest) -> InpaintError | None:
    """Why the job's outputs may not be written, or None."""
    try:
        fill_paths.check_output(job.photo, job.target, request.force)
        photo_writing.format_of(job.target)
        if request.compare is not None:
            fill_paths.check_output(job.photo, request.compare, request.force)
    except InpaintError as error:
        return error
    return None


def _fill_file(
    job: fill_paths.FillJob,
    request: FillRequest,
    options: FillOptions,
    predictor: Predictor,
    open_photo: Callable[[Path], images.Photo],
    on_warning: Warn,
) -> None:
    """Fill one photo file and write the result (and the comparison picture, when asked) atomically."""
    from inpaint_cli.inpainting import image_fill  # imported by fill_photos once the first photo is decoding

    source = open_photo(job.photo)
    if source.image.mode in images.HIGH_BIT_MODES:
        raise InpaintError(f"{job.photo.name} has {images.mode_name(source.image)}; inpaint fills 8- and 16-bit photos")
    if request.quality is not None and photo_writing.format_of(job.target) not in {"JPEG", "WEBP"}:
        on_warning(f"--quality applies to JPEG and WebP only; {job.target.name} is written without loss")
    if images.working_mode(source.image) == "RGB" != source.image.mode:
        on_warning(f"its {images.mode_name(source.image)} are written as RGB")
    photo_writing.check_transparency(source.image, job.target)  # before the fill, not after it
    for note in photo_writing.notes_on_writing(source, job.target):
        on_warning(note)
    mask = image_fill.hole_mask(
        request.boxes,
        job.mask_path,
        *source.image.size,
        name=job.photo.name,
        orientation=source.orientation,
        on_note=on_warning,
    )
    # In place saves a full-size copy, unless the comparison still needs the photo as it was.
    filled = image_fill.fill_pillow(
        source.image, mask, options, predictor, on_warning, in_place=request.compare is None
    )
    written = filled if source.deep is None else image_fill.sixteen_bit_fill(source.deep, filled, mask)

    def save_result() -> Path:
        photo_writing.save_photo(written, job.target, source, quality=request.quality)
        return job.target

    if request.compare is None:
        save_result()
        return
    # The photo is saved once the comparison picture is written in full, just before that is renamed into place:
    # when either cannot be written, neither is.
    picture = image_fill.comparison_image(source.image, filled, mask)
    photo_writing.save_picture(picture, request.compare, "the comparison picture ", before_rename=save_result)
