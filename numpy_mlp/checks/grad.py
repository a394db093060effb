"""A gradient check for any scalar NumPy function: your analytic gradient against finite differences.

For f: R^shape -> R and an entry x_i, with a step s_i = h * max(1, |x_i|):

    D(s)  = (f(x + s e_i) - f(x - s e_i)) / (2s)          central difference, error O(s^2)
    g_fd  = (4 D(s/2) - D(s)) / 3                         Richardson extrapolation, error O(s^4)
    rel   = |g_mine - g_fd| / max(eps, |g_mine| + |g_fd|)  elementwise (FORMULA)

f is evaluated on x converted to extended precision (np.longdouble, a 64-bit mantissa on x86),
so the rounding of f's value (one ulp of float64 divided by 2s is ~1e-12 here) does not swamp
small gradient entries. Pass below TOLERANCE for x's dtype: 1e-7 for float64 (a correct
gradient lands near 1e-10 or below; a wrong formula is off by far more), 1e-2 for float32 (float32
arithmetic in grad_f is good to ~1e-7 relative, but entries that cancel lose most of it).

`check_grad` returns the numbers; `assert_grad` is the pytest form: it raises AssertionError whose
message lists the worst entries, mine against finite difference. `numpy_mlp.checks.gradcheck`
checks the MLP's backprop with the same `central_difference`, `relative_error` and thresholds.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

FORMULA = "rel = |g_mine - g_fd| / max(1e-12, |g_mine| + |g_fd|), elementwise"
TOLERANCE = {"float64": 1e-7, "float32": 1e-2}


def relative_error(a, b, eps: float = 1e-12) -> np.ndarray:
    """|a - b| / max(eps, |a| + |b|), elementwise."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    return np.abs(a - b) / np.maximum(eps, np.abs(a) + np.abs(b))


def central_difference(f_at: Callable[[float], object], step: float) -> np.longdouble:
    """Richardson-extrapolated central difference of s -> f_at(s) at s = 0.

    D(s) = (f_at(s) - f_at(-s)) / (2s); returns (4 D(step/2) - D(step)) / 3, whose error is
    O(step^4). A NaN from f_at (e.g. a perturbation that crossed a kink) propagates.
    """

    def D(s: float) -> np.longdouble:
        return (np.longdouble(f_at(s)) - np.longdouble(f_at(-s))) / (2 * np.longdouble(s))

    return (4 * D(step / 2) - D(step)) / 3


@dataclass(frozen=True)
class GradCheck:
    """The result of `check_grad`: worst entries first in `worst`."""

    shape: tuple[int, ...]
    checked: int
    max_abs_error: float
    max_rel_error: float
    tolerance: float
    worst: list[tuple[tuple[int, ...], float, float, float]] = field(default_factory=list)
    # (index, mine, finite difference, rel) for the entries with the largest relative error

    @property
    def passed(self) -> bool:
        return bool(self.max_rel_error < self.tolerance)

    def report(self) -> str:
        """A few lines: verdict, formula, threshold, then the worst entries side by side."""
        verdict = "agrees with" if self.passed else "DISAGREES with"
        lines = [
            f"gradient {verdict} finite differences: max rel error {self.max_rel_error:.2e} "
            f"over {self.checked} entries (pass below {self.tolerance:g}; {FORMULA})",
            f"the {len(self.worst)} entries with the largest relative error, worst first:",
            f"{'entry':<14} {'mine':>14} {'finite diff.':>14} {'rel error':>10}",
        ]
        for index, mine, fd, rel in self.worst:
            lines.append(f"{str(list(index)):<14} {mine:>14.6e} {fd:>14.6e} {rel:>10.2e}")
        return "\n".join(lines)


def check_grad(
    f: Callable[[np.ndarray], object],
    grad_f: Callable[[np.ndarray], np.ndarray],
    x,
    *,
    h: float = 3e-4,
    max_entries: int | None = None,
    seed: int = 0,
    tolerance: float | None = None,
    eps: float = 1e-12,
    show: int = 5,
) -> GradCheck:
    """Compare grad_f(x) with Richardson central differences of f at x, entry by entry.

    f: scalar function of an array shaped like x (it is called on an np.longdouble copy);
    grad_f: its gradient, an array of x's shape; x: float32 or float64 array (any shape).
    max_entries: check a seeded sample of at most this many entries (None: every entry).
    tolerance: default TOLERANCE[x.dtype]; show: how many worst entries to keep in the result.
    Raises ValueError for a non-float x, a grad_f of the wrong shape, or a non-scalar f.
    """
    x = np.asarray(x)
    if x.dtype.name not in TOLERANCE:
        raise ValueError(f"check_grad: x must be float32 or float64, got {x.dtype}")
    if not np.all(np.isfinite(x)):
        raise ValueError("check_grad: x holds NaN or infinity")
    mine = np.asarray(grad_f(x.copy()), dtype=np.float64)
    if mine.shape != x.shape:
        raise ValueError(f"check_grad: grad_f(x) has shape {mine.shape}, x has {x.shape}")
    if np.ndim(f(x.copy())) != 0:
        raise ValueError("check_grad: f(x) must be a scalar")
    if tolerance is None:
        tolerance = TOLERANCE[x.dtype.name]
    flat = np.arange(x.size)
    if max_entries is not None and x.size > max_entries:
        flat = np.sort(np.random.default_rng(seed).choice(x.size, max_entries, replace=False))
    ext = x.astype(np.longdouble).ravel()

    def f_at(i: int) -> Callable[[float], object]:
        def at(s: float) -> object:
            moved = ext.copy()
            moved[i] += s
            return f(moved.reshape(x.shape))

        return at

    fd = np.array(
        [float(central_difference(f_at(i), h * max(1.0, abs(float(ext[i]))))) for i in flat]
    )
    ours = mine.ravel()[flat]
    rel = relative_error(ours, fd, eps)
    rel = np.where(np.isnan(rel), np.inf, rel)  # a NaN from f counts as a failure
    order = np.argsort(-rel, kind="stable")[:show]
    worst = [
        (tuple(int(k) for k in np.unravel_index(flat[j], x.shape)), ours[j], fd[j], float(rel[j]))
        for j in order
    ]
    return GradCheck(
        shape=x.shape,
        checked=int(flat.size),
        max_abs_error=float(np.max(np.abs(ours - fd), initial=0.0)),
        max_rel_error=float(np.max(rel, initial=0.0)),
        tolerance=tolerance,
        worst=worst,
    )


def assert_grad(f, grad_f, x, **options) -> GradCheck:
    """`check_grad` for tests: returns the result, or raises AssertionError showing the worst
    entries (mine vs finite difference) when any entry's relative error reaches the tolerance."""
    result = check_grad(f, grad_f, x, **options)
    if not result.passed:
        raise AssertionError(result.report())
    return result
