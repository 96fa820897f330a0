"""The masked training dataset: `prepare` writes it, `read_split` streams it into tf.data.

On disk: TFRecord shards of tf.train.Example (PNG image, hole boxes as x,y,size
triples) and a manifest.json written last, so an interrupted run never looks complete.
"""

from __future__ import annotations

import hashlib
import json
import os
import zlib
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from inpaint_cli import __version__, images, masking
from inpaint_cli.errors import InpaintError, UsageError

MANIFEST = "manifest.json"
SAMPLES_PER_SHARD = 1024
SPLITS = ("train", "validation")


@dataclass(frozen=True)
class PrepareConfig:
    """Parameters of `inpaint prepare`; all are stored in the manifest."""

    size: int = 128
    holes_per_image: int = 1
    hole_min: int = 16
    hole_max: int = 48
    val_fraction: float = 0.1
    seed: int = 0

    def check(self) -> None:
        if self.size < 16 or self.size % 16:
            raise UsageError(f"--size {self.size} must be a multiple of 16 (16 or more)")
        if not 1 <= self.hole_min <= self.hole_max <= self.size:
            raise UsageError(
                f"hole sizes {self.hole_min}..{self.hole_max} must satisfy 1 <= --hole-min <= --hole-max <= --size"
            )
        if self.holes_per_image < 1:
            raise UsageError("--holes-per-image must be at least 1")
        if not 0.0 <= self.val_fraction < 1.0:
            raise UsageError(f"--val-fraction {self.val_fraction} must be in [0, 1)")


def split_of(relative_path: str, val_fraction: float) -> str:
    """The split of a file, decided by a hash of its relative path (not by reading order)."""
    digest = hashlib.sha256(relative_path.encode()).digest()
    position = int.from_bytes(digest[:8], "big") / 2**64
    return "validation" if position < val_fraction else "train"


def _relative_names(sources: list[Path]) -> list[tuple[Path, str]]:
    """Each image under sources with its path relative to the source it came from."""
    named = []
    for source in sources:
        for path in images.find_images([source]):
            relative = path.name if source.is_file() else path.relative_to(source).as_posix()
            named.append((path, relative))
    return named


class _ShardWriter:
    """Writes samples of one split into shards of SAMPLES_PER_SHARD records."""

    def __init__(self, folder: Path, split: str) -> None:
        self.folder, self.split = folder, split
        self.count, self.shards, self._writer = 0, [], None

    def write(self, record: bytes) -> None:
        from inpaint_cli.backend import tf

        if self.count % SAMPLES_PER_SHARD == 0:
            self.close()
            name = f"{self.split}-{len(self.shards):05d}.tfrecord"
            self.shards.append(name)
            self._writer = tf.io.TFRecordWriter(str(self.folder / name))
        self._writer.write(record)
        self.count += 1

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None


def _example(png: bytes, boxes: list[masking.Box]) -> bytes:
    from inpaint_cli.backend import tf

    flat_boxes = [value for box in boxes for value in (box.x, box.y, box.size)]
    feature = {
        "image_png": tf.train.Feature(bytes_list=tf.train.BytesList(value=[png])),
        "boxes": tf.train.Feature(int64_list=tf.train.Int64List(value=flat_boxes)),
    }
    return tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString(deterministic=True)


def prepare(
    sources: list[Path],
    out_dir: Path,
    config: PrepareConfig,
    on_file: Callable[[int, int, Path, str | None], None] = lambda done, total, path, skipped: None,
    force: bool = False,
) -> dict[str, object]:
    """Write the masked dataset for every image under sources; return its manifest.

    on_file(done, total, path, skip_reason) is called after each file.
    """
    config.check()
    named = _relative_names(sources)
    if not named:
        raise UsageError(f"no images (JPEG, PNG, WebP, BMP, TIFF) under {', '.join(map(str, sources))}")
    if (out_dir / MANIFEST).exists() and not force:
        raise UsageError(f"{out_dir} already holds a dataset; use --force to replace it")
    out_dir.mkdir(parents=True, exist_ok=True)
    for stale in out_dir.glob("*.tfrecord"):
        stale.unlink()
    (out_dir / MANIFEST).unlink(missing_ok=True)

    writers = {split: _ShardWriter(out_dir, split) for split in SPLITS}
    skipped = []
    pixels = images.iter_square_photos((path for path, _ in named), config.size)
    for done, ((path, relative), (_, result)) in enumerate(zip(named, pixels, strict=True), start=1):
        if isinstance(result, str):
            skipped.append({"path": relative, "reason": result})
            on_file(done, len(named), path, result)
            continue
        # Each file's holes come from its own seeded generator, so they do not depend on order.
        rng = np.random.default_rng([config.seed, zlib.crc32(relative.encode())])
        boxes = [
            masking.random_box(rng, config.size, config.hole_min, config.hole_max)
            for _ in range(config.holes_per_image)
        ]
        writers[split_of(relative, config.val_fraction)].write(_example(images.encode_png(result), boxes))
        on_file(done, len(named), path, None)
    for writer in writers.values():
        writer.close()
    if writers["train"].count == 0:
        raise InpaintError(f"none of the {len(named)} files could be read as an image, or none fell in the train split")

    manifest = {
        "tool": "inpaint",
        "version": __version__,
        "parameters": asdict(config),
        "sources": [str(source) for source in sources],
        "counts": {**{split: writers[split].count for split in SPLITS}, "skipped": len(skipped)},
        "shards": {split: writers[split].shards for split in SPLITS},
        "skipped": skipped,
    }
    images.write_atomically(out_dir / MANIFEST, lambda tmp: tmp.write_text(json.dumps(manifest, indent=2) + "\n"))
    return manifest


