"""What runs a model: the LiteRT runner, loading a predictor (the model folder's names and card: model_folder.py).

"Model" is the saved file or folder; a `Predictor` is a loaded model ready to predict windows;
the Keras network itself is built in network.py. A .tflite runs through the LiteRT interpreter
(package ai-edge-litert, about 0.2 s to import); only a .keras imports TensorFlow (about 4 s).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from inpaint_cli import native_logs
from inpaint_cli.errors import InpaintError, UsageError
from inpaint_cli.model.model_folder import KERAS_FILE, LITERT_FILE, card_input_size, model_path, runnable_files

# float32 NxSxSx4 -> float32 NxSxSx6 (the network's fill, then its smooth fill; or only the first 3), in [0, 1]
Predict = Callable[[np.ndarray], np.ndarray]


@dataclass(frozen=True)
class Predictor:
    """A loaded model ready to fill: its predict function, its square input size and where it came from."""

    predict: Predict
    input_size: int
    path: Path


class LiteRTPredict:
    """Runs a .tflite U-Net one window at a time: float32 NxSxSx4 -> float32 NxSxSx6 (or 3).

    The 6 channels are the network's fill and its smooth fill (network.with_smooth_fill), as
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


def load_litert(model_file: Path, threads: int | None = None) -> LiteRTPredict:
    """Open a .tflite file for prediction with the LiteRT interpreter (TensorFlow is not imported).

    threads: how many the interpreter runs on; None: every core.
    """
    if not model_file.is_file():
        raise UsageError(f"model {model_file} does not exist")
    try:
        return LiteRTPredict(model_file, threads)
    except ImportError:
        raise InpaintError(
            f"{model_file} needs the LiteRT interpreter (pip install ai-edge-litert); "
            f"where it has no wheel, fill with the model's {KERAS_FILE} and pip install 'inpaint[train]'"
        ) from None


def load_predictor(path: str | Path | None = None, threads: int | None = None) -> Predictor:
    """Load a model: a model folder (its model.tflite, else model.keras), a .tflite or a .keras file.

    threads: how many a LiteRT model runs on (None: every core); a worker process of several takes its share.

    None or "bundled" is the bundled model. A folder whose model.tflite cannot run here because
    LiteRT is not installed falls back to its model.keras when TensorFlow is.
    """
    path = model_path(path)
    if not path.exists():
        raise UsageError(f"model {path} does not exist")
    keras_file, litert_file = runnable_files(path)
    if path.is_dir() and not litert_file.is_file() and not keras_file.is_file():
        raise InpaintError(f"model folder {path} holds neither {LITERT_FILE} nor {KERAS_FILE}")
    if litert_file.suffix.lower() == ".tflite" and litert_file.is_file():
        if path.is_dir() and keras_file.is_file() and not _installed("ai_edge_litert") and _installed("tensorflow"):
            return _load_keras(keras_file, path)
        predict = load_litert(litert_file, threads)
        return Predictor(predict, int(predict.input_size or card_input_size(path)), path)
    return _load_keras(keras_file, path)


def _installed(package: str) -> bool:
    """Whether package can be imported, without importing it."""
    from importlib.util import find_spec

    return find_spec(package) is not None


def load_network(path: Path):  # noqa: ANN201 - a keras.Model; keras is imported only here
    """Load the network of a .keras file or a model folder's model.keras, for inference (imports TensorFlow)."""
    import inpaint_cli.model.network  # noqa: F401 - registers the custom layers; says which extra installs TensorFlow
    from inpaint_cli.backend import keras

    model_file = runnable_files(path)[0]
    if not model_file.exists():
        raise InpaintError(f"model {model_file} does not exist")
    try:
        unet = keras.saving.load_model(model_file, compile=False)
    except Exception as error:  # Keras raises many types for a bad file
        raise InpaintError(f"{model_file} is not a model inpaint can load ({type(error).__name__})") from None
    if unet.input_shape[-1] != 4:
        raise InpaintError(f"{model_file} takes {unet.input_shape[-1]} channels; inpaint needs RGB + mask (4)")
    if unet.output_shape[-1] != 3:
        raise InpaintError(f"{model_file} returns {unet.output_shape[-1]} channels; inpaint needs RGB (3)")
    return unet


def _load_keras(keras_file: Path, path: Path) -> Predictor:
    """Load a .keras file (of the model at path) through Keras; its outputs gain the smooth fill."""
    from inpaint_cli.model import network

    unet = network.with_smooth_fill(load_network(keras_file))
    input_size = unet.input_shape[1] or card_input_size(keras_file)

    def predict(batch: np.ndarray) -> np.ndarray:
        return np.asarray(unet(batch, training=False), dtype=np.float32)

    return Predictor(predict, int(input_size), path)
