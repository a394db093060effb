"""report.md and the terminal summary, rendered from metrics alone (no training needed)."""

from __future__ import annotations

from compare.config import REFERENCE, TUTORIAL
from compare.report import render_report, render_summary


def _model(train: float, test: float, median: float) -> dict:
    return {
        "train_accuracy": train,
        "test_accuracy": test,
        "val_accuracy": test + 0.5,
        "train_loss": 0.05,
        "val_loss": 0.1,
        "predict_seconds": 0.01,
        "speed": {
            "first_epoch": median * 2,
            "median": median,
            "q1": median * 0.9,
            "q3": median * 1.1,
            "min": median * 0.8,
            "max": median * 1.2,
            "samples_per_second": 54000 / median,
        },
    }


def _both() -> dict:
    agreement = {
        dtype: {
            "max_rel_error": err,
            "tolerance": tol,
            "fd_tolerance": fd,
            "passed": True,
            "matrices": [
                {
                    "name": "W_out",
                    "max_abs_error": err,
                    "max_rel_error": err,
                    "numpy_vs_fd": 1e-12,
                    "keras_vs_fd": 1e-12,
                    "passed": True,
                }
            ],
        }
        for dtype, err, tol, fd in (("float64", 8e-16, 1e-10, 1e-7), ("float32", 3e-7, 1e-4, 1e-2))
    }
    return {
        "status": "complete",
        "config": {**TUTORIAL.to_dict(), "limit": None},
        "reference": REFERENCE,
        "numpy": _model(99.02, 96.36, 0.3),
        "keras": _model(98.99, 96.30, 2.4),
        "gradient_agreement": agreement,
        "speed": {
            "keras_over_numpy": 8.0,
            "keras_over_numpy_spread": {
                "median": 8.0,
                "q1": 7.5,
                "q3": 8.5,
                "min": 7.0,
                "max": 9.0,
                "n": 49,
            },
            "predict_keras_over_numpy": 3.0,
        },
        "environment": {"cpu_count": 2, "platform": "linux", "python": "3.11", "numpy": "2.0"},
        "artifacts": ["digits.png", "learning_curves.png"],
    }


def test_complete_run_report_has_every_section_and_only_existing_figures():
    report = render_report(_both())
    assert report.startswith("# NumPy MLP vs Keras MLP on MNIST")
    assert "Status: **complete**. Network 784-50-50-10, 50 epochs, batch 64" in report
    assert "| NumPy | 99.02 | 96.86 | 96.36 | 0.0500 | 0.1000 |" in report
    assert "| reference (tutorial, 50 epochs) | 98.81 | | 96.27 | | |" in report
    assert "the references are after 50" not in report  # this run had 50 epochs
    assert "| float64 | W_out | 8.00e-16 |" in report
    assert "NumPy was faster here: 8.0x per epoch" in report
    assert "median 8.00x over 49 paired epochs (quartiles 7.50-8.50x" in report
    assert "![One training example of each digit](digits.png)" in report
    assert "misclassified_numpy.png" not in report  # not in the artifacts: not linked


def test_failed_and_interrupted_runs_say_so():
    metrics = _both()
    metrics["keras"] = {"error": "FloatingPointError: loss became nan"}
    del metrics["speed"]
    metrics["status"] = "interrupted"
    report = render_report(metrics)
    assert "| Keras | failed: FloatingPointError: loss became nan |" in report
    assert "Keras training failed: FloatingPointError" in report
    assert "The run was interrupted" in report
    summary = render_summary(metrics)
    assert "Keras    FAILED: FloatingPointError" in summary
    assert "Keras / NumPy" not in summary


def test_numpy_only_run_shows_the_finite_difference_check():
    metrics = {
        "status": "complete",
        "config": TUTORIAL.to_dict(),
        "numpy": _model(99.0, 96.0, 0.3),
        "numpy_gradcheck": {
            "max_rel_error": 2e-11,
            "passed": True,
            "matrices": [{"name": "W_h1", "max_rel_error": 2e-11, "passed": True}],
        },
    }
    report = render_report(metrics)
    assert "| W_h1 | 2.00e-11 | pass |" in report
    assert "TensorFlow was not part of this run" in report


def test_empty_metrics_render_without_error():
    assert "Nothing has finished yet." in render_report({"status": "running"})
    assert render_summary({}).splitlines()[0].split() == [
        "train",
        "%",
        "test",
        "%",
        "median",
        "epoch",
        "samples/s",
    ]


def test_short_runs_say_so_and_few_pairs_get_no_quartiles():
    from compare.report import ratio_text

    metrics = _both()
    metrics["config"]["epochs"] = 2
    metrics["speed"]["keras_over_numpy_spread"] = {
        "median": 9.89, "q1": 9.89, "q3": 9.89, "min": 9.89, "max": 9.89, "n": 1,
    }  # fmt: skip
    report = render_report(metrics)
    assert "This run trained 2 epoch(s); the references are after 50." in report
    assert "median 9.89x over 1 paired epoch; epoch 1, tracing included" in report
    assert "quartiles" not in report
    assert "(50 epochs; this run: 2)" in render_summary(metrics)
    three = {"median": 2.0, "q1": 1.5, "q3": 2.5, "min": 1.0, "max": 3.0, "n": 3}
    assert ratio_text(three) == (
        "median 2.00x over 3 paired epochs (range 1.00-3.00x); epoch 1 excluded (tracing)"
    )


def test_the_overfitting_sentence_when_the_last_epoch_is_far_above_the_lowest():
    """Early stopping ends runs just after validation loss rose: the last epoch can be more than
    10 % above the lowest, where no epoch "levels off"."""
    from compare.report import overfitting_sentence

    history = {"loss": [0.88, 0.56, 0.44], "val_loss": [0.755, 0.581, 0.645]}
    text = overfitting_sentence("NumPy", history)
    assert "11% above its lowest value (0.5810, epoch 2)" in text
