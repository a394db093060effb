"""numpy_mlp's EarlyStopping against Keras 3's own, fed identical log sequences.

Both callbacks see the same epochs and logs; the model's weights are set to the epoch number
before each epoch's end, so the weights a callback restores say which epoch it restored. After
every epoch, wait, best, best_epoch and the stop decision must be equal, then the stop epoch and
the restored epoch.
"""

from __future__ import annotations

import numpy as np
import pytest

from numpy_mlp import MLP, EarlyStopping

pytestmark = pytest.mark.keras


@pytest.fixture(scope="module")
def keras():
    pytest.importorskip("tensorflow", reason="needs TensorFlow (the keras extra)")
    from keras_mlp.tf import keras as load

    return load()


@pytest.fixture(scope="module")
def model(keras):
    """A real Keras model; mode "auto" reads a metric's direction from its compiled metrics,
    built by one evaluation."""
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(2)])
    model.compile(loss="categorical_crossentropy", metrics=["accuracy"])
    model.evaluate(np.zeros((1, 2)), np.eye(2)[:1], verbose=0)
    return model


def _run_numpy(options: dict, logs: list[dict]) -> list[tuple]:
    mlp = MLP((2, 2, 2), seed=0, dtype=np.float64)
    stopper = EarlyStopping(**options)
    stopper.on_train_begin(mlp)
    trace = []
    for epoch, log in enumerate(logs):
        for W in mlp.weights:
            W[...] = epoch
        stop = stopper.on_epoch_end(epoch, log)
        trace.append((stopper.wait, stopper.best, stopper.best_epoch, stop))
        if stop:
            break
    for W in mlp.weights:
        W[...] = -1
    stopper.on_train_end()
    return trace + [("end", stopper.stopped_epoch, float(mlp.weights[0].flat[0]))]


def _run_keras(keras, model, options: dict, logs: list[dict]) -> list[tuple]:
    stopper = keras.callbacks.EarlyStopping(**options)
    stopper.set_model(model)
    model.stop_training = False
    stopper.on_train_begin()
    trace = []
    for epoch, log in enumerate(logs):
        model.set_weights([np.full(w.shape, epoch, "float32") for w in model.get_weights()])
        stopper.on_epoch_end(epoch, dict(log))
        stop = bool(model.stop_training)
        trace.append((stopper.wait, stopper.best, stopper.best_epoch, stop))
        if stop:
            break
    model.set_weights([np.full(w.shape, -1, "float32") for w in model.get_weights()])
    stopper.on_train_end()
    return trace + [("end", stopper.stopped_epoch, float(model.get_weights()[0].flat[0]))]


FLAT = [{"val_loss": 1.0}] * 10
CASES = {
    "patience 3 on a flat loss (4 epochs)": ({"patience": 3}, FLAT),
    "patience 0": ({"patience": 0}, FLAT),
    "restore on a flat loss": ({"patience": 2, "restore_best_weights": True}, FLAT),
    "min_delta": (
        {"patience": 1, "min_delta": 0.1, "restore_best_weights": True},
        [{"val_loss": v} for v in (1.0, 0.95, 0.85, 0.8, 0.6, 0.55, 0.5, 0.45)],
    ),
    "min_delta exactly met": (
        {"patience": 2, "min_delta": 0.25},
        [{"val_loss": v} for v in (1.0, 0.75, 0.5, 0.5, 0.25, 0.25, 0.25)],
    ),
    "max mode": (
        {"monitor": "val_accuracy", "mode": "max", "patience": 2, "restore_best_weights": True},
        [{"val_accuracy": v} for v in (0.5, 0.8, 0.7, 0.79, 0.81, 0.6, 0.6, 0.6)],
    ),
    "auto mode on accuracy": (
        {"monitor": "val_accuracy", "patience": 1},
        [{"val_accuracy": v} for v in (0.5, 0.6, 0.55, 0.7)],
    ),
    "baseline never beaten": (
        {"patience": 3, "baseline": 0.5, "restore_best_weights": True},
        [{"val_loss": v} for v in (0.9, 0.8, 0.7, 0.75, 0.6, 0.55)],
    ),
    "baseline beaten later": (
        {"patience": 2, "baseline": 0.5},
        [{"val_loss": v} for v in (0.9, 0.8, 0.45, 0.5, 0.4, 0.41, 0.42, 0.43)],
    ),
    "start_from_epoch": (
        {"patience": 1, "start_from_epoch": 3, "restore_best_weights": True},
        [{"val_loss": v} for v in (0.1, 0.2, 0.3, 0.9, 0.8, 0.85, 0.7)],
    ),
    "below float32 resolution (Python floats)": (
        {"patience": 1},
        [{"val_loss": v} for v in (1.0, 1.0 - 1e-9, 1.0 - 2e-9, 0.5)],
    ),
    "below float32 resolution (NumPy float64)": (
        {"patience": 1},
        [{"val_loss": np.float64(v)} for v in (1.0, 1.0 - 1e-9, 1.0 - 2e-9, 0.5)],
    ),
    "NaN loss": (
        {"patience": 2, "restore_best_weights": True},
        [{"val_loss": v} for v in (1.0, float("nan"), 0.9, float("nan"), float("nan"), 0.1)],
    ),
}


