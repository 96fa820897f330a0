"""The one place TensorFlow and Keras are imported, with their start-up log lines kept off the terminal.

Import this module only where the network is needed: it costs about 4 s.
"""

from __future__ import annotations

import os

from inpaint_cli import native_logs
from inpaint_cli.errors import InpaintError

TRAIN_EXTRA = "pip install 'inpaint[train]'"


def _import_quietly() -> tuple[object, object]:
    """Import tensorflow and keras with their C++ logging (oneDNN, CUDA, absl) silenced.

    Under KERAS_BACKEND=jax (or torch) only Keras is imported and tf is None: the network and its
    losses are written in keras.ops, so scripts/train_from_photos.py trains them on a machine without
    TensorFlow. Everything else here (datasets, `inpaint train`, export) needs TensorFlow's backend.
    """
    if os.environ.get("KERAS_BACKEND", "tensorflow") != "tensorflow":
        try:
            import keras
        except ImportError as error:
            backend = os.environ["KERAS_BACKEND"]
            raise InpaintError(f"KERAS_BACKEND={backend} needs Keras 3 and {backend} installed ({error})") from None
        return None, keras
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
