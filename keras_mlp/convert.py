"""Between Keras (kernel, bias) pairs and numpy_mlp's bias-row layout: W = vstack([bias, kernel]).

kernel: (fan_in, units); bias: (units,); W: (fan_in + 1, units), row 0 the bias.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


class WeightShapeError(ValueError):
    """The weights do not fit the model."""


def dense_layers(model) -> list:
    return [layer for layer in model.layers if layer.weights]


def to_bias_rows(kernel: np.ndarray, bias: np.ndarray) -> np.ndarray:
    """(fan_in, units), (units,) -> (fan_in + 1, units) with the bias as row 0."""
    return np.vstack([np.asarray(bias)[None, :], np.asarray(kernel)])


def get_numpy_weights(model) -> list[np.ndarray]:
    """The model's weights in the bias-row layout, input to output (copies, the model's dtype),
    on any backend (read off the device the backend computes on)."""
    from keras_mlp.backend import to_numpy

    return [
        to_bias_rows(to_numpy(layer.kernel), to_numpy(layer.bias)) for layer in dense_layers(model)
    ]


def set_numpy_weights(model, weights: Sequence[np.ndarray]) -> None:
    """Load bias-row matrices into the model's Dense layers; shapes are checked first."""
    layers = dense_layers(model)
    weights = [np.asarray(W) for W in weights]  # plain nested lists too
    if len(weights) != len(layers):
        raise WeightShapeError(
            f"the model has {len(layers)} Dense layers, got {len(weights)} weight matrices"
        )
    for i, (layer, W) in enumerate(zip(layers, weights, strict=True)):
        expected = (layer.kernel.shape[0] + 1, layer.kernel.shape[1])
        if tuple(W.shape) != expected:
            raise WeightShapeError(
                f"matrix {i} ({layer.name}) has shape {tuple(W.shape)}, expected {expected} "
                "(bias row + kernel)"
            )
    # everything is checked and converted before any layer changes
    converted = []
    for i, (layer, W) in enumerate(zip(layers, weights, strict=True)):
        try:
            # a copy: JAX on the CPU may adopt a NumPy buffer without copying it, and the caller's
            # matrices (numpy_mlp's, updated in place) must not move the model's weights
            converted.append(np.array(W, dtype=np.dtype(layer.kernel.dtype), copy=True))
        except (TypeError, ValueError) as exc:
            raise WeightShapeError(f"matrix {i} ({layer.name}) is not numeric: {exc}") from None
    for layer, W in zip(layers, converted, strict=True):
        layer.kernel.assign(W[1:])
        layer.bias.assign(W[0])
