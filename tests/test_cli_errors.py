"""Every command, fed input a user can fix: one line on stderr naming the flag or file, the
documented exit status, no traceback, and no output folder left behind. A table, so the promise is
kept by construction rather than case by case."""

from __future__ import annotations

import json
import math

import pytest

BIG = "99999999999999999999999"
CASES = [
    # (command and flags, exit status, what the one line must contain)
    (["run", "--epochs", "0"], 2, "--epochs"),
    (["run", "--lr", "-1"], 2, "--lr"),
    (["run", "--lr", "nan"], 2, "must be a finite number > 0, got nan"),
    (["run", "--momentum", "1"], 2, "--momentum"),
    (["run", "--layers", "784,0,10"], 2, "--layers"),
    (["run", "--layers", "784"], 2, "needs at least an input and an output size"),
    (["study", "sweep", "--param", "momentum", "--layers", "784,50,1"], 2, "two output classes"),
    (["run", "--layers", "3,4,3"], 2, "an MNIST network must start with 784"),
    (["run", "--layers", "784,10000000,10"], 2, "fit in memory"),
    (["run", "--seed", "1180591620717411303424"], 2, "--seed"),
    (["run", "--batch-size", BIG], 2, "--batch-size"),
    (["run", "--limit", "1", "--validation-split", "0.5"], 2, "leaves no training rows"),
    (["run", "--activation", "swish"], 2, "--activation"),
    (["run", "--impl", "tf"], 2, "--impl"),
    (["run", "--dtype", "float16"], 2, "--dtype"),
    (["run", "--tf-threads", "1"], 2, "--tf-threads"),
    (["run", "--numpy-threads", "0"], 2, "--numpy-threads"),
    (["train", "--impl", "keras", "--batch-size", BIG], 2, "--batch-size"),
    (["train", "--layers", "784,10000000,10"], 2, "fit in memory"),
    (["train", "--limit", "1", "--validation-split", "0.5"], 2, "leaves no training rows"),
    (["train", "--init", "zeros"], 2, "--init"),
    (["train", "--verbose", "3"], 2, "--verbose"),
    (["train", "--early-stopping", "-1"], 2, "--early-stopping"),
    (["gradcheck", "--samples", "0"], 2, "--samples"),
    (["gradcheck", "--samples", "70000"], 2, "at most 60,000 rows"),
    (["gradcheck", "--samples", "1000000000"], 2, "at most 60,000 rows"),
    (["gradcheck", "--layers", "3,4,1"], 2, "at least two output classes"),
    (["gradcheck", "--max-entries", "0"], 2, "--max-entries"),
    (["explain", "--layers", "3,4"], 2, "give at least one"),
    (["explain", "--layers", "3,4,1"], 2, "at least two output classes"),
    (["explain", "--layers", "20,4,3"], 2, "at most 16"),
    (["explain", "--label", "5"], 2, "--label 5"),
    (["explain", "--lr", "0"], 2, "--lr"),
    (["lockstep", "--dtypes", "float16"], 2, "--dtypes"),
    (["lockstep", "--trace-every", "0"], 2, "--trace-every"),
    (["lockstep", "--limit", "1", "--validation-split", "0.5"], 2, "leaves no training rows"),
    (["bench", "--batches", "0,16"], 2, "--batches"),
    (["bench", "--widths", "x"], 2, "--widths"),
    (["data", "--no-such-flag"], 2, "--no-such-flag"),
    (["study", "sweep", "--jobs", "0", "--param", "momentum"], 2, "--jobs"),
]


@pytest.mark.parametrize(("argv", "status", "needle"), CASES, ids=lambda v: str(v))
def test_bad_input_is_one_line(tmp_path, cli, argv, status, needle):
    out = tmp_path / "out"
    writes = argv[0] not in ("gradcheck", "explain")  # the two that print only
    result = cli(*argv, *(["--out", str(out)] if writes else []))
    assert result.returncode == status, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and needle in lines[0], result.stderr
    assert "Traceback" not in result.stderr
    assert not out.exists()


def test_data_dir_errors_name_the_folder(tmp_path, cli):
    result = cli("train", "--data-dir", str(tmp_path / "nope"), "--out", str(tmp_path / "o"))
    assert result.returncode == 2 and str(tmp_path / "nope") in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "o").exists()


