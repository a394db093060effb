"""The lesson rules, once: numbers in, verdicts out; words are someone else's job.

Every conclusion the studies' reports (lessons.py, sweep_lessons.py) and the walkthrough notebook
(notebooks/lessons.py) draw is decided here, in one unit: **accuracies in percent** (0-100),
losses in nats. A verdict is data (a string from a small fixed set, or a frozen dataclass); the
sentence functions render verdicts and decide nothing. Tests feed numbers on both sides of each
boundary and assert the verdict.

The rules:

- a network is *at chance* when its test accuracy is at most CHANCE_MARGIN points above the share
  of the most common class (always answering that class scores the share itself); it *learns*
  above `learned_threshold`, halfway from that share to 100 %; in between it is *above chance*;
- a loss within UNIFORM_LOSS_TOLERANCE of ln k is that of a uniform guess (1/k for every class);
  a run *diverged* when its training loss went above 2 ln k (numpy_mlp's `loss_bound`) or became
  non-finite: worse than a uniform guess in cross-entropy, whatever its accuracy;
- the layer factor ||g^(l)|| / ||g^(l+1)|| between neighbouring same-shape hidden matrices; a
  mean factor below VANISHES_BELOW vanishes, above EXPLODES_ABOVE explodes;
- the backward factor ||delta^(l)|| / ||delta^(l+1)|| between neighbouring hidden layers, and the
  rest of a weight-gradient factor (weight factor / backward factor: the activations and how they
  line up with delta); a part changes the gradient when its factor compounded over the network is
  not "kept" (0.5 to 2); the forward
  signal collapses when the last hidden layer's unit spread is below SPREAD_COLLAPSE of the
  first's, and the logits ignore the input below LOGITS_IGNORE;
- a network's best rate is the one with the best validation accuracy; a larger learning rate is
  owed when the largest tried finished, is the best and is above chance (at chance at every rate,
  with the loss rising with the rate, none is owed); which initializers train each activation's
  deepest network;
- over seeds: mean, sample standard deviation (ddof=1) and a 95 % Student-t interval, from
  MIN_SEEDS = 3 seeds on; with fewer, no interval is drawn and no comparison made; two settings
  are told apart when the 95 % t-interval of their difference excludes 0: paired by seed (the
  per-seed differences, when both have the same MIN_SEEDS or more seeds in seed order: same seed,
  same starting weights and batches), else Welch's interval. Overlapping intervals of the two
  means are not a test of the difference (they can overlap while the difference is clear).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence

import numpy as np

from numpy_mlp.training.divergence import loss_bound

CHANCE_MARGIN = 5.0  # percentage points above the majority share that still count as chance
UNIFORM_LOSS_TOLERANCE = 0.05  # nats from ln k that still count as a uniform guess
# The most f'(z) can be, per activation: the factor the activation contributes to each layer.
SLOPE_BOUND = {"logistic": 0.25, "tanh": 1.0, "relu": 1.0}
VANISHES_BELOW, EXPLODES_ABOVE = 0.5, 2.0  # the mean layer factor's verdicts
ONE_ANSWER = 99.0  # percent of the test images given one answer: "gives one answer"
MOSTLY_ONE_ANSWER = 90.0  # ... at least this: "gives one answer to most images"
NO_BETTER = 0.5  # points above the majority share that are "no better than guessing it"
MIN_SEEDS = 3  # fewer seeds: no spread estimated, no comparison drawn
CONFIDENCE = 0.95

# Outcomes of one network at one setting.
DIVERGED, CHANCE, ABOVE, LEARNS = "diverged", "chance", "above", "learns"


# --------------------------------------------------------------------------- losses


def uniform_loss(n_classes: int) -> float:
    """ln k: the cross-entropy of predicting 1/k for every class."""
    return math.log(n_classes)


def divergence_bound(n_classes: int) -> float:
    """2 ln k, above which a training loss counts as diverged (numpy_mlp's rule)."""
    return loss_bound(n_classes)


def near_uniform(loss: float, n_classes: int) -> bool:
    """Is this loss that of a uniform guess (within UNIFORM_LOSS_TOLERANCE of ln k)?"""
    return abs(loss - uniform_loss(n_classes)) <= UNIFORM_LOSS_TOLERANCE


# --------------------------------------------------------------------------- chance and learning


def learned_threshold(majority_percent: float) -> float:
    """Halfway from the majority share to 100 %: above it a network learns."""
    return (majority_percent + 100.0) / 2


def chance_ceiling(majority_percent: float) -> float:
    """The highest accuracy that still counts as chance."""
    return majority_percent + CHANCE_MARGIN


def at_chance(accuracy: float | None, majority_percent: float) -> bool:
    """True when the accuracy is at most CHANCE_MARGIN points above the majority share, or
    missing (a run that diverged)."""
    return accuracy is None or accuracy <= chance_ceiling(majority_percent)


def outcome(accuracy: float | None, majority_percent: float, diverged: bool = False) -> str:
    """DIVERGED, CHANCE, ABOVE (above chance, far from trained) or LEARNS."""
    if diverged or accuracy is None:
        return DIVERGED
    if accuracy <= chance_ceiling(majority_percent):
        return CHANCE
    return LEARNS if accuracy > learned_threshold(majority_percent) else ABOVE


def answers(top_share: float | None) -> str | None:
    """How one-sided a network's answers are, from the percent of test images given its most
    frequent answer: "one" (>= ONE_ANSWER), "mostly one" (>= MOSTLY_ONE_ANSWER), "spread"."""
    if top_share is None:
        return None
    return (
        "one"
        if top_share >= ONE_ANSWER
        else "mostly one"
        if top_share >= MOSTLY_ONE_ANSWER
        else ("spread")
    )


def no_better_than_majority(accuracy: float, majority_percent: float) -> bool:
    """At most NO_BETTER points above always answering the most common class."""
    return accuracy <= majority_percent + NO_BETTER


@dataclasses.dataclass(frozen=True)
class NetworkVerdict:
    """What one network did over the learning rates it was trained at.

    tier: LEARNS at one rate or more; else ABOVE at one rate or more; else CHANCE (or DIVERGED
    when it diverged at every rate). best_rate: the rate with the highest validation accuracy
    (test accuracy when no validation is given), best_accuracy its test accuracy (None when
    every rate diverged). slow_at_smallest: it learns, but not at the smallest rate (which did not
    diverge). too_large: the rates at which it diverged or sat at chance while a smaller rate
    trained it. outcomes: {rate: outcome}.
    """

    tier: str
    best_rate: float | None
    best_accuracy: float | None
    slow_at_smallest: bool
    too_large: tuple[float, ...]
    outcomes: Mapping[float, str]


def network_verdict(
    by_rate: Mapping[float, float | None],
    majority_percent: float,
    val_by_rate: Mapping[float, float | None] | None = None,
) -> NetworkVerdict:
    """by_rate: {learning rate: test accuracy %, or None when it diverged}; val_by_rate: the
    same rates' final validation accuracy %, when recorded: the best rate is then chosen on it
    (its test accuracy reported), else on the test accuracy."""
    kinds = {lr: outcome(a, majority_percent) for lr, a in by_rate.items()}
    done = {lr: a for lr, a in by_rate.items() if a is not None}
    pick = done if val_by_rate is None else {lr: val_by_rate.get(lr) or 0.0 for lr in done}
    best = max(done, key=lambda lr: pick[lr]) if done else None
    values = set(kinds.values())
    tier = next((t for t in (LEARNS, ABOVE, CHANCE) if t in values), DIVERGED)
    low = min(by_rate) if by_rate else None
    slow = tier == LEARNS and kinds.get(low) in (CHANCE, ABOVE)
    too_large = tuple(
        lr
        for lr in sorted(by_rate)
        if kinds[lr] in (DIVERGED, CHANCE) and any(kinds[r] == LEARNS for r in by_rate if r < lr)
    )
    return NetworkVerdict(
        tier, best, done.get(best) if best is not None else None, slow, too_large, kinds
    )


@dataclasses.dataclass(frozen=True)
class RateNote:
    """For a network at chance at one rate: another rate where it does better."""

    rate: float
    accuracy: float
    outcome: str  # LEARNS or ABOVE
    direction: str  # "smaller" or "larger": where the better rate lies


def better_rate(
    lr: float, by_rate: Mapping[float, float | None], majority_percent: float
) -> RateNote | None:
    """The best rate, smaller ones first, at which the network is not at chance; None if none."""
    good = {r: a for r, a in by_rate.items() if not at_chance(a, majority_percent)}
    smaller, larger = [r for r in good if r < lr], [r for r in good if r > lr]
    for others, direction in ((smaller, "smaller"), (larger, "larger")):
        if others:
            best = max(others, key=lambda r: good[r])
            return RateNote(best, good[best], outcome(good[best], majority_percent), direction)
    return None


# --------------------------------------------------------------------------- layer factors


def layer_factors(norms: Sequence[float]) -> list[float]:
    """||g^(l)|| / ||g^(l+1)|| for neighbouring hidden-to-hidden matrices (nan over a zero).

    `norms` has one entry per weight matrix, input layer first: W_h1 (785 x w), W_h2 ... W_hd
    (each (w+1) x w), W_out ((w+1) x k). Only W_h2 ... W_hd share a shape, so a depth-d network
    has d - 2 factors (none for depth 1 or 2). A factor below 1: the norm shrank on its way down.
    """
    hidden = [float(n) for n in norms[1:-1]]
    return [a / b if b else math.nan for a, b in zip(hidden[:-1], hidden[1:], strict=True)]


def geometric_mean(values: Sequence[float]) -> float | None:
    """(prod values)^(1/n): the typical factor per layer; None for no values or a non-positive
    or non-finite one."""
    if not values or any(not (v > 0) or not math.isfinite(v) for v in values):
        return None
    return float(math.exp(sum(math.log(v) for v in values) / len(values)))


def factor_trend(mean_factor: float | None) -> str | None:
    """ "vanishes" (below VANISHES_BELOW), "keeps" (up to EXPLODES_ABOVE) or "explodes"; None
    when there is no factor to judge."""
    if mean_factor is None:
        return None
    if mean_factor < VANISHES_BELOW:
        return "vanishes"
    return "keeps" if mean_factor <= EXPLODES_ABOVE else "explodes"


def compounded_trend(total: float) -> str:
    """What a product of factors near 1 does over a whole network: "kept" (0.5 to 2), "mild
    shrink" (0.1 to 0.5), "mild growth" (2 to 10), "shrink" (below 0.1), "growth" (above 10)."""
    if VANISHES_BELOW <= total <= EXPLODES_ABOVE:
        return "kept"
    if 0.1 <= total < VANISHES_BELOW:
        return "mild shrink"
    if EXPLODES_ABOVE < total <= 10:
        return "mild growth"
    return "shrink" if total < 0.1 else "growth"


# --------------------------------------------------------------------------- backward and forward


def delta_factors(delta_norms: Sequence[float]) -> list[float]:
    """||delta^(l)|| / ||delta^(l+1)|| for neighbouring hidden layers: the backward factor.

    `delta_norms` has one entry per layer after the input (hidden layers h1 ... hd, then the
    output), as `numpy_mlp.layer_stats` gives them. The hidden layers all have the same width, so a
    depth-d network has d - 1 factors (the output layer, k wide, is left out). Below 1 the
    backpropagated error shrinks on its way down through that layer.
    """
    hidden = [float(n) for n in delta_norms[:-1]]
    return [a / b if b else math.nan for a, b in zip(hidden[:-1], hidden[1:], strict=True)]


def forward_factors(weight_factors: Sequence[float], delta_factors: Sequence[float]) -> list[float]:
    """The forward part of each weight-gradient factor: weight factor / backward factor.

    dL/dW_h(l) = [1 | A_h(l-1)]^T delta_h(l), so the weight-gradient factor between W_h(l) and
    W_h(l+1) (l = 2 ... d-1) is the backward factor delta_h(l) / delta_h(l+1) times this part,
    how much more gradient the activations A_h(l-1) make of an error of a given size than A_h(l)
    do. `delta_factors` are all d - 1 backward factors (input side first); the weight factors'
    pairs start at the second.
    """
    pairs = delta_factors[1:]
    return [w / d if d else math.nan for w, d in zip(weight_factors, pairs, strict=True)]


def compound_verdict(mean_factor: float | None, steps: int) -> str | None:
    """What a per-layer factor does over `steps` layers: `compounded_trend` of
    mean_factor ** steps ("kept", "mild shrink", "shrink", "mild growth", "growth"); None when
    there is no factor."""
    if mean_factor is None or steps < 1:
        return None
    return compounded_trend(mean_factor**steps)


def changing_part(backward: str | None, forward: str | None) -> str | None:
    """Which part of the weight gradient changes it from layer to layer, from the two
    `compound_verdict`s: "backward" (the backpropagated error), "forward" (the activations it
    multiplies), "both" or "neither" (a part changes it unless it is "kept")."""
    if backward is None or forward is None:
        return None
    moved = (backward != "kept", forward != "kept")
    return {(True, True): "both", (True, False): "backward", (False, True): "forward"}.get(
        moved, "neither"
    )


# The forward signal "collapses" when the last hidden layer's unit spread is below this fraction
# of the first's; the logits "ignore the input" when their spread over the rows is below
# LOGITS_IGNORE: every softmax probability then moves by under about 1 % from image to image.
SPREAD_COLLAPSE = 0.01
LOGITS_IGNORE = 0.01


@dataclasses.dataclass(frozen=True)
class ForwardVerdict:
    """What the forward signal does with depth: collapses (last/first unit spread below
    SPREAD_COLLAPSE), logits_ignore_input (logit spread below LOGITS_IGNORE), per_layer (the
    geometric mean of spread(l+1) / spread(l); None for one hidden layer), and the numbers."""

    collapses: bool
    logits_ignore_input: bool
    per_layer: float | None
    first: float
    last: float
    logit_spread: float | None


def forward_verdict(unit_spread: Sequence[float], logit_spread: float | None) -> ForwardVerdict:
    """unit_spread: per hidden layer, input side first (numpy_mlp's `layer_stats`)."""
    spreads = [float(v) for v in unit_spread]
    first, last = spreads[0], spreads[-1]
    steps = [b / a for a, b in zip(spreads[:-1], spreads[1:], strict=True) if a > 0]
    return ForwardVerdict(
        collapses=first > 0 and last / first < SPREAD_COLLAPSE,
        logits_ignore_input=logit_spread is not None and logit_spread < LOGITS_IGNORE,
        per_layer=geometric_mean(steps) if len(steps) == len(spreads) - 1 else None,
        first=first,
        last=last,
        logit_spread=logit_spread,
    )


# --------------------------------------------------------------------------- larger rates, inits


def needs_larger_rate(val_by_rate: Mapping[float, float | None], majority_percent: float) -> bool:
    """True when a learning rate larger than any tried might train the network better, judged on
    VALIDATION accuracy: of two or more rates, the largest finished (did not diverge), gives the
    best validation accuracy, and is above chance there. A network at chance at every rate is not
    owed a larger rate (`loss_rises_with_rate` says whether the rate is what it lacks).
    val_by_rate: {rate: final validation accuracy %, None when diverged}."""
    done = {lr: a for lr, a in val_by_rate.items() if a is not None}
    top = max(val_by_rate)
    if top not in done or at_chance(done[top], majority_percent):
        return False
    return len(val_by_rate) > 1 and done[top] >= max(done.values())


def loss_rises_with_rate(loss_by_rate: Mapping[float, float | None]) -> bool:
    """True when the final validation loss never falls as the rate grows and the largest rate's
    is above the smallest's by more than UNIFORM_LOSS_TOLERANCE (two rates at least; a diverged
    rate, None, counts as the highest loss): a larger rate would only raise it further. A smaller
    rise is one seed's noise around the same guess, not a trend. {rate: loss in nats}."""
    losses = [math.inf if v is None else v for _, v in sorted(loss_by_rate.items())]
    if len(losses) < 2:
        return False
    return (
        all(b >= a for a, b in zip(losses[:-1], losses[1:], strict=True))
        and losses[-1] - losses[0] > UNIFORM_LOSS_TOLERANCE
    )


def next_rate(lr: float) -> float:
    """The next learning rate on the 1-3-10 ladder: 0.1 -> 0.3 -> 1 -> 3."""
    step = 3.0 if f"{lr:.6e}".startswith("1") else 10.0 / 3.0
    return float(f"{lr * step:.6g}")


@dataclasses.dataclass(frozen=True)
class InitVerdict:
    """One activation at the deepest depth studied: trains, the (init, best rate, accuracy) that
    learn at some rate tried; fails, the (init, network_verdict) of those that do not; rates,
    every rate tried there."""

    activation: str
    depth: int
    trains: tuple[tuple[str, float, float], ...]
    fails: tuple[tuple[str, NetworkVerdict], ...]
    rates: tuple[float, ...]


def init_verdicts(
    networks: Sequence[tuple[str, str, int, Mapping[float, float | None]]],
    majority_percent: float,
) -> list[InitVerdict]:
    """networks: (activation, init, depth, {rate: test accuracy %, None when diverged}); one
    verdict per activation, at its deepest depth ("learns": network_verdict's LEARNS tier)."""
    out = []
    for activation in dict.fromkeys(a for a, *_ in networks):
        mine = [n for n in networks if n[0] == activation]
        deepest = max(d for _, _, d, _ in mine)
        trains, fails = [], []
        for _, init, depth, by_rate in mine:
            if depth != deepest:
                continue
            v = network_verdict(by_rate, majority_percent)
            if v.tier == LEARNS:
                trains.append((init, v.best_rate, v.best_accuracy))
            else:
                fails.append((init, v))
        rates = sorted({lr for _, _, d, by_rate in mine if d == deepest for lr in by_rate})
        out.append(InitVerdict(activation, deepest, tuple(trains), tuple(fails), tuple(rates)))
    return out


# --------------------------------------------------------------------------- seeds


# Two-sided 95 % quantiles of Student's t, t_{0.975, df}, df = 1..30 (rounded to 4 digits).
_T975 = (
    12.7062, 4.3027, 3.1824, 2.7764, 2.5706, 2.4469, 2.3646, 2.3060, 2.2622, 2.2281,
    2.2010, 2.1788, 2.1604, 2.1448, 2.1314, 2.1199, 2.1098, 2.1009, 2.0930, 2.0860,
    2.0796, 2.0739, 2.0687, 2.0639, 2.0595, 2.0555, 2.0518, 2.0484, 2.0452, 2.0423,
)  # fmt: skip


def t_quantile(df: int) -> float:
    """t_{0.975, df}, the 95 % two-sided Student-t quantile: a table up to 30 degrees of freedom,
    above it the Cornish-Fisher expansion around z = 1.95996 (error below 1e-4)."""
    if df < 1:
        raise ValueError(f"degrees of freedom must be at least 1, got {df}")
    if df <= len(_T975):
        return _T975[df - 1]
    z = 1.959963984540054
    return (
        z
        + (z**3 + z) / (4 * df)
        + (5 * z**5 + 16 * z**3 + 3 * z) / (96 * df**2)
        + (3 * z**7 + 19 * z**5 + 17 * z**3 - 15 * z) / (384 * df**3)
    )


@dataclasses.dataclass(frozen=True)
class SeedStats:
    """One setting over seeds: n, mean, the sample standard deviation (ddof=1; None below two
    values) and the 95 % t-interval (None below MIN_SEEDS: not an estimate)."""

    n: int
    mean: float
    sd: float | None
    low: float | None
    high: float | None

    @property
    def estimated(self) -> bool:
        """Enough seeds (MIN_SEEDS) for the spread and the interval to be an estimate."""
        return self.n >= MIN_SEEDS


def seed_stats(values: Sequence[float]) -> SeedStats | None:
    """mean +- sample sd and the 95 % t-interval of the mean; None for no values."""
    v = np.asarray([float(x) for x in values], dtype=np.float64)
    if v.size == 0:
        return None
    mean = float(v.mean())
    sd = float(v.std(ddof=1)) if v.size > 1 else None
    if v.size < MIN_SEEDS:
        return SeedStats(int(v.size), mean, sd, None, None)
    half = t_quantile(v.size - 1) * sd / math.sqrt(v.size)
    return SeedStats(int(v.size), mean, sd, mean - half, mean + half)


@dataclasses.dataclass(frozen=True)
class Difference:
    """a - b over seeds: verdict ("apart": the 95 % t-interval of the difference excludes 0;
    "within noise": it contains 0; "too few seeds"), the difference of the means, its interval
    (None with too few seeds), n (pairs when paired, else the smaller count) and paired (the
    per-seed differences; False: Welch's interval for two independent samples)."""

    verdict: str
    diff: float | None
    low: float | None
    high: float | None
    n: int
    paired: bool


def difference(a: Sequence[float], b: Sequence[float], paired: bool = True) -> Difference:
    """The 95 % t-interval of mean(a) - mean(b). paired (and equal counts): a[i], b[i] are the
    same seed, the interval is that of the n per-seed differences (df n - 1); otherwise Welch's
    (df Welch-Satterthwaite, rounded down). Either way MIN_SEEDS values per side or more."""
    x = np.asarray([float(v) for v in a], dtype=np.float64)
    y = np.asarray([float(v) for v in b], dtype=np.float64)
    if min(x.size, y.size) < MIN_SEEDS:
        diff = float(x.mean() - y.mean()) if x.size and y.size else None
        return Difference("too few seeds", diff, None, None, int(min(x.size, y.size)), False)
    if paired and x.size == y.size:
        d = x - y
        diff = float(d.mean())
        half = t_quantile(d.size - 1) * float(d.std(ddof=1)) / math.sqrt(d.size)
        n, is_paired = int(d.size), True
    else:
        diff = float(x.mean() - y.mean())
        vx, vy = float(x.var(ddof=1)) / x.size, float(y.var(ddof=1)) / y.size
        se2 = vx + vy
        if se2 > 0:
            df = se2**2 / (vx**2 / (x.size - 1) + vy**2 / (y.size - 1))
            half = t_quantile(max(1, int(df))) * math.sqrt(se2)
        else:
            half = 0.0
        n, is_paired = int(min(x.size, y.size)), False
    low, high = diff - half, diff + half
    verdict = "within noise" if low <= 0 <= high else "apart"
    return Difference(verdict, diff, low, high, n, is_paired)


def compare_settings(a: Sequence[float], b: Sequence[float], paired: bool = True) -> str:
    """ "too few seeds", "within noise" or "apart": `difference(a, b, paired).verdict`."""
    return difference(a, b, paired).verdict


# --------------------------------------------------------------------------- sweeps


@dataclasses.dataclass(frozen=True)
class BestValue:
    """The best setting by mean validation accuracy (only settings where no seed diverged
    compete), its runner-up, and whether the two are told apart ("apart", "within noise", "too
    few seeds"; None without a runner-up) with the difference itself (best - runner-up, paired
    by seed; None without a runner-up)."""

    best: Mapping
    runner_up: Mapping | None
    gap: float | None
    comparison: str | None
    difference: Difference | None = None


def best_value(groups: Sequence[Mapping]) -> BestValue | None:
    """groups: one per value, each {"label", "val": [...], "test": [...], "diverged": int}, the
    lists in seed order (the same seeds for every value: paired); None when no value trained on
    every seed."""
    fine = [g for g in groups if g["val"] and not g["diverged"]]
    if not fine:
        return None
    ranked = sorted(fine, key=lambda g: -float(np.mean(g["val"])))
    best, second = ranked[0], ranked[1] if len(ranked) > 1 else None
    if second is None:
        return BestValue(best, None, None, None)
    gap = float(np.mean(best["val"]) - np.mean(second["val"]))
    d = difference(best["val"], second["val"])
    return BestValue(best, second, gap, d.verdict, d)


@dataclasses.dataclass(frozen=True)
class StillImproving:
    """kind: "unfinished" (no cell finished), "one epoch" (cannot be told), "none", "some",
    "most" or "all"; late: the finished cells whose best epoch is their last; done: finished."""

    kind: str
    late: tuple
    done: tuple


def still_improving(cells: Sequence[Mapping]) -> StillImproving:
    """cells: records with "status", "best_epoch", "epochs_run"."""
    done = tuple(c for c in cells if c.get("status") == "complete" and c.get("best_epoch"))
    late = tuple(c for c in done if c["best_epoch"] == c["epochs_run"])
    if not done:
        kind = "unfinished"
    elif all(c.get("epochs_run") == 1 for c in done):
        kind = "one epoch"
    elif not late:
        kind = "none"
    elif len(late) == len(done):
        kind = "all"
    else:
        kind = "most" if 2 * len(late) > len(done) else "some"
    return StillImproving(kind, late, done)


@dataclasses.dataclass(frozen=True)
class Divergence:
    """diverged of total cells, the groups with a diverged cell; for one swept parameter:
    onset (the value from which every cell diverged and none below; None when divergence does
    not begin at one value) and largest (the largest value, when nothing diverged)."""

    diverged: int
    total: int
    groups: tuple
    onset: float | None
    largest: float | None


def divergence(groups: Sequence[Mapping], single_parameter: bool) -> Divergence:
    """groups: {"value" (the swept value, None for a grid), "cells", "diverged"} each."""
    total = sum(g["cells"] for g in groups)
    bad = tuple(g for g in groups if g["diverged"])
    n = sum(g["diverged"] for g in bad)
    onset = largest = None
    if single_parameter and groups:
        ordered = sorted(groups, key=lambda g: g["value"])
        if not bad:
            largest = ordered[-1]["value"]
        for i, g in enumerate(ordered):
            if all(h["diverged"] == h["cells"] for h in ordered[i:]):
                if bad and not any(h["diverged"] for h in ordered[:i]):
                    onset = g["value"]
                break
    return Divergence(n, total, bad, onset, largest)


# Spearman's rho at or above this counts as "rises with" (below: "does not rise steadily").
RISES_RHO = 0.8


def spearman(x: Sequence[float], y: Sequence[float]) -> float | None:
    """Spearman's rank correlation (ties get their mean rank); None below 3 points or no spread."""
    if len(x) < 3 or len(x) != len(y):
        return None
    rx, ry = _ranks(x), _ranks(y)
    if np.std(rx) == 0 or np.std(ry) == 0:
        return None
    return float(np.corrcoef(rx, ry)[0, 1])


def _ranks(values: Sequence[float]) -> np.ndarray:
    v = np.asarray(values, float)
    order = np.argsort(v, kind="stable")
    ranks = np.empty(v.size)
    ranks[order] = np.arange(v.size, dtype=float)
    for value in np.unique(v):
        same = v == value
        ranks[same] = ranks[same].mean()
    return ranks


def step_size(lr: float, momentum: float) -> float:
    """lr / (1 - momentum), rounded to 10 significant digits so that equal steps compare equal
    (0.001 / (1 - 0.9) is 0.010000000000000002 in floating point)."""
    return float(f"{lr / (1 - momentum):.10g}")


@dataclasses.dataclass(frozen=True)
class EffectiveStep:
    """Does a learning_rate x momentum grid's accuracy follow lr / (1 - m)?

    rows: (step, mean validation accuracy, group) of the cells that trained; seeds: the fewest
    seeds a trained cell has; best_step; rho (Spearman, step against mean accuracy up to
    best_step; None with too few cells) and rho_lr (the learning rate alone); rises: rho >=
    RISES_RHO; pairs: cells with equal steps, each (row, row, rules.difference of their
    accuracies, its verdict); worst: their largest difference of means; span: the grid's range of means;
    same: every pair within noise (None without pairs). rises and same are None below MIN_SEEDS
    seeds: a measurement, not a conclusion. beyond / diverged_beyond: cells past the best step
    that trained lower / diverged. The step itself is a small-step approximation.
    """

    rows: tuple
    seeds: int
    best_step: float
    upto: int
    rho: float | None
    rho_lr: float | None
    rises: bool | None
    pairs: tuple
    worst: float | None
    span: float
    same: bool | None
    beyond: int
    diverged_beyond: int


def effective_step(groups: Sequence[Mapping]) -> EffectiveStep | None:
    """groups: {"label", "lr", "momentum", "val": [...], "diverged": int} per grid cell; None
    when fewer than 3 cells trained."""
    rows = tuple(
        (step_size(g["lr"], g["momentum"]), float(np.mean(g["val"])), g)
        for g in groups
        if g["val"] and not g["diverged"]
    )
    if len(rows) < 3:
        return None
    seeds = min(len(r[2]["val"]) for r in rows)
    decided = seeds >= MIN_SEEDS
    best_step = max(rows, key=lambda r: r[1])[0]
    upto = [r for r in rows if r[0] <= best_step]
    rho = spearman([r[0] for r in upto], [r[1] for r in upto])
    rho_lr = spearman([r[2]["lr"] for r in upto], [r[1] for r in upto])
    span = max(r[1] for r in rows) - min(r[1] for r in rows)
    pairs = tuple(
        (a, b, d, d.verdict)
        for i, a in enumerate(rows)
        for b in rows[i + 1 :]
        if math.isclose(a[0], b[0], rel_tol=1e-6)
        for d in (difference(a[2]["val"], b[2]["val"]),)
    )
    worst = max(abs(a[1] - b[1]) for a, b, *_ in pairs) if pairs else None
    same = None
    if pairs and decided:
        same = all(verdict == "within noise" for *_, verdict in pairs)
    return EffectiveStep(
        rows=rows,
        seeds=seeds,
        best_step=best_step,
        upto=len(upto),
        rho=rho,
        rho_lr=rho_lr,
        rises=None if rho is None or not decided else rho >= RISES_RHO,
        pairs=pairs,
        worst=worst,
        span=span,
        same=same,
        beyond=sum(r[0] > best_step for r in rows),
        diverged_beyond=sum(
            1 for g in groups if g["diverged"] and step_size(g["lr"], g["momentum"]) > best_step
        ),
    )
