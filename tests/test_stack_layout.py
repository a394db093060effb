"""fit_many's stacked buffers: the first layer side by side, packed and unpacked exactly; the fused
products used only where this BLAS gives them `fit`'s bits; the finiteness rule on every layout."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from threadpoolctl import threadpool_limits

from numpy_mlp import MLP, SGD, fit, fit_many
from numpy_mlp.model.loss import label_positions
from numpy_mlp.model.parameters import parameter_count, weight_shapes
from numpy_mlp.training import stack_layout, stacked
from numpy_mlp.training.fast import FastStep, all_finite, fast_gradients
from numpy_mlp.training.stack_layout import StackLayout, choose_layout, same_bits
from numpy_mlp.training.stacked import StackedStep
from tests.strategies import layer_lists


def _layout(layers, K, extra, shared):
    shapes = weight_shapes(layers)
    N = K * shapes[0][1] + extra if shared and len(shapes) > 1 else 0
    return shapes, StackLayout(shapes, K, N)


@settings(max_examples=40, deadline=None)
@given(
    layers=layer_lists,
    K=st.integers(1, 5),
    extra=st.integers(0, 9),
    shared=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_packing_keeps_every_networks_parameters_where_the_model_has_them(
    layers, K, extra, shared, seed
):
    shapes, layout = _layout(layers, K, extra, shared)
    rng = np.random.default_rng(seed)
    flats = [rng.normal(size=parameter_count(layers)) for _ in range(K)]
    buf = layout.pack(flats, np.float64)
    assert buf.shape == (layout.size,)
    for k, flat in enumerate(flats):
        np.testing.assert_array_equal(layout.network(buf, k), flat)
        own = MLP(layers, seed=0, dtype=np.float64)
        own.params[...] = flat
        for stack, W in zip(layout.matrices(buf), own.weights, strict=True):
            np.testing.assert_array_equal(stack[k], W)
    if layout.shared:  # the padding columns hold zeros; the first block is the fused matrix
        fused = layout.fused(buf)
        assert fused.shape == (shapes[0][0], layout.N)
        assert not fused[:, K * shapes[0][1] :].any()
        for k in range(K):
            cols = slice(k * shapes[0][1], (k + 1) * shapes[0][1])
            np.testing.assert_array_equal(fused[:, cols], layout.matrices(buf)[0][k])


def test_per_network_settings_broadcast_over_each_block():
    shapes, layout = _layout([6, 3, 4, 2], 3, 2, True)
    eta = np.array([0.1, 0.2, 0.3])
    row, column = layout.columns(eta)
    assert row.shape == (1, 11) and column.shape == (3, 1)
    np.testing.assert_array_equal(row[0], [0.1] * 3 + [0.2] * 3 + [0.3] * 3 + [0, 0])
    np.testing.assert_array_equal(column[:, 0], eta)
    assert layout.columns(np.array([0.9, 0.9, 0.9])) == [0.9, 0.9]  # one value: scalars
    _, plain = _layout([6, 3, 4, 2], 3, 0, False)
    assert plain.columns(eta)[0].shape == (3, 1)


def test_a_side_by_side_layout_needs_a_hidden_layer_and_room():
    with pytest.raises(ValueError, match="side by side"):
        StackLayout(weight_shapes([5, 3]), 2, 8)
    with pytest.raises(ValueError, match="side by side"):
        StackLayout(weight_shapes([5, 4, 3]), 3, 11)


def test_the_layout_is_side_by_side_exactly_where_the_bits_allow(monkeypatch):
    shapes = weight_shapes([20, 10, 3])
    monkeypatch.setattr(stack_layout, "same_bits", lambda *a: True)
    assert choose_layout(shapes, 3, (16, 4), np.float64).N == 30
    assert not choose_layout(shapes, 1, (16,), np.float64).shared  # nothing to share
    assert not choose_layout(weight_shapes([20, 3]), 3, (16,), np.float64).shared
    # the first width whose fused products keep the bits at every batch size wins
    monkeypatch.setattr(stack_layout, "same_bits", lambda m, shape, K, N, dtype: N % 16 == 0)
    assert choose_layout(shapes, 3, (16, 4), np.float64).N == 32
    monkeypatch.setattr(stack_layout, "same_bits", lambda m, shape, K, N, dtype: m != 4)
    assert not choose_layout(shapes, 3, (16, 4), np.float64).shared


def test_same_bits_tells_a_reordered_product_apart(monkeypatch):
    """The probe says False for a BLAS that adds a wide product's terms in another order, and
    True where the fused product is the very same call."""
    real_dot = np.dot
    assert same_bits(8, (30, 5), 1, 5, np.float64)  # K = 1, no padding: the same product

    for which in ("forward", "gradient"):  # (8, 30) @ (30, 16) or (30, 8) @ (8, 16)

        def reordered(a, b, out=None, which=which):
            wide = b.shape[1] > 5 and (a.shape[0] == 8) == (which == "forward")
            if wide:  # that fused product: the same terms, summed last to first
                return real_dot(a[:, ::-1], b[::-1, :], out=out)
            return real_dot(a, b, out=out)

        monkeypatch.setattr(np, "dot", reordered)
        assert not same_bits(8, (30, 5), 3, 16, np.float64), which
        monkeypatch.undo()


def _batch(rng, m, d, k, dtype):
    A = np.ones((m, d + 1), dtype)
    A[:, 1:] = rng.normal(size=(m, d))
    labels = rng.integers(0, k, m)
    return A, np.eye(k, dtype=dtype)[labels], labels, label_positions(labels, k)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_the_stack_computes_each_networks_gradient_to_fits_last_bit(dtype):
    """Every network's gradient in the stack equals the fast step's for that network alone,
    bit for bit, whichever layout the stack chose (side by side on this machine's BLAS)."""
    layers, K, m = [40, 24, 12, 5], 3, 32
    rng = np.random.default_rng(7)
    mlps = [MLP(layers, seed=k, dtype=dtype) for k in range(K)]
    with threadpool_limits(limits=1, user_api="blas"):
        stack = StackedStep(mlps, [SGD() for _ in mlps], m, one_hot=True, sizes=(m, 9))
        for rows in (m, 9):
            A, Y, labels, positions = _batch(rng, rows, layers[0], layers[-1], dtype)
            stack.gradients(A, Y, labels, positions)
            for k, mlp in enumerate(mlps):
                alone = np.concatenate([G.ravel() for G in fast_gradients(mlp, A[:, 1:], Y)])
                np.testing.assert_array_equal(stack.gradient(k), alone, err_msg=f"{k}, {rows}")


def test_a_forced_side_by_side_stack_trains_as_fit_and_its_padding_stays_zero(monkeypatch):
    """With the fused products forced (and 3 padding columns) the arithmetic is still fit's:
    equal to rounding, and the padding's weights and velocities never move."""
    layers, K = [12, 7, 5, 3], 3
    monkeypatch.setattr(
        stacked, "choose_layout", lambda shapes, K, sizes, dtype: StackLayout(shapes, K, 24)
    )
    monkeypatch.setattr(StackedStep, "fuses", lambda self, m: True)
    rng = np.random.default_rng(3)
    X, y = rng.normal(size=(90, layers[0])), rng.integers(0, layers[-1], 90)
    configs = [dict(learning_rate=0.05), dict(learning_rate=0.1, nesterov=True), dict()]
    kwargs = dict(epochs=3, batch_size=16, seed=5, verbose=0)
    mlps = [MLP(layers, seed=k, dtype=np.float64) for k in range(K)]
    fit_many(mlps, [SGD(**c) for c in configs], X, y, **kwargs)
    for k, c in enumerate(configs):
        alone = MLP(layers, seed=k, dtype=np.float64)
        fit(alone, X, y, optimizer=SGD(**c), **kwargs)
        np.testing.assert_allclose(mlps[k].params, alone.params, rtol=1e-11, atol=1e-14)
    with threadpool_limits(limits=1, user_api="blas"):
        stack = StackedStep(mlps, [SGD(learning_rate=0.1) for _ in mlps], 16, one_hot=True)
        for _ in range(4):
            stack.gradients(*_batch(rng, 16, layers[0], layers[-1], np.float64))
            stack.update()
    assert stack.layout.N == 24
    for B in (stack.P, stack.V):
        assert not stack.layout.fused(B)[:, K * layers[1] :].any()
    assert stack.layout.fused(stack.V)[:, : K * layers[1]].any()  # the real columns moved


def test_every_entry_finite_is_the_rule_whatever_the_sum_does():
    big = np.full(4, 3e38, np.float32)  # finite entries whose sum overflows
    with np.errstate(over="ignore", invalid="ignore"):
        assert all_finite(big) and all_finite(big, np.ones_like(big))
        for bad in (np.inf, -np.inf, np.nan):
            x = np.array([1.0, bad, 2.0], np.float32)
            assert not all_finite(x) and not all_finite(x, np.ones_like(x))
        x = np.array([np.inf, -np.inf], np.float64)  # a sum of nan, still caught
        assert not all_finite(x, np.ones_like(x))


def test_the_fast_step_stops_on_a_non_finite_gradient_entry_only():
    mlp = MLP([4, 3, 2], seed=0, dtype=np.float32)
    step = FastStep(mlp, SGD(), 5, one_hot=True)
    step.flat_grad[...] = 3e38
    with np.errstate(over="ignore", invalid="ignore"):
        step._check_gradient()  # every entry finite: training goes on
        step.flat_grad[2] = np.nan
        with pytest.raises(FloatingPointError, match="gradient is nan"):
            step._check_gradient()


def test_fit_many_ends_where_fit_does_in_float32_too():
    """Every history value, weight and velocity equal to fit's, in float32 (the default dtype),
    at two shapes (on this machine's BLAS both put their first layers side by side)."""
    rng = np.random.default_rng(11)
    X, y = rng.normal(size=(150, 30)), rng.integers(0, 4, 150)
    configs = [dict(learning_rate=0.01), dict(learning_rate=0.1, momentum=0.5), dict()]
    kwargs = dict(epochs=2, batch_size=32, validation_split=0.2, seed=2, verbose=0)
    for layers in ([30, 20, 4], [30, 3, 5, 4]):
        mlps = [MLP(layers, seed=k) for k in range(len(configs))]
        together = fit_many(mlps, [SGD(**c) for c in configs], X, y, **kwargs)
        for k, c in enumerate(configs):
            alone = MLP(layers, seed=k)
            history = fit(alone, X, y, optimizer=SGD(**c), **kwargs)
            for key in ("loss", "accuracy", "val_loss", "val_accuracy"):
                assert together[k].history[key] == history.history[key], (layers, k, key)
            np.testing.assert_array_equal(mlps[k].params, alone.params)
            np.testing.assert_array_equal(mlps[k].optimizer.velocity, alone.optimizer.velocity)


@pytest.mark.parametrize("N", [0, 21])
def test_a_non_finite_gradient_entry_marks_only_its_network(N):
    """gradient_finite is per network, in either layout: an inf in one network's first layer or
    a NaN in another's output layer marks that network alone, and its reported sum is fit's."""
    layers, K = [6, 5, 4, 3], 4
    mlps = [MLP(layers, seed=k, dtype=np.float64) for k in range(K)]
    stack = StackedStep(mlps, [SGD() for _ in mlps], 8, one_hot=True)
    stack.layout = StackLayout(weight_shapes(layers), K, N)
    stack.G = np.zeros(stack.layout.size)
    stack._ones = np.ones_like(stack.G)
    first, _, out = stack.layout.matrices(stack.G)
    assert stack.gradient_finite().tolist() == [True] * K
    first[1][2, 3] = np.inf
    out[3][0, 1] = np.nan
    assert stack.gradient_finite().tolist() == [True, False, True, False]
    assert np.isinf(np.add.reduce(stack.gradient(1))) and np.isnan(stack.gradient(3).sum())
