"""The studies' sentences render the verdicts of compare/studies/rules.py (whose boundaries
tests/test_lesson_rules.py feeds): one rendering test per sentence family, and the reports built
from them on crafted records.
"""

from __future__ import annotations

import math

import pytest

from compare.studies import lessons, sweep_lessons
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
    learn, above, chance, depth, late = lessons.learning_verdict(nets, MAJORITY)
    assert learn == (
        "Learn at one rate or more (test accuracy above 55.67 %, halfway from always answering "
        "the most common class to perfect): logistic at depth 2 (89.60 % at lr 0.1); tanh at "
        "depth 8 (93.00 % at lr 0.1)."
    )
    assert above.startswith("Above chance but far from trained") and "4 (21.00 %" in above
    assert chance.startswith("At chance at every rate tried (0.001, 0.1") and "8 (10.10 %" in chance
    assert "learns at depth 2 but not at depth 8" in depth
    assert "yet a larger rate trains them: logistic depth 2 (18.00 % at lr 0.001" in late
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
    assert "Next: lr = 0.1, 1.10 points lower; their 95 % intervals" in text
    assert "do not overlap: the difference is more than noise." in text
    b["val"] = [95.5, 96.5, 96.0]
    assert "overlap: within noise, more seeds" in sweep_lessons.best_value([a, b])
    b["val"] = [95.5, 96.0]
    few = sweep_lessons.best_value([a, b])
    assert "does not say whether the two differ: rerun with --seeds 3 or more" in few
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
    spread = [-0.1, 0.1, 0.0][:seeds] if seeds > 1 else [0.0]
    return [
        _group(f"({lr:g}, {m:g})", [accuracy(lr, m) + d for d in spread], lr=lr, momentum=m)
        for lr in (0.001, 0.01, 0.1)
        for m in (0.0, 0.9)
    ]


def test_effective_step_renders_rho_as_an_approximation():
    follows = lambda lr, m: 80 + 5 * math.log10(lr / (1 - m))  # noqa: E731
    rises, same = sweep_lessons.effective_step(_grid(follows))
    assert "accuracy rises with it (Spearman rank correlation rho = 1.00 over 6 cells" in rises
    assert "small-step approximation" in rises and "not a law" in rises
    assert same.startswith("Cells with the same effective step: (0.001, 0.9) and (0.01, 0)")
    assert "70.00 vs 70.00 %, within noise" in same
    assert "Every pair is within noise (95 % intervals overlap): here accuracy follows" in same
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
    # a diverged cell's accuracy is said beside its loss, where its history recorded one
    said = "(2 of 2; validation accuracy 40.00 % +- 0.00 in the last epoch they finished)"
    assert (said in text) == (epoch is not None)
    assert "![Learning curves" in text
    # two seeds: the sample sd is shown, said not to be an estimate, and nothing is compared
    assert "+- is the sample standard deviation over seeds (ddof=1)" in text
    assert "with 2 seed(s) it is not an estimate of the spread" in text
    assert "| 95.75 +- 0.35 |" in text and "rerun with --seeds 3 or more" in text


@pytest.mark.parametrize("value", ["0.1,-1", "0.1,abc", ","])
def test_bad_learning_rates_get_one_line_naming_the_flag(tmp_path, cli, value):
    result = cli("study", "vanishing", "--learning-rates", value, "--out", str(tmp_path / "o"))
    assert result.returncode == 2
    assert "--learning-rates" in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "o").exists()
