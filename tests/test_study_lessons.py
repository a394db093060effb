"""The studies' sentences render the verdicts of compare/studies/rules.py (whose boundaries
tests/test_lesson_rules.py feeds): one rendering test per sentence family, and the reports built
from them on crafted records.
"""

from __future__ import annotations

import math

import pytest

from compare.studies import lessons, rules, sweep_lessons
from compare.studies.figures import sweep_figures
from compare.studies.rules import seed_stats
from compare.studies.sweep_report import sweep_report

MAJORITY = 11.35  # percent of the most common class in a test set


# --------------------------------------------------------------------------- vanishing study


def test_factor_sentence_renders_the_trend_beside_the_bound():
    text = lessons.factor_sentence("logistic", 8, 0.24)
    assert "mean factor 0.24 (0.96 times the bound f' <= 0.25 on the slope)" in text
    assert "about 4.2-fold" in text and "0.24^6 = 1.9e-04" in text and "it vanishes" in text
    assert "it explodes" in lessons.factor_sentence("tanh", 8, 3.0)
    assert "keeps its size" in lessons.factor_sentence("tanh", 8, 1.0)
    assert "fewer than three hidden layers" in lessons.factor_sentence("tanh", 2, None)


def test_chance_sentence_renders_the_majority_share_the_one_answer_and_ln_k():
    text = lessons.chance_sentence(10.09, 2.303, 1, 11.35, 10, top_class=9, top_share=100.0)
    assert text == (
        "10.09 % on the test set; always answering the most common class (1) scores 11.35 %; it "
        "answers 9 for 100.0 % of the test images, so its accuracy is about the share of 9s in "
        "the test set; its final validation loss 2.303 is ln 10 = 2.303, the loss of predicting "
        "1/10 for every class."
    )
    assert "only 2.65 points better" in lessons.chance_sentence(14.0, 1.9, 1, 11.35, 10)
    assert "within 0.05 of ln 10" in lessons.chance_sentence(11.35, 2.318, 1, 11.35, 10)


def test_learning_verdict_renders_the_tiers():
    nets = [
        ("logistic", 2, {0.001: 18.0, 0.1: 89.6}),
        ("logistic", 4, {0.001: 11.35, 0.1: 21.0}),
        ("logistic", 8, {0.001: 10.1, 0.1: None}),
        ("tanh", 8, {0.001: 90.0, 0.1: 93.0}),
    ]
    learn, above, chance, depth, edge, late = lessons.learning_verdict(nets, MAJORITY)
    assert learn == (
        "Learn at one rate or more (test accuracy above 55.67 %, halfway from always answering "
        "the most common class to perfect): logistic at depth 2 (89.60 % at lr 0.1); tanh at "
        "depth 8 (93.00 % at lr 0.1)."
    )
    assert above.startswith("Above chance but far from trained") and "4 (21.00 %" in above
    assert chance.startswith("At chance at every rate tried (0.001, 0.1") and "8 (10.10 %" in chance
    assert "learns at depth 2 but not at depth 8" in depth
    assert "yet a larger rate trains them: logistic depth 2 (18.00 % at lr 0.001" in late
    # best at the largest rate tried (0.1): a larger one is owed before calling it the best
    assert edge.startswith("Best at the largest rate tried") and (
        "logistic depth 2 (lr 0.1); logistic depth 4 (lr 0.1); tanh depth 8 (lr 0.1)" in edge
    )
    calm = lessons.learning_verdict([("tanh", 1, {0.01: 95.0})], MAJORITY)
    assert calm[-1] == "No network stays at chance at every rate tried."
    gone = lessons.learning_verdict([("relu", 8, {1.0: None})], MAJORITY)
    assert "relu at depth 8 (diverged at every rate)" in gone[0]


