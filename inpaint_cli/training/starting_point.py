"""Where a training run starts (`--init-from`): that model's card, and the width the new network takes from it.

Light on imports (no TensorFlow, no Keras), so `train` and scripts/train_from_photos.py settle their options first.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

from inpaint_cli.errors import InpaintError, UsageError
from inpaint_cli.model.model_folder import BACKUP_DIR, OPTIONS_FILE, STATE_FILE, keras_and_card_files, parse_card
from inpaint_cli.settings import TrainConfig
from inpaint_cli.training import storage

# The first layer of network.build_unet (conv_block's naming): its filter count is the network's width.
FIRST_CONVOLUTION = "encoder0_conv1"


def parent_card(model: str) -> dict[str, object]:
    """The card (model.json) beside a model given as a .keras file or a folder (path or URL); {} if none is read."""
    _, card_file = keras_and_card_files(model)
    if not storage.exists(card_file):
        return {}
    try:
        card = parse_card(storage.read_text(card_file))
    except ValueError:  # not JSON: the weights may still load, and the card is only what the new card quotes
        return {}
    return card if isinstance(card, dict) else {}


def model_file_to_start_from(model: str) -> str:
    """The .keras file of the model given to --init-from (path or URL); one line when it is not there."""
    model_file, _ = keras_and_card_files(model)
    if not storage.exists(model_file):
        raise UsageError(f"the model to start from, {model}, has no {model_file}")
    return model_file


def starting_width(width: int | None, init_from: str | None, out_dir: str | None = None) -> int:
    """--width as asked; left out, that of the run out_dir holds unfinished (so the same command resumes it, even
    one started when the default was another), else that of the model training starts from (as its card says, or
    without a card as the model itself says: model_width), else (from scratch) the default.

    So `--init-from` a model of any width fine-tunes it as it is, and widening it is asked for by naming a --width.
    """
    if width is not None:
        return width
    unfinished = _unfinished_run_width(out_dir) if out_dir else None
    for found in (unfinished, parent_card(init_from).get("width") if init_from else None):
        if isinstance(found, int) and found > 0:
            return found
    return model_width(init_from) if init_from else TrainConfig.width


def model_width(model: str) -> int:
    """The width of a model from its .keras file, for one whose card does not say it (a bare .keras file): the
    default in its place would widen a narrower model unasked. UsageError asking for --width when it cannot be read.
    """
    model_file = model_file_to_start_from(model)
    with storage.local_copy(model_file) as local:
        try:
            return _first_convolution_filters(local)
        except ValueError as error:
            reason = f"cannot tell the width of the model to start from, {model} ({error})"
            raise UsageError(f"{reason}; give --width") from None


def _first_convolution_filters(keras_file: Path) -> int:
    """The filters of FIRST_CONVOLUTION in the architecture a .keras file holds (config.json in its zip), read
    without Keras so that `train` settles its options before TensorFlow starts; ValueError saying what is amiss."""
    try:
        with zipfile.ZipFile(keras_file) as archive:
            architecture = json.loads(archive.read("config.json"))
    except (OSError, KeyError, ValueError, zipfile.BadZipFile):
        raise ValueError("it is not a .keras file that Keras 3 saved") from None
    model = architecture.get("config") if isinstance(architecture, dict) else None
    layers = model.get("layers") if isinstance(model, dict) else None
    for layer in layers if isinstance(layers, list) else []:
        settings = layer.get("config") if isinstance(layer, dict) else None
        if isinstance(settings, dict) and settings.get("name") == FIRST_CONVOLUTION:
            filters = settings.get("filters")
            if layer.get("class_name") == "Conv2D" and isinstance(filters, int) and filters > 0:
                return filters
    raise ValueError(f"it has no {FIRST_CONVOLUTION} convolution, the first layer of inpaint's U-Net")


def _unfinished_run_width(out_dir: str) -> object:
    """The --width of the run out_dir holds unfinished with an epoch to resume (.backup/options.json), or None."""
    options_file = storage.join(out_dir, BACKUP_DIR, OPTIONS_FILE)
    if not storage.exists(storage.join(out_dir, BACKUP_DIR, STATE_FILE)):  # none ended: nothing to resume
        return None
    try:
        options = json.loads(storage.read_text(options_file)) if storage.exists(options_file) else {}
    except (ValueError, InpaintError):  # unreadable: resuming says so in its own words
        return None
    training = options.get("training") if isinstance(options, dict) else None
    return training.get("width") if isinstance(training, dict) else None
