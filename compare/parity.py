"""Parity between the two implementations: their gradients for the same weights and batch.

Gradient agreement compares, matrix by matrix, three estimates of dL/dW for the same weights and
batch: NumPy backpropagation, Keras's autodiff on its backend (TensorFlow, JAX or PyTorch, as
keras_mlp.backend chose), and finite differences (extended precision,
Richardson; see numpy_mlp.checks.gradcheck). Training in lockstep is in compare.lockstep.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from numpy_mlp.checks.gradcheck import (
    matrix_names,
    numerical_gradient,
    relative_error,
    sample_entries,
)

# Tolerances follow the arithmetic: two correct implementations agree to ~1e-15 relative in
# float64 and ~1e-7 in float32 on typical entries; the bounds leave room for accumulation order.
AGREEMENT_TOLERANCE = {"float64": 1e-12, "float32": 1e-4}
FD_TOLERANCE = {"float64": 1e-7, "float32": 1e-2}


@dataclass
class MatrixAgreement:
    name: str
    shape: tuple[int, int]
    max_abs_error: float  # NumPy vs Keras autodiff, over every entry
    max_rel_error: float  # NumPy vs Keras autodiff: max |a - b| / max |b| over the matrix
    numpy_vs_fd: float  # max elementwise relative error on the sampled entries
    keras_vs_fd: float
    passed: bool


def normwise_relative_error(mine: np.ndarray, theirs: np.ndarray) -> float:
    """max |mine - theirs| / max |theirs|: the error relative to the size of the matrix."""
    scale = float(np.max(np.abs(theirs)))
    diff = float(np.max(np.abs(mine.astype(np.float64) - theirs.astype(np.float64))))
    return diff / scale if scale else diff


def _max_rel(values: np.ndarray, fd: np.ndarray) -> float:
    """Largest elementwise relative error over the entries finite differences could measure
    (NaN marks an entry whose perturbation crossed a ReLU kink)."""
    measured = ~np.isnan(fd)
    return float(np.max(relative_error(values[measured], fd[measured], 1e-12), initial=0.0))


def gradient_agreement(
    layers,
    X: np.ndarray,
    y: np.ndarray,
    *,
    dtype: str,
    seed: int = 0,
    max_entries: int = 60,
    activation: str = "tanh",
    init: str = "glorot_uniform",
) -> dict:
    """Compare NumPy, Keras-autodiff (on the running backend) and finite-difference gradients
    for one batch in `dtype`."""
    from keras_mlp import build_model, loss_and_gradients, set_numpy_weights
    from keras_mlp.backend import backend_name
    from numpy_mlp import MLP

    mlp = MLP(layers, activation=activation, init=init, seed=seed, dtype=dtype)
    model = build_model(layers, seed=seed, dtype=dtype, activation=activation, init=init)
    set_numpy_weights(model, mlp.weights)
    X = X.astype(dtype)
    g_numpy = mlp.gradients(X, y)
    loss_keras, g_keras = loss_and_gradients(model, X, y)
    rng = np.random.default_rng(seed)
    rows = []
    for l, name in enumerate(matrix_names(len(g_numpy))):
        entries = sample_entries(g_numpy[l].shape, max_entries, rng)
        fd = numerical_gradient(mlp, X, y, l, entries)
        pick = (entries[:, 0], entries[:, 1])
        row = MatrixAgreement(
            name=name,
            shape=tuple(g_numpy[l].shape),
            max_abs_error=float(np.max(np.abs(g_numpy[l] - g_keras[l]))),
            max_rel_error=normwise_relative_error(g_numpy[l], g_keras[l]),
            numpy_vs_fd=_max_rel(g_numpy[l][pick], fd),
            keras_vs_fd=_max_rel(g_keras[l][pick], fd),
            passed=False,
        )
        row.passed = bool(
            row.max_rel_error < AGREEMENT_TOLERANCE[dtype]
            and row.numpy_vs_fd < FD_TOLERANCE[dtype]
            and row.keras_vs_fd < FD_TOLERANCE[dtype]
        )
        rows.append(row)
    return {
        "backend": backend_name(),
        "dtype": dtype,
        "activation": activation,
        "init": init,
        "batch": int(X.shape[0]),
        "loss_numpy": mlp.loss(X, y),
        "loss_keras": loss_keras,
        "tolerance": AGREEMENT_TOLERANCE[dtype],
        "fd_tolerance": FD_TOLERANCE[dtype],
        "max_rel_error": max(r.max_rel_error for r in rows),
        "max_abs_error": max(r.max_abs_error for r in rows),
        "passed": all(r.passed for r in rows),
        "matrices": [asdict(r) for r in rows],
    }
