"""Importing TensorFlow lazily, with a clear message when the `keras` extra is missing.

Nothing in the project imports TensorFlow at module level: `tensorflow()` and `keras()` are called
inside the functions that need them, so NumPy-only work never pays TensorFlow's start-up time.
"""

from __future__ import annotations

import os

INSTALL_HINT = "install the keras extra: pip install 'mlp-compare[keras]'"


class KerasUnavailableError(ImportError):
    """TensorFlow (with Keras 3) is not installed, or is too old."""


def tensorflow():
    """The `tensorflow` module; KerasUnavailableError naming the extra if it is missing."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # no C++ start-up chatter
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    try:
        import tensorflow as tf
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


def keras():
    """The Keras 3 module (TensorFlow backend)."""
    tensorflow()
    import keras as keras_module

    return keras_module


def available() -> bool:
    """True when TensorFlow 2.16+ can be imported (imports it)."""
    try:
        tensorflow()
    except KerasUnavailableError:
        return False
    return True