@pytest.mark.parametrize("name", CASES)
def test_early_stopping_equals_keras_on_the_same_logs(keras, model, name):
    options, logs = CASES[name]
    assert _run_numpy(options, logs) == _run_keras(keras, model, options, logs)


def test_early_stopping_equals_keras_on_random_logs(keras, model):
    rng = np.random.default_rng(0)
    for trial in range(60):
        n = int(rng.integers(2, 15))
        steps = rng.choice([-0.1, -0.01, 0.0, 0.01, 0.05], size=n)
        logs = [{"val_loss": float(v)} for v in np.round(1 + np.cumsum(steps), 2)]
        options = {
            "patience": int(rng.integers(0, 4)),
            "min_delta": float(rng.choice([0.0, 0.01, 0.02])),
            "restore_best_weights": bool(rng.integers(2)),
            "start_from_epoch": int(rng.integers(0, 3)),
            "baseline": None if rng.integers(2) else float(rng.choice([0.9, 1.0])),
        }
        assert _run_numpy(options, logs) == _run_keras(keras, model, options, logs), (
            trial,
            options,
        )


def test_run_with_early_stopping_stops_both_models_by_one_rule_and_says_when(
    keras, model, tmp_path, mnist_dir, cli
):
    """`run --early-stopping 1`: each side's stop is what the other side's EarlyStopping makes of
    its val_loss history, and the report names each model's stopping epoch."""
    import json

    from tests.conftest import quick_run

    out = tmp_path / "run"
    result = cli("run", "--early-stopping", "1", *quick_run(mnist_dir, out, limit=1500, epochs=6,
                                                            lr="0.3"))  # fmt: skip
    assert result.returncode == 0, result.stderr + result.stdout
    metrics = json.loads((out / "metrics.json").read_text())
    report = (out / "report.md").read_text()
    options = {"monitor": "val_loss", "patience": 1}
    for impl, label in (("numpy", "NumPy"), ("keras", "Keras")):
        record, history = metrics[impl]["early_stopping"], metrics[impl]["history"]
        logs = [{"val_loss": v} for v in history["val_loss"]]
        padded = logs + [{"val_loss": 1e9}] * 10  # what epochs it would have gone on to
        numpy_trace, keras_trace = _run_numpy(options, padded), _run_keras(keras, model, options,
                                                                           padded)  # fmt: skip
        assert numpy_trace == keras_trace
        stop = numpy_trace[-1][1]  # 0-based stop epoch under the shared rule
        if record["stopped_epoch"] is None:
            assert record["epochs_run"] == 6 and stop >= 6
        else:
            assert record["stopped_epoch"] == stop + 1 == record["epochs_run"] == len(logs)
            assert f"{label} stopped early after epoch {record['stopped_epoch']}" in report
        assert record["best_epoch"] == 1 + int(np.argmin(history["val_loss"]))
        assert label in report and ("stopped early" in report or "without stopping" in report)


def test_verbose_early_stopping_says_what_keras_says(keras, model, capsys):
    options = {"patience": 2, "verbose": 1, "restore_best_weights": True}
    _run_numpy(options, FLAT)
    ours = capsys.readouterr().out
    _run_keras(keras, model, options, FLAT)
    theirs = capsys.readouterr().out
    assert "Epoch 3: early stopping" in ours and ours == theirs
    _run_numpy({**options, "verbose": 0}, FLAT)
    assert capsys.readouterr().out == ""


@pytest.mark.parametrize(
    ("options", "logs"),
    [
        ({"patience": 1}, FLAT),  # stops at the second epoch (index 1)
        ({"patience": 1}, [{"val_loss": 1.0 - 0.1 * e} for e in range(5)]),  # never stops
    ],
)
def test_verbose_early_stopping_is_silent_unless_it_stopped(keras, model, capsys, options, logs):
    options = {**options, "verbose": 1}
    _run_numpy(options, logs)
    ours = capsys.readouterr().out
    _run_keras(keras, model, options, logs)
    assert ours == capsys.readouterr().out
    assert ("Epoch 2: early stopping" in ours) == (logs is FLAT)
