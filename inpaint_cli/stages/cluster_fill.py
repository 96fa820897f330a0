"""`inpaint fill --cluster`: photos filled by the workers of a Dask cluster, from local paths or fsspec URLs.

Imported only with --cluster (or from Python), so nothing of Dask loads otherwise. The client
plans (lists the photos, matches masks, names outputs); each task fills one photo on a worker,
whose model loads once per worker thread. A worker copies a remote photo to its scratch folder,
fills it there with filling.fill_job, and publishes the result whole: on an object store by one
upload (an object appears whole or not at all), elsewhere as a hidden part file renamed into place.
A worker that dies is Dask's to retry: the retry writes the same bytes to the same name, and the
client removes part files a dead worker left. A worker that dies after publishing, before its outcome
reached the client, leaves the result in place; the task claimed its output on the scheduler before
writing, so the retry knows that file for its own and is not refused as "already exists".
Python use (dask.bag or a list): fill_pairs.
"""

from __future__ import annotations

import itertools
import os
import posixpath
import tempfile
import threading
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from inpaint_cli.errors import InpaintError, OutputExists, UsageError
from inpaint_cli.files import images
from inpaint_cli.inpainting.fill_options import FillOptions
from inpaint_cli.stages import fill_paths, filling

if TYPE_CHECKING:
    from inpaint_cli.inpainting.rectangles import Box
    from inpaint_cli.model.runtime import Predictor

PART_SUFFIX = ".inpaint-part"  # a result on its way in: .<name>.<random>.inpaint-part beside it
# fsspec protocols of object stores: an upload is one object, seen whole or not at all.
OBJECT_STORES = {"s3", "s3a", "gs", "gcs", "gcsfs", "az", "abfs", "abfss", "adl", "oss"}
CONNECT_SECONDS = 30
IN_FLIGHT = 20_000  # tasks submitted and not yet finished, at most
M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3  # glibc's mallopt parameters (malloc.h)
KEPT_BLOCK_BYTES = 32 * 2**20  # glibc's largest dynamic mmap threshold on 64-bit systems


@dataclass(frozen=True)
class PhotoTask:
    """One photo for a worker: where it is, its mask (if any), where the result goes; paths or URLs."""

    photo: str
    target: str
    mask: str | None = None


@dataclass(frozen=True)
class ClusterFill:
    """What every photo of a cluster run shares: holes, model, and the rules for outputs."""

    boxes: tuple[Box, ...] = ()
    model: str | None = None  # a model folder or file every worker can read; None: the bundled model
    options: FillOptions = FillOptions()  # noqa: RUF009 - frozen, so one shared default is safe
    quality: int | None = None
    max_pixels: int | None = None
    force: bool = False
    skip_existing: bool = False


def fill_on_cluster(
    address: str,
    request: filling.FillRequest,
    options: FillOptions = FillOptions(),  # noqa: B008 - frozen, so one shared default is safe
    on_photo: filling.PhotoReport | None = None,
    in_flight: int = IN_FLIGHT,
) -> list[filling.PhotoOutcome]:
    """Fill the request's photos on the Dask cluster whose scheduler is at address; outcomes in the photos' order.

    The request's paths may be str fsspec URLs (s3://, gs://, file://, ...) or paths the workers share.
    Reports come as photos finish (skipped ones first); the outcomes are as fill_photos returns them.
    At most in_flight photos are submitted at a time: a million at once would fill the scheduler's memory.
    """
    if request.compare is not None:
        raise UsageError("a comparison picture is made on this machine: leave out --cluster")
    shared = ClusterFill(
        tuple(request.boxes),
        None if request.model is None else str(request.model),
        options,
        request.quality,
        request.max_pixels,
        request.force,
        request.skip_existing,
    )
    tasks, skipped = plan_tasks(request)
    client = _connect(address)
    outcomes: dict[int, filling.PhotoOutcome] = {}
    try:
        for index, reason in skipped.items():
            outcomes[index] = filling.PhotoOutcome(tasks[index].photo, tasks[index].target, skipped=reason)
            outcomes[index].no_mask = True
            _report(on_photo, outcomes[index], len(outcomes), len(tasks))
        to_fill = [index for index in range(len(tasks)) if index not in skipped]
        for index, outcome in _run(client, [tasks[index] for index in to_fill], shared, to_fill, in_flight):
            outcomes[index] = outcome
            _report(on_photo, outcome, len(outcomes), len(tasks))
    finally:
        client.close()
        _remove_parts({task.target for task in tasks})
    return [outcomes[index] for index in range(len(tasks))]


