"""The masked training dataset: `prepare` writes it, `read_split` streams it into tf.data.

On disk: TFRecord shards of tf.train.Example (PNG image, hole boxes as x,y,size
triples) and a manifest.json written last, so an interrupted run never looks complete.
`prepare` writes them into a hidden folder inside the dataset folder and moves them into
place only once complete, so a failed run leaves a dataset it was to replace as it was.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import posixpath
import secrets
import zlib
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from inpaint_cli import __version__, interrupts
from inpaint_cli.errors import InpaintError, OutputExists, UsageError
from inpaint_cli.files import atomic_files, images, new_outputs, training_photos
from inpaint_cli.inpainting import masking
from inpaint_cli.inpainting.rectangles import Box
from inpaint_cli.settings import PrepareConfig
from inpaint_cli.training import storage
from inpaint_cli.training.storage import StoragePath

if TYPE_CHECKING:
    from inpaint_cli.backend import tf

MANIFEST = "manifest.json"
SAMPLES_PER_SHARD = 1024
SPLITS = ("train", "validation")
STAGING_PREFIX = f"{atomic_files.TEMPORARY_PREFIX}prepare-"  # the hidden folder a dataset is written into first
SHUFFLE_BUFFER = 2048  # samples: each training pass is shuffled within windows of this many


def split_of(relative_path: str, val_fraction: float) -> str:
    """The split of a file, decided by a hash of its relative path (not by reading order)."""
    digest = hashlib.sha256(relative_path.encode()).digest()
    position = int.from_bytes(digest[:8], "big") / 2**64
    return "validation" if position < val_fraction else "train"


def prepared_boxes(relative_path: str, config: PrepareConfig) -> list[Box]:
    """The holes `prepare` draws for a file: from the file's own seeded generator, so they do not depend on order."""
    rng = np.random.default_rng([config.seed, zlib.crc32(relative_path.encode())])
    return [
        masking.random_box(rng, config.size, config.hole_min, config.hole_max) for _ in range(config.holes_per_image)
    ]


def relative_names(sources: list[Path]) -> list[tuple[Path, str]]:
    """Each image under sources with its path relative to the source it came from; one named twice counts once."""
    unique: dict[Path, tuple[Path, str]] = {}
    for source in sources:
        for path in images.find_images([source]):
            relative = path.name if source.is_file() else path.relative_to(source).as_posix()
            unique.setdefault(path.resolve(), (path, relative))  # the first naming wins, as in `fill`
    return list(unique.values())


class _ShardWriter:
    """Writes samples of one split into shards of SAMPLES_PER_SHARD records."""

    def __init__(self, folder: str, split: str) -> None:
        self.folder, self.split = folder, split
        self.count, self.shards, self._writer, self._path = 0, [], None, ""

    def write(self, record: bytes) -> None:
        from inpaint_cli.backend import tf

        if self.count % SAMPLES_PER_SHARD == 0:
            self.close()
            name = f"{self.split}-{len(self.shards):05d}.tfrecord"
            self.shards.append(name)
            self._path = storage.join(self.folder, name)
            self._writer = storage.guarded_write(self._path, lambda: tf.io.TFRecordWriter(self._path))
        storage.guarded_write(self._path, lambda: self._writer.write(record))
        self.count += 1

    def close(self) -> None:
        if self._writer is not None:
            writer, self._writer = self._writer, None
            storage.guarded_write(self._path, writer.close)


def _close_all(writers: Iterable[_ShardWriter]) -> InpaintError | None:
    """Close every writer (an open one could still upload into a staging folder being removed); the first error."""
    first = None
    for writer in writers:
        try:
            writer.close()
        except InpaintError as error:
            first = first or error
    return first


def _example(png: bytes, boxes: list[Box]) -> bytes:
    from inpaint_cli.backend import tf

    flat_boxes = [value for box in boxes for value in (box.x, box.y, box.size)]
    feature = {
        "image_png": tf.train.Feature(bytes_list=tf.train.BytesList(value=[png])),
        "boxes": tf.train.Feature(int64_list=tf.train.Int64List(value=flat_boxes)),
    }
    return tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString(deterministic=True)


