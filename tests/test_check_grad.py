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


# The cases a tester hits (issue 25): each must get the verdict its arithmetic calls for.


def _sum_sin(x):
    return np.sum(np.sin(x))


def test_a_right_gradient_at_large_x_passes():
    """The step is fitted: at x = 1000 a step of 0.3 would leave truncation error; it is halved."""
    result = assert_grad(_sum_sin, np.cos, np.array([1000.0, 1000.3, -2500.7]))
    assert result.max_rel_error < 1e-12


def test_a_wrong_gradient_at_large_x_fails():
    result = check_grad(_sum_sin, lambda x: np.cos(x) * (1 + 1e-9), np.array([1000.0, 1000.3]))
    assert result.verdict == "disagrees" and result.wrong == 2


def test_an_entry_near_a_kink_is_named_with_its_distance_not_called_wrong():
    x = np.array([0.5 + 1e-4, 0.2])
    result = check_grad(lambda x: np.sum(np.abs(x - 0.5)), lambda x: np.sign(x - 0.5), x)
    assert result.verdict == "not differentiable" and not result.passed and result.wrong == 0
    [(index, step, smooth_below)] = result.kinks
    assert index == (0,) and step == pytest.approx(3e-4)
    assert 1e-4 <= smooth_below <= 4e-4  # the kink is 1e-4 away
    assert "not differentiable within h = 3.0e-04 of x" in result.report()
    assert result.checked == 1  # the other entry is compared, and agrees


def test_relu_at_its_kink_is_not_differentiable_and_elsewhere_agrees():
    x = np.array([0.0, 0.7, -0.3])
    result = check_grad(lambda x: np.sum(np.maximum(x, 0)), lambda x: (x > 0) * 1.0, x)
    assert [k[0] for k in result.kinks] == [(0,)] and result.kinks[0][2] == 0.0
    assert result.wrong == 0 and result.checked == 2
    away = check_grad(lambda x: np.sum(np.maximum(x, 0)), lambda x: (x > 0) * 1.0, x[1:])
    assert away.passed


def test_a_far_kink_is_not_reported():
    x = np.array([0.5 + 1e-2])  # 30 steps away
    assert assert_grad(lambda x: np.sum(np.abs(x - 0.5)), lambda x: np.sign(x - 0.5), x).passed


def test_a_zero_gradient_beside_a_huge_term_passes_within_fs_rounding():
    def f(x):
        return 1e8 * x[0] ** 2 + 0 * x[1]

    assert assert_grad(f, lambda x: np.array([2e8 * x[0], 0.0]), np.array([1.3, 0.4])).passed
    wrong = check_grad(f, lambda x: np.array([2e8 * x[0], 1e-3]), np.array([1.3, 0.4]))
    assert wrong.wrong == 1 and wrong.worst[0][0] == (1,)


def test_a_tiny_gradient_wrong_by_two_fails():
    """No floor on the denominator: a 1e-20 scale is checked at its scale."""
    x = np.array([0.7, -1.2])
    f = lambda x: np.sum(1e-20 * x**2)  # noqa: E731
    assert check_grad(f, lambda x: 2e-20 * x, x).passed
    assert check_grad(f, lambda x: 4e-20 * x, x).wrong == 2


def _tanh_x(x):
    return np.sum(np.tanh(x) * x)


def _tanh_x_grad(x):
    return np.tanh(x) + x * (1 - np.tanh(x) ** 2)


@pytest.mark.parametrize("off", [1e-3, 9e-3])
def test_float32_gradients_off_by_a_thousandth_fail_and_right_ones_pass(off):
    x = np.random.default_rng(0).normal(size=30).astype(np.float32)
    assert assert_grad(_tanh_x, _tanh_x_grad, x).max_line_ratio <= 1
    result = check_grad(_tanh_x, lambda x: _tanh_x_grad(x) * (1 + off), x)
    assert result.wrong == x.size


def test_float32_gradient_with_cancellation_passes():
    """Sums that cancel: float32's rounding is large relative to the result, and measured."""
    rng = np.random.default_rng(3)
    A = rng.normal(size=(40, 12)).astype(np.float32)
    b = A @ rng.normal(size=12).astype(np.float32)
    x = (rng.normal(size=12) * 1e-3).astype(np.float32) + np.linalg.lstsq(A, b, rcond=None)[0]

    def f(x):
        return 0.5 * np.sum((A.astype(x.dtype) @ x - b.astype(x.dtype)) ** 2)

    def grad(x):
        return A.T.astype(x.dtype) @ (A.astype(x.dtype) @ x - b.astype(x.dtype))

    assert assert_grad(f, grad, x).passed
    assert check_grad(f, lambda x: grad(x) * 1.001, x).wrong > 0


