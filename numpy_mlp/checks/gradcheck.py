"""Gradient checking: backpropagation against central finite differences.

The MLP's check is `numpy_mlp.checks.grad` (check_grad, for any scalar function) specialised to a
network: the same `central_difference`, `relative_error` and pass line from the arithmetic, with
two additions that only a network needs, the step scaled to each weight's input and ReLU kinks
left out.

For a weight w, the central difference with step h, and its Richardson extrapolation, are

    D(h)  = (L(w + h) - L(w - h)) / (2h)             error O(h^2)
    (h is divided by the largest |activation| feeding w, see `numerical_gradient`)
    g_num = (4 D(h/2) - D(h)) / 3                    error O(h^4)

and the agreement with the backprop value g_bp is judged per entry against a pass line from
the arithmetic (PASS_LINE): |g_bp - g_num| <= 8 r + e, r the backprop's own rounding in the
model's dtype (`rounding_bounds`: the same backprop run in the other float type), e the
difference's error (truncation estimate |R(h) - R(h/2)| plus the loss's rounding). The report
also gives the relative error rel = |g_bp - g_num| / (|g_bp| + |g_num|) (0 where both are 0).

Why the care: with h = 1e-6 and the loss rounded to float64 (L ~ 2.3, one ulp ~ 4e-16) the plain
difference carries ~1e-10 of rounding noise, which is a large *relative* error for the many tiny
gradient entries of a 784-input layer (pixels that are almost always background). So the loss for
the differences is evaluated in extended precision (np.longdouble, 64-bit mantissa on x86) and the
O(h^2) truncation is removed by extrapolation. Measured on 784-50-50-10 with five MNIST rows, this
puts the float64 check at ~1e-12 relative error; the float32 backprop is checked against the
same accurate reference and lands at the rounding of its own float32 arithmetic, which r
measures entry by entry, so a 0.1 % error in a float32 formula fails.

ReLU's kink: relu is not differentiable at z = 0, and a difference quotient whose two evaluations
fall on different sides of a kink measures neither side's slope. The check records, for ReLU
networks, which hidden units are active (z > 0) in every evaluation of the loss; an entry whose
perturbations switch any unit on or off is not compared, and is counted in `MatrixCheck.kinks`.
(Backpropagation takes f'(0) = 0, as TensorFlow does; with real-valued inputs z is never exactly 0.)

Entries whose gradient is exactly zero (a pixel that is 0 in every row of the batch) have 0 error
and rel 0; there is no floor on the denominator that would hide a tiny wrong gradient.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from numpy_mlp.checks.grad import TOLERANCE, central_difference, relative_error  # noqa: F401
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
    tolerance: float  # the rel threshold given, else the widest pass line in rel terms
    kinks: int = 0  # entries not compared: a perturbation crossed a ReLU kink
    bias_rel_error: float = 0.0  # max relative error over the bias row's sampled entries
    connection_rel_error: float = 0.0  # ... over the other rows' sampled entries
    worst: tuple | None = None  # (row, column, backprop, finite difference, step h) of the max
    max_line_ratio: float = 0.0  # max over entries of |g_bp - g_fd| / its pass line (pass: <= 1)
    wrong: int = 0  # entries past their pass line

    @property
    def passed(self) -> bool:
        return self.wrong == 0

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


def numerical_gradient(
    mlp: MLP, X, Y, l: int, entries: np.ndarray, h: float = 3e-4, *, with_error: bool = False
):
    """Richardson-extrapolated central differences of the loss w.r.t. W^(l)[r, c], per entry.

    X: (n, d_in); Y: one-hot (n, k) or labels; entries: (m, 2) row/column pairs. Returns (m,) float64,
    NaN where a perturbation crossed a ReLU kink (see the module docstring). The loss is evaluated
    in extended precision on a copy; `mlp` itself is not touched. with_error: also return each
    value's error bound (truncation estimate plus the loss's rounding), as (values, errors).

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
    if not with_error:
        return out
    # The error of each value: the extrapolation's truncation, |R(s) - R(s/2)| (R(s/2) is 16
    # times closer), plus the loss's rounding carried through the differences, 3 noise / s
    # (weights 4/3 on D(s/2), 1/3 on D(s); each D(s) rounds by at most noise / s). The loss
    # sums n * k terms after a forward pass of fan-ins sum(layer sizes): noise is the
    # extended epsilon times |L| times their count.
    noise = float(np.finfo(np.longdouble).eps) * max(
        1.0, abs(float(_loss_from(ext, Z, l, Y, f)[0]))
    )
    noise *= Y.size + sum(mlp.layer_sizes)
    err = np.empty_like(out)
    for i, (r, c) in enumerate(entries):
        s = h / float(scale[r])
        finer = float(central_difference(loss_at(r, c), s / 2))
        err[i] = abs(finer - out[i]) + 3 * noise / s
    return out, err


# The same formula and pass line as numpy_mlp.checks.grad (check_grad), in backprop's names.
FORMULA = "rel = |g_bp - g_fd| / (|g_bp| + |g_fd|), elementwise"
PASS_LINE = (
    "|g_bp - g_fd| <= 8 r + e per entry (r: the backprop's rounding, e: the difference's error)"
)