def prepare(
    sources: list[Path],
    out_dir: StoragePath,
    config: PrepareConfig,
    on_file: Callable[[int, int, Path, str | None], None] = lambda done, total, path, skipped: None,
    force: bool = False,
    preview: Path | None = None,
) -> dict[str, object]:
    """Write the masked dataset for every image under sources; return its manifest.

    on_file(done, total, path, skip_reason) is called after each file. out_dir may be
    any tf.io.gfile path (a local folder, gs://bucket/folder, ...). preview, when given,
    receives a contact sheet of holed samples (in the format its suffix names).
    The dataset is written into a hidden folder inside out_dir and moved into place once
    complete: a failed or interrupted run leaves out_dir (and a dataset in it) as it was.
    """
    config.check()
    named = relative_names(sources)
    if not named:
        raise UsageError(f"no images (JPEG, PNG, WebP, BMP, TIFF) under {', '.join(map(str, sources))}")
    out_dir = storage.as_text(out_dir)
    if preview is not None:
        check_preview(preview, named, out_dir, force)
    if storage.exists(storage.join(out_dir, MANIFEST)) and not force:
        raise OutputExists(f"{out_dir} already holds a dataset")
    created = _missing_folders(out_dir)
    new_preview = preview if preview is not None and not preview.exists() else None
    for stale in storage.glob(storage.join(out_dir, STAGING_PREFIX + "*")):  # left by a run killed outright
        storage.remove(stale)
    staging = storage.join(out_dir, f"{STAGING_PREFIX}{secrets.token_hex(4)}")
    with contextlib.ExitStack() as swap_guard:
        try:
            storage.makedirs(staging)
            manifest = _write_dataset(named, sources, staging, config, on_file)
            if preview is not None:
                write_contact_sheet(staging, manifest, preview)
            # Ctrl-C now waits for the swap: it is raised when the `with` ends, past this `except`.
            swap_guard.enter_context(interrupts.held_back())
            _move_into_place(staging, out_dir, manifest)
        except BaseException:
            _discard_unfinished(staging, created, new_preview)
            raise
    return manifest


def check_preview(preview: Path, named: list[tuple[Path, str]], out_dir: str, force: bool) -> None:
    """Refuse a --preview that would fail only after the dataset is written, or would overwrite a photo unasked."""
    in_out_dir = storage.is_local(out_dir) and preview.parent.resolve() == Path(out_dir).resolve()
    inputs = {path.resolve() for path, _ in named}
    new_outputs.check_new_output("--preview", preview, inputs, force, image=True, folder_made_first=in_out_dir)


def _missing_folders(folder: str) -> list[str]:
    """The folder and its local parents that do not exist yet, deepest first: a failed run removes those it made."""
    missing = []
    while folder and not storage.exists(folder):
        missing.append(folder)
        parent = os.path.dirname(folder.rstrip(os.sep)) if storage.is_local(folder) else ""
        folder = "" if parent == folder else parent
    return missing


def _write_dataset(
    named: list[tuple[Path, str]],
    sources: list[Path],
    folder: str,
    config: PrepareConfig,
    on_file: Callable[[int, int, Path, str | None], None],
) -> dict[str, object]:
    """Write the shards and then the manifest into folder (the hidden staging one); return the manifest."""
    writers = {split: _ShardWriter(folder, split) for split in SPLITS}
    try:
        skipped = _write_samples(named, config, writers, on_file)
    except BaseException:
        _close_all(writers.values())  # the error that stopped the writing is the one to report
        raise
    if (error := _close_all(writers.values())) is not None:
        raise error
    if writers["train"].count == 0:
        raise InpaintError(f"none of the {len(named)} files could be read as an image, or none fell in the train split")
    if writers["validation"].count == 0:
        raise InpaintError(
            f"none of the {writers['train'].count} samples fell in the validation split, which `inpaint train` "
            f"needs; raise the validation share ({config.val_fraction:g}) or add photos"
        )
    manifest = {
        "tool": "inpaint",
        "version": __version__,
        "parameters": asdict(config),
        "sources": [str(source) for source in sources],
        "counts": {**{split: writers[split].count for split in SPLITS}, "skipped": len(skipped)},
        "shards": {split: writers[split].shards for split in SPLITS},
        "skipped": skipped,
    }
    storage.write_text(storage.join(folder, MANIFEST), json.dumps(manifest, indent=2) + "\n")
    return manifest