def _report(on_photo: filling.PhotoReport | None, outcome: filling.PhotoOutcome, done: int, total: int) -> None:
    if on_photo is not None:
        on_photo(outcome, done, total)


def _connect(address: str) -> Any:
    """A dask.distributed Client of the scheduler at address, or an InpaintError saying why not."""
    from distributed import Client

    try:
        return Client(address, timeout=CONNECT_SECONDS)
    except (OSError, TimeoutError, ValueError) as error:
        raise InpaintError(f"cannot reach the Dask scheduler at {address} ({error})") from None


def _run(
    client: Any, tasks: list[PhotoTask], shared: ClusterFill, indices: list[int], in_flight: int
) -> Iterable[tuple[int, Any]]:
    """(index, outcome) of each task as the cluster finishes it, at most in_flight submitted; cancelled if stopped."""
    from distributed import as_completed

    waiting = iter(zip(indices, tasks, strict=True))
    index_of: dict[Any, int] = {}

    def submit(index: int, task: PhotoTask) -> Any:
        future = client.submit(fill_photo, task, shared, pure=False)
        index_of[future] = index
        return future

    finished = as_completed([submit(*pair) for pair in itertools.islice(waiting, in_flight)])
    try:
        for future in finished:
            index = index_of.pop(future)
            if (pair := next(waiting, None)) is not None:
                finished.add(submit(*pair))
            yield index, future.result()
    finally:
        client.cancel(list(index_of))


def plan_tasks(request: filling.FillRequest) -> tuple[list[PhotoTask], dict[int, str]]:
    """Every photo's task by the rules of a local run, over fsspec; and why some are skipped (no mask of their own).

    Folders are listed recursively, earlier results (<stem>.filled.*) left out. Under --out-dir a photo keeps
    its path relative to its folder; under --mask-dir its mask is found at the same relative path with any
    image suffix (two are an error naming both).
    """
    filling.check_request(request)
    if request.out is not None and request.out_dir is not None:
        raise UsageError("give one output file or an output folder, not both")
    if request.mask is not None and request.mask_dir is not None:
        raise UsageError("give one mask or a folder of masks, not both")
    if request.mask is not None and not _is_file(str(request.mask)):
        raise UsageError(f"mask {request.mask} does not exist")
    found = [pair for source in request.photos for pair in _photos_in(str(source))]
    if request.out is not None and len(found) != 1:
        raise UsageError(f"one output file was named but {len(found)} photos were given; name an output folder")
    masks = _masks_by_stem(str(request.mask_dir)) if request.mask_dir is not None else {}
    tasks, skipped = [], {}
    for photo, relative in found:
        name = posixpath.basename(photo)
        stem, suffix = posixpath.splitext(name)
        if request.out is not None:
            target = str(request.out)
        else:
            folder = posixpath.join(str(request.out_dir), relative) if request.out_dir is not None else None
            target = posixpath.join(folder or posixpath.dirname(photo), f"{stem}{fill_paths.OUTPUT_MARK}{suffix}")
        mask = str(request.mask) if request.mask is not None else None
        if request.mask_dir is not None:
            candidates = masks.get(posixpath.normpath(posixpath.join(relative, stem)), [])
            if len(candidates) > 1:
                raise UsageError(f"{' and '.join(candidates)} both match {photo}; keep one mask per photo")
            mask = candidates[0] if candidates else None
            if mask is None and not request.boxes:
                sought = posixpath.join(str(request.mask_dir), relative, stem)
                skipped[len(tasks)] = f"no mask for it in {request.mask_dir} (looked for {sought}.*)"
        tasks.append(PhotoTask(photo, target, mask))
    keys = [(task.photo, task.target, task.mask) for index, task in enumerate(tasks) if index not in skipped]
    fill_paths.refuse_clashes([tuple(map(_normalised, key)) for key in keys], request.force, _is_file)
    return tasks, skipped


