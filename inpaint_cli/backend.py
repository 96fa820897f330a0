"""The one place TensorFlow and Keras are imported, with their start-up log lines kept off the terminal.

Import this module only where the network is needed: it costs about 4 s.
"""

from __future__ import annotations

import os

from inpaint_cli import native_logs
from inpaint_cli.errors import InpaintError

TRAIN_EXTRA = "pip install 'inpaint[train]'"


def _import_quietly() -> tuple[object, object]:
    """Import tensorflow and keras with their C++ logging (oneDNN, CUDA, absl) silenced."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("ABSL_MIN_LOG_LEVEL", "3")
    with native_logs.silenced():
        try:
            import keras
            import tensorflow as tf
        except ImportError:  # the light install fills photos only
            raise InpaintError(f"this command needs TensorFlow, which is not installed: {TRAIN_EXTRA}") from None

        tf.get_logger().setLevel("ERROR")
        tf.config.list_physical_devices()  # the CUDA probe logs here, still silenced
    return tf, keras


tf, keras = _import_quietly()
