"""The studies' conclusions are computed: each sentence-maker gets data where its words must flip.

Pure functions on made-up numbers (no training); the reports built from them on crafted records.
"""

from __future__ import annotations

import math

import pytest

from compare.studies import lessons, sweep_lessons
from compare.studies.figures import sweep_figures
from compare.studies.sweep_report import sweep_report

MAJORITY = 11.35  # percent of the most common class in a test set


# --------------------------------------------------------------------------- vanishing study


def test_layer_factors_compare_only_same_shape_hidden_matrices():
    # W_h1, W_h2, W_h3, W_h4, W_out: factors W_h2/W_h3 and W_h3/W_h4 only
    norms = [100.0, 8.0, 4.0, 1.0, 50.0]
    assert lessons.layer_factors(norms) == [2.0, 4.0]
    assert lessons.geometric_mean([2.0, 8.0]) == pytest.approx(4.0)
    assert lessons.layer_factors([3.0, 2.0, 1.0]) == []  # depth 2: one hidden-to-hidden matrix
    assert lessons.geometric_mean([]) is None


@pytest.mark.parametrize(
    ("mean", "words"),
    [
        (0.24, "it vanishes"),
        (1.01, "keeps its size"),
        (3.0, "it explodes"),
        (None, "fewer than three hidden layers"),
    ],
)
def test_factor_sentence_follows_the_factor(mean, words):
    text = lessons.factor_sentence("logistic", 8, mean)
    assert words in text
    if mean is not None:
        assert f"{mean / 0.25:.2f} times the bound f' <= 0.25" in text


@pytest.mark.parametrize(
    ("accuracy", "loss", "words", "absent"),
    [
        (11.35, 2.303, "does no better than guessing that one class", "points better"),
        (14.0, 2.303, "only 2.65 points better than that", "no better than guessing"),
        (11.35, 2.303, "loss 2.303 is ln 10 = 2.303, the loss of predicting 1/10", "within"),
        (11.35, 2.318, "loss 2.318 is within 0.05 of ln 10 = 2.303", "scores ln 10"),
        (11.35, 1.9, "its final validation loss is 1.900", "is ln 10"),
    ],
)
def test_chance_sentence_names_the_majority_share_and_ln_k(accuracy, loss, words, absent):
    text = lessons.chance_sentence(accuracy, loss, 1, MAJORITY, 10)
    assert "always answering the most common class (1) scores 11.35 %" in text
    assert words in text and absent not in text


def test_at_chance_flips_at_the_margin():
    assert lessons.at_chance(MAJORITY + lessons.CHANCE_MARGIN, MAJORITY)
    assert not lessons.at_chance(MAJORITY + lessons.CHANCE_MARGIN + 0.01, MAJORITY)
    assert lessons.at_chance(None, MAJORITY)  # diverged


def test_learning_verdict_separates_learns_above_chance_and_none():
    nets = [
        ("logistic", 2, {0.001: 18.0, 0.1: 89.6}),
        ("logistic", 4, {0.001: 11.35, 0.1: 21.0}),
        ("logistic", 8, {0.001: 10.1, 0.1: None}),
        ("tanh", 8, {0.001: 90.0, 0.1: 93.0}),
    ]
    text = " ".join(lessons.learning_verdict(nets, MAJORITY))
    assert "Learn at one rate or more" in text
    assert "logistic at depth 2 (89.60 % at lr 0.1); tanh at depth 8 (93.00 % at lr 0.1)" in text
    assert "Above chance but far from trained at every rate" in text and "depth 4 (21.00 %" in text
    assert "At chance at every rate tried (0.001, 0.1" in text and "depth 8 (10.10 %" in text
    assert "logistic learns at depth 2 but not at depth 8: at these rates and epochs, depth" in text
    assert "yet a larger rate trains them: logistic depth 2 (18.00 % at lr 0.001" in text


def test_learning_verdict_when_every_network_learns():
    nets = [("tanh", 1, {0.01: 95.0}), ("relu", 8, {0.01: 60.0, 0.1: None})]
    text = " ".join(lessons.learning_verdict(nets, MAJORITY))
    assert "No network stays at chance" in text
    assert "At chance at every rate" not in text and "Above chance but" not in text
    assert "larger rate trains them" not in text  # relu's low rate already learns


