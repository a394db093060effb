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


def test_every_exercise_has_a_task_cell_in_the_notebook(tasks):
    assert len(tasks) >= 5
    for name, source in tasks.items():
        assert source.startswith("# Exercise"), name


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
