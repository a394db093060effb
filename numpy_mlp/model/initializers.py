"""Initial weights in the bias-row layout: row 0 (the bias weights) zero, the rest drawn at random.

fan_in counts the units of the previous layer without the bias unit, and fan_out the units of the
next layer, as Keras counts them. The names and formulas are Keras's:

    glorot_uniform  U(-L, L), L = sqrt(6 / (fan_in + fan_out))   keeps tanh layers' variance level
    he_uniform      U(-L, L), L = sqrt(6 / fan_in)               the same for ReLU (half the units off)
    lecun_uniform   U(-L, L), L = sqrt(3 / fan_in)               variance 1 / fan_in (Keras LecunUniform)
    glorot_uniform_x4  U(-4L, 4L), L Glorot's                     a gain of 4 = 1 / max f' for the
                    logistic, whose slope is at most 1/4 (Keras VarianceScaling(16, "fan_avg",
                    "uniform"))
    random_normal   N(0, 0.05^2)                                  fixed scale, whatever the width
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from numpy_mlp.io.text import brief


def _bias_rows(connections: np.ndarray, dtype) -> np.ndarray:
    W = np.zeros((connections.shape[0] + 1, connections.shape[1]), dtype=dtype)
    W[1:] = connections
    return W


def glorot_uniform(rng: np.random.Generator, fan_in: int, fan_out: int, dtype) -> np.ndarray:
    """(fan_in + 1, fan_out): bias row 0 zero, the rest U(-L, L), L = sqrt(6 / (fan_in + fan_out))."""
    limit = np.sqrt(6.0 / (fan_in + fan_out))
    return _bias_rows(rng.uniform(-limit, limit, size=(fan_in, fan_out)), dtype)


def he_uniform(rng: np.random.Generator, fan_in: int, fan_out: int, dtype) -> np.ndarray:
    """(fan_in + 1, fan_out): bias row 0 zero, the rest U(-L, L), L = sqrt(6 / fan_in)."""
    limit = np.sqrt(6.0 / fan_in)
    return _bias_rows(rng.uniform(-limit, limit, size=(fan_in, fan_out)), dtype)


def lecun_uniform(rng: np.random.Generator, fan_in: int, fan_out: int, dtype) -> np.ndarray:
    """(fan_in + 1, fan_out): bias row 0 zero, the rest U(-L, L), L = sqrt(3 / fan_in)."""
    limit = np.sqrt(3.0 / fan_in)
    return _bias_rows(rng.uniform(-limit, limit, size=(fan_in, fan_out)), dtype)


def glorot_uniform_x4(rng: np.random.Generator, fan_in: int, fan_out: int, dtype) -> np.ndarray:
    """(fan_in + 1, fan_out): bias row 0 zero, the rest U(-4L, 4L), L = sqrt(6 / (fan_in +
    fan_out)): Glorot's range times the gain 4 = 1 / max f' of the logistic."""
    limit = 4.0 * np.sqrt(6.0 / (fan_in + fan_out))
    return _bias_rows(rng.uniform(-limit, limit, size=(fan_in, fan_out)), dtype)


def random_normal(rng: np.random.Generator, fan_in: int, fan_out: int, dtype) -> np.ndarray:
    """(fan_in + 1, fan_out): bias row 0 zero, the rest N(0, 0.05^2) (Keras's RandomNormal)."""
    return _bias_rows(rng.normal(0.0, 0.05, size=(fan_in, fan_out)), dtype)


Initializer = Callable[[np.random.Generator, int, int, object], np.ndarray]
INITIALIZERS: dict[str, Initializer] = {
    "glorot_uniform": glorot_uniform,
    "he_uniform": he_uniform,
    "random_normal": random_normal,
    "lecun_uniform": lecun_uniform,
    "glorot_uniform_x4": glorot_uniform_x4,
}


def get_initializer(name: str) -> Initializer:
    """The initializer called `name`, or ValueError listing the choices."""
    try:
        return INITIALIZERS[name]
    except (KeyError, TypeError):
        raise ValueError(
            f"init must be one of {', '.join(INITIALIZERS)}, got {brief(name)}"
        ) from None
