"""The walkthrough's exercises: every checker accepts its solution (notebooks/solutions.py) and
rejects the task cell as the notebook ships it (the cells tagged task:NAME in the notebook's
source, notebooks/walkthrough.py)."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from numpy_mlp import MLP, one_hot
from tests.conftest import ROOT

sys.path.insert(0, str(ROOT / "notebooks"))
import exercises  # noqa: E402
import solutions  # noqa: E402

SOURCE = ROOT / "notebooks" / "walkthrough.py"


def task_cells() -> dict[str, str]:
    """{name: source} of the notebook's task cells, as shipped (tagged task:NAME)."""
    jupytext = pytest.importorskip("jupytext", reason="the notebook extra is not installed")
    return {
        tag.removeprefix("task:"): cell.source
        for cell in jupytext.read(SOURCE).cells
        for tag in cell.metadata.get("tags", [])
        if tag.startswith("task:")
    }


@pytest.fixture(scope="module")
def tasks() -> dict[str, str]:
    return task_cells()


@pytest.fixture(scope="module")
def data(mnist):
    return {"X_train_std": mnist.X_train[:5000], "y_train": mnist.y_train[:5000]}


@pytest.fixture
def untouched(tasks, data):
    """untouched(name): the namespace after running that task cell exactly as shipped."""

    def run(name: str) -> dict:
        namespace = {"np": np, "MLP": MLP, "exercises": exercises, **data}
        exec(tasks[name], namespace)  # noqa: S102 - the notebook's own cell
        return namespace

    return run


def _small_example():
    """The notebook's 3-4-3 example: delta_out and dL/dW_out."""
    rng = np.random.default_rng(1)
    small = MLP((3, 4, 3), seed=1, dtype=np.float64)
    x = np.round(rng.normal(size=(2, 3)), 2)
    Y = one_hot(np.array([2, 0]), 3, dtype=np.float64)
    delta_out = (small.forward(x)[-1] - Y) / len(x)
    return delta_out, small.gradients(x, Y)[1]


def test_every_exercise_has_a_task_cell_and_a_checker_in_the_notebook(tasks):
    jupytext = pytest.importorskip("jupytext", reason="the notebook extra is not installed")
    cells = [c.source for c in jupytext.read(SOURCE).cells if c.cell_type == "code"]
    assert len(tasks) >= 10
    numbers = []
    for name, source in tasks.items():
        assert source.startswith("# Exercise"), name
        numbers.append(int(source.split()[2].rstrip(".")))
        after = cells[cells.index(source) + 1]
        assert "exercises.check_" in after, (name, after)
    assert numbers == list(range(1, len(tasks) + 1))  # numbered in the order they come


def test_bias_row(untouched):
    delta_out, dW_out = _small_example()
    task = untouched("bias_row")
    assert not exercises.check_bias_row(task["my_bias_row"], delta_out, dW_out).right
    mean = exercises.check_bias_row(delta_out.mean(axis=0), delta_out, dW_out)
    assert not mean.right and "n times too small" in str(mean)
    assert exercises.check_bias_row(solutions.bias_row(delta_out), delta_out, dW_out).right


def test_parameter_count(untouched):
    assert not exercises.check_parameter_count(untouched("parameters")["count_parameters"]).right
    without_bias = exercises.check_parameter_count(
        lambda s: sum(a * b for a, b in zip(s[:-1], s[1:], strict=False))
    )
    assert not without_bias.right and "42,310" in str(without_bias)
    assert exercises.check_parameter_count(solutions.count_parameters).right


def test_logistic_derivative(untouched):
    verdict = exercises.check_logistic_derivative(untouched("logistic")["logistic_derivative"])
    assert not verdict.right and "DISAGREES" in str(verdict)
    right = exercises.check_logistic_derivative(solutions.logistic_derivative)
    assert right.right and "check_grad agrees" in str(right)


