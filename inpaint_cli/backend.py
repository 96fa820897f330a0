"""The one place TensorFlow and Keras are imported, with their start-up log lines kept off the terminal.

Import this module only where the network is needed: it costs about 4 s.
"""

from __future__ import annotations

import os


def _import_quietly() -> tuple[object, object]:
    """Import tensorflow and keras while file descriptor 2 points at /dev/null.

    TensorFlow's C++ logging (oneDNN, CUDA, absl) writes straight to fd 2 during
    import, below Python's sys.stderr, so only a redirect of the descriptor hides it.
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("ABSL_MIN_LOG_LEVEL", "3")
    saved_stderr = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    try:
        import keras
        import tensorflow as tf

        tf.get_logger().setLevel("ERROR")
        tf.config.list_physical_devices()  # the CUDA probe logs here, still silenced
    finally:
        os.dup2(saved_stderr, 2)
        os.close(saved_stderr)
        os.close(devnull)
    return tf, keras


tf, keras = _import_quietly()
