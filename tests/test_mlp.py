"""The NumPy MLP: layout, forward pass, backpropagation, a hand-worked example."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from numpy_mlp import MLP
from numpy_mlp.checks.gradcheck import check_gradients, relative_error
from numpy_mlp.model.loss import delta_out as cross_entropy_delta
from numpy_mlp.model.loss import softmax


def test_layout_names_and_shapes():
    mlp = MLP((784, 50, 50, 10), seed=123)
    assert [W.shape for W in mlp.weights] == [(785, 50), (51, 50), (51, 10)]
    assert mlp.W_h[0] is mlp.weights[0] and mlp.W_h[1] is mlp.weights[1]
    assert mlp.W_out is mlp.weights[-1]
    assert all(W.dtype == np.float32 for W in mlp.weights)


@pytest.mark.parametrize(
    ("fan_in", "fan_out", "limit"), [(784, 50, 0.084819), (50, 50, 0.244949), (50, 10, 0.316228)]
)
def test_glorot_uniform_limits_and_zero_bias(fan_in, fan_out, limit):
    W = MLP((fan_in, fan_out), seed=0, dtype=np.float64).weights[0]
    assert np.all(W[0] == 0)
    assert np.abs(W[1:]).max() <= limit + 1e-6
    assert np.abs(W[1:]).max() > 0.9 * limit  # the range is actually used
    assert abs(W[1:].mean()) < 0.1 * limit


def test_same_seed_same_weights():
    a, b, c = (MLP((20, 7, 3), seed=s) for s in (5, 5, 6))
    for Wa, Wb, Wc in zip(a.weights, b.weights, c.weights, strict=True):
        np.testing.assert_array_equal(Wa, Wb)
        assert not np.array_equal(Wa[1:], Wc[1:])


@pytest.mark.parametrize("bad", [(784,), (784, 0, 10), (784, -5, 10), (3.5, 2), (True, 2)])
def test_invalid_layer_sizes(bad):
    with pytest.raises(ValueError, match="layer"):
        MLP(bad)


def test_invalid_dtype():
    with pytest.raises(ValueError, match="float32 or float64"):
        MLP((3, 4, 3), dtype=np.int32)


def test_forward_returns_every_activation_with_bias_units():
    mlp = MLP((3, 4, 5, 2), seed=0, dtype=np.float64)
    X = np.random.default_rng(0).normal(size=(6, 3))
    A = mlp.forward(X)
    assert [a.shape for a in A] == [(6, 4), (6, 5), (6, 6), (6, 2)]
    for a in A[:-1]:
        np.testing.assert_array_equal(a[:, 0], 1.0)
    np.testing.assert_allclose(A[-1].sum(axis=1), 1.0, rtol=1e-14)
    np.testing.assert_allclose(mlp.predict_proba(X), A[-1])
    assert mlp.predict_classes(X).shape == (6,)


def test_bad_input_shape_is_a_clear_error():
    with pytest.raises(ValueError, match=r"X must have shape \(n, 3\)"):
        MLP((3, 4, 3)).forward(np.zeros((2, 4)))
    with pytest.raises(ValueError, match="one-hot"):
        MLP((3, 4, 3)).loss(np.zeros((2, 3)), np.zeros((2, 4)))


def test_integer_labels_and_one_hot_give_the_same_loss_and_gradients():
    mlp = MLP((3, 4, 3), seed=2, dtype=np.float64)
    X = np.random.default_rng(1).normal(size=(5, 3))
    y = np.array([0, 2, 1, 1, 0])
    Y = np.eye(3)[y]
    assert mlp.loss(X, y) == mlp.loss(X, Y)
    for a, b in zip(mlp.gradients(X, y), mlp.gradients(X, Y), strict=True):
        np.testing.assert_array_equal(a, b)


def test_softmax_is_stable_and_shift_invariant():
    Z = np.array([[1000.0, 1001.0, 999.0], [-5.0, 0.0, 5.0]])
    P = softmax(Z)
    assert np.all(np.isfinite(P))
    np.testing.assert_allclose(P, softmax(Z - 123.4), rtol=1e-12)


def test_output_delta_rows_sum_to_zero_and_ignore_logit_shifts():
    rng = np.random.default_rng(3)
    Z = rng.normal(size=(7, 10))
    Y = np.eye(10)[rng.integers(0, 10, 7)]
    delta = cross_entropy_delta(softmax(Z), Y)
    np.testing.assert_allclose(delta.sum(axis=1), 0.0, atol=1e-16)
    shifted = cross_entropy_delta(softmax(Z + rng.normal(size=(7, 1)) * 50), Y)
    np.testing.assert_allclose(shifted, delta, atol=1e-15)


def test_confident_wrong_answer_gives_a_large_finite_loss():
    mlp = MLP((1, 2), seed=0, dtype=np.float64)
    mlp.weights[0][:] = [[0.0, 0.0], [800.0, -800.0]]
    loss = mlp.loss(np.array([[1.0]]), np.array([1]))
    assert math.isclose(loss, 1600.0, rel_tol=1e-12)


# -- gradient checks --------------------------------------------------------------------------------


def _batch(mnist, layers, n=5, seed=0):
    rng = np.random.default_rng(seed)
    if layers[0] == 784:
        rows = rng.choice(mnist.X_train.shape[0], n, replace=False)
        return mnist.X_train[rows], mnist.y_train[rows]
    return rng.normal(size=(n, layers[0])), rng.integers(0, layers[-1], n)


@pytest.mark.parametrize(
    "layers",
    [(3, 4, 3), (784, 50, 50, 10), (784, 30, 20, 20, 10), (6, 5, 4, 3, 2)],
    ids=lambda s: "-".join(map(str, s)),
)
@pytest.mark.parametrize("seed", [0, 1])
def test_backprop_matches_finite_differences_float64(mnist, layers, seed):
    mlp = MLP(layers, seed=seed, dtype=np.float64)
    X, y = _batch(mnist, layers, seed=seed)
    results = check_gradients(mlp, X, y, max_entries=120, seed=seed)
    for r in results:
        assert r.checked > 0
        assert r.max_rel_error < 1e-7, f"{r.name}: mine vs finite differences {r.max_rel_error:.2e}"


def test_gradient_check_samples_include_the_bias_row():
    from numpy_mlp.checks.gradcheck import sample_entries

    entries = sample_entries((785, 50), 40, np.random.default_rng(0))
    assert entries.shape == (40, 2)
    assert np.any(entries[:, 0] == 0) and np.any(entries[:, 0] > 0)


def test_gradient_check_catches_a_wrong_gradient(monkeypatch):
    mlp = MLP((3, 4, 3), seed=0, dtype=np.float64)
    X = np.random.default_rng(0).normal(size=(4, 3))
    y = np.array([0, 1, 2, 0])
    real = MLP.gradients

    def broken(self, X, Y):
        grads = real(self, X, Y)
        grads[0][2, 1] *= 1.001  # a 0.1% error in one entry
        return grads

    monkeypatch.setattr(MLP, "gradients", broken)
    results = check_gradients(mlp, X, y)
    assert not results[0].passed and results[1].passed


def test_relative_error_formula():
    assert relative_error(1.0, 1.0) == 0
    assert relative_error(0.0, 0.0) == 0  # eps keeps 0/0 away
    np.testing.assert_allclose(relative_error(1.0, 3.0), 0.5)


# -- the hand-worked 3-4-3 example ------------------------------------------------------------------


def test_hand_worked_3_4_3_example():
    """x = (1, 0, -1), class 2. Weights chosen so every number can be written down by hand:

    Z_h = A_in W_h = [0.5, -0.5, 0, 0]          A_h = [1, t, -t, 0, 0] with t = tanh(0.5)
    Z_out = A_h W_out = [t, -t, 0]               A_out = [e^t, e^-t, 1] / (e^t + e^-t + 1)
    """
    mlp = MLP((3, 4, 3), dtype=np.float64)
    W_h = np.zeros((4, 4))
    W_h[1, 0] = 0.5  # x_1 -> h_1
    W_h[3, 1] = 0.5  # x_3 -> h_2
    W_out = np.zeros((5, 3))
    W_out[1, 0] = 1.0  # h_1 -> out_1
    W_out[2, 1] = 1.0  # h_2 -> out_2
    mlp.weights[0][:], mlp.weights[1][:] = W_h, W_out
    x = np.array([[1.0, 0.0, -1.0]])

    t = math.tanh(0.5)  # 0.46211715726000974
    s = math.exp(t) + math.exp(-t) + 1.0
    p = [math.exp(t) / s, math.exp(-t) / s, 1.0 / s]  # 0.4795, 0.1900, 0.3025 (approx.)

    A_in, A_h, A_out = mlp.forward(x)
    np.testing.assert_allclose(A_in, [[1, 1, 0, -1]])
    np.testing.assert_allclose(A_h, [[1, t, -t, 0, 0]], rtol=1e-15)
    np.testing.assert_allclose(A_out, [p], rtol=1e-14)
    assert math.isclose(mlp.loss(x, np.array([2])), -math.log(p[2]), rel_tol=1e-14)

    g_h, g_out = mlp.gradients(x, np.array([2]))
    d_out = [p[0], p[1], p[2] - 1.0]  # (A_out - Y) / 1
    expected_g_out = np.outer([1, t, -t, 0, 0], d_out)  # A_h^T delta_out
    np.testing.assert_allclose(g_out, expected_g_out, rtol=1e-14, atol=1e-17)
    # delta_h = (delta_out W_out[1:]^T) * (1 - A_h^2): unit 1 sees d_out[0], unit 2 sees d_out[1]
    d_h = [d_out[0] * (1 - t * t), d_out[1] * (1 - t * t), 0.0, 0.0]
    np.testing.assert_allclose(g_h, np.outer([1, 1, 0, -1], d_h), rtol=1e-14, atol=1e-17)


@settings(max_examples=25, deadline=None)
@given(
    layers=st.lists(st.integers(1, 7), min_size=2, max_size=5).filter(lambda s: s[-1] >= 2),
    n=st.integers(1, 6),
    seed=st.integers(0, 2**16),
    activation=st.sampled_from(["tanh", "logistic", "relu"]),
    init=st.sampled_from(["glorot_uniform", "he_uniform", "random_normal"]),
)
def test_backprop_matches_finite_differences_on_random_networks(layers, n, seed, activation, init):
    """Every weight of random small float64 networks, bias rows included, every activation."""
    rng = np.random.default_rng(seed)
    mlp = MLP(layers, activation=activation, init=init, seed=seed, dtype=np.float64)
    X, y = rng.normal(size=(n, layers[0])), rng.integers(0, layers[-1], n)
    for r in check_gradients(mlp, X, y, seed=seed):
        assert r.checked + r.kinks == r.shape[0] * r.shape[1]
        assert r.kinks == 0 or activation == "relu"  # only ReLU has kinks
        # Relative error, or, for the tiny entries that random weights make by cancellation, an
        # absolute error within rounding of the order-one terms they are summed from (100 ulps).
        ok = r.max_rel_error < 1e-7 or r.max_abs_error < 100 * np.finfo(np.float64).eps
        assert ok, (
            f"{layers}, {r.name}: backprop vs FD {r.max_rel_error:.2e} ({r.max_abs_error:.1e})"
        )


@pytest.mark.parametrize("name", ["tanh", "logistic", "relu"])
def test_each_derivative_written_from_the_activation_matches_a_difference_quotient(name):
    from numpy_mlp.model.activations import get_activation

    f = get_activation(name)
    Z = np.linspace(-4, 4, 81) + 0.0125  # no point at relu's kink z = 0
    h = 1e-6
    numeric = (f.f(Z + h) - f.f(Z - h)) / (2 * h)
    np.testing.assert_allclose(f.derivative(f.f(Z)), numeric, atol=1e-8)
    out = np.empty_like(Z)  # the out= form writes the same numbers
    assert f.f(Z, out=out) is out
    np.testing.assert_array_equal(out, f.f(Z))
    np.testing.assert_array_equal(f.derivative(out, out=np.empty_like(Z)), f.derivative(f.f(Z)))


def test_logistic_slope_is_at_most_a_quarter_and_has_no_overflow():
    from numpy_mlp.model.activations import logistic, logistic_derivative

    Z = np.array([-1000.0, -5.0, 0.0, 5.0, 1000.0])
    with np.errstate(over="raise", invalid="raise", divide="raise"):  # nothing reported
        A = logistic(Z)
    np.testing.assert_allclose(A[1:], 1 / (1 + np.exp(-Z[1:])), rtol=1e-15)
    assert A[0] == 0.0  # exp(1000) overflows; the true value is below the smallest float
    assert logistic_derivative(A).max() == 0.25


@pytest.mark.parametrize(
    ("init", "limit"),
    [
        ("glorot_uniform", np.sqrt(6 / 150)),
        ("he_uniform", np.sqrt(6 / 100)),
        ("lecun_uniform", np.sqrt(3 / 100)),
        ("glorot_uniform_x4", 4 * np.sqrt(6 / 150)),
    ],
)
def test_uniform_initializers_use_kerass_limits(init, limit):
    W = MLP((100, 50, 2), init=init, seed=0).weights[0]
    assert np.all(W[0] == 0) and np.abs(W[1:]).max() <= limit
    assert np.abs(W[1:]).max() > 0.95 * limit


@pytest.mark.keras
@pytest.mark.parametrize(
    ("init", "limit"),
    [("lecun_uniform", np.sqrt(3 / 100)), ("glorot_uniform_x4", 4 * np.sqrt(6 / 150))],
)
def test_added_initializers_draw_in_the_range_keras_draws_in(init, limit):
    from tests.conftest import keras_or_skip

    keras_or_skip()
    from keras_mlp.model import build_model

    W = build_model((100, 50, 2), init=init).layers[0].kernel.numpy()
    assert np.abs(W).max() <= limit * (1 + 1e-6) and np.abs(W).max() > 0.95 * limit
    assert W.std() == pytest.approx(limit / np.sqrt(3), rel=0.03)  # uniform: sd = L / sqrt(3)


def test_random_normal_initializer_has_keras_stddev():
    W = MLP((400, 300, 2), init="random_normal", seed=0, dtype=np.float64).weights[0]
    assert np.all(W[0] == 0) and abs(W[1:].std() - 0.05) < 1e-3 and abs(W[1:].mean()) < 1e-3


def test_unknown_activation_and_init_are_named():
    with pytest.raises(ValueError, match="activation must be one of tanh, logistic, relu"):
        MLP((3, 2), activation="swish")
    with pytest.raises(ValueError, match="init must be one of glorot_uniform"):
        MLP((3, 2), init="zeros")


def test_the_passes_can_show_their_intermediates():
    """forward_pass(Z=...) and backward_pass(trace=...) hand out what they computed anyway:
    Z^(l) = A^(l) W^(l), and dL/dW^(l) = A^(l)^T delta^(l+1) with the bias row its column sums."""
    from numpy_mlp.model.mlp import backward_pass, forward_pass

    mlp = MLP((3, 4, 5, 3), seed=2, dtype=np.float64)
    X = np.random.default_rng(0).normal(size=(6, 3))
    Y = np.eye(3)[[0, 1, 2, 0, 1, 2]]
    Z, trace = [], {}
    A = forward_pass(mlp.weights, X, mlp.activation, Z=Z)
    grads = backward_pass(mlp.weights, A, Y, mlp.activation, trace=trace)
    assert (
        len(Z) == 3 and sorted(trace["delta"]) == [0, 1, 2] and sorted(trace["f_prime"]) == [1, 2]
    )
    for l, W in enumerate(mlp.weights):
        np.testing.assert_array_equal(Z[l], A[l] @ W)
        np.testing.assert_array_equal(grads[l], A[l].T @ trace["delta"][l])
        np.testing.assert_allclose(grads[l][0], trace["delta"][l].sum(axis=0), rtol=1e-12)
    for l in (1, 2):
        np.testing.assert_array_equal(trace["f_prime"][l], 1 - A[l][:, 1:] ** 2)  # tanh
    for mine, theirs in zip(grads, mlp.gradients(X, Y), strict=True):
        np.testing.assert_array_equal(mine, theirs)


def test_a_small_gradient_check_sample_still_includes_a_bias_row_entry():
    from numpy_mlp.checks.gradcheck import sample_entries

    for n in (1, 2, 3):
        entries = sample_entries((785, 50), n, np.random.default_rng(0))
        assert entries.shape == (n, 2) and np.any(entries[:, 0] == 0)


def test_the_reported_step_is_h_over_the_largest_input_feeding_the_weight():
    from numpy_mlp.checks.gradcheck import fd_steps

    mlp = MLP((2, 3, 2), seed=0, dtype=np.float64)
    X = np.array([[2.0, 0.0], [-4.0, 0.0]])  # input 1 at most 4 in size, input 2 always 0
    steps = fd_steps(mlp, X, 0, np.array([[0, 0], [1, 0], [2, 1]]), h=1e-3)
    np.testing.assert_allclose(steps, [1e-3, 1e-3 / 4, 1e-3])  # bias unit 1; an all-zero input: h


def test_a_nan_in_backprop_fails_the_check():
    mlp = MLP((3, 4, 3), seed=0, dtype=np.float64)
    X = np.random.default_rng(0).normal(size=(4, 3))
    y = np.array([0, 1, 2, 0])

    def with_nan(m, X, Y):
        grads = m.gradients(X, Y)
        grads[1][2, 1] = np.nan
        return grads

    results = check_gradients(mlp, X, y, gradients=with_nan)
    assert results[0].passed and not results[1].passed and results[1].wrong == 1
