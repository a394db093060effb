"""The run report's over-fitting sentence follows the curves; the learning-curve figure keeps
coinciding models apart."""

from __future__ import annotations

import pytest

from compare.report import overfitting_sentence, render_report


def _history(loss, val_loss):
    return {"loss": list(loss), "val_loss": list(val_loss)}


def test_still_improving_says_so():
    text = overfitting_sentence("NumPy", _history([0.9, 0.5, 0.3], [0.8, 0.5, 0.35]))
    assert "still improving at the end (0.5000 -> 0.3500 in the last epoch)" in text
    assert "over-fitting" not in text.replace("no sign of over-fitting", "")


def test_a_plateau_while_training_loss_falls_is_over_fitting():
    """Shaped like the tutorial's run: validation flat from about epoch 25, training still falling."""
    loss = [1.0 / (e + 1) for e in range(50)]
    val = [0.5 - 0.01 * e for e in range(25)] + [0.262 + 0.0005 * (e % 3) for e in range(25)]
    text = overfitting_sentence("Keras", _history(loss, val))
    assert text.startswith(
        "Keras: validation loss levels off from epoch 23 of 50, staying within 10% of its lowest"
        " value (0.2600, epoch 25)"
    )
    assert "while training loss keeps falling (0.0435 -> 0.0200, -54%): over-fitting" in text
    assert f"grows from {val[22] - loss[22]:.4f} to {val[-1] - loss[-1]:.4f}" in text


def test_rising_validation_loss_is_reported_with_its_end_value():
    loss = [0.5, 0.3, 0.2, 0.1, 0.05]
    val = [0.4, 0.3, 0.32, 0.32, 0.325]
    text = overfitting_sentence("NumPy", _history(loss, val))
    assert (
        "levels off from epoch 2 of 5, staying within 10% of its lowest value (0.3000, epoch 2;"
        " 0.3250 by the end)" in text
    )
    assert "over-fitting" in text


def test_both_flat_is_not_called_over_fitting():
    text = overfitting_sentence(
        "NumPy", _history([0.5, 0.31, 0.3, 0.3, 0.3], [0.4, 0.35, 0.35, 0.35, 0.35])
    )
    assert "levels off from epoch 2 of 5" in text
    assert "training loss fell only 3% over the same epochs" in text and "over-fitting" not in text


@pytest.mark.parametrize("history", [{}, _history([0.5], [0.4]), _history([0.5, 0.4], [])])
def test_too_little_history_says_nothing(history):
    assert overfitting_sentence("NumPy", history) == ""


def test_the_report_carries_one_sentence_per_model():
    metrics = {
        "status": "complete",
        "config": {"layers": [784, 50, 50, 10], "epochs": 3},
        "numpy": {"train_accuracy": 90.0, "val_accuracy": 90.0, "test_accuracy": 90.0,
                  "train_loss": 0.3, "val_loss": 0.35,
                  "history": _history([0.9, 0.5, 0.3], [0.8, 0.5, 0.35])},
    }  # fmt: skip
    report = render_report(metrics)
    assert report.count("validation loss was still improving") == 1
    assert "NumPy: validation loss" in report


def test_learning_curves_give_each_model_its_own_look(tmp_path, monkeypatch):
    from compare import plots

    drawn = []
    plt = plots._pyplot()
    original = plt.Axes.plot

    def spy(self, *args, **kwargs):
        drawn.append((kwargs.get("label"), kwargs.get("linewidth"), kwargs.get("marker")))
        return original(self, *args, **kwargs)

    monkeypatch.setattr(plt.Axes, "plot", spy)
    same = _history([0.9, 0.5, 0.3], [0.8, 0.5, 0.35])
    plots.learning_curves({"NumPy": same, "Keras": same}, tmp_path / "curves.png")
    looks = {label.split()[0]: (width, marker) for label, width, marker in drawn}
    assert looks["NumPy"] != looks["Keras"] and looks["NumPy"][0] > looks["Keras"][0]
    assert (tmp_path / "curves.png").stat().st_size > 1000


def test_a_one_model_run_says_so_instead_of_nothing_has_finished():
    from compare.report import verdict

    metrics = {"status": "complete", "numpy": {"test_accuracy": 96.36}}
    assert verdict(metrics) == "Only NumPy was trained in this run: 96.36% test accuracy."
    assert verdict({"status": "running"}) == "Nothing has finished yet."
