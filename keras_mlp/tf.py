"""Importing TensorFlow lazily, with a clear message when the `keras` extra is missing.

Nothing in the project imports TensorFlow at module level: `tensorflow()` and `keras()` are called
inside the functions that need them, so NumPy-only work never pays TensorFlow's start-up time.
Keras itself runs on the backend keras_mlp.backend chose (TensorFlow unless told otherwise).
"""

from __future__ import annotations

import contextlib
import os
import sys

INSTALL_HINT = "install the keras extra: pip install 'mlp-compare[keras]'"


class KerasUnavailableError(ImportError):
    """TensorFlow (with Keras 3) is not installed, or is too old."""


@contextlib.contextmanager
def quiet_stderr():
    """Silence file descriptor 2 while TensorFlow (or another backend) starts.

    Its C++ start-up lines (oneDNN notice, missing CUDA drivers on a CPU-only machine) are written
    before its logging is configured, so TF_CPP_MIN_LOG_LEVEL cannot hide them. Python exceptions
    still propagate; set MLP_COMPARE_TF_VERBOSE=1 to see everything.
    """
    if os.environ.get("MLP_COMPARE_TF_VERBOSE") or "tensorflow" in sys.modules:
        yield
        return
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def tensorflow():
    """The `tensorflow` module; KerasUnavailableError naming the extra if it is missing."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # no C++ start-up chatter
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    try:
        with quiet_stderr():
            import tensorflow as tf

            tf.config.list_physical_devices()  # device discovery, with its CUDA probing, now
    except ImportError as exc:
        raise KerasUnavailableError(
            f"TensorFlow is not installed ({exc}); {INSTALL_HINT}"
        ) from None
    major, minor = (int(p) for p in tf.__version__.split(".")[:2])
    if (major, minor) < (2, 16):
        raise KerasUnavailableError(
            f"TensorFlow {tf.__version__} is too old (Keras 3 needs 2.16 or newer); {INSTALL_HINT}"
        )
    return tf


def set_threads(intra: int, inter: int) -> tuple[int, int]:
    """Set TensorFlow's intra-op and inter-op thread pools (0 = TensorFlow decides: all cores).

    Only possible before TensorFlow runs its first operation (RuntimeError after that); returns
    the values in force.
    """
    tf = tensorflow()
    if (intra, inter) != (
        tf.config.threading.get_intra_op_parallelism_threads(),
        tf.config.threading.get_inter_op_parallelism_threads(),
    ):
        tf.config.threading.set_intra_op_parallelism_threads(intra)
        tf.config.threading.set_inter_op_parallelism_threads(inter)
    return (
        tf.config.threading.get_intra_op_parallelism_threads(),
        tf.config.threading.get_inter_op_parallelism_threads(),
    )


def keras():
    """The Keras 3 module, on the chosen backend (see keras_mlp.backend; TensorFlow by default)."""
    from keras_mlp.backend import keras as keras_on_backend

    return keras_on_backend()