def test_normal_init(untouched):
    task = untouched("normal_init")
    probe = (task["X_probe"], task["y_probe"])
    assert not exercises.check_normal_init(
        task["prediction"], task["big"], task["ratio"], task["glorot"], *probe
    ).right
    big = solutions.normal_weights(task["glorot"])
    ratio = exercises.relative_gradient(big, *probe) / exercises.relative_gradient(
        task["glorot"], *probe
    )
    verdict = exercises.check_normal_init(solutions.PREDICTION, big, ratio, task["glorot"], *probe)
    assert verdict.right, str(verdict)
    wrong = exercises.check_normal_init("larger", big, ratio, task["glorot"], *probe)
    assert not wrong.right and "The measurement is right" in str(wrong)
    assert not exercises.check_normal_init(
        "smaller", task["big"], ratio, task["glorot"], *probe
    ).right


def test_smallest_diverging_learning_rate(untouched):
    task = untouched("diverging")
    X, y = task["X_5k"], task["y_5k"]
    assert not exercises.check_smallest_diverging(task["smallest_diverging"], X, y).right
    answer = solutions.smallest_diverging(exercises.CANDIDATE_RATES, exercises.diverges, X, y)
    assert exercises.check_smallest_diverging(answer, X, y).right
    i = exercises.CANDIDATE_RATES.index(answer)
    assert not exercises.check_smallest_diverging(exercises.CANDIDATE_RATES[i - 1], X, y).right
    assert not exercises.check_smallest_diverging(exercises.CANDIDATE_RATES[i + 1], X, y).right


def test_spiral_hidden_units(untouched):
    X, y = exercises.spiral()
    verdict, net = exercises.check_spiral(untouched("spiral")["hidden_units"], X, y)
    assert not verdict.right and net is not None
    assert exercises.check_spiral(solutions.HIDDEN_UNITS, X, y)[0].right
    too_many, _ = exercises.check_spiral(solutions.HIDDEN_UNITS + 4, X, y)
    assert not too_many.right and "already reach" in str(too_many)


@pytest.mark.parametrize("answer", [0, -3, 2.5, True, "4"])
def test_spiral_refuses_what_is_not_a_count(answer):
    X, y = exercises.spiral()
    verdict, net = exercises.check_spiral(answer, X, y)
    assert not verdict.right and net is None


# -- backprop by hand: each checker accepts the solution, rejects the task cell and a mistake ------


def _wrong_softmax_delta(A_out, Y):
    return A_out - Y  # the 1/n of the mean is missing


@pytest.mark.parametrize(
    ("task", "name", "check", "mistake", "words"),
    [
        ("delta_out", "softmax_ce_delta", exercises.check_delta_out, _wrong_softmax_delta,
         "n times too large"),
        ("delta_out", "softmax_ce_delta", exercises.check_delta_out,
         lambda A, Y: (Y - A) / len(Y), "sign is flipped"),
        ("tanh_gradient", "tanh_local_gradient", exercises.check_tanh_gradient,
         lambda A: 1 - A, "square is missing"),
        ("tanh_gradient", "tanh_local_gradient", exercises.check_tanh_gradient,
         lambda A: 1 - np.hstack([np.ones((len(A), 1)), A]) ** 2, "shape"),
        ("matmul", "matmul_backward", exercises.check_matmul_backward,
         lambda A, W, G: (G @ W.T, G.T @ A), "dL/dW has shape"),
        ("matmul", "matmul_backward", exercises.check_matmul_backward,
         lambda A, W, G: (G @ W.T * 2, A.T @ G), "is not numpy_mlp's delta_h"),
        ("hidden_delta", "hidden_delta", exercises.check_hidden_delta,
         lambda d, W, A: d @ W[1:].T, "slope is missing"),
        ("hidden_delta", "hidden_delta", exercises.check_hidden_delta,
         lambda d, W, A: (d @ W.T) * (1 - A**2), "bias column included"),
        ("full_gradient", "gradients_by_hand", exercises.check_full_gradient,
         lambda w, X, Y: solutions.gradients_by_hand(w, X, Y)[::-1], "differs"),
        ("full_gradient", "gradients_by_hand", exercises.check_full_gradient,
         lambda w, X, Y: [g * len(X) for g in solutions.gradients_by_hand(w, X, Y)], "differs"),
    ],
)  # fmt: skip
def test_backprop_checkers_reject_the_task_cell_and_the_mistake(
    untouched, task, name, check, mistake, words
):
    assert not check(untouched(task)[name]).right
    verdict = check(mistake)
    assert not verdict.right and words in str(verdict), str(verdict)


