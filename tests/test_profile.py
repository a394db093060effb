"""The step's list of named operations, which the profiler (numpy_mlp.training.profile) times, is the
step itself."""

from __future__ import annotations

import numpy as np
import pytest

from numpy_mlp import MLP, SGD
from numpy_mlp.training.fast import FastStep, NonFiniteLoss
from numpy_mlp.training.profile import KINDS, run_operations, step_operations

LAYERS = (12, 7, 5, 4)


def _data(dtype, n=40, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, LAYERS[0])).astype(dtype)
    Y = np.eye(LAYERS[-1], dtype=dtype)[rng.integers(0, LAYERS[-1], n)]
    return X, Y


def _pair(dtype, activation="tanh", **sgd):
    steps = []
    for _ in range(2):
        mlp = MLP(LAYERS, seed=3, dtype=dtype, activation=activation)
        steps.append(FastStep(mlp, SGD(**sgd), batch_size=16))
    return steps


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize(
    ("activation", "sgd"),
    [
        ("tanh", {"learning_rate": 0.1, "momentum": 0.9}),
        ("relu", {"learning_rate": 0.05, "momentum": 0.5, "weight_decay": 1e-3}),
    ],
    ids=["tanh-momentum", "relu-weight-decay"],
)
def test_operations_in_order_change_the_parameters_exactly_as_the_step(dtype, activation, sgd):
    X, Y = _data(dtype)
    whole, profiled = _pair(dtype, activation, **sgd)
    rng = np.random.default_rng(1)
    for m in (16, 16, 9, 16):  # a partial batch too; momentum carries over between steps
        idx = rng.choice(X.shape[0], m, replace=False)
        loss, correct = whole(X, Y, idx)
        ops = step_operations(profiled, X, Y, idx)
        run_operations(ops)
        assert np.array_equal(profiled.mlp.params, whole.mlp.params)  # bit for bit
        assert profiled.result.loss == loss
        assert profiled.result.correct == correct
    assert not np.array_equal(whole.mlp.params, MLP(LAYERS, seed=3, dtype=dtype).params)
    assert profiled.optimizer.iterations == whole.optimizer.iterations == 4


def test_every_product_and_call_is_listed_with_its_kind():
    X, Y = _data("float32")
    _, step = _pair("float32")
    ops = step_operations(step, X, Y, np.arange(16))
    kinds = [op.kind for op in ops]
    assert set(kinds) <= set(KINDS)
    # three matrices: 3 forward products, 3 weight gradients, 2 delta propagations
    assert kinds.count("product") == 8
    assert kinds.count("update") == 1 and ops[-1].kind == "update"
    assert kinds[:4] == ["gather"] * 4 and "gather" not in kinds[4:]
    assert "Z_h1 = [1|A_in] W^(0)  (16x13 @ 13x7)" in [op.label for op in ops]
    assert len({op.label for op in ops}) == len(ops)
    # the loss stops the step before backpropagation, the gradient check before the update
    labels = [op.label for op in ops]
    first_backward = next(i for i, op in enumerate(ops) if op.label.startswith("dL/dW"))
    assert labels.index("stop if L is not finite") < first_backward
    assert kinds[-2:] == ["check", "update"]


def test_the_step_runs_the_list_the_profiler_times():
    """What the step runs is the operations list itself (no copy that could drift from it)."""
    X, Y = _data("float64")
    _, step = _pair("float64")
    ops = step_operations(step, X, Y, np.arange(16))
    assert step.operations(16) is step.operations(16)  # built once per batch size
    assert [op.run for op in step.operations(16)] == step._runs[16]
    assert ops[4:] == step.operations(16)


def test_profile_module_holds_no_arithmetic():
    import inspect

    from numpy_mlp.training import profile

    source = inspect.getsource(profile)
    for call in ("np.dot", "np.matmul", "np.exp", "np.log", "np.tanh", "np.take", "np.add"):
        assert call not in source


def test_a_non_finite_loss_stops_before_the_update():
    X, Y = _data("float64")
    _, step = _pair("float64")
    X[0, 0] = np.nan
    before = step.mlp.params.copy()
    with pytest.raises(NonFiniteLoss):
        run_operations(step_operations(step, X, Y, np.arange(16)))
    assert np.array_equal(step.mlp.params, before)


def test_gradient_flow_recording_is_refused():
    from numpy_mlp import GradientFlow

    X, Y = _data("float64")
    _, step = _pair("float64")
    step.flow = GradientFlow(every=1)
    with pytest.raises(ValueError, match="gradient-flow"):
        step_operations(step, X, Y, np.arange(16))