def test_rate_note_renders_the_better_rate():
    assert lessons.rate_note(0.1, {0.01: 96.3, 0.1: 10.1}, MAJORITY) == (
        " The same network reaches 96.30 % at lr 0.01: lr 0.1 is too large for it."
    )
    assert "too small for it in these epochs" in lessons.rate_note(
        0.001, {0.001: 11.35, 0.1: 95.2}, MAJORITY
    )
    assert "above chance at lr 0.1 (21.00 %), though far" in lessons.rate_note(
        0.001, {0.001: 11.35, 0.1: 21.0}, MAJORITY
    )
    assert lessons.rate_note(0.01, {0.01: 10.1, 0.1: None}, MAJORITY) == ""


def test_delta_factors_compare_neighbouring_hidden_layers_only():
    # delta_h1, delta_h2, delta_h3, delta_out: factors h1/h2 and h2/h3, the output left out
    assert rules.delta_factors([1.0, 2.0, 8.0, 100.0]) == [0.5, 0.25]
    assert rules.delta_factors([3.0, 9.0]) == []  # one hidden layer
    # forward part = weight-gradient factor / backward factor of the same pair (h2/h3)
    assert rules.forward_factors([1.0], [0.5, 0.25]) == [4.0]


@pytest.mark.parametrize(
    ("mean", "steps", "verdict"),
    [(0.86, 7, "mild shrink"), (0.95, 7, "kept"), (0.9, 6, "kept"), (0.88, 6, "mild shrink"),
     (0.23, 7, "shrink"), (1.13, 6, "mild growth"), (1.1, 6, "kept"), (None, 6, None)],
)  # fmt: skip
def test_compound_verdict_judges_what_a_factor_does_over_the_network(mean, steps, verdict):
    # 0.9^6 = 0.53 stays within a factor of 2; 0.88^6 = 0.46 does not
    assert rules.compound_verdict(mean, steps) == verdict


@pytest.mark.parametrize(
    ("backward", "forward", "part"),
    [("mild shrink", "kept", "backward"), ("kept", "shrink", "forward"),
     ("shrink", "mild growth", "both"), ("kept", "kept", "neither"), (None, "kept", None)],
)  # fmt: skip
def test_changing_part_names_which_side_moves(backward, forward, part):
    assert rules.changing_part(backward, forward) == part


def test_forward_verdict_flips_at_the_collapse_and_logit_thresholds():
    collapsed = rules.forward_verdict([0.22, 0.052, 0.012, 0.0029, 1.9e-3], 1.3e-5)
    assert collapsed.collapses and collapsed.logits_ignore_input
    assert collapsed.per_layer == pytest.approx((1.9e-3 / 0.22) ** 0.25)
    kept = rules.forward_verdict([0.65, 0.5, 0.26], 0.37)
    assert not kept.collapses and not kept.logits_ignore_input
    edge = rules.forward_verdict([1.0, 0.0101], 0.0101)  # just above both thresholds
    assert not edge.collapses and not edge.logits_ignore_input
    below = rules.forward_verdict([1.0, 0.0099], 0.0099)
    assert below.collapses and below.logits_ignore_input


def _vrun(activation, deltas, weights, spread=(0.6, 0.5, 0.4), logits=0.4, init="glorot_uniform"):
    return {
        "activation": activation,
        "init": init,
        "depth": len(deltas) + 1,
        "delta_factors": deltas,
        "weight_grad_factors": weights,
        "forward_factors": rules.forward_factors(weights, deltas) if weights else [],
        "layer_stats": [{"unit_spread": list(spread), "logit_spread": logits}],
    }


