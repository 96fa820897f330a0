"""The model folder: the names of its files, its card (model.json), and what a --model value names.

A model is a folder (model.tflite and/or model.keras, model.json, history.csv, preview.png) or
one .keras or .tflite file, whose card, when it has one, lies beside it. Every other module asks
here rather than spelling a name. Light on purpose (no numpy, no TensorFlow): `fill` reads it
while the first photo decodes. Paths are local `Path`s, or strings that may be tf.io.gfile URLs
(gs://bucket/model) where training reads and writes them.
"""

from __future__ import annotations

import posixpath
from pathlib import Path

from inpaint_cli.errors import InpaintError

KERAS_FILE = "model.keras"
LITERT_FILE = "model.tflite"
CARD_FILE = "model.json"
HISTORY_FILE = "history.csv"  # one row per epoch
PREVIEW_FILE = "preview.png"  # validation samples: holed | filled | original
TRAINED_FILES = (KERAS_FILE, HISTORY_FILE, PREVIEW_FILE)  # what `train` writes beside the card
BACKUP_DIR = ".backup"  # inside the model folder: an unfinished run of `train` (training/resuming.py)
OPTIONS_FILE = "options.json"  # in BACKUP_DIR: what a resumed run must match
STATE_FILE = "state.json"  # in BACKUP_DIR: the last completed epoch
# The card's format; /2 counts best.epoch from 1, as the console does (/1, before 2026-11-30, from 0).
CARD_FORMAT = "inpaint-model-card/2"
FIRST_CARD_FORMAT = "inpaint-model-card/1"
BUNDLED = "bundled"  # the name users type for the model that ships with inpaint
DEFAULT_INPUT_SIZE = 128  # for a model with no card and an open input size


def bundled_model_path() -> Path:
    """The folder of the model that ships with inpaint.

    An installed package carries models/ as inpaint_cli/bundled; a source checkout
    (or an editable install) reads the repository's models/ directly.
    """
    package = Path(__file__).resolve().parent.parent
    installed = package / "bundled"  # pyproject.toml installs models/ as the package inpaint_cli.bundled
    return installed if installed.is_dir() else package.parent / "models"


def model_path(name: str | Path | None) -> Path:
    """The path a --model or --init-from value names: None or "bundled" is the bundled model folder."""
    if name is None or str(name) == BUNDLED:
        return bundled_model_path()
    return Path(name)


def model_location(name: str) -> str:
    """Where a --init-from value points, as text: "bundled" is the bundled model folder, a local path is
    normalised as model_path does it, and a URL (gs://bucket/model) stays as given: pathlib folds its "//"."""
    if "://" in name:
        return name
    return str(model_path(name))


def runnable_files(path: Path) -> tuple[Path, Path]:
    """(the .keras file, the .tflite file) of a model folder; a model given as one file is both."""
    if path.is_dir():
        return path / KERAS_FILE, path / LITERT_FILE
    return path, path


def keras_and_card_files(model: str) -> tuple[str, str]:
    """The .keras file and the card beside it, of a model given as a .keras file or a folder (a path or a URL)."""
    folder = (posixpath.dirname(model) or ".") if model.endswith(".keras") else model
    model_file = model if model.endswith(".keras") else posixpath.join(folder, KERAS_FILE)
    return model_file, posixpath.join(folder, CARD_FILE)


def card_text(card: dict[str, object]) -> str:
    """The card as model.json holds it: indented JSON with sorted keys."""
    import json  # here: its import compiles regular expressions (5 ms), and fill reads no card

    return json.dumps(card, indent=2, sort_keys=True) + "\n"


def parse_card(text: str) -> dict[str, object]:
    """A card from model.json's text, in the current format (see migrated); ValueError when it is not JSON."""
    import json

    return migrated(json.loads(text))


def migrated(card: dict[str, object]) -> dict[str, object]:
    """A card of an earlier format in the current one: a /1 card's best epoch counted from 1, not 0."""
    if not isinstance(card, dict):
        return card
    best = card.get("best")
    if card.get("format") == FIRST_CARD_FORMAT and isinstance(best, dict) and "epoch" in best:
        return {**card, "format": CARD_FORMAT, "best": {**best, "epoch": best["epoch"] + 1}}
    return card


def read_card(path: Path) -> dict[str, object] | None:
    """The card of a local model folder, or beside a model file; None when there is none."""
    card = (path if path.is_dir() else path.parent) / CARD_FILE
    if not card.is_file():
        return None
    try:
        return parse_card(card.read_text())
    except (OSError, ValueError) as error:
        raise InpaintError(f"the model card {card} cannot be read ({error})") from None


def card_input_size(path: Path) -> int:
    """The input size in the card beside the model, else DEFAULT_INPUT_SIZE."""
    card = read_card(path)
    return int(card["input_size"]) if card and "input_size" in card else DEFAULT_INPUT_SIZE
