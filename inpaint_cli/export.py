"""The network as a LiteRT (TensorFlow Lite) flatbuffer: writing model.tflite, and running it.

Running a .tflite needs only the LiteRT interpreter (package ai-edge-litert, about
0.2 s to import); only export() imports TensorFlow (about 4 s).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from inpaint_cli import images, masking, native_logs
from inpaint_cli.errors import InpaintError, UsageError

LITERT_FILE = "model.tflite"
KERAS_FILE = "model.keras"
TOLERANCE = 1e-4  # largest absolute difference allowed between the two models' outputs, in [0, 1] RGB units
SAMPLES = 4  # sample inputs compared after export


class LiteRTPredict:
    """Runs a .tflite U-Net one window at a time: float32 NxSxSx4 -> float32 NxSxSx6 (or 3).

    The 6 channels are the network's fill and its smooth fill (model.with_smooth_fill), as
    export writes them; a file with only the 3 of the fill is run too.

    One window per invoke: for 16 windows of 128 px it took 325 ms against 390 ms for one invoke on the
    input resized to 16 (730 ms with the resize and allocation), on 2 busy cores, so a batch buys nothing.
    """

    def __init__(self, model_file: Path, num_threads: int | None = None) -> None:
        from ai_edge_litert.interpreter import Interpreter

        self.model_file = model_file
        try:
            self._interpreter = Interpreter(model_path=str(model_file), num_threads=num_threads or os.cpu_count() or 1)
        except (ValueError, RuntimeError) as error:
            raise InpaintError(f"{model_file} is not a LiteRT model inpaint can run ({error})") from None
        inputs, outputs = self._interpreter.get_input_details(), self._interpreter.get_output_details()
        if len(inputs) != 1 or len(outputs) != 1:
            raise InpaintError(f"{model_file} has {len(inputs)} inputs, {len(outputs)} outputs; inpaint needs one each")
        self._input, self._output = inputs[0], outputs[0]
        shape = tuple(int(side) for side in self._input["shape_signature"])
        if len(shape) != 4 or shape[-1] != 4:
            raise InpaintError(f"{model_file} takes input of shape {shape}; inpaint needs NxSxSx4 (RGB + mask)")
        if self._output["shape"][-1] not in (3, 6):
            channels = self._output["shape"][-1]
            raise InpaintError(f"{model_file} returns {channels} channels; inpaint needs 6 (fill, smooth fill) or 3")
        if self._input["dtype"] != np.float32 or self._output["dtype"] != np.float32:
            raise InpaintError(f"{model_file} is quantised ({self._input['dtype'].__name__}); inpaint needs float32")
        self.input_size = shape[1] if shape[1] > 0 else None  # None: not fixed in the file
        self._side = 0  # the window side the tensors are allocated for; 0: not yet
        if self.input_size:
            self._prepare(self.input_size)

    def _prepare(self, side: int) -> None:
        """Allocate the tensors for one side x side window (resized when the file leaves the size open)."""
        if self._side == side:
            return
        try:
            self._interpreter.resize_tensor_input(self._input["index"], [1, side, side, 4], strict=True)
            # The XNNPACK delegate announces itself on fd 2 when tensors are first allocated.
            with native_logs.silenced():
                self._interpreter.allocate_tensors()
        except (ValueError, RuntimeError) as error:
            raise InpaintError(f"{self.model_file} cannot take {side} px windows ({error})") from None
        self._side = side

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        batch = np.ascontiguousarray(batch, dtype=np.float32)
        self._prepare(batch.shape[1])
        predictions = []
        for window in batch:
            self._interpreter.set_tensor(self._input["index"], window[None])
            self._interpreter.invoke()
            predictions.append(self._interpreter.get_tensor(self._output["index"])[0].copy())
        return np.stack(predictions)


def load_litert(model_file: Path) -> LiteRTPredict:
    """Open a .tflite file for prediction with the LiteRT interpreter (TensorFlow is not imported)."""
    if not model_file.is_file():
        raise UsageError(f"model {model_file} does not exist")
    return LiteRTPredict(model_file)


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


def export(model_dir: Path, tolerance: float = TOLERANCE, samples: int = SAMPLES, seed: int = 0) -> ExportResult:
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
        raise UsageError(f"tolerance must be at least 0, not {tolerance}")
    from inpaint_cli import (
        filling,
        network,  # imports TensorFlow
    )

    unet = network.with_smooth_fill(network.load_model(model_dir))
    input_size = unet.input_shape[1] or filling.card_input_size(model_dir)
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
        produced = load_litert(temporary)(inputs)
        difference = float(np.max(np.abs(produced - expected))) if produced.shape == expected.shape else np.inf
        differences.append(difference)
        if not difference <= tolerance:  # also catches NaN
            outcome = "left as it was" if target.exists() else "not written"
            raise InpaintError(
                f"the LiteRT model differs from the Keras model by up to {difference:.3g} on {samples} sample "
                f"inputs (tolerance {tolerance:g}); {target} was {outcome}"
            )

    images.write_atomically(target, write)
    return ExportResult(target, differences[0], tolerance, samples, target.stat().st_size)