def test_decomposition_sentence_follows_which_part_changes():
    # tanh as measured: delta shrinks (0.86 per layer), the weight gradients keep their size
    tanh = lessons.decomposition_sentence(_vrun("tanh", [0.7, 0.82, 0.84, 0.9, 0.95, 0.9, 0.95],
                                                [1.0, 1.0, 1.02, 1.01, 1.0, 1.02]))  # fmt: skip
    assert "it shrinks on its way down" in tanh and "both parts change, in opposite" in tanh
    # ReLU + He as measured: delta keeps its size, the activations shrink
    relu = lessons.decomposition_sentence(_vrun("relu", [0.99, 1.02, 0.95, 1.02, 0.98, 0.99, 1.06],
                                                [0.9, 0.88, 0.9, 0.87, 0.88, 0.89]))  # fmt: skip
    assert "it keeps its size on its way down" in relu
    assert "is the rest (the activations and how they line up with delta)" in relu
    assert "backward 1.00 (the backward factor over the 6 pairs" in relu
    assert "is the activations, not the error" not in relu
    # logistic: the error alone, and the forward collapse named with the logits' spread
    logistic = lessons.decomposition_sentence(
        _vrun("logistic", [0.23] * 7, [0.235] * 6, spread=[0.22, 1e-3, 9.3e-6], logits=1.3e-5)
    )
    assert "is the backpropagated error" in logistic and "f' <= 0.25" in logistic
    assert "forward signal collapses" in logistic and "ignores the input" in logistic
    assert "forward signal collapses" not in relu and "backward pass alone" not in logistic
    shallow = lessons.decomposition_sentence(_vrun("tanh", [], []) | {"depth": 1})
    assert "no two hidden layers' errors" in shallow


def test_needs_larger_rate_and_the_ladder():
    assert rules.needs_larger_rate({0.01: 80.0, 0.1: 90.0}, MAJORITY)  # best at the largest
    assert not rules.needs_larger_rate({0.01: 90.0, 0.1: 80.0}, MAJORITY)
    assert not rules.needs_larger_rate({0.01: 80.0, 0.1: None}, MAJORITY)  # largest diverged
    # at chance everywhere (validation accuracy): no larger rate is owed, ...
    assert not rules.needs_larger_rate({0.01: 10.0, 0.1: 11.0, 0.3: 11.5, 1.0: 12.0}, MAJORITY)
    # ... but just above chance at the largest, best one: owed
    assert rules.needs_larger_rate({0.01: 12.0, 0.1: 10.0, 1.0: 16.5}, MAJORITY)
    assert not rules.needs_larger_rate({0.01: 90.0}, MAJORITY)  # one rate: no best rate to judge
    assert not rules.needs_larger_rate({0.01: 10.0}, MAJORITY)


def test_loss_rises_with_rate():
    assert rules.loss_rises_with_rate({0.1: 2.30, 0.3: 2.31, 1.0: 2.5})
    assert rules.loss_rises_with_rate({0.1: 2.30, 1.0: None})  # diverged: the highest loss
    assert not rules.loss_rises_with_rate({0.1: 2.30, 0.3: 2.29, 1.0: 2.5})  # falls once
    assert not rules.loss_rises_with_rate({0.1: 2.30, 1.0: 2.30})  # flat
    assert not rules.loss_rises_with_rate({0.1: 2.30, 1.0: 2.349})  # within the tolerance
    assert rules.loss_rises_with_rate({0.1: 2.30, 1.0: 2.351})
    assert not rules.loss_rises_with_rate({0.1: 2.30})


def test_best_rate_is_chosen_on_validation_and_reports_test():
    v = rules.network_verdict({0.01: 91.0, 0.1: 90.0}, MAJORITY, {0.01: 89.0, 0.1: 92.0})
    assert (v.best_rate, v.best_accuracy) == (0.1, 90.0)
    assert rules.network_verdict({0.01: 91.0, 0.1: 90.0}, MAJORITY).best_rate == 0.01
    ladder = [rules.next_rate(r) for r in (0.1, 0.3, 1.0, 3.0, 0.001)]
    assert ladder == [0.3, 1.0, 3.0, 10.0, 0.003]


