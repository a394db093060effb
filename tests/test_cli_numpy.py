"""`mlp-compare train --impl numpy`, `gradcheck` and `explain` from the command line."""

from __future__ import annotations

import json

import numpy as np
import pytest

from numpy_mlp import MLP, SGD
from tests.conftest import quick_run, run_cli


def test_train_numpy_on_a_slice(tmp_path, mnist_dir, cli):
    out = tmp_path / "run"
    result = cli(
        "train",
        "--impl",
        "numpy",
        *quick_run(mnist_dir, out),
        "--verbose",
        "2",
    )
    assert result.returncode == 0, result.stderr
    assert "Epoch 2/2" in result.stdout
    assert "First 3 predictions: [" in result.stdout
    train_acc = float(result.stdout.split("Training accuracy: ")[1].split()[0])
    test_acc = float(result.stdout.split("Test accuracy: ")[1].split()[0])
    assert train_acc > 80 and test_acc > 80
    record = json.loads((out / "history.json").read_text())
    assert record["settings"]["learning_rate"] == 0.01
    assert len(record["history"]["loss"]) == 2
    model = MLP.load(out / "model.npz")
    assert model.layer_sizes == (784, 50, 50, 10)


@pytest.mark.parametrize(
    ("flags", "needle"),
    [
        (["--epochs", "0"], "--epochs"),
        (["--batch-size", "-3"], "--batch-size"),
        (["--validation-split", "1.0"], "--validation-split"),
        (["--dtype", "float16"], "--dtype"),
        (["--layers", "100,50,10"], "must start with 784"),
        (["--layers", "784,0,10"], "--layers"),
        (["--layers", "784,abc"], "--layers"),
        (["--lr", "nan"], "--lr"),
    ],
)
def test_train_refuses_invalid_settings(tmp_path, flags, needle, cli):
    result = cli("train", *flags, "--out", str(tmp_path / "o"))
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and needle in lines[0], result.stderr
    assert not (tmp_path / "o").exists()


@pytest.mark.slow
def test_tutorial_configuration_reproduces_the_reference(tmp_path, mnist_dir):
    """50 epochs of the tutorial's recipe: within half a point of 98.8 (train) and 96.3 (test)."""
    result = run_cli(
        "train",
        "--impl",
        "numpy",
        "--data-dir",
        str(mnist_dir),
        "--out",
        str(tmp_path),
        "--verbose",
        "0",
    )
    assert result.returncode == 0, result.stderr
    record = json.loads((tmp_path / "history.json").read_text())
    assert abs(record["train_accuracy"] - 98.8) <= 0.5, record["train_accuracy"]
    assert abs(record["test_accuracy"] - 96.3) <= 0.5, record["test_accuracy"]
    assert record["epochs_run"] == 50


def _json(result) -> dict:
    import json

    return json.loads(result.stdout)


def test_gradcheck_command_passes_in_float64(cli):
    result = cli("gradcheck", "--layers", "3,4,3", "--dtype", "float64")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "|g_bp - g_fd| <= 8 r + e per entry" in out
    assert "rel = |g_bp - g_fd| / (|g_bp| + |g_fd|), elementwise" in out
    assert "16 of 16" in out and "15 of 15" in out and "seeded standard-normal inputs" in out
    assert "worst entry: W_" in out and "step h" in out
    report = _json(cli("gradcheck", "--layers", "3,4,3", "--json"))
    assert report["passed"] and max(m["max_rel_error"] for m in report["matrices"]) < 1e-7