def _normalised(path: str | None) -> str | None:
    """A path or URL as clashes are found: its dots and doubled slashes folded (posixpath.normpath)."""
    if path is None:
        return None
    scheme, separator, rest = path.rpartition("://")
    return f"{scheme}{separator}{posixpath.normpath(rest)}"


def _file_system(url: str) -> tuple[Any, str]:
    """fsspec's file system of a path or URL, and the path within it."""
    from fsspec.core import url_to_fs

    try:
        return url_to_fs(url)
    except (ImportError, ValueError) as error:  # no driver for the protocol ("Install s3fs to access S3")
        raise UsageError(f"cannot open {url}: {error}") from None


def _is_file(url: str) -> bool:
    file_system, path = _file_system(url)
    return file_system.isfile(path)


def _unstrip(file_system: Any, path: str, like: str) -> str:
    """The path file_system lists, as a URL of the same kind as like (a plain path stays one)."""
    return file_system.unstrip_protocol(path) if "://" in like else path


def _photos_in(source: str) -> list[tuple[str, str]]:
    """(photo, folder relative to source) of the photos a source names: itself, or those under the folder."""
    file_system, root = _file_system(source)
    if file_system.isfile(root):
        return [(source, "")]
    if not file_system.isdir(root):
        raise UsageError(f"{source} does not exist")
    found = []
    for path in sorted(file_system.find(root)):
        stem, suffix = posixpath.splitext(posixpath.basename(path))
        if suffix.lower() in images.IMAGE_SUFFIXES and not stem.endswith(fill_paths.OUTPUT_MARK):
            relative = posixpath.relpath(posixpath.dirname(path), root.rstrip("/") or "/")
            found.append((_unstrip(file_system, path, source), "" if relative == "." else relative))
    if not found:
        raise UsageError(f"no photos (JPEG, PNG, WebP, BMP, TIFF) in {source}")
    return found


def _masks_by_stem(mask_dir: str) -> dict[str, list[str]]:
    """The image files under mask_dir by relative path without suffix: 'sub/x' -> [.../sub/x.png]."""
    file_system, root = _file_system(mask_dir)
    if not file_system.isdir(root):
        raise UsageError(f"the mask folder {mask_dir} does not exist")
    by_stem: dict[str, list[str]] = {}
    for path in sorted(file_system.find(root)):
        stem, suffix = posixpath.splitext(posixpath.relpath(path, root.rstrip("/") or "/"))
        if suffix.lower() in images.IMAGE_SUFFIXES:
            by_stem.setdefault(stem, []).append(_unstrip(file_system, path, mask_dir))
    return by_stem


def fill_photo(task: PhotoTask, shared: ClusterFill) -> filling.PhotoOutcome:
    """Fill one photo on a worker and publish the result whole; its outcome, named by the task's paths."""
    outcome = filling.PhotoOutcome(task.photo, task.target)
    try:
        claim = _OutputClaim.of_this_task(task.target)
        outcome.skipped = None if claim.made_earlier() else _check_target(task, shared)
        if outcome.skipped is None:
            claim.make()
            with tempfile.TemporaryDirectory(prefix="inpaint-fill-", dir=_scratch_folder()) as scratch:
                made = _fill_in(Path(scratch), task, shared, outcome.warnings)
                _publish(made, task.target)
    except InpaintError as error:
        outcome.error = error
    except OSError as error:  # a remote store's failure, named for the user
        outcome.error = InpaintError(f"could not read or write for {task.photo} ({error})")
    return outcome


