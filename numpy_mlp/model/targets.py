"""Inputs and targets as the model wants them: float arrays of the model's dtype, one-hot targets.

Shapes: X (n, d_in); labels y (n,) integers in 0..k-1; one-hot Y (n, k), one 1 per row.
"""

from __future__ import annotations

import numpy as np


def one_hot(y: np.ndarray, num_classes: int = 10, *, dtype=np.float32) -> np.ndarray:
    """Integer labels (n,) -> one-hot rows (n, num_classes), like Keras `to_categorical`."""
    y = np.asarray(y)
    if y.ndim != 1:
        raise ValueError(f"labels must be 1-D, got shape {y.shape}")
    if not np.issubdtype(y.dtype, np.integer):
        raise ValueError(f"labels must be integers, got {y.dtype}")
    if y.size and (y.min() < 0 or y.max() >= num_classes):
        raise ValueError(f"labels must lie in 0..{num_classes - 1}")
    Y = np.zeros((y.shape[0], num_classes), dtype=dtype)
    Y[np.arange(y.shape[0]), y] = 1
    return Y


def as_inputs(X, n_inputs: int, dtype) -> np.ndarray:
    """X as a (n, n_inputs) array of `dtype` (no copy when it already is one), or ValueError."""
    X = np.asarray(X, dtype=dtype)
    if X.ndim != 2 or X.shape[1] != n_inputs:
        raise ValueError(f"X must have shape (n, {n_inputs}), got {np.shape(X)}")
    return X


def as_targets(Y, n_classes: int, dtype, n: int | None = None) -> np.ndarray:
    """One-hot (n, n_classes) targets of `dtype`; integer labels (n,) are converted by `one_hot`.

    n: the number of rows the targets must have (None: any).
    """
    Y = np.asarray(Y)
    labels = Y.ndim == 1
    if labels:
        Y = one_hot(Y, n_classes, dtype=dtype)
    if Y.ndim != 2 or Y.shape[1] != n_classes or (n is not None and Y.shape[0] != n):
        rows = "n" if n is None else f"n={n}"
        raise ValueError(f"Y must be one-hot ({rows}, k={n_classes}) or labels (n,), got {Y.shape}")
    Y = Y.astype(dtype, copy=False)
    if not labels:
        _check_distributions(Y)
    return Y


def _check_distributions(Y: np.ndarray) -> None:
    """Each row a probability distribution over the classes (one-hot rows are): the loss and
    delta_out = (A_out - Y) / n assume it. ValueError naming the first row that is not."""
    sums = Y.sum(axis=1, dtype=np.float64)
    bad_rows = ~np.isfinite(sums) | ~np.isclose(sums, 1.0, atol=1e-3) | (Y < 0).any(axis=1)
    if bad_rows.any():
        bad = int(np.argmax(bad_rows))
        raise ValueError(
            f"Y row {bad} is not one-hot (entries >= 0 summing to 1): {Y[bad].tolist()}"
        )
