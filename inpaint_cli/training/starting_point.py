"""Where a training run starts (`--init-from`): that model's card, and the width the new network takes from it.

Light on imports (no TensorFlow, no Keras), so `train` and scripts/train_from_photos.py settle their options first.
"""

from __future__ import annotations

import json

from inpaint_cli.errors import InpaintError
from inpaint_cli.model.model_folder import BACKUP_DIR, OPTIONS_FILE, STATE_FILE, keras_and_card_files, parse_card
from inpaint_cli.settings import TrainConfig
from inpaint_cli.training import storage


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


def starting_width(width: int | None, init_from: str | None, out_dir: str | None = None) -> int:
    """--width as asked; left out, that of the run out_dir holds unfinished (so the same command resumes it, even
    one started when the default was another), else that of the model training starts from (as its card says),
    else the default.

    So `--init-from` a model of any width fine-tunes it as it is, and widening it is asked for by naming a --width.
    """
    if width is not None:
        return width
    unfinished = _unfinished_run_width(out_dir) if out_dir else None
    for found in (unfinished, parent_card(init_from).get("width") if init_from else None):
        if isinstance(found, int) and found > 0:
            return found
    return TrainConfig.width


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
