"""The training steps' stop on a non-finite gradient: every entry finite is the rule, whatever the
sum of the entries does, in `fit`'s step and per network in `fit_many`'s stack."""

from __future__ import annotations

import numpy as np
import pytest

from numpy_mlp import MLP, SGD
from numpy_mlp.training.fast import FastStep, all_finite
from numpy_mlp.training.stacked import StackedStep


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


def test_a_non_finite_gradient_entry_marks_only_its_network():
    """An inf in one network's first layer, a NaN in another's output layer, finite entries
    whose sum overflows in a third: only the first two are marked."""
    layers, K = [6, 5, 4, 3], 4
    mlps = [MLP(layers, seed=k, dtype=np.float32) for k in range(K)]
    stack = StackedStep(mlps, [SGD() for _ in mlps], 8, one_hot=True)
    first, _, out = stack.dW
    assert stack.gradient_finite().tolist() == [True] * K
    first[1][2, 3] = np.inf
    out[3][0, 1] = np.nan
    stack.G[2] = 3e38
    with np.errstate(over="ignore", invalid="ignore"):
        assert stack.gradient_finite().tolist() == [True, False, True, False]
