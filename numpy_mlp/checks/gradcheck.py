"""Gradient checking: backpropagation against central finite differences.

The MLP's check is `numpy_mlp.checks.grad` (check_grad, for any scalar function) specialised to a
network: the same `central_difference`, `relative_error` and TOLERANCE, with two additions that
only a network needs, the step scaled to each weight's input and ReLU kinks left out.

For a weight w, the central difference with step h, and its Richardson extrapolation, are

    D(h)  = (L(w + h) - L(w - h)) / (2h)             error O(h^2)
    (h is divided by the largest |activation| feeding w, see `numerical_gradient`)
    g_num = (4 D(h/2) - D(h)) / 3                    error O(h^4)

and the agreement with the backprop value g_bp is the relative error

    rel = |g_bp - g_num| / max(eps, |g_bp| + |g_num|)

Why the care: with h = 1e-6 and the loss rounded to float64 (L ~ 2.3, one ulp ~ 4e-16) the plain
difference carries ~1e-10 of rounding noise, which is a large *relative* error for the many tiny
gradient entries of a 784-input layer (pixels that are almost always background). So the loss for
the differences is evaluated in extended precision (np.longdouble, 64-bit mantissa on x86) and the
O(h^2) truncation is removed by extrapolation. Measured on 784-50-50-10 with five MNIST rows, this
puts the float64 check at ~1e-12 relative error; the float32 backprop is checked against the
same accurate reference and lands near 1e-4, the rounding of its own float32 arithmetic.

ReLU's kink: relu is not differentiable at z = 0, and a difference quotient whose two evaluations
fall on different sides of a kink measures neither side's slope. The check records, for ReLU
networks, which hidden units are active (z > 0) in every evaluation of the loss; an entry whose
perturbations switch any unit on or off is not compared, and is counted in `MatrixCheck.kinks`.
(Backpropagation takes f'(0) = 0, as TensorFlow does; with real-valued inputs z is never exactly 0.)

`eps` keeps entries whose gradient is exactly zero (a pixel that is 0 in every row of the batch)
from dividing by zero: both values are then 0 and the error is 0.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from numpy_mlp.checks.grad import TOLERANCE, central_difference, relative_error
from numpy_mlp.model.activations import Activation
from numpy_mlp.model.loss import cross_entropy
from numpy_mlp.model.mlp import MLP, add_bias_unit, forward_pass
from numpy_mlp.model.targets import as_inputs, as_targets


@dataclass(frozen=True)
class MatrixCheck:
    """The result for one weight matrix."""

    name: str
    shape: tuple[int, int]
    checked: int  # entries compared (sampled entries minus kinks)
    max_abs_error: float
    max_rel_error: float
    tolerance: float
    kinks: int = 0  # entries not compared: a perturbation crossed a ReLU kink
    bias_rel_error: float = 0.0  # max relative error over the bias row's sampled entries
    connection_rel_error: float = 0.0  # ... over the other rows' sampled entries
    worst: tuple | None = None  # (row, column, backprop, finite difference, step h) of the max

    @property
    def passed(self) -> bool:
        return bool(self.max_rel_error < self.tolerance)

    @property
    def size(self) -> int:
        return self.shape[0] * self.shape[1]


def matrix_names(n_matrices: int) -> list[str]:
    """The tutorial's names: W_h (one hidden layer) or W_h1, W_h2, ..., then W_out."""
    if n_matrices == 2:
        return ["W_h", "W_out"]
    return [f"W_h{i + 1}" for i in range(n_matrices - 1)] + ["W_out"]


