"""Initial weights in the bias-row layout: row 0 (the bias weights) zero, the rest drawn at random.

fan_in counts the units of the previous layer without the bias unit, and fan_out the units of the
next layer, as Keras counts them.
"""

from __future__ import annotations

import numpy as np


def glorot_uniform(rng: np.random.Generator, fan_in: int, fan_out: int, dtype) -> np.ndarray:
    """(fan_in + 1, fan_out): bias row 0 zero, the rest U(-L, L), L = sqrt(6 / (fan_in + fan_out))."""
    limit = np.sqrt(6.0 / (fan_in + fan_out))
    W = np.zeros((fan_in + 1, fan_out), dtype=dtype)
    W[1:] = rng.uniform(-limit, limit, size=(fan_in, fan_out))
    return W
