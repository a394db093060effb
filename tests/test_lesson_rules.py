"""The lesson rules (compare/studies/rules.py): data fed on both sides of each boundary, the
verdict asserted; no sentence is read here (the renderers have one test per family in
test_study_lessons.py and test_notebook_lessons.py)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from compare.studies import rules
from compare.studies.rules import ABOVE, CHANCE, DIVERGED, LEARNS

MAJORITY = 11.35  # percent of the most common class in MNIST's test set
EPS = 1e-9


# --------------------------------------------------------------------------- chance and learning


def test_outcome_flips_at_the_chance_and_learned_thresholds():
    ceiling, learned = MAJORITY + rules.CHANCE_MARGIN, (MAJORITY + 100) / 2
    assert rules.chance_ceiling(MAJORITY) == ceiling
    assert rules.learned_threshold(MAJORITY) == learned
    assert rules.outcome(ceiling, MAJORITY) == CHANCE
    assert rules.outcome(ceiling + EPS, MAJORITY) == ABOVE
    assert rules.outcome(learned, MAJORITY) == ABOVE
    assert rules.outcome(learned + EPS, MAJORITY) == LEARNS
    assert rules.outcome(99.0, MAJORITY, diverged=True) == DIVERGED
    assert rules.outcome(None, MAJORITY) == DIVERGED
    assert rules.at_chance(ceiling, MAJORITY) and not rules.at_chance(ceiling + EPS, MAJORITY)
    assert rules.at_chance(None, MAJORITY)  # a diverged run counts as no better than chance


def test_one_unit_percent():
    """The margin is 5 points in percent (it was 0.05 as a fraction in one copy)."""
    assert rules.CHANCE_MARGIN == 5.0
    assert rules.outcome(16.4, MAJORITY) == ABOVE and rules.outcome(16.3, MAJORITY) == CHANCE


@pytest.mark.parametrize(
    ("share", "kind"),
    [(100.0, "one"), (99.0, "one"), (98.9, "mostly one"), (90.0, "mostly one"), (89.9, "spread")],
)
def test_answers_flip_at_the_one_answer_shares(share, kind):
    assert rules.answers(share) == kind


def test_no_better_than_majority_and_uniform_loss():
    assert rules.no_better_than_majority(MAJORITY + 0.5, MAJORITY)
    assert not rules.no_better_than_majority(MAJORITY + 0.5 + EPS, MAJORITY)
    ln10 = math.log(10)
    assert rules.near_uniform(ln10 + 0.05 - EPS, 10) and rules.near_uniform(ln10 - 0.05 + EPS, 10)
    assert not rules.near_uniform(ln10 + 0.05 + 1e-6, 10)
    assert rules.divergence_bound(10) == pytest.approx(2 * ln10)


def test_network_verdict_tiers_best_rate_slow_start_and_too_large():
    v = rules.network_verdict({0.001: 11.35, 0.01: 91.0, 0.1: None}, MAJORITY)
    assert (v.tier, v.best_rate, v.best_accuracy) == (LEARNS, 0.01, 91.0)
    assert v.slow_at_smallest and v.too_large == (0.1,)
    assert v.outcomes == {0.001: CHANCE, 0.01: LEARNS, 0.1: DIVERGED}
    v = rules.network_verdict({0.001: 60.0, 0.01: 91.0, 0.1: 12.0}, MAJORITY)
    assert not v.slow_at_smallest and v.too_large == (0.1,)  # at chance after a learning rate
    v = rules.network_verdict({0.001: 30.0, 0.1: 20.0}, MAJORITY)
    assert (v.tier, v.best_rate, v.too_large, v.slow_at_smallest) == (ABOVE, 0.001, (), False)
    assert rules.network_verdict({0.001: 12.0, 0.1: 16.35}, MAJORITY).tier == CHANCE
    v = rules.network_verdict({0.1: None, 1.0: None}, MAJORITY)
    assert (v.tier, v.best_rate, v.best_accuracy) == (DIVERGED, None, None)
    # far from trained (above chance) at the smallest rate is a slow start too
    assert rules.network_verdict({0.001: 30.0, 0.1: 90.0}, MAJORITY).slow_at_smallest
    # a diverged smallest rate is not a slow start
    assert not rules.network_verdict({0.001: None, 0.1: 90.0}, MAJORITY).slow_at_smallest


@pytest.mark.parametrize(
    ("lr", "by_rate", "expected"),
    [
        (0.1, {0.01: 96.3, 0.1: 10.1}, (0.01, LEARNS, "smaller")),
        (0.001, {0.001: 11.35, 0.1: 95.2}, (0.1, LEARNS, "larger")),
        (0.001, {0.001: 11.35, 0.1: 21.0}, (0.1, ABOVE, "larger")),
        (0.01, {0.001: 11.35, 0.01: 10.1, 0.1: None}, None),
        (0.01, {0.001: 20.0, 0.01: 10.1, 0.1: 95.0}, (0.001, ABOVE, "smaller")),  # smaller first
    ],
)
def test_better_rate(lr, by_rate, expected):
    note = rules.better_rate(lr, by_rate, MAJORITY)
    assert (None if note is None else (note.rate, note.outcome, note.direction)) == expected


# --------------------------------------------------------------------------- layer factors


def test_layer_factors_compare_only_same_shape_hidden_matrices():
    # W_h1, W_h2, W_h3, W_h4, W_out: factors W_h2/W_h3 and W_h3/W_h4 only
    assert rules.layer_factors([100.0, 8.0, 4.0, 1.0, 50.0]) == [2.0, 4.0]
    assert rules.layer_factors([3.0, 2.0, 1.0]) == []  # depth 2: one hidden-to-hidden matrix
    assert math.isnan(rules.layer_factors([1.0, 1.0, 0.0, 1.0])[0])
    assert rules.geometric_mean([2.0, 8.0]) == pytest.approx(4.0)
    assert rules.geometric_mean([0.25, 1.0]) == pytest.approx(0.5)
    for bad in ([], [0.0, 1.0], [math.nan, 1.0], [-1.0]):
        assert rules.geometric_mean(bad) is None


@pytest.mark.parametrize(
    ("mean", "trend"),
    [
        (None, None),
        (0.5 - EPS, "vanishes"),
        (0.5, "keeps"),
        (2.0, "keeps"),
        (2.0 + EPS, "explodes"),
    ],
)
def test_factor_trend_flips_at_half_and_two(mean, trend):
    assert rules.factor_trend(mean) == trend


@pytest.mark.parametrize(
    ("total", "trend"),
    [
        (0.5, "kept"), (2.0, "kept"), (0.5 - EPS, "mild shrink"), (0.1, "mild shrink"),
        (0.1 - EPS, "shrink"), (2.0 + EPS, "mild growth"), (10.0, "mild growth"),
        (10.0 + EPS, "growth"),
    ],
)  # fmt: skip
def test_compounded_trend(total, trend):
    assert rules.compounded_trend(total) == trend


# --------------------------------------------------------------------------- seeds


@pytest.mark.parametrize(
    ("df", "t"),
    [(1, 12.706), (2, 4.303), (4, 2.776), (9, 2.262), (30, 2.042), (40, 2.021), (60, 2.000),
     (120, 1.980), (10**6, 1.960)],
)  # fmt: skip
def test_t_quantile_against_published_values(df, t):
    assert rules.t_quantile(df) == pytest.approx(t, abs=1.5e-3)


def test_t_quantile_decreases_smoothly_past_the_table():
    """The Cornish-Fisher branch joins the table smoothly and decreases toward z."""
    values = [rules.t_quantile(df) for df in range(1, 200)]
    assert all(a > b for a, b in zip(values, values[1:], strict=False))
    assert abs(rules.t_quantile(31) - 2.0395) < 1e-3
    with pytest.raises(ValueError, match="degrees of freedom"):
        rules.t_quantile(0)


def test_seed_stats_sample_sd_and_interval():
    s = rules.seed_stats([90.0, 91.0, 92.0, 93.0, 94.0])
    assert s.n == 5 and s.mean == pytest.approx(92.0)
    assert s.sd == pytest.approx(np.std([90, 91, 92, 93, 94], ddof=1))  # ddof=1, not 0
    assert s.sd == pytest.approx(math.sqrt(2.5))
    half = 2.7764 * math.sqrt(2.5) / math.sqrt(5)
    assert (s.low, s.high) == pytest.approx((92.0 - half, 92.0 + half))
    assert s.estimated
    two = rules.seed_stats([96.0, 97.0])
    assert two.sd == pytest.approx(math.sqrt(0.5)) and two.low is None and not two.estimated
    one = rules.seed_stats([96.0])
    assert one.sd is None and not one.estimated
    assert rules.seed_stats([]) is None


def test_compare_settings_by_the_interval_of_the_difference():
    a = [90.0, 91.0, 92.0]
    # every seed 0.5 higher: the means' intervals (+-2.48) overlap, yet the per-seed difference
    # is the same on every seed: apart when paired, within noise when not (Welch)
    shifted = [90.5, 91.5, 92.5]
    assert rules.compare_settings(shifted, a) == "apart"
    assert rules.compare_settings(shifted, a, paired=False) == "within noise"
    d = rules.difference(shifted, a)
    assert d.paired and d.n == 3 and d.diff == pytest.approx(0.5) and d.low == d.high
    mixed = [91.0, 90.0, 92.3]  # per-seed differences 1, -1, 0.3: the interval holds 0
    assert rules.compare_settings(mixed, a) == "within noise"
    assert rules.compare_settings(a, mixed) == "within noise"  # the same, either order
    assert rules.compare_settings([95.0, 96.0, 97.0], a, paired=False) == "apart"
    assert rules.compare_settings(a, [95.0, 96.0]) == "too few seeds"
    assert rules.compare_settings([], a) == "too few seeds"
    # the notebook's case: 0.11 +- 0.1 per seed over 5 seeds, a difference interval off 0
    best = [94.7, 94.4, 95.1, 94.9, 94.6]
    lower = [x - dx for x, dx in zip(best, (0.5, 0.7, 0.6, 0.9, 0.4), strict=True)]
    d = rules.difference(lower, best)
    assert d.verdict == "apart" and d.high < 0 < d.high + 1
    assert d.low == pytest.approx(
        -0.62 - 2.7764 * np.std([0.5, 0.7, 0.6, 0.9, 0.4], ddof=1) / 5**0.5
    )
    # unequal counts cannot be paired: Welch
    assert not rules.difference([90.0, 91.0, 92.0, 93.0], shifted).paired


# --------------------------------------------------------------------------- sweeps


def _group(label, val, diverged=0, value=None, cells=None, **kw):
    cells = cells if cells is not None else len(val) + diverged
    return {"label": label, "val": val, "test": [v - 1 for v in val], "diverged": diverged,
            "value": value, "cells": cells, **kw}  # fmt: skip


def test_best_value_moves_with_the_data_and_compares_by_the_difference():
    a = _group("a", [96.0, 96.4, 96.2])
    b = _group("b", [95.0, 95.2, 95.1])
    v = rules.best_value([a, b])
    assert (v.best["label"], v.runner_up["label"], v.comparison) == ("a", "b", "apart")
    assert v.gap == pytest.approx(1.1)
    b["val"] = [97.0, 97.2, 97.1]
    assert rules.best_value([a, b]).best["label"] == "b"
    b["val"] = [96.0, 97.0, 96.5]  # per-seed differences 0, 0.6, 0.3: interval holds 0
    v = rules.best_value([a, b])
    assert v.comparison == "within noise" and v.difference.low < 0 < v.difference.high
    b["val"] = [96.2, 96.6, 96.4]  # 0.2 above a on every seed: apart, paired by seed
    v = rules.best_value([a, b])
    assert (v.best["label"], v.comparison) == ("b", "apart")
    b["val"] = [97.0, 97.2]  # two seeds: no comparison drawn
    assert rules.best_value([a, b]).comparison == "too few seeds"
    assert rules.best_value([a]).runner_up is None


def test_best_value_ignores_values_where_a_seed_diverged():
    v = rules.best_value([_group("a", [99.0], diverged=1), _group("b", [90.0])])
    assert v.best["label"] == "b" and v.runner_up is None
    assert rules.best_value([_group("a", [], diverged=2)]) is None


def _cell(best, run, status="complete"):
    return {"status": status, "best_epoch": best, "epochs_run": run}


@pytest.mark.parametrize(
    ("cells", "kind", "late"),
    [
        ([_cell(5, 5), _cell(3, 5)], "some", 1),  # half: not most
        ([_cell(5, 5), _cell(5, 5), _cell(3, 5)], "most", 2),
        ([_cell(5, 5)], "all", 1),
        ([_cell(4, 5), _cell(3, 5)], "none", 0),
        ([_cell(1, 1)], "one epoch", 1),
        ([_cell(None, 0, "diverged")], "unfinished", 0),
    ],
)
def test_still_improving_verdict(cells, kind, late):
    v = rules.still_improving(cells)
    assert v.kind == kind and len(v.late) == late


def test_divergence_onset_moves_and_vanishes():
    groups = [
        _group("0.1", [95.0, 95.0], value=0.1),
        _group("1", [], diverged=1, cells=1, value=1.0),
        _group("3", [], diverged=2, value=3.0),
    ]
    v = rules.divergence(groups, True)
    assert (v.diverged, v.total, v.onset, v.largest) == (3, 5, 1.0, None)
    groups[1] = _group("1", [60.0], value=1.0)
    assert rules.divergence(groups, True).onset == 3.0
    groups[2] = _group("3", [50.0], value=3.0)
    groups[0]["diverged"] = 1
    assert rules.divergence(groups, True).onset is None  # not one onset: a larger value trained
    calm = [_group("0.1", [95.0], value=0.1), _group("0.3", [91.0], value=0.3)]
    v = rules.divergence(calm, True)
    assert (v.diverged, v.total, v.largest) == (0, 2, 0.3)
    assert rules.divergence(calm, False).largest is None  # a grid has no largest value


def _seed_order(spread, i, seeds):
    """Three seeds: the spread rotated by the cell's index; fewer: -0.1, 0.1 or one 0."""
    if seeds < 3:
        return spread[:seeds] if seeds > 1 else [0.0]
    return spread[i % 3 :] + spread[: i % 3]


