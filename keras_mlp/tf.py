"""TensorFlow's own settings (its thread pools). Importing TensorFlow and Keras lazily lives in
keras_mlp.backend; `tensorflow`, `keras` and KerasUnavailableError are also importable from here.
"""

from __future__ import annotations

from keras_mlp.backend import (  # noqa: F401 - re-exported: where these have always been
    INSTALL_HINT,
    KerasUnavailableError,
    keras,
    quiet_stderr,
    tensorflow,
)


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
