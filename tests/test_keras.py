"""The Keras model against the NumPy model: weights, gradients, optimizer steps, lockstep."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from numpy_mlp import MLP, SGD
from tests.conftest import keras_or_skip, quick_run

pytestmark = pytest.mark.keras
ACTIVATION_PAIRS = [
    ("tanh", "glorot_uniform"),
    ("logistic", "glorot_uniform"),
    ("relu", "he_uniform"),
]


@pytest.fixture(scope="module")
def tf():
    return keras_or_skip()


def _batch(layers, n, seed, dtype):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, layers[0])).astype(dtype), rng.integers(0, layers[-1], n)


def test_build_model_float64_leaves_the_global_dtype_alone(tf):
    import keras

    from keras_mlp import build_model

    model = build_model((784, 50, 50, 10), dtype="float64")
    assert keras.config.floatx() == "float32"
    dense = [layer for layer in model.layers if layer.weights]
    assert [layer.kernel.shape for layer in dense] == [(784, 50), (50, 50), (50, 10)]
    assert all(layer.kernel.dtype == "float64" for layer in dense)
    assert [layer.activation.__name__ for layer in dense] == ["tanh", "tanh", "softmax"]
    assert all(np.all(layer.bias.numpy() == 0) for layer in dense)
    assert np.abs(dense[0].kernel.numpy()).max() <= 0.084819 + 1e-6
    other = build_model((3, 4, 3))
    assert other.layers[0].kernel.dtype == "float32"


def test_floatx_scope_is_restored(tf):
    import keras

    from keras_mlp import build_model, floatx_of

    model = build_model((3, 4, 3), dtype="float64")
    with pytest.raises(RuntimeError, match="leaving the scope"), floatx_of(model):
        assert keras.config.floatx() == "float64"
        raise RuntimeError("leaving the scope by an exception")
    assert keras.config.floatx() == "float32"


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_weight_round_trip_is_exact_and_predictions_agree(tf, dtype):
    from keras_mlp import (
        build_model,
        get_numpy_weights,
        predict_classes,
        predict_proba,
        set_numpy_weights,
    )

    mlp = MLP((20, 8, 6, 4), seed=3, dtype=dtype)
    model = build_model((20, 8, 6, 4), dtype=dtype)
    set_numpy_weights(model, mlp.weights)
    for mine, back in zip(mlp.weights, get_numpy_weights(model), strict=True):
        np.testing.assert_array_equal(back, mine)
    X, _ = _batch((20, 8, 6, 4), 50, 0, dtype)
    rtol = 1e-12 if dtype == "float64" else 1e-5
    np.testing.assert_allclose(predict_proba(model, X), mlp.predict_proba(X), rtol=rtol)
    np.testing.assert_array_equal(predict_classes(model, X), mlp.predict_classes(X))


def test_set_weights_checks_shapes(tf):
    from keras_mlp import WeightShapeError, build_model, set_numpy_weights

    model = build_model((3, 4, 3))
    with pytest.raises(WeightShapeError, match=r"expected \(4, 4\)"):
        set_numpy_weights(model, [np.zeros((3, 4)), np.zeros((5, 3))])
    with pytest.raises(WeightShapeError, match="2 Dense layers, got 1"):
        set_numpy_weights(model, [np.zeros((4, 4))])


@pytest.mark.parametrize(("dtype", "tolerance"), [("float64", 1e-10), ("float32", 1e-4)])
@pytest.mark.parametrize(
    "layers",
    [(3, 4, 3), (784, 50, 50, 10), (30, 20, 15, 10, 5)],
    ids=lambda s: "-".join(map(str, s)),
)
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_gradients_agree_with_tensorflow(tf, dtype, tolerance, layers, seed):
    from compare.parity import normwise_relative_error
    from keras_mlp import build_model, gradients, set_numpy_weights

    mlp = MLP(layers, seed=seed, dtype=dtype)
    model = build_model(layers, dtype=dtype)
    set_numpy_weights(model, mlp.weights)
    X, y = _batch(layers, 16 + 16 * seed, seed, dtype)
    for l, (mine, theirs) in enumerate(
        zip(mlp.gradients(X, y), gradients(model, X, y), strict=True)
    ):
        err = normwise_relative_error(mine, theirs)
        assert err < tolerance, f"W{l}: numpy vs tensorflow relative error {err:.2e}"


def test_l2_weight_decay_matches_keras_exactly(tf):
    from compare.parity import normwise_relative_error
    from keras_mlp import build_model, gradients, set_numpy_weights

    layers = (12, 7, 3)
    mlp = MLP(layers, seed=0, dtype="float64")
    model = build_model(layers, dtype="float64", weight_decay=0.3)
    set_numpy_weights(model, mlp.weights)
    X, y = _batch(layers, 20, 0, "float64")
    mine = mlp.gradients(X, y)
    for G, W in zip(mine, mlp.weights, strict=True):
        G[1:] += 0.3 * W[1:]  # what SGD(weight_decay=0.3) adds
    for a, b in zip(mine, gradients(model, X, y), strict=True):
        assert normwise_relative_error(a, b) < 1e-12


@pytest.mark.parametrize(("dtype", "atol"), [("float64", 1e-15), ("float32", 1e-7)])
def test_keras_sgd_steps_equal_numpy_sgd_steps(tf, dtype, atol):
    """Three steps with strong decay, so momentum and eta_t = eta_0/(1 + d t) both matter."""
    from keras_mlp import build_model, get_numpy_weights, set_numpy_weights

    layers = (10, 6, 4)
    mlp = MLP(layers, seed=5, dtype=dtype)
    model = build_model(layers, dtype=dtype, learning_rate=0.5, momentum=0.8, decay=0.25)
    set_numpy_weights(model, mlp.weights)
    opt = SGD(learning_rate=0.5, momentum=0.8, decay=0.25)
    for step in range(3):
        X, y = _batch(layers, 8, step, dtype)
        opt.step(mlp.weights, mlp.gradients(X, y))
        model.train_on_batch(X, np.eye(4, dtype=dtype)[y])
        for l, (mine, theirs) in enumerate(zip(mlp.weights, get_numpy_weights(model), strict=True)):
            np.testing.assert_allclose(
                theirs, mine, rtol=0, atol=atol, err_msg=f"step {step}, W{l}: keras vs numpy"
            )
    assert int(model.optimizer.iterations.numpy()) == opt.iterations == 3


def test_lockstep_float64_on_mnist_stays_at_machine_precision(tf, mnist):
    from compare.lockstep import lockstep

    X, Y = mnist.X_train[:54000], mnist.Y_train[:54000]
    records, trace = lockstep(X, Y, dtype="float64", epochs=1, max_updates=300, trace_every=100)
    assert records[-1].updates == 300
    assert records[-1].max_abs_diff < 1e-12, f"{records[-1].max_abs_diff:.3e}"
    assert [u for u, _ in trace] == [100, 200, 300]
    # Keras reports a float64 loss for a float64 model (its loss wrapper is compiled in float64)
    assert records[-1].loss_numpy == pytest.approx(records[-1].loss_keras, rel=1e-13)


def test_lockstep_float32_drifts_but_stays_close(tf, mnist):
    from compare.lockstep import lockstep

    X, Y = mnist.X_train[:54000], mnist.Y_train[:54000]
    records, _ = lockstep(X, Y, dtype="float32", epochs=1, max_updates=200)
    assert 0 < records[-1].max_abs_diff < 1e-5


def test_gradient_agreement_report(tf, mnist):
    from compare.parity import gradient_agreement

    X, y = mnist.X_train[:32], mnist.y_train[:32]
    report = gradient_agreement((784, 50, 50, 10), X, y, dtype="float64", max_entries=20)
    assert report["passed"] and report["max_rel_error"] < 1e-10
    assert [m["name"] for m in report["matrices"]] == ["W_h1", "W_h2", "W_out"]
    assert all(m["numpy_vs_fd"] < 1e-7 and m["keras_vs_fd"] < 1e-7 for m in report["matrices"])


def test_lockstep_command(tf, tmp_path, mnist_dir, cli):
    result = cli(
        "lockstep",
        *quick_run(mnist_dir, tmp_path, limit=2000, lr=None),
    )
    assert result.returncode == 0, result.stderr
    record = json.loads((tmp_path / "lockstep.json").read_text())
    f64 = [r for r in record["epochs"] if r["dtype"] == "float64"]
    assert len(f64) == 2 and f64[-1]["max_abs_diff"] < 1e-12
    assert (tmp_path / "lockstep.png").stat().st_size > 10_000
    assert "float32" in result.stdout


def test_train_keras_command_on_a_slice(tf, tmp_path, mnist_dir, cli):
    result = cli(
        "train",
        "--impl",
        "keras",
        *quick_run(mnist_dir, tmp_path),
        "--verbose",
        "2",
    )
    assert result.returncode == 0, result.stderr
    assert "Training accuracy: " in result.stdout and "Test accuracy: " in result.stdout
    record = json.loads((tmp_path / "history.json").read_text())
    assert record["impl"] == "keras" and len(record["epoch_seconds"]) == 2
    assert record["test_accuracy"] > 80
    assert (tmp_path / "model.keras").exists()


def test_missing_tensorflow_names_the_extra(tmp_path):
    """With TensorFlow unimportable, a Keras path says which extra to install (exit 2)."""
    code = (
        "import sys; sys.modules['tensorflow'] = None\n"
        "from compare.cli import main\n"
        f"sys.exit(main(['train', '--impl', 'keras', '--out', {str(tmp_path / 'o')!r}]))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 2
    assert "mlp-compare[keras]" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def _random_network(seed: int) -> tuple[tuple[int, ...], dict, dict]:
    """A seeded draw: 1-4 hidden layers of 1-12 units, 2-9 classes, an optimizer setting and an
    activation with an initializer."""
    rng = np.random.default_rng(1000 + seed)
    layers = (
        int(rng.integers(1, 30)),
        *(int(u) for u in rng.integers(1, 13, rng.integers(1, 5))),
        int(rng.integers(2, 10)),
    )
    config = {
        "learning_rate": float(rng.choice([0.01, 0.1, 0.5])),
        "momentum": float(rng.choice([0.0, 0.5, 0.9])),
        "decay": float(rng.choice([0.0, 0.1])),
        "nesterov": bool(rng.integers(0, 2)),
        "weight_decay": float(rng.choice([0.0, 0.01])),
    }
    network = {
        "activation": str(rng.choice(["tanh", "logistic", "relu"])),
        "init": str(rng.choice(["glorot_uniform", "he_uniform", "random_normal"])),
    }
    return layers, config, network


@pytest.mark.parametrize("draw", range(9))
def test_random_networks_agree_in_gradients_and_training_steps(tf, draw):
    """Gold test over seeded random shapes and optimizer settings: float64 gradients of the
    NumPy and the Keras network agree to rounding, and so do their weights after four SGD steps
    (Keras's own optimizer and train_on_batch against numpy_mlp's fast step)."""
    from compare.parity import normwise_relative_error
    from keras_mlp import build_model, floatx_of, get_numpy_weights, gradients, set_numpy_weights
    from numpy_mlp.training.fast import FastStep

    layers, config, network = _random_network(draw)
    mlp = MLP(layers, seed=draw, dtype="float64", **network)
    model = build_model(layers, seed=draw, dtype="float64", **config, **network)
    set_numpy_weights(model, mlp.weights)
    X, y = _batch(layers, 24, draw, "float64")
    mine = mlp.gradients(X, y)
    if config["weight_decay"]:
        for G, W in zip(mine, mlp.weights, strict=True):
            G[1:] += config["weight_decay"] * W[1:]
    for l, (a, b) in enumerate(zip(mine, gradients(model, X, y), strict=True)):
        err = normwise_relative_error(a, b)
        assert err < 1e-10, f"{layers} {config} {network}: W{l} numpy vs tensorflow {err:.2e}"

    Y = np.eye(layers[-1])[y]
    step = FastStep(mlp, SGD(**config), batch_size=8)
    for start in range(0, 24, 8):
        idx = np.arange(start, start + 8)
        step(X, Y, idx)
        with floatx_of(model):  # as compare.lockstep trains it
            model.train_on_batch(X[idx], Y[idx])
    for l, (a, b) in enumerate(zip(mlp.weights, get_numpy_weights(model), strict=True)):
        diff = float(np.max(np.abs(a - b)))
        assert diff < 1e-12, f"{layers} {config} {network}: W{l} differs by {diff:.2e}"


@pytest.mark.parametrize(("activation", "init"), ACTIVATION_PAIRS)
def test_every_activation_agrees_with_tensorflow_on_mnist(tf, mnist, activation, init):
    """784-50-50-10 on 32 MNIST rows: NumPy vs TensorFlow autodiff (float64) and both against
    extended-precision finite differences."""
    from compare.parity import gradient_agreement

    X, y = mnist.X_train[:32], mnist.y_train[:32]
    report = gradient_agreement(
        (784, 50, 50, 10), X, y, dtype="float64", max_entries=20, activation=activation, init=init
    )
    assert report["max_rel_error"] < 1e-10, report["matrices"]
    for m in report["matrices"]:
        assert m["numpy_vs_fd"] < 1e-7 and m["keras_vs_fd"] < 1e-7, m


@pytest.mark.parametrize(("activation", "init"), ACTIVATION_PAIRS)
def test_every_activation_trains_in_lockstep(tf, mnist, activation, init):
    from compare.config import Settings
    from compare.lockstep import lockstep

    settings = Settings(activation=activation, init=init, learning_rate=0.01)
    X, Y = mnist.X_train[:54000], mnist.Y_train[:54000]
    records, _ = lockstep(X, Y, settings, dtype="float64", max_updates=200)
    assert records[-1].updates == 200
    assert records[-1].max_abs_diff < 1e-12, records[-1]


@pytest.mark.parametrize(("keras_init", "same"), [("numpy", True), ("keras", False)])
def test_keras_starts_from_the_numpy_initial_weights_by_default(tf, mnist_dir, keras_init, same):
    import dataclasses

    from compare.config import TUTORIAL
    from compare.studies.cells import cached_data
    from compare.trainers import build_numpy, train_keras

    settings = dataclasses.replace(
        TUTORIAL, epochs=1, learning_rate=1e-12, momentum=0.0, keras_init=keras_init
    )
    result = train_keras(cached_data(str(mnist_dir), "float32", 500), settings, verbose=0)
    numpy_start = build_numpy(settings).weights[0]
    assert np.allclose(result.first_layer, numpy_start, atol=1e-6) == same
    assert ("NumPy" in result.extra["initial_weights"]) == same


def test_gradcheck_against_tensorflow_in_the_same_table(tf, cli):
    import json

    result = cli(
        "gradcheck", "--layers", "5,6,6,3", "--activation", "logistic", "--against", "tensorflow",
        "--json",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout)["vs_keras"]
    assert [r["name"] for r in rows] == ["W_h1", "W_h2", "W_out"]
    assert all(r["passed"] and r["max_rel_error"] < 1e-10 for r in rows)
