"""What a speed number depends on: library versions, CPU count and thread settings."""

from __future__ import annotations

import os
import platform
import sys

THREAD_VARIABLES = (
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "TF_NUM_INTRAOP_THREADS",
    "TF_NUM_INTEROP_THREADS",
)


def blas_info() -> list[dict]:
    """The BLAS libraries NumPy loaded and their thread counts (via threadpoolctl when present)."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return []
    return [
        {k: lib.get(k) for k in ("internal_api", "version", "num_threads", "architecture")}
        for lib in threadpool_info()
        if lib.get("user_api") == "blas"
    ]


def environment(*, with_tensorflow: bool) -> dict:
    """Versions and thread settings; imports TensorFlow only when asked."""
    import numpy as np

    info = {
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpu_count": os.cpu_count(),
        "numpy": np.__version__,
        "blas": blas_info(),
        "thread_env": {k: os.environ[k] for k in THREAD_VARIABLES if k in os.environ},
    }
    if with_tensorflow:
        from keras_mlp.tf import keras, tensorflow

        tf = tensorflow()
        info["tensorflow"] = tf.__version__
        info["keras"] = keras().__version__
        info["tf_intra_op_threads"] = tf.config.threading.get_intra_op_parallelism_threads()
        info["tf_inter_op_threads"] = tf.config.threading.get_inter_op_parallelism_threads()
    return info
