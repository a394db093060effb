"""The walkthrough's sentences follow its numbers: each rule fed numbers on both sides."""

from __future__ import annotations

import math
import sys

import pytest

from tests.conftest import ROOT

sys.path.insert(0, str(ROOT / "notebooks"))
import lessons  # noqa: E402

LN10 = math.log(10)


@pytest.mark.parametrize(
    ("loss", "variance", "words", "absent"),
    [
        (
            2.32,
            0.03,
            "within 0.017 of ln 10: it spreads its probability almost evenly",
            "above ln 10",
        ),
        (2.51, 0.38, "0.207 above ln 10", "does not explain it"),
        (2.51, 0.38, "That is what its spread-out logits predict", "evenly"),
        (3.40, 0.38, "which does not explain it", "Nothing is broken"),
        (2.10, 0.00, "below ln 10", "Nothing is broken"),
    ],
)
def test_initial_loss_sentence(loss, variance, words, absent):
    text = lessons.initial_loss_sentence(loss, variance, LN10)
    assert words in text and absent not in text
    assert f"the loss is {LN10:.4f}" in text


@pytest.mark.parametrize(
    ("accuracies", "words"),
    [
        ([0.5, 0.9, 1.0, 1.0], "100.00 %, first reached in epoch 3 of 4"),
        ([0.5, 1.0, 0.99], "99.00 % after 3 epochs, short of 100 %"),
        ([0.2, 0.4], "look for a bug"),
    ],
)
def test_overfit_sentence(accuracies, words):
    assert words in lessons.overfit_sentence(accuracies, 100)


def test_reference_is_compared_only_at_fifty_epochs():
    assert lessons.versus_reference("test", 0.9627, 96.27, 50) == (
        "test: 96.27 % (tutorial, also after 50 epochs: 96.27 %)"
    )
    two = lessons.versus_reference("test", 0.9142, 96.27, 2)
    assert "after 2 epochs" in two and "96.27 % is after 50 epochs" in two


def _run(activation, depth, ratio, accuracy, share=0.2):
    return {"activation": activation, "depth": depth, "first_over_last": ratio,
            "test_accuracy": accuracy, "top_class_share": share}  # fmt: skip


def test_vanishing_sentences_flip_with_the_numbers():
    vanishing, level, exploding = lessons.vanishing_sentences(
        [
            _run("logistic", 1, 1.2, 0.85), _run("logistic", 2, 0.36, 0.64),
            _run("logistic", 4, 0.04, 0.1135, 1.0), _run("logistic", 8, 7.7e-5, 0.1135, 0.97),
            _run("tanh", 1, 3.4, 0.892), _run("tanh", 8, 4.2, 0.893),
            _run("odd", 1, 0.01, 0.90), _run("odd", 8, 5.0, 0.80),
        ]
    )  # fmt: skip
    assert "shrinks 15,584-fold" in vanishing and "vanishing gradient" in vanishing
    assert "With 4 and 8 hidden layers it has not learned" in vanishing
    assert "97%-100% of the test digits" in vanishing
    assert "At the other depths, test accuracy falls with depth, from 85.00 %" in vanishing
    assert "stays within a factor 1.2" in level and "no vanishing" in level
    assert "89.20 % to 89.30 %, within 2 points" in level and "not learned" not in level
    assert "grows 500-fold" in exploding and "rises" not in exploding
    assert "falls with depth, from 90.00 % (depth 1) to 80.00 % (depth 8)" in exploding


def _lr(rate, loss, val_loss, val_acc, diverged=False):
    return {"learning_rate": rate, "loss": loss, "val_loss": val_loss,
            "val_accuracy": val_acc, "diverged": diverged}  # fmt: skip


def test_learning_rate_sentences_name_the_best_and_say_what_the_others_did():
    runs = [
        _lr(0.001, [0.6, 0.45], [0.45, 0.37], [0.89, 0.91]),
        _lr(0.01, [0.2, 0.18], [0.21, 0.19], [0.94, 0.946]),
        _lr(0.1, [0.2, 0.17], [0.23, 0.22], [0.93, 0.937]),
        _lr(1.0, [2.9, 2.73], [2.4, 2.35], [0.6, 0.69]),
        _lr(10.0, [9.5], [9.0], [0.5], diverged=True),
        _lr(100.0, [], [], [], diverged=True),
    ]
    best, small, large, one, ten, hundred = lessons.learning_rate_sentences(runs, 2.512)
    assert best == "Best: learning rate 0.01, 94.60 % validation accuracy after 2 epochs."
    assert "0.001 (smaller)" in small and "still falling" in small and "learn slowly" in small
    assert "0.1 (larger)" in large and "overshoot" in large
    assert "1 (larger)" in one and "ended at 2.73, no lower than the 2.512" in one
    assert "below the 4.61 that counts as diverged" in one
    assert ten == ("10: diverged, the training loss reached 9.5 in epoch 1, above 2 ln 10 = 4.61 "
                   "(worse than a uniform guess), and training stopped.")  # fmt: skip
    assert hundred == "100: diverged, the training loss became non-finite within the first epoch."
    runs[3]["loss"] = [2.9, 2.4]  # below where it started: learning, just overshooting
    assert "overshoot" in lessons.learning_rate_sentences(runs, 2.512)[3]


def test_learning_rate_sentences_flip_at_the_edges():
    runs = [
        _lr(0.001, [0.6, 0.5], [0.45, 0.46], [0.89, 0.90]),
        _lr(0.01, [0.2, 0.18], [0.21, 0.19], [0.94, 0.95]),
    ]
    best, small = lessons.learning_rate_sentences(runs, initial_loss=2.5)
    assert "It is the largest rate tried: larger ones may do better." in best
    assert "still falling" not in small and "validation loss 0.460" in small
    runs[0]["val_accuracy"][-1] = 0.99
    assert "It is the smallest rate tried" in lessons.learning_rate_sentences(runs, 2.5)[0]
    stuck = [_lr(1.0, [3.0], [3.0], [0.5]), _lr(10.0, [], [], [], diverged=True)]
    assert lessons.learning_rate_sentences(stuck, 2.5)[0].startswith(
        "No learning rate tried lowered the training loss below the 2.500"
    )
    stuck[0]["diverged"] = True
    assert lessons.learning_rate_sentences(stuck, 2.5)[0].startswith(
        "Every learning rate tried diverged"
    )


def test_top_class_share():
    import numpy as np

    assert lessons.top_class_share(np.array([1, 1, 1, 2])) == 0.75
