"""A gradient check for any scalar NumPy function: your analytic gradient against finite differences.

For f: R^shape -> R and an entry x_i, the check takes central differences of f along e_i,

    D(s)  = (f(x + s e_i) - f(x - s e_i)) / (2s)            error O(s^2)

at the steps s, s/2 and s/4, and extrapolates them (Richardson/Romberg) to g_fd, whose error is
O(s^6). f is evaluated on x held in extended precision (np.longdouble: a 64-bit mantissa on x86),
perturbed in place (one entry at a time, restored after each evaluation: no copy of x per call).

The step, fitted to the point. It starts at s_0 = eps * max(1, |x_i|) (x's scale; eps = 3e-4 by
default, torch's name for the step) and is halved while the extrapolation's own truncation
estimate |R(s) - R(s/2)| / 15 is above a quarter of the pass line, down to where f's rounding
(f's scale, below) would dominate. So a coarse start at large |x_i| (sum sin x at x = 1000) is
refined, and a small gradient beside a large f is not drowned in f's rounding.

Smoothness: a differentiable f has central differences that settle like s^2 (each halving
shrinks D(s) - D(s/2) about 4-fold) and second differences (f(x+s) - 2 f(x) + f(x-s)) / s that
shrink like s. An entry where either disagrees beyond that truncation law (plus f's rounding) at
the starting step is reported as "not differentiable within s_0 of x" (a kink: |t|, relu,
max), with the distance at which the differences become smooth again, not as a wrong gradient;
such an entry is not compared, and the check is then not passed (it could not decide).

Pass line, per entry, from the arithmetic (when atol/rtol are not given):

    |g_mine - g_fd| <= 8 * r_i + e_i

    r_i = max(eps_dtype * |g_mine_i|,  |g_mine_i - g_wide_i|,  |g_mine_i - g_32_i| * eps_dtype/eps_32)

r_i is the analytic gradient's own rounding: the dtype's epsilon times the size of the sums that
produce it, measured by running grad_f again in a wider type (g_wide: float64 for float32 x,
np.longdouble for float64 x, if grad_f accepts it) and, for float64, in float32 scaled down by the
ratio of epsilons (a wrong formula is the same wrong in every dtype, so these differences are
rounding only). e_i is g_fd's own error bound: the truncation estimate plus f's rounding carried
through the differences, sum_k |w_k| * noise_f / s_k, with noise_f measured the same way (f in
extended precision against f in float64 and float32, scaled by the ratio of epsilons, floored at
eps_ext * |f(x)|). No fixed floor on a denominator: a gradient of 1e-20 is checked at its scale.
With atol/rtol (torch's meaning) the line is |g_mine - g_fd| <= atol + rtol * |g_fd| instead.

The report's relative error is rel = |g_mine - g_fd| / (|g_mine| + |g_fd|) (0 where both are 0),
shown beside each entry's error in units of its pass line (pass: <= 1).

Pick points that reach every branch of f (both signs around a max/relu, every case of a
piecewise formula) and stay off kinks (a kink within the step is reported, not checked): random
points (seeded) rather than round numbers like 0 or 0.5.

`check_grad` returns the numbers; `assert_grad` is the pytest form: it raises AssertionError whose
message lists the worst entries, mine against finite difference.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

FORMULA = "rel = |g_mine - g_fd| / (|g_mine| + |g_fd|), elementwise"
PASS_LINE = "|g_mine - g_fd| <= 8 r + e (r: grad_f's rounding, e: the difference's error)"
# Kept for the MLP check's fixed-step path and older callers: rel thresholds per dtype.
TOLERANCE = {"float64": 1e-7, "float32": 1e-2}
ROUNDING_FACTOR = 8  # the pass line is 8 times the analytic gradient's rounding
MAX_FULL = 10_000  # entries checked one by one without max_entries
MAX_HALVINGS = 40
EXT = np.longdouble


def relative_error(a, b, eps: float = 0.0) -> np.ndarray:
    """|a - b| / max(eps, |a| + |b|), elementwise; 0 where both are 0."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    num = np.abs(a - b)
    den = np.maximum(eps, np.abs(a) + np.abs(b))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(num == 0, 0.0, num / den)


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
    """The result of `check_grad`: worst entries first in `worst`, kinks in `kinks`."""

    shape: tuple[int, ...]
    checked: int  # entries compared (sampled entries minus kinks)
    max_abs_error: float
    max_rel_error: float
    max_line_ratio: float  # max over entries of |g_mine - g_fd| / pass line (pass: <= 1)
    tolerance: float = 0.0  # the rel threshold given, else the widest pass line in rel terms
    per_entry: bool = True  # pass lines per entry (arithmetic or atol/rtol), not one rel bound
    worst: list[tuple[tuple[int, ...], float, float, float]] = field(default_factory=list)
    # (index, mine, finite difference, rel) for the entries furthest past their pass line
    kinks: list[tuple[tuple[int, ...], float, float]] = field(default_factory=list)
    # (index, starting step, distance at which f is smooth again (0: none found))
    wrong: int = 0  # entries past their pass line

    @property
    def passed(self) -> bool:
        return self.wrong == 0 and not self.kinks and self.checked > 0

    @property
    def verdict(self) -> str:
        if self.wrong:
            return "disagrees"
        return "not differentiable" if self.kinks else "agrees"

    def report(self) -> str:
        """A few lines: verdict, formula, pass line, the worst entries, then any kinks."""
        line = (
            f"pass line per entry: {PASS_LINE}"
            if self.per_entry
            else f"pass below rel {self.tolerance:g}"
        )
        head = {
            "agrees": "gradient agrees with finite differences",
            "disagrees": "gradient DISAGREES with finite differences",
            "not differentiable": f"gradient NOT CHECKED at {len(self.kinks)} "
            f"entr{'y' if len(self.kinks) == 1 else 'ies'}, where f is not differentiable within "
            "the step (below); the compared ones agree with finite differences",
        }[self.verdict]
        lines = [
            f"{head}: {self.wrong} of {self.checked} compared entries past their pass line "
            f"(worst at {self.max_line_ratio:.2g} of it), max rel error {self.max_rel_error:.2e} "
            f"({line}; {FORMULA})",
        ]
        if self.worst:
            lines += [
                f"the {len(self.worst)} entr{'y' if len(self.worst) == 1 else 'ies'} furthest past "
                "their pass line, worst first:",
                f"{'entry':<14} {'mine':>14} {'finite diff.':>14} {'rel error':>10}",
            ]
            for index, mine, fd, rel in self.worst:
                lines.append(f"{str(list(index)):<14} {mine:>14.6e} {fd:>14.6e} {rel:>10.2e}")
        for index, step, smooth_at in self.kinks:
            where = (
                f"the differences become smooth only below {smooth_at:.1e} (a kink about that "
                "far away)"
                if smooth_at
                else "no step was smooth (a kink at x itself, or closer than the rounding allows)"
            )
            lines.append(
                f"entry {list(index)}: not differentiable within h = {step:.1e} of x: {where}; "
                "choose a point further from the kink"
            )
        return "\n".join(lines)


