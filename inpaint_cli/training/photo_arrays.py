"""Training samples as NumPy arrays, straight from photo folders: no TFRecords and no TensorFlow.

`inpaint train` reads a dataset that `inpaint prepare` wrote with TensorFlow. A machine with a GPU
but no TensorFlow (Keras on JAX) trains from the photos instead (scripts/train_from_photos.py):
the same split (dataset.split_of), the same squares and validation holes as `prepare` draws, and
training samples drawn as `inpaint train` draws them (fresh holes, flips, zoomed crops), in NumPy.
Validation figures therefore compare with those of `inpaint train` on a dataset prepared with the
same options.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from inpaint_cli.errors import UsageError
from inpaint_cli.files import training_photos
from inpaint_cli.inpainting import masking
from inpaint_cli.settings import PrepareConfig, TrainConfig
from inpaint_cli.training.dataset import MIN_ZOOM, prepared_boxes, relative_names, split_of


@dataclass(frozen=True)
class PhotoArrays:
    """A folder's photos as uint8 squares, split as `prepare` splits them, with the validation holes it draws."""

    train: np.ndarray  # N x size x size x 3, uint8
    validation: np.ndarray  # M x size x size x 3, uint8
    validation_masks: np.ndarray  # M x size x size x 1, float32, 1 = hole
    skipped: int  # files that could not be read as a photo


def load_photo_arrays(folders: list[Path], config: PrepareConfig) -> PhotoArrays:
    """Every photo under folders, centre-cropped and resized to config.size, in prepare's two splits."""
    config.check()
    named = relative_names(folders)
    if not named:
        raise UsageError(f"no images (JPEG, PNG, WebP, BMP, TIFF) under {', '.join(map(str, folders))}")
    splits: dict[str, list[np.ndarray]] = {"train": [], "validation": []}
    masks, skipped = [], 0
    pixels = training_photos.iter_square_photos((path for path, _ in named), config.size)
    for (_, relative), (_, result) in zip(named, pixels, strict=True):
        if isinstance(result, str):
            skipped += 1
            continue
        split = split_of(relative, config.val_fraction)
        splits[split].append(result)
        if split == "validation":
            masks.append(masking.draw_boxes(prepared_boxes(relative, config), config.size, config.size))
    if not splits["train"] or not splits["validation"]:
        raise UsageError(
            f"{len(splits['train'])} training and {len(splits['validation'])} validation photos: "
            "training needs both; add photos or change the validation share"
        )
    return PhotoArrays(np.stack(splits["train"]), np.stack(splits["validation"]), np.stack(masks)[..., None], skipped)


def training_batch(
    photos: np.ndarray, indices: np.ndarray, rng: np.random.Generator, config: TrainConfig, prepare: PrepareConfig
) -> tuple[np.ndarray, np.ndarray]:
    """(images, masks) for the photos at indices: flipped at random, a share zoomed, each with fresh holes.

    uint8, images B x S x S x 3 and masks B x S x S x 1 (1 = hole), drawn as `inpaint train` draws its
    samples (dataset._parser): a flip at even odds, a zoomed crop for zoom_fraction of them, and
    holes_per_image holes (masking.random_training_holes). uint8 keeps a batch small on its way
    from a drawing process (a quarter of float32's bytes); a zoomed crop is rounded to uint8 here,
    where `inpaint train` keeps it in float32 (at most half a level apart).
    """
    size = prepare.size
    batch_images = np.empty((len(indices), size, size, 3), np.uint8)
    batch_masks = np.empty((len(indices), size, size, 1), np.uint8)
    for row, index in enumerate(indices):
        image = photos[index]
        if rng.uniform() < 0.5:
            image = image[:, ::-1]
        if rng.uniform() < config.zoom_fraction:
            image = _zoomed(image, rng)
        batch_images[row] = image
        batch_masks[row, ..., 0] = masking.random_training_holes(
            rng,
            size,
            prepare.hole_min,
            prepare.hole_max,
            prepare.holes_per_image,
            config.stroke_fraction,
            config.painted_fraction,
        )
    return batch_images, batch_masks


@dataclass(frozen=True)
class BatchDrawer:
    """Draws batch i of epoch e of a run as a pure function of (seed, e, i): the same batch in any process.

    Each epoch goes through the photos in passes, each photo once per pass in a random order (as
    `inpaint train`'s shuffled stream does); a batch's flips, zooms and holes come from its own generator.
    """

    photos: np.ndarray
    config: TrainConfig
    prepare: PrepareConfig

    def photo_indices(self, epoch: int, index: int) -> np.ndarray:
        """Which photos batch index of epoch holds: its stretch of the epoch's passes over the photos."""
        count, size = len(self.photos), self.config.batch_size
        positions = index * size + np.arange(size)
        passes = {turn: self._pass_order(epoch, turn) for turn in np.unique(positions // count)}
        return np.array([passes[position // count][position % count] for position in positions])

    def _pass_order(self, epoch: int, turn: int) -> np.ndarray:
        # The last entry keeps these generators apart from the batches' [seed, epoch, index].
        return np.random.default_rng([self.config.seed, epoch, int(turn), 7919]).permutation(len(self.photos))

    def __call__(self, epoch: int, index: int) -> tuple[np.ndarray, np.ndarray]:
        rng = np.random.default_rng([self.config.seed, epoch, index])
        return training_batch(self.photos, self.photo_indices(epoch, index), rng, self.config, self.prepare)


_drawer: BatchDrawer | None = None  # a drawing process's own copy, set once when it starts


def _start_drawing(drawer: BatchDrawer) -> None:
    import signal

    global _drawer
    _drawer = drawer
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the whole group: the training process answers it


def _draw(epoch: int, index: int) -> tuple[np.ndarray, np.ndarray]:
    assert _drawer is not None, "_start_drawing runs first in every drawing process"
    return _drawer(epoch, index)


class BatchStream:
    """An epoch's batches in order, drawn ahead by processes (or here, with processes=0).

    Drawing a batch is Python and NumPy under the GIL (about 2,900 samples/s on one core, half that with
    half the holes painted, and threads only contend), while a GPU takes several times that: processes scale
    with the machine's cores. They are spawned, not forked: forking a process that runs JAX's threads
    can hang. Each gets the photos once, when it starts.
    """

    def __init__(self, drawer: BatchDrawer, processes: int) -> None:
        self.drawer = drawer
        self.pool = None
        if processes > 0:
            from concurrent.futures import ProcessPoolExecutor
            from multiprocessing import get_context

            self.pool = ProcessPoolExecutor(
                processes, mp_context=get_context("spawn"), initializer=_start_drawing, initargs=(drawer,)
            )
        self.ahead = 2 * max(processes, 1)

    def epoch(self, epoch: int, steps: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Batches 0 to steps - 1 of epoch, in order."""
        if self.pool is None:
            yield from (self.drawer(epoch, index) for index in range(steps))
            return
        pending: deque = deque()
        for index in range(steps):
            pending.append(self.pool.submit(_draw, epoch, index))
            if len(pending) > self.ahead:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()

    def close(self) -> None:
        if self.pool is not None:
            self.pool.shutdown(cancel_futures=True)


def _zoomed(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A random square crop (MIN_ZOOM to all of the side) enlarged back to full size: smooth at the pixel level."""
    size = image.shape[0]
    side = round(size * rng.uniform(MIN_ZOOM, 1.0))
    top, left = rng.integers(0, size - side + 1, size=2)
    crop = Image.fromarray(np.ascontiguousarray(image[top : top + side, left : left + side]))
    return np.asarray(crop.resize((size, size), Image.Resampling.BILINEAR))
