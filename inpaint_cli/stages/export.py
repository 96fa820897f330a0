"""`inpaint export`: convert a model folder's model.keras to model.tflite (float32 LiteRT).

Running the result is runtime.py's; only export() imports TensorFlow (about 4 s).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from inpaint_cli import native_logs
from inpaint_cli.errors import InpaintError, UsageError
from inpaint_cli.files import atomic_files
from inpaint_cli.inpainting import masking
from inpaint_cli.model import runtime
from inpaint_cli.model.model_folder import KERAS_FILE, LITERT_FILE, card_input_size
from inpaint_cli.settings import EXPORT_TOLERANCE

SAMPLES = 4  # sample inputs compared after export


@dataclass(frozen=True)
class ExportResult:
    """What export wrote, and how closely it matches the Keras model."""

    path: Path
    max_difference: float  # largest absolute difference of the outputs, RGB in [0, 1]
    tolerance: float
    samples: int
    size_bytes: int


def sample_inputs(input_size: int, count: int = SAMPLES, seed: int = 0) -> np.ndarray:
    """Random holed inputs like fill's: float32 NxSxSx4, noise RGB with a square hole zeroed, then the mask."""
    rng = np.random.default_rng(seed)
    rgb = rng.random((count, input_size, input_size, 3), dtype=np.float32)
    boxes = [masking.random_box(rng, input_size, input_size // 8, input_size // 2) for _ in range(count)]
    mask = np.stack([masking.draw_boxes([box], input_size, input_size) for box in boxes])[..., None]
    return np.concatenate([rgb * (1.0 - mask), mask], axis=-1)


def export(model_dir: Path, tolerance: float = EXPORT_TOLERANCE, samples: int = SAMPLES, seed: int = 0) -> ExportResult:
    """Write model_dir/model.tflite (float32 LiteRT) from model_dir/model.keras, atomically.

    The new file is compared with the Keras model on `samples` seeded random holed inputs;
    when they differ by more than tolerance, nothing is written and InpaintError is raised.
    """
    if not model_dir.exists():
        raise UsageError(f"model folder {model_dir} does not exist")
    if not model_dir.is_dir():
        raise UsageError(f"{model_dir} is a file; give the model folder that holds {KERAS_FILE}")
    if not (model_dir / KERAS_FILE).is_file():
        raise UsageError(f"model folder {model_dir} has no {KERAS_FILE} to export")
    if not 0 <= tolerance:
        raise UsageError(f"--tolerance must be at least 0, not {tolerance}")
    from inpaint_cli.model import network  # imports TensorFlow

    unet = network.with_smooth_fill(runtime.load_network(model_dir))
    input_size = unet.input_shape[1] or card_input_size(model_dir)
    inputs = sample_inputs(int(input_size), samples, seed)
    expected = np.asarray(unet(inputs, training=False), dtype=np.float32)
    target = model_dir / LITERT_FILE
    differences = []

    def write(temporary: Path) -> None:
        try:
            with native_logs.silenced():
                unet.export(str(temporary), format="litert", verbose=False)
        except Exception as error:  # the converter raises many types
            first_line = str(error).strip().splitlines()[0] if str(error).strip() else ""
            raise InpaintError(f"could not convert {model_dir / KERAS_FILE} to LiteRT ({first_line})") from None
        produced = runtime.load_litert(temporary)(inputs)
        difference = float(np.max(np.abs(produced - expected))) if produced.shape == expected.shape else np.inf
        differences.append(difference)
        if not difference <= tolerance:  # also catches NaN
            outcome = "left as it was" if target.exists() else "not written"
            raise InpaintError(
                f"the LiteRT model differs from the Keras model by up to {difference:.3g} on {samples} sample "
                f"inputs (tolerance {tolerance:g}); {target} was {outcome}"
            )

    atomic_files.write_atomically(target, write)
    return ExportResult(target, differences[0], tolerance, samples, target.stat().st_size)