def _grid(accuracy, seeds=3):
    """A 3 x 2 learning_rate x momentum grid; accuracy(lr, m) gives a cell's mean validation
    accuracy, its seeds spread by +-0.1 (in a different seed order per cell)."""
    spread = [-0.1, 0.1, 0.0]
    cells = [(lr, m) for lr in (0.001, 0.01, 0.1) for m in (0.0, 0.9)]
    return [
        _group(
            f"({lr:g}, {m:g})",
            [accuracy(lr, m) + d for d in _seed_order(spread, i, seeds)],
            lr=lr,
            momentum=m,
        )
        for i, (lr, m) in enumerate(cells)
    ]


def test_effective_step_verdict_flips_with_the_data():
    follows = rules.effective_step(_grid(lambda lr, m: 80 + 5 * math.log10(lr / (1 - m))))
    assert follows.rises and follows.same and follows.rho == pytest.approx(1.0)
    assert [verdict for *_, verdict in follows.pairs] == ["within noise"] * 2
    assert follows.seeds == 3
    ignores = rules.effective_step(_grid(lambda lr, m: 90 + 3 * m - 2 * math.log10(lr)))
    assert ignores.rises is False and ignores.same is False
    assert ignores.rho == pytest.approx(0.0) and ignores.upto == 3
    assert rules.effective_step(_grid(lambda lr, m: 90.0)[:2]) is None