def _widened(fn, x: np.ndarray, dtype) -> np.ndarray | None:
    """fn on x converted to dtype, or None if fn fails there or returns something unusable."""
    try:
        with np.errstate(all="ignore"):
            out = np.asarray(fn(x.astype(dtype)))
    except Exception:  # noqa: BLE001 - a function that refuses another dtype is simply not widened
        return None
    return None if np.iscomplexobj(out) or not np.issubdtype(out.dtype, np.number) else out


def _working_epsilon(f, view: np.ndarray, flat: np.ndarray, f0) -> float:
    """The epsilon of the arithmetic f really computes in: np.longdouble's if f(x) moves when x
    moves by less than float64 can hold, else float64's (f converts its input, say)."""
    ext_eps, eps64 = float(np.finfo(EXT).eps), float(np.finfo(np.float64).eps)
    if ext_eps >= eps64:
        return eps64
    saved = flat.copy()
    try:
        flat += np.abs(flat) * EXT(eps64 / 8) + EXT(1e-300)
        moved = EXT(f(view))
    finally:
        flat[...] = saved
    return ext_eps if moved != f0 else eps64


def _noise_estimate(f, x: np.ndarray, f0, eps_f: float) -> float:
    """A bound on the rounding of f's value as evaluated here, measured (module docstring):
    4 * max(eps_f |f(x)|, |f(x) - f(x in float64/float32)| * eps_f / eps_narrow)."""
    noise = eps_f * abs(float(f0))
    for narrow in (np.float64, np.float32):
        if np.finfo(narrow).eps <= eps_f:
            continue
        value = _widened(f, x, narrow)
        if value is not None and value.ndim == 0 and np.isfinite(value):
            diff = abs(float(EXT(value) - f0))
            noise = max(noise, diff * eps_f / float(np.finfo(narrow).eps))
    return 4 * noise