def test_depth_is_blamed_only_when_no_larger_rate_is_owed():
    owed = [("logistic", 4, {0.01: 20.0, 0.1: 90.0}), ("logistic", 8, {0.01: 10.1, 0.1: 10.1})]
    val = {("logistic", 8): {0.01: 10.1, 0.1: 30.0}}  # above chance on validation at the largest
    text = " ".join(lessons.learning_verdict(owed, MAJORITY, val))
    assert "depth, not the learning rate" not in text and "a larger rate must be tried" in text
    assert "Best at the largest rate tried" in text and "logistic depth 4 (lr 0.1)" in text
    settled = [("logistic", 4, {0.1: 90.0, 0.3: 85.0}), ("logistic", 8, {0.1: 10.1, 0.3: None})]
    text = " ".join(lessons.learning_verdict(settled, MAJORITY))
    assert "depth, not the learning rate, is what stops it" in text
    assert "must be tried" not in text and "Best at the largest" not in text


def test_at_chance_at_every_rate_owes_no_larger_rate_when_the_loss_rises():
    # 8-layer logistic: at chance up to lr 1 on test and validation, its loss rising with the rate
    nets = [("logistic", 4, {0.1: 90.0}), ("logistic", 8, {0.1: 11.3, 0.3: 11.3, 1.0: 10.1})]
    val = {("logistic", 8): {0.1: 11.2, 0.3: 11.0, 1.0: 10.0}, ("logistic", 4): {0.1: 90.0}}
    rising = {("logistic", 8): {0.1: 2.302, 0.3: 2.31, 1.0: 2.4}}
    text = " ".join(lessons.learning_verdict(nets, MAJORITY, val, rising, 10))
    assert "rates up to 1 were tried; the loss rises with the rate (2.3020 at lr 0.1, " in text
    assert "must be tried" not in text and "depth, not the learning rate" in text
    assert "a uniform guess's loss" not in text  # 2.4 is 0.1 nats from ln 10
    near = {("logistic", 8): {0.1: 2.3029, 0.3: 2.3056, 1.0: 2.3058}}  # a 0.003 rise: noise
    text = " ".join(lessons.learning_verdict(nets, MAJORITY, val, near, 10))
    assert "every one is within 0.05 of ln 10 = 2.303, a uniform guess's loss" in text
    assert "the loss rises" not in text and "does not rise with the rate by more than" in text
    flat = {("logistic", 8): {0.1: 2.302, 0.3: 2.30, 1.0: 2.31}}
    text = " ".join(lessons.learning_verdict(nets, MAJORITY, val, flat))
    assert "the loss rises" not in text and "does not rise with the rate" in text
    assert "depth, not the learning rate" not in text
    # above chance on validation at the largest, best rate: a larger rate is owed
    val[("logistic", 8)] = {0.1: 11.2, 0.3: 14.0, 1.0: 17.0}
    text = " ".join(lessons.learning_verdict(nets, MAJORITY, val, rising))
    assert "a larger rate must be tried" in text


def test_far_from_trained_only_two_points_or_more_below_the_learned_line():
    learned = rules.learned_threshold(MAJORITY)
    far = " ".join(lessons.learning_verdict([("logistic", 8, {0.1: learned - 2.5})], MAJORITY))
    near = " ".join(lessons.learning_verdict([("logistic", 8, {0.1: learned - 1.96})], MAJORITY))
    assert "Above chance but far from trained" in far
    assert "Above chance but not trained" in near and "far from" not in near