def sample_entries(
    shape: tuple[int, int], max_entries: int | None, rng: np.random.Generator
) -> np.ndarray:
    """(row, col) pairs to check: all of them, or a seeded sample that always includes bias-row entries."""
    rows, cols = shape
    if max_entries is None or rows * cols <= max_entries:  # every entry, row by row
        return np.indices((rows, cols), dtype=np.int64).reshape(2, -1).T
    n_bias = min(cols, max(1, max_entries // 4))
    bias = np.stack([np.zeros(n_bias, np.int64), rng.choice(cols, n_bias, replace=False)], 1)
    # entry number k of the rows below the bias row is (k // cols + 1, k % cols): drawn as numbers,
    # never listing all rows * cols entries (a 784 x 100,000 matrix has 78 million)
    k = rng.choice(rows * cols - cols, max_entries - n_bias, replace=False).astype(np.int64)
    picked = np.stack([k // cols + 1, k % cols], 1)
    return np.concatenate([bias, picked])


def _loss_from(
    weights: list[np.ndarray], Z: np.ndarray, l: int, Y: np.ndarray, f: Activation
) -> tuple[np.longdouble, bytes]:
    """(loss, which hidden units are active), continuing the forward pass from Z = Z^(l+1).

    The second value packs z > 0 for every hidden pre-activation the pass goes through; for a
    piecewise-linear f two evaluations are on the same linear piece only if these agree.
    """
    active = []
    for W in weights[l + 1 :]:
        active.append(np.packbits(Z > 0).tobytes())
        Z = add_bias_unit(f.f(Z)) @ W
    return cross_entropy(Z, Y), b"".join(active)


def fd_steps(mlp: MLP, X, l: int, entries: np.ndarray, h: float = 3e-4) -> np.ndarray:
    """The step h / max|A^(l)[:, r]| `numerical_gradient` takes for each entry (see there)."""
    A = forward_pass(mlp.weights, mlp.as_inputs(X), mlp.activation)[l]
    scale = np.abs(A).max(axis=0).astype(np.float64)
    scale[scale == 0] = 1.0
    return h / scale[entries[:, 0]]


def numerical_gradient(mlp: MLP, X, Y, l: int, entries: np.ndarray, h: float = 3e-4) -> np.ndarray:
    """Richardson-extrapolated central differences of the loss w.r.t. W^(l)[r, c], per entry.

    X: (n, d_in); Y: one-hot (n, k) or labels; entries: (m, 2) row/column pairs. Returns (m,) float64,
    NaN where a perturbation crossed a ReLU kink (see the module docstring). The loss is evaluated
    in extended precision on a copy; `mlp` itself is not touched.

    Changing W^(l)[r, c] by s changes only column c of Z^(l+1) = A^(l) W^(l), by s * A^(l)[:, r],
    so each perturbed loss starts from Z^(l+1) (computed once) and reruns only the layers above.
    """
    ext = [W.astype(np.longdouble) for W in mlp.weights]
    X = as_inputs(X, mlp.layer_sizes[0], np.longdouble)
    Y = as_targets(Y, mlp.n_classes, np.longdouble, X.shape[0])
    f = mlp.activation
    A = forward_pass(ext, X, f)[l]  # A^(l) with its bias unit, (n, m)
    Z = A @ ext[l]  # Z^(l+1), (n, d)
    # A step of h / max|A^(l)[:, r]| moves Z by about h whatever the size of that unit's
    # activation, so weights fed by tiny inputs (a pixel that is almost always background) get
    # the same relative accuracy as the rest.
    scale = np.abs(A).max(axis=0)
    scale[scale == 0] = 1.0

    smooth = f.name != "relu"
    _, at_w = _loss_from(ext, Z, l, Y, f)

    def loss_at(r: int, c: int) -> Callable[[float], np.longdouble]:
        """s -> L(W^(l)[r, c] + s), NaN if that moves a ReLU unit across its kink."""

        def at(s: float) -> np.longdouble:
            saved = Z[:, c].copy()
            Z[:, c] = saved + s * A[:, r]
            loss, active = _loss_from(ext, Z, l, Y, f)
            Z[:, c] = saved
            if not smooth and active != at_w:
                return np.longdouble(np.nan)  # crossed a kink: not a derivative
            return loss

        return at

    out = np.empty(entries.shape[0], dtype=np.float64)
    for i, (r, c) in enumerate(entries):
        out[i] = central_difference(loss_at(r, c), h / scale[r])
    return out


# The same formula and thresholds as numpy_mlp.checks.grad (check_grad), in backprop's names.
FORMULA = "rel = |g_bp - g_fd| / max(1e-12, |g_bp| + |g_fd|), elementwise"


def check_gradients(
    mlp: MLP,
    X,
    Y,
    *,
    h: float = 3e-4,
    max_entries: int | None = None,
    seed: int = 0,
    tolerance: float | None = None,
    eps: float = 1e-12,
    weight_decay: float = 0.0,
    gradients: Callable[[MLP, np.ndarray, np.ndarray], list[np.ndarray]] | None = None,
) -> list[MatrixCheck]:
    """Compare backpropagation with central differences, matrix by matrix (see FORMULA).

    max_entries: check at most this many entries per matrix (a seeded sample with bias-row entries
    included); None checks every weight. tolerance defaults by dtype (TOLERANCE). weight_decay:
    the loss checked is L + (lambda/2) ||W without bias rows||^2, whose gradient is what
    SGD(weight_decay=lambda) adds (a central difference of a quadratic is exact, so the penalty's
    part of the numerical gradient is lambda W). gradients: the backprop under test,
    (mlp, X, Y) -> [dL/dW]; default `mlp.gradients` (see `numpy_mlp.checks.bugs` for broken ones).
    """
    if tolerance is None:
        tolerance = TOLERANCE[mlp.dtype.name]
    rng = np.random.default_rng(seed)
    analytic = (gradients or (lambda m, X, Y: m.gradients(X, Y)))(mlp, X, Y)
    results = []
    for l, (name, G) in enumerate(zip(matrix_names(len(mlp.weights)), analytic, strict=True)):
        entries = sample_entries(G.shape, max_entries, rng)
        numeric = numerical_gradient(mlp, X, Y, l, entries, h)
        exact = G[entries[:, 0], entries[:, 1]].astype(np.float64)
        if weight_decay:
            W = mlp.weights[l][entries[:, 0], entries[:, 1]].astype(np.float64)
            connection = entries[:, 0] > 0
            exact = exact + weight_decay * W * connection
            numeric = numeric + weight_decay * W * connection
        compared = ~np.isnan(numeric)
        rel = relative_error(exact, numeric, eps)
        worst = None
        if compared.any():
            i = int(np.nanargmax(np.where(compared, rel, np.nan)))
            step = fd_steps(mlp, X, l, entries[i : i + 1], h)[0]
            worst = (
                int(entries[i, 0]),
                int(entries[i, 1]),
                float(exact[i]),
                float(numeric[i]),
                step,
            )
        bias = compared & (entries[:, 0] == 0)
        conn = compared & (entries[:, 0] > 0)
        results.append(
            MatrixCheck(
                name=name,
                shape=G.shape,
                checked=int(compared.sum()),
                max_abs_error=float(np.max(np.abs(exact - numeric)[compared], initial=0.0)),
                max_rel_error=float(np.max(rel[compared], initial=0.0)),
                tolerance=tolerance,
                kinks=int((~compared).sum()),
                bias_rel_error=float(np.max(rel[bias], initial=0.0)),
                connection_rel_error=float(np.max(rel[conn], initial=0.0)),
                worst=worst,
            )
        )
    return results


def precision_check(
    mlp: MLP, X, Y, tolerance: float = 1e-4, gradients: Callable | None = None
) -> list[tuple[str, float, bool]]:
    """A float32 model's backprop against float64 backprop at the same weights and inputs.

    Per matrix: (name, max |g32 - g64| / max |g64|, passed); `gradients` is the float32 backprop
    under test (default mlp.gradients). Rounding puts float32 near 1e-7
    here; a 1e-3 error in a formula is far above `tolerance`, which finite differences at float32
    precision (~1e-4 noise on small entries) could not resolve.
    """
    wide = MLP(mlp.layer_sizes, activation=mlp.activation.name, seed=0, dtype=np.float64)
    wide.set_weights(mlp.weights)
    X64 = np.asarray(X, dtype=np.float64)
    narrow = (gradients or (lambda m, X, Y: m.gradients(X, Y)))(mlp, np.asarray(X, mlp.dtype), Y)
    out = []
    for name, g32, g64 in zip(
        matrix_names(len(narrow)), narrow, wide.gradients(X64, Y), strict=True
    ):
        scale = float(np.max(np.abs(g64))) or 1.0
        err = float(np.max(np.abs(g32.astype(np.float64) - g64))) / scale
        out.append((name, err, err < tolerance))
    return out
