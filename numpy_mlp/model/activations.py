"""Activations, their derivatives, and the loss, side by side.

Shapes: Z and A are (n, units). Hidden layers use one of `ACTIVATIONS` (tanh by default, as in
the tutorial); the output layer's softmax and the cross-entropy loss are `numpy_mlp.model.loss`.

Each hidden activation comes with its derivative written in terms of the activation A = f(Z)
itself, so backpropagation needs only the stored activations. Every kernel takes an optional
`out=` array: the readable path (`MLP.forward` / `MLP.gradients`) calls them without it and gets
new arrays; the fast training step passes its preallocated buffers. Same function, same numbers.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from numpy_mlp.io.text import brief


def tanh(Z: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """A = tanh(Z), elementwise."""
    return np.tanh(Z, out=out)


def tanh_derivative(A: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """dA/dZ = 1 - tanh(Z)^2 = 1 - A^2, computed from the activation A itself (no Z needed)."""
    out = np.multiply(A, A, out=out)
    return np.subtract(1.0, out, out=out)


def logistic(Z: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """A = 1 / (1 + exp(-Z)), elementwise.

    Accurate to rounding for every Z: for very negative Z, exp(-Z) overflows to inf and A is
    1 / inf = 0, where the true value is below the smallest float anyway (the overflow is expected,
    so it is not reported).
    """
    with np.errstate(over="ignore"):
        out = np.negative(Z, out=out)
        np.exp(out, out=out)
        out += 1.0
        return np.reciprocal(out, out=out)


def logistic_derivative(A: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """dA/dZ = A (1 - A), at most 1/4 (at Z = 0): every logistic layer shrinks delta by 4 or more."""
    out = np.subtract(1.0, A, out=out)
    out *= A
    return out


def relu(Z: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """A = max(Z, 0), elementwise."""
    return np.maximum(Z, 0.0, out=out)


def relu_derivative(A: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """dA/dZ = 1 where A > 0, else 0 (sign(A), since A >= 0).

    At the kink Z = 0 the derivative is taken as 0, as TensorFlow does.
    """
    return np.sign(A, out=out)


@dataclass(frozen=True)
class Activation:
    """A hidden-layer activation f and its derivative f'(Z) written in terms of A = f(Z)."""

    name: str
    f: Callable[..., np.ndarray]
    derivative: Callable[..., np.ndarray]
    keras_name: str  # what Keras calls it


ACTIVATIONS: dict[str, Activation] = {
    "tanh": Activation("tanh", tanh, tanh_derivative, "tanh"),
    "logistic": Activation("logistic", logistic, logistic_derivative, "sigmoid"),
    "relu": Activation("relu", relu, relu_derivative, "relu"),
}


def get_activation(name: str) -> Activation:
    """The activation called `name`, or ValueError listing the choices."""
    try:
        return ACTIVATIONS[name]
    except (KeyError, TypeError):
        raise ValueError(
            f"activation must be one of {', '.join(ACTIVATIONS)}, got {brief(name)}"
        ) from None
