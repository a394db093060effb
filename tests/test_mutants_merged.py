"""Tests for the mutants that survived the mutation run on the merged main (tools/mutate.py,
seed 3): each pins behaviour a one-token change would break."""

from __future__ import annotations

import numpy as np

from numpy_mlp import MLP, SGD, EarlyStopping, GradientFlow, fit_many


def test_fast_step_matches_backprop_when_hidden_widths_differ():
    """The fast step's buffers are per layer; with unequal widths a wrong buffer index cannot
    go unnoticed (it would not even have the right shape)."""
    from numpy_mlp.training.fast import fast_gradients

    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(9, 5)), rng.integers(0, 3, size=9)
    for activation in ("tanh", "logistic", "relu"):
        mlp = MLP((5, 7, 4, 3), activation=activation, seed=2, dtype="float64")
        for fast, reference in zip(fast_gradients(mlp, X, y), mlp.gradients(X, y), strict=True):
            np.testing.assert_allclose(fast, reference, rtol=1e-12, atol=1e-15)


def test_fit_many_with_one_network_records_gradient_flow():
    rng = np.random.default_rng(1)
    X, y = rng.normal(size=(40, 4)), rng.integers(0, 3, size=40)
    [history] = fit_many([MLP((4, 6, 3), seed=0)], [SGD(learning_rate=0.1)], X, y, epochs=2,
                         batch_size=8, validation_split=0.0, gradient_flow=GradientFlow(every=1),
                         verbose=0)  # fmt: skip
    assert len(history.history["loss"]) == 2
    assert any(key.startswith("grad_norm") for key in history.history)


def test_defaults_are_keras_and_the_readme_s():
    """EarlyStopping is silent by default, as Keras's (verbose=0); GradientFlow records every
    10th step by default, as the README says."""
    assert EarlyStopping().verbose == 0
    assert GradientFlow().every == 10


def test_relu_check_leaves_out_entries_whose_step_crosses_a_kink():
    """A ReLU unit 1e-7 from its kink on one example: the steps that feed it move it across, so
    those entries are counted as kinks and left out, and a right backprop still passes."""
    from numpy_mlp.checks.gradcheck import check_gradients

    rng = np.random.default_rng(3)
    mlp = MLP((4, 6, 3), activation="relu", seed=1, dtype="float64")
    X, y = rng.normal(size=(12, 4)), rng.integers(0, 3, size=12)
    W = mlp.weights[0]
    W[0, 0] = 1e-7 - X[0] @ W[1:, 0]  # Z_h[0, 0] = 1e-7: unit 0 of example 0 sits at its kink
    results = check_gradients(mlp, X, y)
    assert results[0].kinks > 0
    assert all(r.passed for r in results)