def load_manifest(dataset_dir: Path) -> dict[str, object]:
    """The manifest of a prepared dataset, after checking that its shards are there."""
    path = dataset_dir / MANIFEST
    if not dataset_dir.is_dir():
        raise UsageError(f"{dataset_dir} is not a folder")
    if not path.is_file():
        raise UsageError(f"{dataset_dir} has no {MANIFEST}; make it with `inpaint prepare`")
    try:
        manifest = json.loads(path.read_text())
    except json.JSONDecodeError as error:
        raise InpaintError(f"{path} is not valid JSON ({error})") from None
    missing = [name for split in SPLITS for name in manifest["shards"][split] if not (dataset_dir / name).is_file()]
    if missing:
        raise InpaintError(f"{dataset_dir} is missing shard files: {', '.join(missing)}; prepare it again")
    return manifest


def manifest_digest(dataset_dir: Path) -> str:
    """SHA-256 of the manifest file, recorded in model cards."""
    return hashlib.sha256((dataset_dir / MANIFEST).read_bytes()).hexdigest()


def read_split(
    dataset_dir: Path,
    manifest: dict[str, object],
    split: str,
    random_holes: bool,
    stroke_fraction: float = 1 / 3,
    seed: int = 0,
):
    """A tf.data.Dataset of (image, mask) float32 pairs, HxWx3 in [0, 1] and HxWx1.

    random_holes draws fresh holes on every pass (sizes from the manifest, a share
    of them free-form strokes) and flips images at random; otherwise the prepared
    boxes are used, so validation figures are comparable between runs.
    """
    from inpaint_cli.backend import tf

    parameters = manifest["parameters"]
    size = int(parameters["size"])
    files = [str(dataset_dir / name) for name in manifest["shards"][split]]
    holes_per_image = int(parameters["holes_per_image"])

    def prepared_mask(flat_boxes: np.ndarray) -> np.ndarray:
        boxes = [masking.Box(*map(int, flat_boxes[i : i + 3])) for i in range(0, len(flat_boxes), 3)]
        return masking.draw_boxes(boxes, size, size)

    def fresh_mask(mask_seed: np.ndarray) -> np.ndarray:
        rng = np.random.default_rng(int(mask_seed))
        hole_min, hole_max = parameters["hole_min"], parameters["hole_max"]
        holes = [
            masking.random_training_mask(rng, size, hole_min, hole_max, stroke_fraction) for _ in range(holes_per_image)
        ]
        return np.maximum.reduce(holes)

    def parse(record: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        features = tf.io.parse_single_example(
            record,
            {
                "image_png": tf.io.FixedLenFeature([], tf.string),
                "boxes": tf.io.VarLenFeature(tf.int64),
            },
        )
        image = tf.image.convert_image_dtype(tf.io.decode_png(features["image_png"], channels=3), tf.float32)
        if random_holes:
            image = tf.image.random_flip_left_right(image)
            mask_seed = tf.random.uniform([], maxval=2**62, dtype=tf.int64)
            mask = tf.numpy_function(fresh_mask, [mask_seed], tf.float32, stateful=False)
        else:
            mask = tf.numpy_function(prepared_mask, [tf.sparse.to_dense(features["boxes"])], tf.float32, stateful=False)
        image.set_shape([size, size, 3])
        mask = tf.reshape(mask, [size, size, 1])
        return image, mask

    if not files:
        raise InpaintError(
            f"the dataset has no {split} samples; prepare it with a larger --val-fraction or more photos"
        )
    tf.random.set_seed(seed)
    dataset = tf.data.TFRecordDataset(files, num_parallel_reads=min(len(files), os.cpu_count() or 1))
    return dataset.map(parse, num_parallel_calls=tf.data.AUTOTUNE)


def write_contact_sheet(dataset_dir: Path, manifest: dict[str, object], path: Path, columns: int = 8) -> None:
    """A PNG grid of up to 4 rows of holed training samples (holes shown in black)."""
    from PIL import Image

    samples = read_split(dataset_dir, manifest, "train", random_holes=False).take(columns * 4)
    tiles = [(image.numpy() * (1 - mask.numpy()) * 255).round().astype(np.uint8) for image, mask in samples]
    size = int(manifest["parameters"]["size"])
    blank = np.zeros((size, size, 3), np.uint8)
    tiles += [blank] * (-len(tiles) % columns)
    rows = [np.concatenate(tiles[i : i + columns], axis=1) for i in range(0, len(tiles), columns)]
    images.write_atomically(path, lambda tmp: Image.fromarray(np.concatenate(rows, axis=0)).save(tmp, format="PNG"))