def _write_samples(
    named: list[tuple[Path, str]],
    config: PrepareConfig,
    writers: dict[str, _ShardWriter],
    on_file: Callable[[int, int, Path, str | None], None],
) -> list[dict[str, str]]:
    """Write one holed sample per readable file to its split's writer; return the files skipped, with why.

    A skipped file is listed by the path it was found at (its source as given, joined with the rest), as the
    manifest's sources and the reasons name it: relative to its source, two sources' broken.jpg would read the same.
    """
    skipped = []
    pixels = training_photos.iter_square_photos((path for path, _ in named), config.size)
    for done, ((path, relative), (_, result)) in enumerate(zip(named, pixels, strict=True), start=1):
        if isinstance(result, str):
            skipped.append({"path": str(path), "reason": result})
            on_file(done, len(named), path, result)
            continue
        boxes = prepared_boxes(relative, config)
        writers[split_of(relative, config.val_fraction)].write(_example(training_photos.encode_png(result), boxes))
        on_file(done, len(named), path, None)
    return skipped


def _move_into_place(staging: str, out_dir: str, manifest: dict[str, object]) -> None:
    """Replace the dataset in out_dir by the complete one in staging; the caller holds Ctrl-C back meanwhile.

    The old files (its manifest first, so a half-replaced folder never looks complete, then every shard-named
    file: an earlier run's, or one an interrupted run left) move aside into staging, the new shards in and the
    new manifest last. A rename that fails (a full disk, a bucket's copy) puts the old dataset back before the
    error goes on; other files in out_dir are never touched.
    """
    aside = storage.join(staging, "previous")
    storage.makedirs(aside)
    old = [name for name in [MANIFEST, *_shard_files(out_dir)] if storage.exists(storage.join(out_dir, name))]
    new = [*(name for split in SPLITS for name in manifest["shards"][split]), MANIFEST]
    moved: list[tuple[str, str]] = []  # (from, to) done so far, to undo in reverse
    try:
        for name in old:
            _rename_noted(storage.join(out_dir, name), storage.join(aside, name), moved)
        for name in new:
            _rename_noted(storage.join(staging, name), storage.join(out_dir, name), moved)
    except BaseException as error:
        try:
            for source, target in reversed(moved):
                storage.rename(target, source)
        except (InpaintError, OSError):
            raise InpaintError(
                f"could not replace the dataset in {out_dir} ({error}); the old one is in {aside}"
            ) from None
        raise
    storage.remove(staging)


def _shard_files(folder: str) -> list[str]:
    """The names of shard files in folder (train-NNNNN.tfrecord, validation-NNNNN.tfrecord), whoever wrote them."""
    names = [storage.glob(storage.join(folder, f"{split}-*.tfrecord")) for split in SPLITS]
    return sorted(posixpath.basename(path.replace(os.sep, "/")) for found in names for path in found)


def _rename_noted(source: str, target: str, moved: list[tuple[str, str]]) -> None:
    storage.rename(source, target)
    moved.append((source, target))


def _discard_unfinished(staging: str, created: list[str], new_preview: Path | None) -> None:
    """Remove what a failed or interrupted run wrote, so nothing is left behind; best effort: the error matters more."""
    with interrupts.held_back():
        try:
            if not storage.glob(storage.join(staging, "previous", "*")):  # else the old dataset is there: keep it
                storage.remove(staging)
            if new_preview is not None:
                new_preview.unlink(missing_ok=True)
            for folder in created:  # deepest first; each only if the run left it empty
                if storage.is_dir(folder) and not storage.glob(storage.join(folder, "*")):
                    storage.remove(folder)
        except (InpaintError, OSError):
            pass