def test_learning_verdict_with_every_rate_diverged():
    text = " ".join(lessons.learning_verdict([("relu", 8, {1.0: None})], MAJORITY))
    assert "relu at depth 8 (diverged at every rate)" in text


def test_delta_factors_compare_neighbouring_hidden_layers_only():
    # delta_h1, delta_h2, delta_h3, delta_out: factors h1/h2 and h2/h3, the output left out
    assert lessons.delta_factors([1.0, 2.0, 8.0, 100.0]) == [0.5, 0.25]
    assert lessons.delta_factors([3.0, 9.0]) == []  # one hidden layer
    # forward part = weight-gradient factor / backward factor of the same pair (h2/h3)
    assert lessons.forward_factors([1.0], [0.5, 0.25]) == [4.0]


@pytest.mark.parametrize(
    ("mean", "steps", "verdict"),
    [(0.86, 7, "shrinks"), (0.95, 7, "keeps"), (0.9, 6, "keeps"), (0.88, 6, "shrinks"),
     (1.13, 6, "grows"), (1.1, 6, "keeps"), (None, 6, None)],
)  # fmt: skip
def test_compound_verdict_judges_what_a_factor_does_over_the_network(mean, steps, verdict):
    # 0.9^6 = 0.53 stays within a factor of 2; 0.88^6 = 0.46 does not
    assert lessons.compound_verdict(mean, steps) == verdict


@pytest.mark.parametrize(
    ("backward", "forward", "part"),
    [("shrinks", "keeps", "backward"), ("keeps", "shrinks", "forward"),
     ("shrinks", "grows", "both"), ("keeps", "keeps", "neither"), (None, "keeps", None)],
)  # fmt: skip
def test_changing_part_names_which_side_moves(backward, forward, part):
    assert lessons.changing_part(backward, forward) == part


def test_forward_verdict_flips_at_the_collapse_and_logit_thresholds():
    collapsed = lessons.forward_verdict([0.22, 0.052, 0.012, 0.0029, 1.9e-3], 1.3e-5)
    assert collapsed["collapses"] and collapsed["logits_ignore_input"]
    assert collapsed["per_layer"] == pytest.approx((1.9e-3 / 0.22) ** 0.25)
    kept = lessons.forward_verdict([0.65, 0.5, 0.26], 0.37)
    assert not kept["collapses"] and not kept["logits_ignore_input"]
    edge = lessons.forward_verdict([1.0, 0.0101], 0.0101)  # just above both thresholds
    assert not edge["collapses"] and not edge["logits_ignore_input"]
    assert lessons.forward_verdict([1.0, 0.0099], 0.0099)["collapses"]