def _rounding_bound(grad_f, x: np.ndarray, mine: np.ndarray) -> np.ndarray:
    """r_i: grad_f's own rounding at x's dtype (module docstring)."""
    eps = float(np.finfo(x.dtype).eps)
    bound = eps * np.abs(mine)
    wide = EXT if x.dtype == np.float64 else np.float64
    if np.finfo(wide).eps < eps:
        g = _widened(grad_f, x, wide)
        if g is not None and g.shape == x.shape:
            bound = np.maximum(bound, np.abs(g.astype(np.float64) - mine))
    if x.dtype == np.float64:
        g = _widened(grad_f, x, np.float32)
        if g is not None and g.shape == x.shape:
            scaled = np.abs(g.astype(np.float64) - mine) * (eps / float(np.finfo(np.float32).eps))
            bound = np.maximum(bound, scaled)
    return np.where(np.isfinite(bound), bound, 0.0)


# Romberg weights on D(s), D(s/2), D(s/4): value = R2 + (R2 - R1) / 15, R1 = (4 D1 - D0) / 3,
# R2 = (4 D2 - D1) / 3; the rounding of D(s_k) is at most noise_f / s_k.
_WEIGHTS = np.array([1 / 45, -20 / 45, 64 / 45])


class _Entry:
    """The differences along one entry, evaluated in place on the extended-precision x."""

    def __init__(self, f, flat: np.ndarray, view: np.ndarray, i: int, f0, noise: float):
        self.f, self.flat, self.view, self.i = f, flat, view, i
        self.f0, self.noise = f0, noise
        self.cache: dict[float, tuple] = {}

    def at(self, s: float) -> tuple[np.longdouble, np.longdouble, np.longdouble]:
        """(D(s), second difference / s, realized half-width) with the exact realized steps."""
        if s in self.cache:
            return self.cache[s]
        x_i = self.flat[self.i]
        up, down = x_i + EXT(s), x_i - EXT(s)
        try:
            self.flat[self.i] = up
            f_up = EXT(self.f(self.view))
            self.flat[self.i] = down
            f_down = EXT(self.f(self.view))
        finally:
            self.flat[self.i] = x_i
        half = (up - down) / 2
        out = ((f_up - f_down) / (up - down), (f_up + f_down - 2 * self.f0) / half, half)
        self.cache[s] = out
        return out

    def level(self, s: float) -> tuple[bool, float, float, float]:
        """(smooth, value, truncation estimate, rounding bound) from the steps s, s/2, s/4."""
        rows = [self.at(s / 2**k) for k in range(3)]
        D = [float(r[0]) for r in rows]
        a = [float(r[1]) for r in rows]
        h = [float(r[2]) for r in rows]
        rD = [self.noise / hk for hk in h]  # rounding of each D
        ra = [4 * self.noise / hk for hk in h]  # ... of each second difference / s
        d0, d1 = D[0] - D[1], D[1] - D[2]
        smooth = (
            abs(d1) <= abs(d0) / 2 + 2 * (rD[0] + 2 * rD[2])
            and abs(a[1]) <= 0.75 * abs(a[0]) + ra[0] + ra[1]
            and abs(a[2]) <= 0.75 * abs(a[1]) + ra[1] + ra[2]
        )
        R1, R2 = (4 * D[1] - D[0]) / 3, (4 * D[2] - D[1]) / 3
        value = R2 + (R2 - R1) / 15
        rounding = float(np.sum(np.abs(_WEIGHTS) * np.array(rD)))
        return bool(smooth), value, abs(R2 - R1) / 15, rounding