@pytest.mark.parametrize(
    ("check", "solution"),
    [
        (exercises.check_delta_out, solutions.softmax_ce_delta),
        (exercises.check_tanh_gradient, solutions.tanh_local_gradient),
        (exercises.check_matmul_backward, solutions.matmul_backward),
        (exercises.check_hidden_delta, solutions.hidden_delta),
        (exercises.check_full_gradient, solutions.gradients_by_hand),
    ],
)
def test_backprop_checkers_accept_the_solution(check, solution):
    verdict = check(solution)
    assert verdict.right, str(verdict)


def test_backprop_cases_are_numpy_mlps_backward_pass():
    """The checkers' reference is numpy_mlp's: the traced deltas give its gradients, and the
    gradients agree with central differences."""
    from numpy_mlp.checks.gradcheck import check_gradients

    for case in exercises.backprop_cases():
        A, trace, grads = case["A"], case["trace"], case["grads"]
        assert np.allclose(A[1].T @ trace["delta"][1], grads[1], rtol=0, atol=1e-15)
        assert np.allclose(A[0].T @ trace["delta"][0], grads[0], rtol=0, atol=1e-15)
        assert all(r.passed for r in check_gradients(case["mlp"], case["X"], case["Y"]))
    shapes = {case["X"].shape[0] for case in exercises.backprop_cases(4)}
    assert len(shapes) == 4  # different row counts: an answer cannot hard-code n


def test_normal_init_rejects_a_partial_redraw(untouched):
    task = untouched("normal_init")
    probe, glorot = (task["X_probe"], task["y_probe"]), task["glorot"]
    partial = MLP((784, 50, 50, 10), seed=123)
    rng = np.random.default_rng(0)
    W_h1 = np.vstack([np.zeros((1, 50)), rng.normal(size=(784, 50))])
    partial.set_weights([W_h1, *glorot.weights[1:]])  # only W_h1 redrawn
    ratio = exercises.relative_gradient(partial, *probe) / exercises.relative_gradient(
        glorot, *probe
    )
    verdict = exercises.check_normal_init("smaller", partial, ratio, glorot, *probe)
    assert not verdict.right and "W_h2" in str(verdict) and "not only the first" in str(verdict)


def test_normal_init_explains_from_the_measured_decomposition(untouched):
    task = untouched("normal_init")
    probe, glorot = (task["X_probe"], task["y_probe"]), task["glorot"]
    big = solutions.normal_weights(glorot)
    d = exercises.first_layer_decomposition(big, glorot, *probe)
    assert 15 < d["weights"] < 30  # N(0, 1) against Glorot's sqrt(6 / 834) / sqrt(3) ~ 0.049
    assert d["slope_big"] < 0.2 < d["slope_glorot"]  # saturation is there...
    assert d["delta"] > 2 and 0.5 < d["gradient"] < 2  # ...but the gradient barely changes
    ratio = exercises.relative_gradient(big, *probe) / exercises.relative_gradient(glorot, *probe)
    assert ratio == pytest.approx(d["gradient"] / d["weights"], rel=1e-9)
    text = str(exercises.check_normal_init("smaller", big, ratio, glorot, *probe))
    assert f"{d['weights']:.0f} times Glorot's" in text and "scale of the weights" in text


def test_spiral_answer_holds_on_every_seed():
    X, y = exercises.spiral()
    below = exercises.spiral_accuracies(solutions.HIDDEN_UNITS - 1, X, y)
    assert min(below) < exercises.SPIRAL_TARGET <= max(below)  # one lucky seed would pass it
    lucky, _ = exercises.check_spiral(solutions.HIDDEN_UNITS - 1, X, y)
    assert not lucky.right and "seeds stay below" in str(lucky)