def _vrun(activation, deltas, weights, spread=(0.6, 0.5, 0.4), logits=0.4, init="glorot_uniform"):
    return {
        "activation": activation,
        "init": init,
        "depth": len(deltas) + 1,
        "delta_factors": deltas,
        "weight_grad_factors": weights,
        "forward_factors": lessons.forward_factors(weights, deltas),
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
    assert "is the activations, not the error" in relu
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
    assert lessons.needs_larger_rate({0.01: 80.0, 0.1: 90.0}, MAJORITY)  # best at the largest
    assert not lessons.needs_larger_rate({0.01: 90.0, 0.1: 80.0}, MAJORITY)
    assert not lessons.needs_larger_rate({0.01: 80.0, 0.1: None}, MAJORITY)  # largest diverged
    assert lessons.needs_larger_rate({0.01: 12.0, 0.1: 10.0}, MAJORITY)  # at chance everywhere
    assert [lessons.next_rate(r) for r in (0.1, 0.3, 1.0, 3.0, 0.001)] == [0.3, 1.0, 3.0, 10.0,
                                                                          0.003]  # fmt: skip


def test_depth_is_blamed_only_when_no_larger_rate_is_owed():
    owed = [("logistic", 4, {0.01: 20.0, 0.1: 90.0}), ("logistic", 8, {0.01: 10.1, 0.1: 10.1})]
    text = " ".join(lessons.learning_verdict(owed, MAJORITY))
    assert "depth, not the learning rate" not in text and "a larger rate must be tried" in text
    assert "Best at the largest rate tried" in text and "logistic depth 4 (lr 0.1)" in text
    settled = [("logistic", 4, {0.1: 90.0, 0.3: 85.0}), ("logistic", 8, {0.1: 10.1, 0.3: None})]
    text = " ".join(lessons.learning_verdict(settled, MAJORITY))
    assert "depth, not the learning rate, is what stops it" in text
    assert "must be tried" not in text and "Best at the largest" not in text


def test_init_verdict_names_what_trains_the_deepest_network_or_says_nothing_did():
    nets = [
        ("logistic", "glorot_uniform", 4, {0.1: 90.0}),
        ("logistic", "glorot_uniform", 8, {0.1: 10.1, 0.3: 10.1}),
        ("logistic", "glorot_uniform_x4", 8, {0.1: 80.0}),
        ("tanh", "glorot_uniform", 8, {0.1: 12.0}),
    ]
    logistic, tanh = lessons.init_verdict(nets, MAJORITY)
    assert logistic.startswith("logistic at depth 8 trains with glorot_uniform_x4 (80.00 %")
    assert "not with glorot_uniform" in logistic
    assert (
        tanh.startswith("tanh at depth 8: nothing tried trains it") and "To try: glorot" not in tanh
    )
    alone = lessons.init_verdict(nets[:2], MAJORITY)[0]
    assert "nothing tried trains it" in alone and "To try: glorot_uniform_x4" in alone


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


def test_best_value_moves_with_the_data():
    a = _group("lr = 0.01", [96.0, 96.4], [95.0, 95.4])
    b = _group("lr = 0.1", [95.0, 95.2])
    assert "Best on the validation rows: lr = 0.01, validation accuracy 96.20 % +- 0.20" in (
        sweep_lessons.best_value([a, b])
    )
    b["val"] = [97.0, 97.2]
    text = sweep_lessons.best_value([a, b])
    assert text.startswith("Best on the validation rows: lr = 0.1")
    assert "Its test accuracy, 94.10 % +- 0.10 (mean +- sd over 2 seeds)" in text
    assert "0.90 points lower, more than the two values' spread" in text


def test_best_value_says_when_seeds_cannot_tell_them_apart():
    text = sweep_lessons.best_value([_group("a", [96.0, 97.0]), _group("b", [95.9, 96.9])])
    assert "within the two values' spread over seeds" in text and "more seeds" in text


def test_best_value_ignores_values_where_a_seed_diverged():
    text = sweep_lessons.best_value([_group("a", [99.0], diverged=1), _group("b", [90.0])])
    assert text.startswith("Best on the validation rows: b") and "one seed: no spread" in text
    assert "no best value" in sweep_lessons.best_value([_group("a", [], diverged=2)])


def _cell(best, run, status="complete", value=0.1):
    return {"status": status, "best_epoch": best, "epochs_run": run, "values": {"lr": value}}


def test_still_improving_flips():
    label = lambda c: f"lr = {c['values']['lr']:g}"  # noqa: E731
    text = sweep_lessons.still_improving([_cell(5, 5), _cell(3, 5, value=1)], label)
    assert text.startswith("Still improving, train longer: 1 of 2") and "lr = 0.1 (1 cell)" in text
    text = sweep_lessons.still_improving([_cell(5, 5), _cell(5, 5), _cell(3, 5, value=1)], label)
    assert text.endswith("in their last epoch; only lr = 1 (1 cell) peaked earlier.")
    assert sweep_lessons.still_improving([_cell(5, 5)], label).endswith("(all of them).")
    text = sweep_lessons.still_improving([_cell(4, 5), _cell(3, 5)], label)
    assert text.startswith("No cell was still improving") and "train longer" not in text
    assert "cannot be told" in sweep_lessons.still_improving([_cell(1, 1)], label)


def test_divergence_names_the_threshold_or_says_none():
    groups = [
        _group("lr = 0.1", [95.0, 95.0], value=0.1),
        _group("lr = 1", [], diverged=1, cells=1, value=1.0),
        _group("lr = 3", [], diverged=2, value=3.0),
    ]
    text = sweep_lessons.divergence(groups, "learning_rate")
    assert text.startswith("3 of 5 cells diverged")
    assert "Every cell from learning_rate = 1 on diverged, none below." in text
    groups[1] = _group("lr = 1", [60.0], value=1.0)  # 1 trains: the threshold moves to 3
    assert "from learning_rate = 3 on diverged" in sweep_lessons.divergence(groups, "learning_rate")
    groups[2] = _group("lr = 3", [50.0], value=3.0)
    groups[0]["diverged"] = 1
    assert "does not begin at one value" in sweep_lessons.divergence(groups, "learning_rate")
    calm = [_group("lr = 0.1", [95.0], value=0.1), _group("lr = 0.3", [91.0], value=0.3)]
    text = sweep_lessons.divergence(calm, "learning_rate")
    assert text.startswith("No cell diverged (of 2); the largest value, learning_rate = 0.3")
    assert "extend the values upward" in text


def _grid(accuracy):
    """A 3 x 2 learning_rate x momentum grid; accuracy(lr, m) gives its validation accuracy."""
    return [
        _group(f"({lr:g}, {m:g})", [accuracy(lr, m)], lr=lr, momentum=m)
        for lr in (0.001, 0.01, 0.1)
        for m in (0.0, 0.9)
    ]


def test_effective_step_sentence_flips_with_the_data():
    follows = _grid(lambda lr, m: 80 + 5 * math.log10(lr / (1 - m)))  # a function of the step
    text = " ".join(sweep_lessons.effective_step(follows))
    assert "accuracy rises with it" in text
    assert "accuracy follows lr / (1 - m), not the learning rate or momentum alone" in text
    ignores = _grid(lambda lr, m: 90 + 3 * m - 2 * math.log10(lr))  # falls as the step grows
    text = " ".join(sweep_lessons.effective_step(ignores))
    assert "accuracy does not rise steadily with it (Spearman rho = 0.00 over 3 cells" in text
    assert "here the step alone does not set the accuracy" in text
    assert "follows lr / (1 - m)" not in text


def test_spearman_ranks_and_ties():
    assert sweep_lessons.spearman([1, 2, 3], [10, 20, 30]) == pytest.approx(1.0)
    assert sweep_lessons.spearman([1, 2, 3], [3, 2, 1]) == pytest.approx(-1.0)
    assert sweep_lessons.spearman([1, 2], [1, 2]) is None
    assert sweep_lessons.spearman([1, 1, 1], [1, 2, 3]) is None


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
    assert "Best on the validation rows: learning_rate = 0.1, validation accuracy 95.75 %" in text
    assert (
        "Still improving, train longer: 2 of 4" in text and "learning_rate = 0.01 (2 cells)" in text
    )
    assert "Every cell from learning_rate = 5 on diverged, none below." in text
    assert ("(in epochs 2, 2)" in text) == (epoch is not None)
    assert "![Learning curves" in text


@pytest.mark.parametrize(
    ("lr", "by_rate", "words"),
    [
        (
            0.1,
            {0.01: 96.3, 0.1: 10.1},
            "The same network reaches 96.30 % at lr 0.01: lr 0.1 is too large for it.",
        ),
        (
            0.001,
            {0.001: 11.35, 0.1: 95.2},
            "The same network reaches 95.20 % at lr 0.1: lr 0.001 is too small for it in these "
            "epochs.",
        ),
        (
            0.001,
            {0.001: 11.35, 0.1: 21.0},
            "The same network gets above chance at lr 0.1 (21.00 %), though far from trained.",
        ),
        (0.01, {0.001: 11.35, 0.01: 10.1, 0.1: None}, ""),
    ],
)
def test_rate_note_says_whether_another_rate_trains_the_network(lr, by_rate, words):
    assert lessons.rate_note(lr, by_rate, MAJORITY).strip() == words


@pytest.mark.parametrize("value", ["0.1,-1", "0.1,abc", ","])
def test_bad_learning_rates_get_one_line_naming_the_flag(tmp_path, cli, value):
    result = cli("study", "vanishing", "--learning-rates", value, "--out", str(tmp_path / "o"))
    assert result.returncode == 2
    assert "--learning-rates" in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "o").exists()


def test_chance_sentence_names_the_one_answer_a_network_gives():
    from compare.studies.lessons import chance_sentence

    one = chance_sentence(10.09, 2.303, 1, 11.35, 10, top_class=9, top_share=100.0)
    assert "it answers 9 for 100.0 % of the test images" in one and "share of 9s" in one
    mixed = chance_sentence(10.09, 2.303, 1, 11.35, 10, top_class=9, top_share=40.0)
    assert "answers 9" not in mixed and "no better than guessing that one class" in mixed
