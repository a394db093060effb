"""Shared set-up for the benchmark suite: the tutorial configuration on real MNIST, float32."""

from __future__ import annotations

import time

import numpy as np
import pytest

from compare.environment import environment
from numpy_mlp.training.loop import split_validation

LAYERS = (784, 50, 50, 10)
BATCH = 64
DTYPE = "float32"


@pytest.fixture(scope="session")
def train_rows(mnist):
    """The 54,000 training rows (float32) and one-hot targets, after the 10% validation split."""
    X = mnist.X_train.astype(np.float32)
    Y = np.eye(10, dtype=np.float32)[mnist.y_train]
    X_train, Y_train, _, _ = split_validation(X, Y, 0.1)
    return np.ascontiguousarray(X_train), np.ascontiguousarray(Y_train)


@pytest.fixture(scope="session")
def env_info():
    try:
        return environment(with_tensorflow=True)
    except ImportError:
        return environment(with_tensorflow=False)


@pytest.fixture
def record(benchmark, env_info):
    """Fill benchmark.extra_info with versions, dtype and threads, plus anything given."""

    def fill(**extra):
        benchmark.extra_info.update(
            {
                "dtype": DTYPE,
                "layers": "-".join(map(str, LAYERS)),
                "batch": BATCH,
                "numpy": env_info["numpy"],
                "blas_threads": [b["num_threads"] for b in env_info["blas"]],
                "tensorflow": env_info.get("tensorflow"),
                "tf_intra_op_threads": env_info.get("tf_intra_op_threads"),
                "tf_inter_op_threads": env_info.get("tf_inter_op_threads"),
                **extra,
            }
        )

    return fill


def traced(fn, *args) -> float:
    """Call fn once (tracing, compilation, warm-up) and return how long that took."""
    started = time.perf_counter()
    fn(*args)
    return time.perf_counter() - started
