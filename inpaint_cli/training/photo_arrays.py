"""Training samples as NumPy arrays, straight from photo folders: no TFRecords and no TensorFlow.

`inpaint train` reads a dataset that `inpaint prepare` wrote with TensorFlow. A machine with a GPU
but no TensorFlow (Keras on JAX) trains from the photos instead (scripts/train_from_photos.py):
the same split (dataset.split_of), the same squares and validation holes as `prepare` draws, and
training samples drawn as `inpaint train` draws them (fresh holes, flips, zoomed crops), in NumPy.
Validation figures therefore compare with those of `inpaint train` on a dataset prepared with the
same options.
"""

from __future__ import annotations

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

    float32, images B x S x S x 3 in [0, 1] and masks B x S x S x 1, drawn as `inpaint train` draws
    its samples (dataset._parser): a flip at even odds, a zoomed crop for zoom_fraction of them, and
    holes_per_image holes from masking.random_training_mask.
    """
    size = prepare.size
    batch_images = np.empty((len(indices), size, size, 3), np.float32)
    batch_masks = np.empty((len(indices), size, size, 1), np.float32)
    for row, index in enumerate(indices):
        image = photos[index]
        if rng.uniform() < 0.5:
            image = image[:, ::-1]
        if rng.uniform() < config.zoom_fraction:
            image = _zoomed(image, rng)
        batch_images[row] = image / 255.0
        holes = [
            masking.random_training_mask(
                rng, size, prepare.hole_min, prepare.hole_max, config.stroke_fraction, config.painted_fraction
            )
            for _ in range(prepare.holes_per_image)
        ]
        batch_masks[row, ..., 0] = np.maximum.reduce(holes)
    return batch_images, batch_masks


def _zoomed(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A random square crop (MIN_ZOOM to all of the side) enlarged back to full size: smooth at the pixel level."""
    size = image.shape[0]
    side = round(size * rng.uniform(MIN_ZOOM, 1.0))
    top, left = rng.integers(0, size - side + 1, size=2)
    crop = Image.fromarray(np.ascontiguousarray(image[top : top + side, left : left + side]))
    return np.asarray(crop.resize((size, size), Image.Resampling.BILINEAR))