def test_init_verdicts_name_what_trains_the_deepest_network_or_that_nothing_did():
    nets = [
        ("logistic", "glorot_uniform", 4, {0.1: 90.0}),
        ("logistic", "glorot_uniform", 8, {0.1: 10.1, 0.3: 10.1}),
        ("logistic", "glorot_uniform_x4", 8, {0.1: 80.0}),
        ("tanh", "glorot_uniform", 8, {0.1: 12.0}),
    ]
    logistic, tanh = rules.init_verdicts(nets, MAJORITY)
    assert (logistic.depth, logistic.trains) == (8, (("glorot_uniform_x4", 0.1, 80.0),))
    assert [(i, v.tier) for i, v in logistic.fails] == [("glorot_uniform", "chance")]
    assert tanh.trains == () and [i for i, _ in tanh.fails] == ["glorot_uniform"]
    alone = rules.init_verdicts(nets[:2], MAJORITY)[0]
    assert alone.trains == () and alone.rates == (0.1, 0.3)
    # rendered: what trains it, or that nothing tried did and what to try when not tried
    words = lessons.init_sentences(nets, MAJORITY, epochs=5)
    assert "trains in 5 epochs with glorot_uniform_x4 (80.00 % at lr 0.1)" in words[0]
    # the init that fails names its own rates (0.1 and 0.3), not the pair's pooled ones
    assert "not with glorot_uniform (at chance at every rate; rates up to 0.3)." in words[0]
    mixed = [
        ("logistic", "glorot_uniform", 8, {0.1: 10.1}),
        ("logistic", "glorot_uniform_x4", 8, {0.1: 80.0, 0.3: 85.0}),
    ]
    said = lessons.init_sentences(mixed, MAJORITY)[0]
    assert "glorot_uniform (at chance at every rate; rates up to 0.1)" in said
    assert "nothing tried trains it" in words[1] and "--inits lecun_uniform" in words[1]
    assert "glorot_uniform (at chance at every rate)" in words[1]
    above = [("tanh", "glorot_uniform", 8, {0.1: 40.0})]
    assert (
        "glorot_uniform (best 40.00 % at lr 0.1, above chance)"
        in lessons.init_sentences(above, MAJORITY)[0]
    )
    said = lessons.init_sentences(nets[:2], MAJORITY)[0]
    assert "nothing tried trains it" in said and "--inits glorot_uniform_x4" in said
    assert "--inits" not in lessons.init_sentences(nets[:3], MAJORITY)[0]


# --------------------------------------------------------------------------- sweeps


def _group(label, val, test=None, diverged=0, value=None, cells=None, **kw):
    cells = cells if cells is not None else len(val) + diverged
    return {
        "label": label,
        "val": val,
        "test": test if test is not None else [v - 1 for v in val],
        "diverged": diverged,
        "value": value,
        "cells": cells,
        **kw,
    }


def test_seed_summary_renders_sample_sd_interval_and_too_few_seeds():
    five = sweep_lessons.seed_summary(seed_stats([90.0, 91.0, 92.0, 93.0, 94.0]))
    assert five == (
        "92.00 % +- 1.58 (mean +- sample sd over 5 seeds; 95 % interval of the mean 90.04 to 93.96)"
    )
    two = sweep_lessons.seed_summary(seed_stats([96.0, 97.0]))
    assert (
        "+- 0.71 (mean +- sample sd over 2 seeds, too few for the spread to be an estimate" in two
    )
    assert "one seed: no spread measured" in sweep_lessons.seed_summary(seed_stats([96.0]))


def test_best_value_renders_the_comparison():
    a = _group("lr = 0.01", [96.0, 96.4, 96.2], [95.0, 95.4, 95.2])
    b = _group("lr = 0.1", [95.0, 95.2, 95.1])
    text = sweep_lessons.best_value([a, b])
    assert text.startswith("Best on the validation rows: lr = 0.01, validation accuracy 96.20 %")
    assert "Its test accuracy, 95.20 % +- 0.20" in text and "biased upward" in text
    assert "Next: lr = 0.1, 1.10 points lower; the 95 % interval of the difference" in text
    assert "from the 3 per-seed differences (a seed has the same starting weights" in text
    assert "0.85 to 1.35 points: it excludes 0, so the two are apart" in text
    b["val"] = [95.5, 96.5, 96.0]
    within = sweep_lessons.best_value([a, b])
    assert "it includes 0, so within noise, more seeds" not in within
    assert "it includes 0, so within noise: more seeds" in within
    # the README's case: means' intervals overlap, the per-seed difference does not hold 0
    b["val"] = [95.6, 95.9, 95.9]
    assert "apart" in sweep_lessons.best_value([a, b])
    b["val"] = [95.5, 96.0]
    few = sweep_lessons.best_value([a, b])
    assert "does not say whether the two differ: rerun with --seeds 3 or more" in few
    # two seeds for every value: each seed shown, no ranking; flips with the seeds' agreement
    a["val"], b["val"] = [96.0, 95.0], [95.5, 95.2]
    two = sweep_lessons.best_value([a, b])
    assert "not a ranking" in two and "lr = 0.01: 96.00, 95.00 %" in two
    assert "the seeds disagree on which value is highest" in two
    b["val"] = [95.5, 94.9]
    assert "every seed puts it highest" in sweep_lessons.best_value([a, b])
    assert "no best value" in sweep_lessons.best_value([_group("a", [], diverged=2)])