def test_gradcheck_mnist_network(mnist_dir, cli):
    result = cli(
        "gradcheck", "--layers", "784,50,50,10", "--max-entries", "60", "--data-dir", str(mnist_dir)
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.count(" ok") == 3
    assert "60 of 39,250" in result.stdout and "MNIST training rows" in result.stdout


@pytest.mark.parametrize(
    ("bug", "failing"),
    [
        ("missing-1/n", {"W_h1", "W_h2", "W_out"}),
        ("wrong-derivative", {"W_h1", "W_h2"}),
        ("bias-row", {"W_h1", "W_h2", "W_out"}),
        ("transposed", {"W_h1", "W_h2"}),
    ],
)
def test_gradcheck_catches_each_injected_bug(cli, bug, failing):
    result = cli("gradcheck", "--layers", "3,4,4,3", "--inject-bug", bug, "--json")
    assert result.returncode == 1
    report = _json(result)
    assert {m["name"] for m in report["matrices"] if not m["passed"]} == failing
    if bug == "bias-row":  # the bias rows fail, every other entry passes
        for m in report["matrices"]:
            assert m["bias_rel_error"] > 0.1 and m["connection_rel_error"] < 1e-7


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_a_one_in_a_thousand_derivative_error_fails_in_the_table_and_the_final_line(cli, dtype):
    """The pass line is the backprop's own rounding: in float32 too a 0.1 % error fails, and the
    table's verdict, the JSON and the final line say the same per matrix."""
    clean = cli("gradcheck", "--layers", "3,4,4,3", "--dtype", dtype, "--json")
    assert clean.returncode == 0
    assert all(m["passed"] and m["max_line_ratio"] <= 1 for m in _json(clean)["matrices"])
    args = [
        "gradcheck",
        "--layers",
        "3,4,4,3",
        "--dtype",
        dtype,
        "--inject-bug",
        "wrong-derivative",
    ]
    report = _json(cli(*args, "--json"))
    assert [m["passed"] for m in report["matrices"]] == [False, False, True]
    text = cli(*args)
    assert text.returncode == 1
    rows = {line.split()[0]: line.split()[-1] for line in text.stdout.splitlines()
            if line.startswith("W_")}  # fmt: skip
    assert rows == {"W_h1": "FAIL", "W_h2": "FAIL", "W_out": "ok"}
    assert "FAILED: W_h1, W_h2\n" in text.stdout and "As expected: the check caught" in text.stdout


def test_gradcheck_fast_engine_weight_decay_and_saved_weights(tmp_path, cli):
    assert cli("gradcheck", "--layers", "5,6,6,3", "--engine", "fast").returncode == 0
    assert cli("gradcheck", "--layers", "5,6,6,3", "--weight-decay", "0.3").returncode == 0
    model = tmp_path / "m.npz"
    rng = np.random.default_rng(0)
    mlp = MLP((5, 6, 3), activation="relu", init="he_uniform", seed=2, dtype=np.float64)
    mlp.fit(rng.normal(size=(64, 5)), rng.integers(0, 3, 64), epochs=3, verbose=0)
    mlp.save(model)
    report = _json(cli("gradcheck", "--weights", str(model), "--json"))
    assert report["weights"] == str(model) and report["activation"] == "relu"
    assert report["network"] == "5-6-3" and report["passed"]


def test_explain_prints_every_stage(cli):
    result = cli("explain", "--layers", "3,4,3", "--seed", "1")
    assert result.returncode == 0, result.stderr
    for name in (
        "A_in", "Z_h", "A_h", "Z_out", "A_out", "delta_out", "f'(Z_h)", "delta_h", "dL/dW_h",
        "dL/dW_out", "  bias row of dL/dW_out", "v (W_out)", "W_out (after step 2)",
    ):  # fmt: skip
        assert f"\n{name}  (" in result.stdout, name
    out = result.stdout
    assert "A_in  (2x4)" in out and "dL/dW_out  (5x3)   A_h^T delta_out" in out
    assert "delta_h  (2x4)   (delta_out W_out[1:]^T) * f'(Z_h)" in out
    assert "f'(Z_h)  (2x4)   1 - A_h[:, 1:]^2" in out
    assert "eta_1 = 0.001 / (1 + 1e-07 * 1) = 0.0009999999" in out  # the tutorial's settings


def test_explain_numbers_match_the_model_and_the_optimizer(cli):
    import json

    result = cli(
        "explain", "--layers", "2,3,2", "--seed", "4", "--samples", "3", "--format", "json",
        "--lr", "0.1", "--decay", "0.1",
    )  # fmt: skip
    values = {
        v["name"]: np.array(v["value"]) for v in json.loads(result.stdout)["values"] if "name" in v
    }
    rng = np.random.default_rng(4)
    mlp = MLP((2, 3, 2), seed=4, dtype=np.float64)
    x = np.round(rng.normal(size=(3, 2)), 2)
    y = rng.integers(0, 2, 3)
    np.testing.assert_array_equal(values["A_in"][:, 1:], x)
    grads = mlp.gradients(x, y)
    np.testing.assert_allclose(values["dL/dW_out"], grads[1], rtol=1e-12)
    np.testing.assert_allclose(values["  bias row of dL/dW_h"][0], grads[0][0], rtol=1e-12)
    opt = SGD(0.1, 0.9, 0.1)
    opt.step(mlp.weights, grads)
    opt.step(mlp.weights, mlp.gradients(x, y))
    np.testing.assert_allclose(values["W_h (after step 2)"], mlp.weights[0], rtol=1e-12)
    np.testing.assert_allclose(values["v (W_out)"], opt.velocities[1], rtol=1e-12)


def test_explain_switches_to_scientific_for_tiny_values(cli):
    deep = ",".join(["2"] * 14)
    out = cli("explain", "--layers", deep, "--activation", "logistic").stdout
    block = out.split("\ndelta_h1  (")[1].splitlines()[1]
    assert "e-" in block and "0.00000" not in block


def test_explain_refuses_big_networks(cli):
    result = cli("explain", "--layers", "784,50,10")
    assert result.returncode == 2 and "at most" in result.stderr