def load_manifest(dataset_dir: StoragePath) -> dict[str, object]:
    """The manifest of a prepared dataset (any tf.io.gfile path), after checking that its shards are there."""
    path = storage.join(dataset_dir, MANIFEST)
    if not storage.is_dir(dataset_dir):
        raise UsageError(f"{storage.as_text(dataset_dir)} is not a folder")
    if not storage.exists(path):
        raise UsageError(f"{storage.as_text(dataset_dir)} has no {MANIFEST}; make it with `inpaint prepare`")
    try:
        manifest = json.loads(storage.read_text(path))
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise InpaintError(f"{path} is not valid JSON ({error})") from None
    missing = [
        name
        for split in SPLITS
        for name in manifest["shards"][split]
        if not storage.exists(storage.join(dataset_dir, name))
    ]
    if missing:
        raise InpaintError(
            f"{storage.as_text(dataset_dir)} is missing shard files: {', '.join(missing)}; prepare it again"
        )
    return manifest


def manifest_digest(dataset_dir: StoragePath) -> str:
    """SHA-256 of the manifest file, recorded in model cards."""
    return hashlib.sha256(storage.read_bytes(storage.join(dataset_dir, MANIFEST))).hexdigest()


def _records(dataset_dir: StoragePath, manifest: dict[str, object], split: str):
    """The serialized samples of a split, in a fixed order."""
    from inpaint_cli.backend import tf

    files = [storage.join(dataset_dir, name) for name in manifest["shards"][split]]
    if not files:
        raise InpaintError(
            f"the dataset has no {split} samples; prepare it with a larger --val-fraction or more photos"
        )
    # Interleaved reads are deterministic by default; the seeded training stream relies on that order.
    return tf.data.TFRecordDataset(files, num_parallel_reads=min(len(files), os.cpu_count() or 1))


MIN_ZOOM = 0.25  # the smallest crop side that zoom draws, as a share of the sample's side


def _zoomed(image, key, zoom_fraction: float, size: int):
    """With probability zoom_fraction, a random square crop of image (side MIN_ZOOM..1 of it) enlarged back to size.

    The enlarged crops are smooth at the pixel level, like the windows that fill scales down from
    big photos: without them the network learned JPEG blocks and texture everywhere, and on the
    smooth sky of 12 MP photos did worse than a plain smooth fill.
    """
    from inpaint_cli.backend import tf

    draw = tf.random.stateless_uniform([4], seed=key)
    side = tf.cast(tf.round(size * (MIN_ZOOM + (1.0 - MIN_ZOOM) * draw[1])), tf.int32)
    top = tf.cast(draw[2] * tf.cast(size - side + 1, tf.float32), tf.int32)
    left = tf.cast(draw[3] * tf.cast(size - side + 1, tf.float32), tf.int32)
    crop = tf.image.crop_to_bounding_box(image, top, left, side, side)
    enlarged = tf.image.resize(crop, [size, size], method="bilinear")
    return tf.where(draw[0] < zoom_fraction, enlarged, image)