def test_still_improving_renders_each_kind():
    label = lambda c: f"lr = {c['values']['lr']:g}"  # noqa: E731

    def cell(best, run, value=0.1):
        return {"status": "complete", "best_epoch": best, "epochs_run": run,
                "values": {"lr": value}}  # fmt: skip

    text = sweep_lessons.still_improving([cell(5, 5), cell(3, 5, value=1)], label)
    assert text == (
        "Still improving, train longer: 1 of 2 finished cells had their best validation accuracy "
        "in their last epoch: lr = 0.1 (1 cell)."
    )
    text = sweep_lessons.still_improving([cell(5, 5), cell(5, 5), cell(3, 5, value=1)], label)
    assert text.endswith("; only lr = 1 (1 cell) peaked earlier.")
    assert sweep_lessons.still_improving([cell(5, 5)], label).endswith("(all of them).")
    assert "No cell was still improving" in sweep_lessons.still_improving([cell(4, 5)], label)
    assert "cannot be told" in sweep_lessons.still_improving([cell(1, 1)], label)


def test_divergence_renders_the_uniform_guess_bound_and_the_onset():
    groups = [
        _group("lr = 0.1", [95.0, 95.0], value=0.1),
        _group("lr = 1", [], diverged=1, cells=1, value=1.0),
        _group("lr = 3", [], diverged=2, value=3.0),
    ]
    text = sweep_lessons.divergence(groups, "learning_rate")
    assert text == (
        "3 of 5 cells diverged: their training loss went above 2 ln 10 = 4.61 (or stopped being "
        "finite), worse than a uniform guess in cross-entropy (predicting 1/10 for every class "
        "scores ln 10 = 2.30), whatever their accuracy: lr = 1 (1 of 1), lr = 3 (2 of 2). Every "
        "cell from learning_rate = 1 on diverged, none below."
    )
    groups[0]["diverged"], groups[2] = 1, _group("lr = 3", [50.0], value=3.0)
    assert "does not begin at one value" in sweep_lessons.divergence(groups, "learning_rate")
    calm = [_group("lr = 0.1", [95.0], value=0.1), _group("lr = 0.3", [91.0], value=0.3)]
    assert sweep_lessons.divergence(calm, "learning_rate") == (
        "No cell diverged (of 2); the largest value, learning_rate = 0.3, still trained: to see "
        "what too large a step does, extend the values upward."
    )


def _grid(accuracy, seeds=3):
    """A 3 x 2 learning_rate x momentum grid; accuracy(lr, m) gives a cell's mean validation
    accuracy over `seeds` seeds."""
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


def _seed_order(spread, i, seeds):
    """Three seeds: the spread rotated by the cell's index (seeds differ per cell); fewer:
    -0.1, 0.1 or one 0."""
    if seeds < 3:
        return spread[:seeds] if seeds > 1 else [0.0]
    return spread[i % 3 :] + spread[: i % 3]


