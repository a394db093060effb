"""Parity between the two implementations: gradients for one batch, and training in lockstep.

Gradient agreement compares, matrix by matrix, three estimates of dL/dW for the same weights and
batch: NumPy backpropagation, TensorFlow autodiff, and finite differences (extended precision,
Richardson; see numpy_mlp.checks.gradcheck). Lockstep training starts both models from the same weights and
feeds them the same batches in the same order, recording how far apart the weights are after every
epoch.
"""

from __future__ import annotations

import time
from collections.abc import Callable
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
AGREEMENT_TOLERANCE = {"float64": 1e-10, "float32": 1e-4}
FD_TOLERANCE = {"float64": 1e-7, "float32": 1e-2}


@dataclass
class MatrixAgreement:
    name: str
    shape: tuple[int, int]
    max_abs_error: float  # NumPy vs TensorFlow, over every entry
    max_rel_error: float  # NumPy vs TensorFlow: max |a - b| / max |b| over the matrix
    numpy_vs_fd: float  # max elementwise relative error on the sampled entries
    keras_vs_fd: float
    passed: bool


def normwise_relative_error(mine: np.ndarray, theirs: np.ndarray) -> float:
    """max |mine - theirs| / max |theirs|: the error relative to the size of the matrix."""
    scale = float(np.max(np.abs(theirs)))
    diff = float(np.max(np.abs(mine.astype(np.float64) - theirs.astype(np.float64))))
    return diff / scale if scale else diff


def gradient_agreement(
    layers, X: np.ndarray, y: np.ndarray, *, dtype: str, seed: int = 0, max_entries: int = 60
) -> dict:
    """Compare NumPy, TensorFlow and finite-difference gradients for one batch in `dtype`."""
    from keras_mlp import build_model, loss_and_gradients, set_numpy_weights
    from numpy_mlp import MLP

    mlp = MLP(layers, seed=seed, dtype=dtype)
    model = build_model(layers, seed=seed, dtype=dtype)
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
            numpy_vs_fd=float(np.max(relative_error(g_numpy[l][pick], fd))),
            keras_vs_fd=float(np.max(relative_error(g_keras[l][pick], fd))),
            passed=False,
        )
        row.passed = bool(
            row.max_rel_error < AGREEMENT_TOLERANCE[dtype]
            and row.numpy_vs_fd < FD_TOLERANCE[dtype]
            and row.keras_vs_fd < FD_TOLERANCE[dtype]
        )
        rows.append(row)
    return {
        "dtype": dtype,
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


def format_agreement(report: dict) -> str:
    lines = [
        f"{report['dtype']}: batch of {report['batch']}, loss NumPy {report['loss_numpy']:.12g} "
        f"vs Keras {report['loss_keras']:.12g}",
        f"  {'matrix':<7} {'shape':>8} {'np-tf abs':>10} {'np-tf rel':>10} {'np-fd rel':>10} "
        f"{'tf-fd rel':>10}  verdict",
    ]
    for m in report["matrices"]:
        shape = "x".join(map(str, m["shape"]))
        lines.append(
            f"  {m['name']:<7} {shape:>8} {m['max_abs_error']:>10.2e} {m['max_rel_error']:>10.2e} "
            f"{m['numpy_vs_fd']:>10.2e} {m['keras_vs_fd']:>10.2e}  "
            f"{'ok' if m['passed'] else 'FAIL'}"
        )
    return "\n".join(lines)


@dataclass
class LockstepEpoch:
    epoch: int
    updates: int
    max_abs_diff: float  # max over matrices of max |W_numpy - W_keras|
    max_rel_diff: float  # the same divided by max |W|
    loss_numpy: float
    loss_keras: float
    seconds_numpy: float
    seconds_keras: float


def lockstep(
    X: np.ndarray,
    Y: np.ndarray,
    *,
    layers=(784, 50, 50, 10),
    dtype: str = "float64",
    epochs: int = 1,
    batch_size: int = 64,
    learning_rate: float = 0.001,
    momentum: float = 0.9,
    decay: float = 1e-7,
    seed: int = 123,
    max_updates: int | None = None,
    trace_every: int = 0,
    on_epoch: Callable[[LockstepEpoch], None] | None = None,
    on_step: Callable[[int, int], None] | None = None,
) -> tuple[list[LockstepEpoch], list[tuple[int, float]]]:
    """Train both models from the same weights on the same batches; compare after every epoch.

    X: (n, d_in) training rows (already split off from validation); Y: one-hot (n, k).
    The NumPy side is numpy_mlp's training step (the fast path `fit` uses); the Keras side is the
    compiled model's own `train_on_batch` (its SGD, InverseTimeDecay and loss).
    Returns the per-epoch records and, when trace_every > 0, (update, max |W_numpy - W_keras|)
    every trace_every updates.
    """
    from keras_mlp import build_model, get_numpy_weights, set_numpy_weights
    from numpy_mlp import MLP, SGD
    from numpy_mlp.training.fast import FastStep

    X = np.ascontiguousarray(X, dtype=dtype)
    Y = np.ascontiguousarray(Y, dtype=dtype)
    mlp = MLP(layers, seed=seed, dtype=dtype)
    step = FastStep(mlp, SGD(learning_rate, momentum, decay), batch_size)
    model = build_model(
        layers, seed=seed, learning_rate=learning_rate, momentum=momentum, decay=decay, dtype=dtype
    )
    set_numpy_weights(model, mlp.weights)
    rng = np.random.default_rng(seed)
    n = X.shape[0]
    steps = -(-n // batch_size)
    records: list[LockstepEpoch] = []
    trace: list[tuple[int, float]] = []
    updates = 0

    def weight_diff() -> float:
        theirs = get_numpy_weights(model)
        return max(float(np.max(np.abs(a - b))) for a, b in zip(mlp.weights, theirs, strict=True))

    for epoch in range(epochs):
        order = rng.permutation(n)
        loss_np = loss_k = t_np = t_k = 0.0
        rows = 0
        for s in range(steps):
            if max_updates is not None and updates >= max_updates:
                break
            idx = order[s * batch_size : (s + 1) * batch_size]
            started = time.perf_counter()
            loss, _ = step(X, Y, idx)
            t_np += time.perf_counter() - started
            Xb, Yb = X[idx], Y[idx]
            started = time.perf_counter()
            out = model.train_on_batch(Xb, Yb, return_dict=True)
            t_k += time.perf_counter() - started
            loss_np += loss * idx.shape[0]
            loss_k += float(out["loss"]) * idx.shape[0]
            rows += idx.shape[0]
            updates += 1
            if trace_every and updates % trace_every == 0:
                trace.append((updates, weight_diff()))
            if on_step is not None:
                on_step(epoch, s)
        diff = weight_diff()
        scale = max(float(np.max(np.abs(W))) for W in mlp.weights)
        record = LockstepEpoch(
            epoch + 1,
            updates,
            diff,
            diff / scale,
            loss_np / max(rows, 1),
            loss_k / max(rows, 1),
            t_np,
            t_k,
        )
        records.append(record)
        if on_epoch is not None:
            on_epoch(record)
        if max_updates is not None and updates >= max_updates:
            break
    return records, trace