def _difference(entry: _Entry, s0: float, line: Callable[[float], float]):
    """(value, error bound, kink distance or None) for one entry: the step fitted (docstring)."""
    s, first_smooth, smooth_at = s0, None, None
    best = None
    tiny = 1024 * float(np.finfo(EXT).eps) * max(1.0, abs(float(entry.flat[entry.i])))
    for _ in range(MAX_HALVINGS):
        smooth, value, trunc, rounding = entry.level(s)
        if first_smooth is None:
            first_smooth = smooth
        if smooth:
            if smooth_at is None:
                smooth_at = s
            if best is None or trunc + rounding < best[1]:
                best = (value, trunc + rounding)
            if not first_smooth:
                break  # the distance to the kink is found
            if trunc <= line(value) / 4 or trunc <= rounding:
                break
        elif first_smooth:
            break  # smooth at the start, rough below: rounding has taken over; keep the best
        s /= 2
        if s < tiny:
            break
    if not first_smooth:
        return np.nan, np.inf, (smooth_at or 0.0)
    value, err = best
    return value, 2 * err, None


def check_grad(
    f: Callable[[np.ndarray], object],
    grad_f: Callable[[np.ndarray], np.ndarray],
    x,
    *,
    eps: float | None = None,
    atol: float | None = None,
    rtol: float | None = None,
    max_entries: int | None = None,
    seed: int = 0,
    tolerance: float | None = None,
    show: int = 5,
    h: float | None = None,
) -> GradCheck:
    """Compare grad_f(x) with extrapolated central differences of f at x, entry by entry.

    f: scalar function of an array shaped like x. It is called on a read-only np.longdouble array
    that the check perturbs in place between calls (do not keep or modify it); grad_f: its
    gradient, an array of x's shape; x: real float32 or float64 array (any shape).
    eps (alias h): the starting step's scale, s_0 = eps * max(1, |x_i|) (default 3e-4), fitted per
    entry as the module docstring says. atol, rtol: torch's pass line |g - g_fd| <= atol + rtol *
    |g_fd| instead of the one from the arithmetic (default; see the module docstring); tolerance:
    pass when rel < tolerance instead. max_entries: check a seeded sample of at most this many
    entries (None: every entry, up to MAX_FULL). show: how many worst entries to keep.

    Choose x so that the checked entries reach every branch of f and stay off its kinks; an entry
    with a kink within the step is reported (not compared) and the check does not pass.
    Raises ValueError for a non-real or non-float x, complex gradients, a grad_f of the wrong
    shape, a non-scalar f, max_entries < 1, or more than MAX_FULL entries without max_entries.
    """
    step = 3e-4 if eps is None and h is None else float(eps if eps is not None else h)
    x = np.asarray(x)
    if np.iscomplexobj(x):
        raise ValueError("check_grad: x is complex; the check is for real functions of real x")
    if x.dtype.name not in ("float32", "float64"):
        raise ValueError(f"check_grad: x must be float32 or float64, got {x.dtype}")
    if not np.all(np.isfinite(x)):
        raise ValueError("check_grad: x holds NaN or infinity")
    if not step > 0 or not np.isfinite(step):
        raise ValueError(f"check_grad: eps (the step) must be a positive number, got {step}")
    if max_entries is not None and max_entries < 1:
        raise ValueError(f"check_grad: max_entries must be at least 1, got {max_entries}")
    if max_entries is None and x.size > MAX_FULL:
        raise ValueError(
            f"check_grad: x has {x.size:,} entries; checking each costs several evaluations of f, "
            f"so pass max_entries (a seeded sample) for more than {MAX_FULL:,}"
        )
    raw = np.asarray(grad_f(x.copy()))
    if np.iscomplexobj(raw):
        raise ValueError("check_grad: grad_f(x) returned complex values; it must be real")
    mine = raw.astype(np.float64)
    if mine.shape != x.shape:
        raise ValueError(f"check_grad: grad_f(x) has shape {mine.shape}, x has {x.shape}")
    ext = x.astype(EXT)
    flat = ext.reshape(-1)  # a view: entries are perturbed here, in place
    view = flat.reshape(x.shape)
    view.flags.writeable = False  # f sees this read-only view
    value = f(view)
    if np.ndim(value) != 0:
        raise ValueError("check_grad: f(x) must be a scalar")
    if np.iscomplexobj(value):
        raise ValueError("check_grad: f(x) is complex; the check is for real functions")
    f0 = EXT(value)
    if not np.isfinite(f0):
        raise ValueError(f"check_grad: f(x) is {float(f0)}; the check needs a finite value at x")
    noise = _noise_estimate(f, x, f0, _working_epsilon(f, view, flat, f0))
    r = _rounding_bound(grad_f, x, mine)
    indices = np.arange(x.size)
    if max_entries is not None and x.size > max_entries:
        indices = np.sort(np.random.default_rng(seed).choice(x.size, max_entries, replace=False))
    ours = mine.ravel()[indices]
    r_flat = r.ravel()[indices]

    def pass_line(j: int, fd: float, fd_err: float) -> float:
        if tolerance is not None:
            return tolerance * (abs(ours[j]) + abs(fd))
        if atol is not None or rtol is not None:
            return (atol or 0.0) + (rtol or 0.0) * abs(fd)
        return ROUNDING_FACTOR * r_flat[j] + fd_err

    fd = np.empty(indices.size)
    line = np.empty(indices.size)
    kinks = []
    for j, i in enumerate(indices):
        entry = _Entry(f, flat, view, int(i), f0, noise)
        s0 = step * max(1.0, abs(float(flat[i])))
        value, err, kink = _difference(entry, s0, lambda v, j=j: pass_line(j, v, 0.0))
        fd[j] = value
        if kink is not None:
            kinks.append((tuple(int(k) for k in np.unravel_index(i, x.shape)), s0, kink))
            line[j] = np.nan
        else:
            line[j] = pass_line(j, value, err)
    compared = ~np.isnan(line)
    diff = np.abs(ours - fd)
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = np.where(diff == 0, 0.0, diff / line)
    ratio = np.where(np.isnan(ratio) & compared, np.inf, ratio)  # a NaN gradient is wrong
    rel = relative_error(ours, fd)
    with np.errstate(invalid="ignore", divide="ignore"):
        rel_line = np.nan_to_num(line / (np.abs(ours) + np.abs(fd)), nan=0.0, posinf=0.0)
    rel = np.where(np.isnan(rel) & compared, np.inf, rel)
    order = [j for j in np.argsort(-np.where(compared, ratio, -1.0), kind="stable") if compared[j]]
    worst = [
        (
            tuple(int(k) for k in np.unravel_index(indices[j], x.shape)),
            ours[j],
            fd[j],
            float(rel[j]),
        )
        for j in order[:show]
    ]
    return GradCheck(
        shape=x.shape,
        checked=int(compared.sum()),
        max_abs_error=float(np.max(diff[compared], initial=0.0)),
        max_rel_error=float(np.max(rel[compared], initial=0.0)),
        max_line_ratio=float(np.max(ratio[compared], initial=0.0)),
        tolerance=(
            tolerance if tolerance is not None else float(np.max(rel_line[compared], initial=0.0))
        ),
        per_entry=tolerance is None,
        worst=worst,
        kinks=kinks,
        wrong=int(np.sum(ratio[compared] > 1)),
    )


def assert_grad(f, grad_f, x, **options) -> GradCheck:
    """`check_grad` for tests: returns the result, or raises AssertionError showing the worst
    entries (mine vs finite difference) and any kinks when the check does not pass."""
    result = check_grad(f, grad_f, x, **options)
    if not result.passed:
        raise AssertionError(result.report())
    return result