def test_effective_step_renders_rho_as_an_approximation():
    follows = lambda lr, m: 80 + 5 * math.log10(lr / (1 - m))  # noqa: E731
    rises, same = sweep_lessons.effective_step(_grid(follows))
    assert "accuracy rises with it (Spearman rank correlation rho = 1.00 over 6 cells" in rises
    assert "small-step approximation" in rises and "not a law" in rises
    assert same.startswith("Cells with the same effective step: (0.001, 0.9) and (0.01, 0)")
    assert "70.00 vs 70.00 %, difference +0.00 points (95 % interval -0.43 to 0.43), within" in same
    assert "Every pair is within noise (the 95 % interval of each pair's per-seed" in same
    text = " ".join(
        sweep_lessons.effective_step(_grid(lambda lr, m: 90 + 3 * m - 2 * math.log10(lr)))
    )
    assert "does not rise steadily with it" in text and "step alone does not set" in text
    rho, pairs = sweep_lessons.effective_step(_grid(follows, seeds=2))
    assert "rank correlation of validation accuracy with it is (Spearman" in rho
    assert "with 2 seed(s) per cell this is a measurement, not a conclusion" in rho
    assert "Whether they differ is not decided" in pairs and "follows" not in pairs


@pytest.mark.parametrize(
    ("swept", "present", "absent"),
    [
        (["learning_rate"], ["momentum 0.9", "batch 64"], ["lr "]),
        (["learning_rate", "momentum"], ["batch 64"], ["lr ", "momentum"]),
        (["hidden"], ["2 hidden layer(s)", "lr 0.5"], ["784-50-50-10"]),
    ],
)
def test_fixed_lists_only_what_was_not_swept(swept, present, absent):
    base = {
        "layers": [784, 50, 50, 10],
        "activation": "tanh",
        "init": "glorot_uniform",
        "epochs": 5,
        "batch_size": 64,
        "learning_rate": 0.5,
        "momentum": 0.9,
        "decay": 1e-7,
        "weight_decay": 0.0,
        "dtype": "float32",
    }
    text = sweep_lessons.fixed_settings(base, swept)
    for p in present:
        assert p in text
    for a in absent:
        assert a not in text


# --------------------------------------------------------------------------- a crafted sweep.json


def _sweep(diverged_history: dict, diverged_epoch):
    base = {
        "layers": [784, 50, 50, 10],
        "activation": "tanh",
        "init": "glorot_uniform",
        "epochs": 3,
        "batch_size": 64,
        "learning_rate": 0.001,
        "momentum": 0.9,
        "decay": 1e-7,
        "weight_decay": 0.0,
        "dtype": "float32",
        "seed": 1,
    }

    def cell(lr, seed, val):
        return {
            "values": {"learning_rate": lr},
            "seed": seed,
            "status": "complete",
            "history": {"loss": [1.0, 0.5, 0.4], "val_accuracy": [v / 100 for v in val]},
            "val_accuracy": val[-1],
            "test_accuracy": val[-1] - 1,
            "best_epoch": int(max(range(3), key=lambda i: val[i])) + 1,
            "epochs_run": 3,
        }

    cells = [
        cell(0.01, 1, [90, 92, 94]),
        cell(0.01, 2, [90, 92, 95]),
        cell(0.1, 1, [95, 96, 95.5]),
        cell(0.1, 2, [95, 96.5, 96]),
    ] + [
        {
            "values": {"learning_rate": 5.0},
            "seed": seed,
            "status": "diverged",
            "history": diverged_history,
            "diverged_epoch": diverged_epoch,
            "error": "mean training loss 9 in epoch 2",
        }
        for seed in (1, 2)
    ]
    return {
        "study": "sweep",
        "status": "complete",
        "config": {
            "axes": [{"param": "learning_rate", "values": [0.01, 0.1, 5.0], "log": True}],
            "seeds": 2,
            "base": base,
            "limit": None,
            "jobs": 1,
            "method": "stacked",
        },
        "throughput": {"cells_trained_now": 6, "model_epochs": 14, "wall_seconds": 1.0},
        "cells": cells,
    }


@pytest.mark.parametrize("broken", ["sweep_curves", "_summary_figure"])
def test_sweep_figures_raise_an_error_of_either_figure(tmp_path, monkeypatch, broken):
    """sweep_curves.png is drawn in a forked child (where a fork is safe), the other figure here:
    an error in either comes out of sweep_figures, with its type and text."""
    from compare.studies import figures

    def full(*args) -> None:
        raise OSError(28, "No space left on device", f"{broken}.png")

    monkeypatch.setattr(figures, broken, full)
    with pytest.raises(OSError, match=f"No space left on device: '{broken}.png'"):
        sweep_figures(_sweep({}, None), tmp_path)