def test_train_divergence_is_exit_1_in_one_line(tmp_path, mnist_dir, cli):
    out = tmp_path / "out"
    result = cli(
        "train", "--epochs", "1", "--limit", "2000", "--lr", "1e36",
        "--data-dir", str(mnist_dir), "--out", str(out),
    )  # fmt: skip
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert (
        len(lines) == 1 and "training diverged" in lines[0] and "smaller learning rate" in lines[0]
    )
    assert not out.exists()


def test_run_divergence_is_failed_and_metrics_are_strict_json(tmp_path, mnist_dir, cli):
    out = tmp_path / "out"
    result = cli(
        "run", "--impl", "numpy", "--epochs", "1", "--limit", "2000", "--layers", "784,20,10",
        "--lr", "1e36", "--data-dir", str(mnist_dir), "--out", str(out),
    )  # fmt: skip
    assert result.returncode == 1
    text = (out / "metrics.json").read_text()
    assert "NaN" not in text and "Infinity" not in text

    def strict(constant):
        raise ValueError(f"not strict JSON: {constant}")

    metrics = json.loads(text, parse_constant=strict)
    assert metrics["status"] == "failed" and "training stopped" in metrics["numpy"]["error"]


def test_out_where_a_file_must_go_is_a_folder(tmp_path, mnist_dir, cli):
    out = tmp_path / "out"
    (out / "metrics.json").mkdir(parents=True)
    result = cli(
        "run", "--impl", "numpy", "--epochs", "1", "--limit", "1000",
        "--data-dir", str(mnist_dir), "--out", str(out),
    )  # fmt: skip
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "metrics.json" in lines[0] and "Traceback" not in result.stderr


def test_library_refuses_non_finite_inputs_and_bad_targets():
    import numpy as np

    from numpy_mlp import MLP

    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(200, 784)), rng.integers(0, 10, 200)
    clean = X.copy()
    X[179, 5] = np.inf
    mlp = MLP((784, 50, 10), seed=1)
    with pytest.raises(ValueError, match=r"non-finite value \(inf\) at row 179, column 5"):
        mlp.fit(X, y, epochs=1, shuffle=False, verbose=0)
    assert all(np.isfinite(W).all() for W in mlp.weights)
    with pytest.raises(ValueError, match="row 0 is not one-hot"):
        mlp.loss(clean[:2], np.zeros((2, 10)))  # all-zero rows
    with pytest.raises(ValueError, match="row 1 is not one-hot"):
        mlp.loss(clean[:2], np.array([[1.0] + [0] * 9, [-1.0, 2.0] + [0] * 8]))
    with pytest.raises(ValueError, match="validation_data must be a pair"):
        mlp.fit(clean, y, epochs=1, verbose=0, validation_data=(clean,))
    with pytest.raises(ValueError, match="at least two output classes"):
        MLP((3, 4, 1))


def test_a_non_finite_gradient_stops_the_step_before_the_update():
    """An inf input saturates tanh (the loss stays finite) but makes the gradient inf: the fast
    step stops before the update (fit refuses such inputs up front; the step checks anyway)."""
    import numpy as np

    from numpy_mlp import MLP, SGD
    from numpy_mlp.training.fast import FastStep, NonFiniteLoss

    rng = np.random.default_rng(0)
    X = rng.normal(size=(8, 5)).astype(np.float32)
    X[3, 2] = np.inf
    Y = np.eye(3, dtype=np.float32)[rng.integers(0, 3, 8)]
    mlp = MLP((5, 4, 3), seed=0)
    before = mlp.params.copy()
    with pytest.raises(NonFiniteLoss, match="gradient is") as info:
        FastStep(mlp, SGD(), 8)(X, Y, np.arange(8))
    assert info.value.what == "gradient" and not math.isfinite(info.value.loss)
    np.testing.assert_array_equal(mlp.params, before)


@pytest.mark.keras
def test_keras_optimizer_values_are_checked():
    from keras_mlp import build_model

    with pytest.raises(ValueError, match="learning_rate must be a finite number > 0"):
        build_model((3, 4, 3), learning_rate=-1)
