"""Where a training run starts (`--init-from`): that model's card, and the width the new network takes from it.

Light on imports (no TensorFlow, no Keras), so `train` and scripts/train_from_photos.py settle their options first.
"""

from __future__ import annotations

from inpaint_cli.model.model_folder import keras_and_card_files, parse_card
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


def starting_width(width: int | None, init_from: str | None) -> int:
    """--width as asked; left out, that of the model training starts from (as its card says), else the default.

    So `--init-from` a model of any width fine-tunes it as it is, and widening it is asked for by naming a --width.
    """
    if width is not None:
        return width
    parent_width = parent_card(init_from).get("width") if init_from else None
    return parent_width if isinstance(parent_width, int) and parent_width > 0 else TrainConfig.width