def test_a_planted_relative_error_of_3e_7_fails_in_float64():
    x = np.random.default_rng(1).normal(size=10)
    assert check_grad(_tanh_x, lambda x: _tanh_x_grad(x) * (1 + 3e-7), x).wrong == 10


def test_torch_names_eps_atol_rtol_mean_what_they_mean_there():
    x = np.random.default_rng(1).normal(size=5)
    off = lambda x: _tanh_x_grad(x) * (1 + 1e-4)  # noqa: E731
    assert not check_grad(_tanh_x, off, x).passed
    assert check_grad(_tanh_x, off, x, atol=1e-5, rtol=1e-3).passed  # torch's defaults
    assert not check_grad(_tanh_x, off, x, atol=0, rtol=1e-5).passed
    assert check_grad(_tanh_x, _tanh_x_grad, x, eps=1e-2).passed
    assert check_grad(_tanh_x, _tanh_x_grad, x, h=1e-2).passed


def test_sum_of_squares_at_a_million_entries_passes_in_linear_time():
    v = np.random.default_rng(1).uniform(size=10**6)
    result = assert_grad(lambda v: np.sum(v * v), lambda v: 2 * v, v, max_entries=4)
    assert result.checked == 4


@pytest.mark.slow
def test_sum_of_squares_at_ten_million_entries_passes():
    v = np.random.default_rng(1).uniform(size=10**7)
    assert assert_grad(lambda v: np.sum(v * v), lambda v: 2 * v, v, max_entries=3).passed


@pytest.mark.parametrize(
    ("kwargs", "grad", "message"),
    [
        ({}, lambda x: x.astype(np.complex128), "complex"),
        ({"max_entries": 0}, lambda x: 2 * x, "max_entries must be at least 1"),
        ({"max_entries": -3}, lambda x: 2 * x, "max_entries must be at least 1"),
        ({"eps": 0.0}, lambda x: 2 * x, "step"),
    ],
)
def test_refusals(kwargs, grad, message):
    with pytest.raises(ValueError, match=message):
        check_grad(lambda x: np.sum(x * x), grad, np.ones(3), **kwargs)


def test_complex_x_and_too_many_entries_are_refused():
    with pytest.raises(ValueError, match="complex"):
        check_grad(np.sum, lambda x: x, np.ones(3, dtype=np.complex128))
    with pytest.raises(ValueError, match="max_entries"):
        check_grad(np.sum, np.ones_like, np.ones(10_001))


def test_f_cannot_modify_the_point():
    def f(x):
        x[0] = 5.0
        return np.sum(x)

    with pytest.raises(ValueError, match="read-only"):
        check_grad(f, np.ones_like, np.ones(3))


def test_a_function_computing_in_float64_gets_float64_rounding_noise():
    """f converts its input to float64: its rounding is float64's, and the check knows it."""
    x = np.random.default_rng(2).normal(size=6)

    def f(x):
        return float(np.sum(np.exp(np.asarray(x, dtype=np.float64))) * 1e3)

    assert assert_grad(f, lambda x: 1e3 * np.exp(x), x).passed


def test_relative_error_has_no_floor():
    from numpy_mlp.checks.grad import relative_error

    assert relative_error(1e-20, 3e-20) == pytest.approx(0.5)
    assert relative_error(0.0, 0.0) == 0
    assert relative_error(1.0, -1.0) == 1.0  # |a| + |b|, not |a + b|


def test_an_error_exactly_on_the_pass_line_passes():
    """f linear: the difference is exact (1.0); an error of exactly atol is within the line."""
    x = np.array([0.3, -0.7])
    on = check_grad(np.sum, lambda x: np.ones_like(x) + 2.0**-10, x, atol=2.0**-10, rtol=0.0)
    assert on.max_line_ratio == 1.0 and on.passed
    past = check_grad(np.sum, lambda x: np.ones_like(x) + 2.0**-9, x, atol=2.0**-10, rtol=0.0)
    assert past.wrong == 2


def test_a_nan_gradient_entry_is_wrong_and_a_nan_f_is_refused():
    x = np.array([0.3, -0.7])
    result = check_grad(np.sum, lambda x: np.array([1.0, np.nan]), x)
    assert result.wrong == 1 and not result.passed and result.worst[0][0] == (1,)
    with pytest.raises(ValueError, match="finite value"), np.errstate(invalid="ignore"):
        check_grad(lambda x: np.sum(np.log(x)), lambda x: 1 / x, x)