@dataclass(frozen=True)
class _OutputClaim:
    """A task's record on the Dask scheduler that it found an output free to write (or --force) and went on.

    Kept in the scheduler's task metadata under the task's key and the output's path (one task of fill_pairs
    fills a whole partition), which the scheduler drops with the task: a small entry per photo in flight.
    Outside a Dask worker's task (fill_pairs on Dask's local scheduler, a direct call) nothing retries a
    task, so nothing is recorded.
    """

    target: str
    client: Any = None
    key: Any = None

    @staticmethod
    def of_this_task(target: str) -> _OutputClaim:
        try:
            from distributed import get_client, get_worker

            key = get_worker().get_current_task()
        except (ImportError, ValueError, KeyError):  # KeyError: a thread of the worker that runs no task of it
            return _OutputClaim(target)
        return _OutputClaim(target, _scheduler_call(get_client), key)

    def made_earlier(self) -> bool:
        """Whether an earlier attempt of this task claimed the output: a file there now is that attempt's."""
        if self.client is None:
            return False
        return bool(_scheduler_call(lambda: self.client.get_metadata([self.key, "claimed", self.target], False)))

    def make(self) -> None:
        if self.client is not None:
            _scheduler_call(lambda: self.client.set_metadata([self.key, "claimed", self.target], True))


def _scheduler_call(call: Callable[[], Any]) -> Any:
    """call()'s result; a lost or slow scheduler (an OSError: CommClosedError, TimeoutError) is said as such."""
    try:
        return call()
    except OSError as error:
        raise InpaintError(f"lost contact with the Dask scheduler ({error or type(error).__name__})") from None


def _check_target(task: PhotoTask, shared: ClusterFill) -> str | None:
    """Why the task is skipped (an output kept by --skip-existing), None to fill; raises for a refused output."""
    file_system, path = _file_system(task.target)
    if _file_system(task.photo) == (file_system, path):
        raise UsageError(f"output {task.target} is the input photo; choose another output")
    if file_system.exists(path):
        if shared.skip_existing:
            return f"{task.target} already exists (--skip-existing)"
        if not shared.force:
            raise OutputExists(f"{task.target} already exists", keepable=True)
    return None


def _fill_in(scratch: Path, task: PhotoTask, shared: ClusterFill, warnings: list[str]) -> Path:
    """Fill the task's photo into a file in scratch (copying remote inputs there first); the file's path."""
    photo = _local_copy(task.photo, scratch / "photo")
    mask = _local_copy(task.mask, scratch / "mask") if task.mask is not None else None
    (scratch / "out").mkdir()
    made = scratch / "out" / posixpath.basename(task.target)
    request = filling.FillRequest(
        [photo],
        list(shared.boxes),
        mask,
        out=made,
        model=shared.model,
        quality=shared.quality,
        max_pixels=shared.max_pixels,
    )
    job = fill_paths.FillJob(photo, made, mask)
    open_photo = lambda path: images.open_photo(path, shared.max_pixels)  # noqa: E731
    outcome = filling.fill_job(job, request, shared.options, _predictor(shared.model), open_photo)
    warnings.extend(outcome.warnings)
    if outcome.error is not None:
        raise outcome.error
    return made


def _local_copy(url: str, folder: Path) -> Path:
    """A local path of the file at url: itself when it is local, else a copy in folder under its own name."""
    file_system, path = _file_system(url)
    if _is_local(file_system):
        return Path(path)
    folder.mkdir()
    copy = folder / posixpath.basename(path)
    file_system.get_file(path, str(copy))
    return copy


def _is_local(file_system: Any) -> bool:
    from fsspec.implementations.local import LocalFileSystem

    return isinstance(file_system, LocalFileSystem)


def _publish(made: Path, target: str) -> None:
    """Put the finished file at target whole: one upload to an object store, else a part file renamed into place."""
    file_system, path = _file_system(target)
    protocols = {file_system.protocol} if isinstance(file_system.protocol, str) else set(file_system.protocol)
    if protocols & OBJECT_STORES:
        file_system.put_file(str(made), path)
        return
    folder, name = posixpath.split(path)
    if _is_local(file_system) and not Path(folder).is_dir():
        Path(folder).mkdir(parents=True, exist_ok=True)
    part = posixpath.join(folder, f".{name}.{uuid.uuid4().hex[:8]}{PART_SUFFIX}")
    try:
        file_system.put_file(str(made), part)
        file_system.mv(part, path)
    except BaseException:  # interrupted or failed: no part file stays behind
        if file_system.exists(part):
            file_system.rm(part)
        raise