def rounding_bounds(
    mlp: MLP, X, Y, analytic: list[np.ndarray], gradients: Callable | None = None
) -> list[np.ndarray]:
    """r per matrix: the backprop's own rounding in mlp's dtype, entry by entry.

    The same backprop (`gradients`, default MLP.gradients) is run on a copy of the model in the
    other float type at the same weights and inputs. For float32, |g32 - g64| is float32's
    rounding (float64's is 2^29 times smaller); for float64, |g64 - g32| * eps64 / eps32 is
    float64's epsilon times the size of the sums that make each entry. A wrong formula is
    wrong in both copies, so the difference is rounding only. Floored at eps * |g|.
    """
    other = np.float64 if mlp.dtype == np.float32 else np.float32
    copy = MLP(mlp.layer_sizes, activation=mlp.activation.name, seed=0, dtype=other)
    copy.set_weights([W.astype(other) for W in mlp.weights])
    backprop = gradients or (lambda m, X, Y: m.gradients(X, Y))
    theirs = backprop(copy, np.asarray(X, dtype=other), Y)
    eps = float(np.finfo(mlp.dtype).eps)
    scale = 1.0 if other == np.float64 else eps / float(np.finfo(np.float32).eps)
    out = []
    for G, T in zip(analytic, theirs, strict=True):
        G64 = G.astype(np.float64)
        diff = np.abs(G64 - T.astype(np.float64)) * scale
        out.append(np.maximum(eps * np.abs(G64), np.where(np.isfinite(diff), diff, 0.0)))
    return out


def check_gradients(
    mlp: MLP,
    X,
    Y,
    *,
    h: float = 3e-4,
    max_entries: int | None = None,
    seed: int = 0,
    tolerance: float | None = None,
    weight_decay: float = 0.0,
    gradients: Callable[[MLP, np.ndarray, np.ndarray], list[np.ndarray]] | None = None,
) -> list[MatrixCheck]:
    """Compare backpropagation with central differences, matrix by matrix.

    Each entry passes when |g_bp - g_fd| <= 8 r + e (PASS_LINE): r the backprop's rounding in
    the model's dtype (`rounding_bounds`), e the finite difference's error bound
    (`numerical_gradient(..., with_error=True)`); a float32 backprop 0.1 % off fails, a right
    one passes. tolerance: instead pass when rel < tolerance (FORMULA).
    max_entries: check at most this many entries per matrix (a seeded sample with bias-row entries
    included); None checks every weight. weight_decay:
    the loss checked is L + (lambda/2) ||W without bias rows||^2, whose gradient is what
    SGD(weight_decay=lambda) adds (a central difference of a quadratic is exact, so the penalty's
    part of the numerical gradient is lambda W). gradients: the backprop under test,
    (mlp, X, Y) -> [dL/dW]; default `mlp.gradients` (see `numpy_mlp.checks.bugs` for broken ones).
    """
    if max_entries is not None and max_entries < 1:
        raise ValueError(f"max_entries must be at least 1, got {max_entries}")
    rng = np.random.default_rng(seed)
    analytic = (gradients or (lambda m, X, Y: m.gradients(X, Y)))(mlp, X, Y)
    bounds = rounding_bounds(mlp, X, Y, analytic, gradients)
    results = []
    for l, (name, G) in enumerate(zip(matrix_names(len(mlp.weights)), analytic, strict=True)):
        entries = sample_entries(G.shape, max_entries, rng)
        numeric, fd_error = numerical_gradient(mlp, X, Y, l, entries, h, with_error=True)
        exact = G[entries[:, 0], entries[:, 1]].astype(np.float64)
        r = bounds[l][entries[:, 0], entries[:, 1]]
        if weight_decay:
            W = mlp.weights[l][entries[:, 0], entries[:, 1]].astype(np.float64)
            connection = entries[:, 0] > 0
            exact = exact + weight_decay * W * connection
            numeric = numeric + weight_decay * W * connection
            r = r + float(np.finfo(mlp.dtype).eps) * np.abs(weight_decay * W)
        compared = ~np.isnan(numeric)
        rel = relative_error(exact, numeric)
        if tolerance is None:
            line = 8 * r + fd_error
        else:
            line = tolerance * (np.abs(exact) + np.abs(numeric))
        diff = np.abs(exact - numeric)
        with np.errstate(invalid="ignore", divide="ignore"):
            ratio = np.where(diff == 0, 0.0, diff / line)
        ratio = np.where(np.isnan(ratio), np.inf, ratio)  # a NaN backprop entry is wrong
        worst = None
        if compared.any():
            i = int(np.nanargmax(np.where(compared, ratio, np.nan)))
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
        with np.errstate(invalid="ignore", divide="ignore"):
            rel_line = line / (np.abs(exact) + np.abs(numeric))
        results.append(
            MatrixCheck(
                name=name,
                shape=G.shape,
                checked=int(compared.sum()),
                max_abs_error=float(np.max(diff[compared], initial=0.0)),
                max_rel_error=float(np.max(rel[compared], initial=0.0)),
                tolerance=(
                    tolerance
                    if tolerance is not None
                    else float(np.max(np.nan_to_num(rel_line[compared], posinf=0.0), initial=0.0))
                ),
                kinks=int((~compared).sum()),
                bias_rel_error=float(np.max(rel[bias], initial=0.0)),
                connection_rel_error=float(np.max(rel[conn], initial=0.0)),
                worst=worst,
                max_line_ratio=float(np.max(ratio[compared], initial=0.0)),
                wrong=int(np.sum(ratio[compared] > 1)),
            )
        )
    return results