@pytest.mark.parametrize(
    ("history", "epoch"),
    [({}, None), ({"loss": [3.0], "val_accuracy": [0.4]}, 2)],
    ids=["empty history", "history before divergence"],
)
def test_sweep_report_and_figures_from_a_crafted_sweep(tmp_path, history, epoch):
    study = _sweep(history, epoch)
    assert sweep_figures(study, tmp_path) == ["sweep_accuracy.png", "sweep_curves.png"]
    text = sweep_report(study, tmp_path)
    assert "Fixed: network 784-50-50-10, tanh, glorot_uniform init, 3 epochs, batch 64, " in text
    assert "lr 0.001" not in text  # the swept learning rate is not "fixed"
    # two seeds: each seed shown, the highest mean named, no ranking claimed
    assert "Best on the validation rows" not in text and "not a ranking" in text
    assert "learning_rate = 0.1: 95.50, 96.00 %" in text
    assert "The highest mean is learning_rate = 0.1's (95.75 %) and every seed puts it" in text
    assert "14 model-epochs (epochs the cells completed;" in text
    assert (
        "Still improving, train longer: 2 of 4" in text and "learning_rate = 0.01 (2 cells)" in text
    )
    assert "Every cell from learning_rate = 5 on diverged, none below." in text
    assert ("(in epochs 2, 2)" in text) == (epoch is not None)
    # a diverged cell's accuracy is said beside its loss, where its history recorded one
    said = "(2 of 2; validation accuracy 40.00 % +- 0.00 in the last epoch they finished)"
    assert (said in text) == (epoch is not None)
    assert "![Learning curves" in text
    # two seeds: the sample sd is shown, said not to be an estimate, and nothing is compared
    assert "+- is the sample standard deviation over seeds (ddof=1)" in text
    assert "with 2 seeds the sd is a one-degree-of-freedom estimate" in text
    assert "| 95.75 +- 0.35 |" in text and "Rerun with --seeds 3 or more" in text


@pytest.mark.parametrize("value", ["0.1,-1", "0.1,abc", ","])
def test_bad_learning_rates_get_one_line_naming_the_flag(tmp_path, cli, value):
    result = cli("study", "vanishing", "--learning-rates", value, "--out", str(tmp_path / "o"))
    assert result.returncode == 2
    assert "--learning-rates" in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "o").exists()


def test_the_study_chooses_rates_on_the_last_validation_accuracy_in_percent():
    from compare.studies.cells import val_accuracy

    assert val_accuracy({"status": "complete", "history": {"val_accuracy": [0.5, 0.9]}}) == 90.0
    assert val_accuracy({"status": "diverged", "history": {"val_accuracy": [0.5]}}) is None
    assert val_accuracy({"status": "complete", "history": {}}) is None


def test_rate_note_says_far_from_trained_only_two_points_or_more_below_the_line():
    learned = rules.learned_threshold(MAJORITY)
    far = lessons.rate_note(0.001, {0.001: 11.0, 0.1: learned - 2.5}, MAJORITY)
    near = lessons.rate_note(0.001, {0.001: 11.0, 0.1: learned - 1.96}, MAJORITY)
    assert "though far from trained" in far and "though not trained" in near


def test_the_at_chance_sentence_lists_the_rates_those_networks_were_tried_at():
    """A rate added for another network (0.3 here) is not one the network at chance was tried at."""
    nets = [
        ("logistic", 4, {0.01: 20.0, 0.1: 80.0, 0.3: 90.0}),
        ("logistic", 8, {0.01: 10.1, 0.1: 10.1}),
    ]
    text = " ".join(lessons.learning_verdict(nets, MAJORITY))
    assert "At chance at every rate tried (0.01, 0.1; " in text