def test_effective_step_with_fewer_than_three_seeds_decides_nothing():
    for seeds in (1, 2):
        v = rules.effective_step(_grid(lambda lr, m: 80 + 5 * math.log10(lr / (1 - m)), seeds))
        assert v.rho == pytest.approx(1.0) and v.rises is None and v.same is None
        assert [verdict for *_, verdict in v.pairs] == ["too few seeds"] * 2


def test_effective_step_pairs_apart_by_their_difference():
    """Equal steps 0.3 points apart: within noise at a 0.1 spread, apart at 0.01."""
    grid = _grid(lambda lr, m: 80 + 5 * math.log10(lr / (1 - m)) + (0.3 if m else 0.0))
    assert rules.effective_step(grid).same is True  # the differences' intervals hold 0
    for g in grid:
        g["val"] = [np.mean(g["val"]) + d for d in (-0.01, 0.01, 0.0)][
            :: 1 if g["momentum"] else -1
        ]
    assert rules.effective_step(grid).same is False


def test_spearman_ranks_and_ties():
    assert rules.spearman([1, 2, 3], [10, 20, 30]) == pytest.approx(1.0)
    assert rules.spearman([1, 2, 3], [3, 2, 1]) == pytest.approx(-1.0)
    assert rules.spearman([1, 2, 3, 4], [1, 2, 2, 3]) == pytest.approx(0.9486833, abs=1e-6)
    assert rules.spearman([1, 2], [1, 2]) is None
    assert rules.spearman([1, 1, 1], [1, 2, 3]) is None


def test_step_size_compares_equal_steps_equal():
    assert rules.step_size(0.001, 0.9) == rules.step_size(0.01, 0.0) == 0.01