def _parser(
    manifest: dict[str, object],
    random_holes: bool,
    stroke_fraction: float,
    zoom_fraction: float = 0.0,
    painted_fraction: float = 0.0,
):
    """parse(record, key) -> (image, mask); key, an int64 pair, seeds the random holes, flip and zoom (stateless)."""
    from inpaint_cli.backend import tf

    parameters = manifest["parameters"]
    size = int(parameters["size"])
    holes_per_image = int(parameters["holes_per_image"])

    def prepared_mask(flat_boxes: np.ndarray) -> np.ndarray:
        boxes = [Box(*map(int, flat_boxes[i : i + 3])) for i in range(0, len(flat_boxes), 3)]
        return masking.draw_boxes(boxes, size, size)

    def fresh_mask(mask_seed: np.ndarray) -> np.ndarray:
        rng = np.random.default_rng(int(mask_seed))
        hole_min, hole_max = parameters["hole_min"], parameters["hole_max"]
        return masking.random_training_holes(
            rng, size, hole_min, hole_max, holes_per_image, stroke_fraction, painted_fraction
        )

    def parse(record: tf.Tensor, key: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        features = tf.io.parse_single_example(
            record,
            {
                "image_png": tf.io.FixedLenFeature([], tf.string),
                "boxes": tf.io.VarLenFeature(tf.int64),
            },
        )
        image = tf.image.convert_image_dtype(tf.io.decode_png(features["image_png"], channels=3), tf.float32)
        if random_holes:
            flip_key, mask_key = tf.unstack(tf.random.experimental.stateless_split(key, 2))
            image = tf.image.stateless_random_flip_left_right(image, seed=flip_key)
            if zoom_fraction > 0:
                image = _zoomed(image, tf.random.experimental.stateless_fold_in(key, 7), zoom_fraction, size)
            mask_seed = tf.random.stateless_uniform([], seed=mask_key, minval=0, maxval=2**62, dtype=tf.int64)
            mask = tf.numpy_function(fresh_mask, [mask_seed], tf.float32, stateful=False)
        else:
            mask = tf.numpy_function(prepared_mask, [tf.sparse.to_dense(features["boxes"])], tf.float32, stateful=False)
        image.set_shape([size, size, 3])
        mask = tf.reshape(mask, [size, size, 1])
        return image, mask

    return parse


def _key(seed: int, index):
    """The stateless seed of one element: (seed, index) as an int64 pair."""
    from inpaint_cli.backend import tf

    return tf.stack([tf.constant(seed, tf.int64), tf.cast(index, tf.int64)])


def read_split(
    dataset_dir: StoragePath,
    manifest: dict[str, object],
    split: str,
    random_holes: bool = False,
    stroke_fraction: float = 1 / 3,
    seed: int = 0,
    zoom_fraction: float = 0.0,
):
    """One pass over a split: a tf.data.Dataset of (image, mask) float32 pairs, HxWx3 in [0, 1] and HxWx1.

    random_holes draws holes (sizes from the manifest, a share of them free-form
    strokes), flips images and zooms into a zoom_fraction of them at random
    (see _zoomed), element i from the seed pair (seed, i);
    otherwise the prepared boxes are used, so validation figures are comparable
    between runs.
    """
    from inpaint_cli.backend import tf

    parse = _parser(manifest, random_holes, stroke_fraction, zoom_fraction)
    records = _records(dataset_dir, manifest, split).enumerate()
    return records.map(lambda index, record: parse(record, _key(seed, index)), num_parallel_calls=tf.data.AUTOTUNE)


def training_stream(
    dataset_dir: StoragePath,
    manifest: dict[str, object],
    stroke_fraction: float = 1 / 3,
    seed: int = 0,
    start: int = 0,
    zoom_fraction: float = 0.0,
    share: tuple[int, int, int] = (0, 1, 1),
    painted_fraction: float = 0.0,
):
    """Endless (image, mask) pairs for training: pass after pass over the train split, with fresh holes.

    painted_fraction of the holes are painted ones (blobs and bands, see masking.random_training_mask).
    Each pass reads the shards in a new order and shuffles them within windows of
    SHUFFLE_BUFFER samples; each element gets its own random holes, flip and zoom. Element
    k of the stream is a pure function of (seed, k), whatever the thread timing,
    iterator or number of replicas, so start=k picks the stream up exactly where a
    run that stopped after k samples left it.

    share=(part, parts, batch_size) keeps only the part-th of parts equal slices of every
    batch_size consecutive elements (counted from element 0, so start must be a multiple of
    batch_size): a worker of a cluster decodes only its own slice of each global batch, and
    the slices of all workers together are exactly the one-machine stream.
    """
    from inpaint_cli.backend import tf

    count = int(manifest["counts"]["train"])
    names = manifest["shards"]["train"]
    if count == 0 or not names:
        raise InpaintError("the dataset has no train samples; prepare it again with more photos")
    files = tf.constant([storage.join(dataset_dir, name) for name in names])
    first_pass, offset = divmod(start, count)
    # Stateless shuffles keyed by the pass number; Dataset.shuffle's seed generator is shared between
    # iterators of one dataset, so its order would depend on how many iterators Keras makes.
    window = min(count, SHUFFLE_BUFFER)

    def one_pass(index: tf.Tensor):
        file_key, window_key = tf.unstack(tf.random.experimental.stateless_split(_key(seed, -1 - index), 2))
        shards = tf.random.experimental.stateless_shuffle(files, seed=file_key)
        records = tf.data.TFRecordDataset(shards, num_parallel_reads=min(len(names), os.cpu_count() or 1))

        def shuffled(number: tf.Tensor, batch: tf.Tensor):
            key = tf.random.experimental.stateless_fold_in(window_key, number)
            return tf.data.Dataset.from_tensor_slices(tf.random.experimental.stateless_shuffle(batch, seed=key))

        return records.batch(window).enumerate().flat_map(shuffled)

    stream = tf.data.Dataset.range(first_pass, 2**62).flat_map(one_pass)
    parse = _parser(
        manifest,
        random_holes=True,
        stroke_fraction=stroke_fraction,
        zoom_fraction=zoom_fraction,
        painted_fraction=painted_fraction,
    )
    part, parts, batch_size = share
    if parts < 1 or batch_size % parts or not 0 <= part < parts or (parts > 1 and start % batch_size):
        raise InpaintError(f"cannot take share {share} of a stream starting at element {start}")
    slice_size = batch_size // parts
    records = stream.enumerate(start=first_pass * count).skip(offset)
    if parts > 1:  # before decoding: the other slices are read (cheap) but never decoded
        records = records.filter(lambda index, record: (index % batch_size) // slice_size == part)
    return records.map(lambda index, record: parse(record, _key(seed, index)), num_parallel_calls=tf.data.AUTOTUNE)


@dataclass
class TrainingInputs:
    """The prepared dataset as training sees it."""

    manifest: dict[str, object]
    digest: str  # of manifest.json, recorded in the model card and in .backup/options.json
    validation_pairs: tf.data.Dataset  # (image, mask) with the prepared holes
    steps_per_epoch: int

    @property
    def size(self) -> int:
        return int(self.manifest["parameters"]["size"])


def open_for_training(dataset_dir: StoragePath, batch_size: int) -> TrainingInputs:
    """Read the manifest and the validation split first, so that a bad dataset fails before the model folder changes."""
    from inpaint_cli.backend import tf

    manifest = load_manifest(dataset_dir)
    validation_pairs = read_split(dataset_dir, manifest, "validation", random_holes=False).apply(
        tf.data.experimental.assert_cardinality(int(manifest["counts"]["validation"]))
    )
    steps = max(1, math.ceil(int(manifest["counts"]["train"]) / batch_size))
    return TrainingInputs(manifest, manifest_digest(dataset_dir), validation_pairs, steps)


def write_contact_sheet(dataset_dir: StoragePath, manifest: dict[str, object], path: Path, columns: int = 8) -> None:
    """An image grid of up to 4 rows of holed training samples (holes in black), in the format path's suffix names."""
    from PIL import Image

    samples = read_split(dataset_dir, manifest, "train", random_holes=False).take(columns * 4)
    tiles = [(image.numpy() * (1 - mask.numpy()) * 255).round().astype(np.uint8) for image, mask in samples]
    size = int(manifest["parameters"]["size"])
    blank = np.zeros((size, size, 3), np.uint8)
    tiles += [blank] * (-len(tiles) % columns)
    rows = [np.concatenate(tiles[i : i + columns], axis=1) for i in range(0, len(tiles), columns)]
    sheet = Image.fromarray(np.concatenate(rows, axis=0))
    format_name = new_outputs.image_format(path) or "PNG"
    atomic_files.write_atomically(path, lambda temporary: sheet.save(temporary, format=format_name))
