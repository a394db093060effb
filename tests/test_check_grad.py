"""check_grad / assert_grad: the gradient check for any scalar function, both verdicts."""

from __future__ import annotations

import numpy as np
import pytest

from numpy_mlp import assert_grad, check_grad


def _rosenbrock(x):
    return np.sum(100 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2)


def _rosenbrock_grad(x):
    g = np.zeros_like(x)
    g[:-1] = -400 * x[:-1] * (x[1:] - x[:-1] ** 2) - 2 * (1 - x[:-1])
    g[1:] += 200 * (x[1:] - x[:-1] ** 2)
    return g


def _softplus_sum(X):  # a matrix argument, with exp and log
    return np.sum(np.log1p(np.exp(X)) * np.arange(1, X.size + 1).reshape(X.shape))


def _softplus_grad(X):
    return np.arange(1, X.size + 1).reshape(X.shape) / (1 + np.exp(-X))


CASES = {
    "rosenbrock": (_rosenbrock, _rosenbrock_grad, (7,)),
    "softplus": (_softplus_sum, _softplus_grad, (3, 4)),
}


@pytest.mark.parametrize("name", CASES)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_a_right_gradient_passes_well_inside_the_threshold(name, dtype):
    f, grad, shape = CASES[name]
    x = np.random.default_rng(0).normal(size=shape).astype(dtype)
    result = assert_grad(f, grad, x)
    assert result.passed and result.checked == x.size
    # float64: the arithmetic leaves ~1e-10 at most, three orders below the 1e-7 threshold
    assert result.max_rel_error < (1e-10 if dtype == np.float64 else 1e-4)


@pytest.mark.parametrize("name", CASES)
def test_a_gradient_off_by_a_thousandth_fails_and_the_message_shows_the_worst_entries(name):
    f, grad, shape = CASES[name]
    x = np.random.default_rng(1).normal(size=shape)
    result = check_grad(f, lambda x: grad(x) * 1.001, x)
    assert not result.passed and result.max_rel_error > 1e-4
    with pytest.raises(AssertionError) as caught:
        assert_grad(f, lambda x: grad(x) * 1.001, x)
    message = str(caught.value)
    assert "DISAGREES" in message and "mine" in message and "finite diff." in message
    index, mine, fd, rel = result.worst[0]
    assert f"{mine:.6e}" in message and f"{fd:.6e}" in message
    # worst first means furthest past its pass line; at 1e-3 off every entry is far past it
    assert rel > 1e-4 and result.wrong == x.size and result.max_line_ratio > 100


def test_one_wrong_entry_is_the_worst_one_named():
    f, grad, _ = CASES["rosenbrock"]
    x = np.linspace(-1, 1, 6)

    def one_wrong(x):
        g = grad(x)
        g[3] += 0.5
        return g

    result = check_grad(f, one_wrong, x)
    assert result.worst[0][0] == (3,) and not result.passed
    assert all(rel < 1e-10 for _, _, _, rel in result.worst[1:])


def test_sampling_checks_the_number_asked_for():
    f, grad, _ = CASES["softplus"]
    x = np.random.default_rng(2).normal(size=(10, 10))
    assert check_grad(f, grad, x, max_entries=17).checked == 17


@pytest.mark.parametrize(
    ("x", "grad", "f", "message"),
    [
        (np.arange(3), lambda x: x, np.sum, "float32 or float64"),
        (np.array([1.0, np.nan]), lambda x: x, np.sum, "NaN"),
        (np.ones(3), lambda x: np.ones(2), np.sum, "shape"),
        (np.ones(3), lambda x: x, lambda x: x * 2, "scalar"),
    ],
)
def test_bad_input_is_a_clear_error(x, grad, f, message):
    with pytest.raises(ValueError, match=message):
        check_grad(f, grad, x)


def test_the_mlp_check_uses_the_same_finite_difference():
    """gradcheck's per-weight difference and check_grad on the loss as a function of one matrix
    give the same number."""
    from numpy_mlp import MLP
    from numpy_mlp.checks.gradcheck import numerical_gradient

    mlp = MLP((3, 4, 3), seed=1, dtype=np.float64)
    X = np.random.default_rng(0).normal(size=(2, 3))
    y = np.array([2, 0])

    def loss_of_W_out(W):
        other = MLP((3, 4, 3), seed=1, dtype=np.float64)
        other.set_weights([mlp.W_h[0], np.asarray(W, dtype=np.float64)])
        return other.loss(X, other.as_targets(y, 2))

    result = assert_grad(loss_of_W_out, lambda W: mlp.gradients(X, y)[1], mlp.W_out.copy())
    entries = np.array([(r, c) for r in range(5) for c in range(3)])
    fd = numerical_gradient(mlp, X, y, 1, entries)
    np.testing.assert_allclose(fd.reshape(5, 3), mlp.gradients(X, y)[1], rtol=1e-9, atol=1e-13)
    assert result.max_rel_error < 1e-9