def _remove_parts(targets: Iterable[str]) -> None:
    """Remove the part files a killed worker left beside the targets (a retry wrote the whole file)."""
    for folder in {posixpath.dirname(target) for target in targets}:
        file_system, path = _file_system(folder)
        try:
            for part in file_system.glob(posixpath.join(path, f".*{PART_SUFFIX}")):
                file_system.rm(part)
        except OSError:
            continue


_worker_state = threading.local()  # each worker thread's own predictor: a LiteRT interpreter is not thread-safe


def _predictor(model: str | None) -> Predictor:
    """The model, loaded once per worker thread (and model), on one core: the cluster's parallelism is photos."""
    from inpaint_cli.model import runtime

    loaded = getattr(_worker_state, "predictors", None)
    if loaded is None:
        import cv2

        cv2.setNumThreads(1)
        if _scratch_folder() is not None and "MALLOC_TRIM_THRESHOLD_" in os.environ:  # a nanny's worker process
            _keep_freed_memory()
        loaded = _worker_state.predictors = {}
    if model not in loaded:
        loaded[model] = runtime.load_predictor(model, threads=1)
    return loaded[model]


def _keep_freed_memory() -> None:
    """Let glibc keep freed blocks of up to 32 MB for the next photo instead of returning them to the kernel.

    A Dask nanny starts its worker with MALLOC_TRIM_THRESHOLD_=65536, which also turns off glibc's dynamic
    thresholds: every image buffer over 128 KB is then mapped and unmapped, and the next photo faults its pages
    in again. That cost 12 % more CPU per photo than `--jobs` (+100 ms per 1 MP photo); these two limits are
    where glibc's own dynamic ones end up, and a worker keeps at most tens of MB more. Elsewhere: nothing to do.
    """
    import ctypes

    try:
        mallopt = ctypes.CDLL(None).mallopt  # the C library the process runs on
    except (OSError, AttributeError):  # no mallopt: not glibc (macOS, Windows)
        return
    mallopt(M_MMAP_THRESHOLD, KEPT_BLOCK_BYTES)  # process-wide; setting it again (another thread) changes nothing
    mallopt(M_TRIM_THRESHOLD, 2 * KEPT_BLOCK_BYTES)


def _scratch_folder() -> str | None:
    """The Dask worker's own folder (removed with the worker), else the system's temporary folder."""
    try:
        from distributed import get_worker

        return get_worker().local_directory
    except (ImportError, ValueError):
        return None


def fill_pairs(
    pairs: Any,
    out_dir: str,
    boxes: Iterable[Box] = (),
    model: str | None = None,
    options: FillOptions = FillOptions(),  # noqa: B008 - frozen, so one shared default is safe
    skip_existing: bool = False,
    force: bool = False,
) -> Any:
    """Fill (photo, mask) pairs inside a Dask pipeline; results named <stem>.filled<suffix> under out_dir.

    pairs: a dask.bag.Bag of (photo, mask or None) paths or URLs, or a list of them. A bag gives back a
    bag of PhotoOutcome (lazy: compute it, or map on); a list is computed at once (on the default Dask
    client if there is one) and gives a list of PhotoOutcome, in the pairs' order. An outcome's error
    is an InpaintError saying what went wrong with that photo, None when it was written.
    """
    import dask.bag

    shared = ClusterFill(tuple(boxes), model, options, force=force, skip_existing=skip_existing)
    bag = pairs if isinstance(pairs, dask.bag.Bag) else dask.bag.from_sequence(list(pairs), npartitions=None)
    outcomes = bag.map(_task_of_pair, out_dir).map(fill_photo, shared)
    return outcomes if isinstance(pairs, dask.bag.Bag) else outcomes.compute()


def _task_of_pair(pair: tuple[str, str | None], out_dir: str) -> PhotoTask:
    photo, mask = pair
    stem, suffix = posixpath.splitext(posixpath.basename(str(photo)))
    return PhotoTask(str(photo), posixpath.join(out_dir, f"{stem}{fill_paths.OUTPUT_MARK}{suffix}"), mask)


__all__ = ["ClusterFill", "PhotoTask", "fill_on_cluster", "fill_pairs", "fill_photo", "plan_tasks"]
