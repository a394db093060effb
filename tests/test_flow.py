"""Gradient flow: per-layer gradient norms and update ratios, at one batch and during fit."""

from __future__ import annotations

import numpy as np
import pytest

from numpy_mlp import MLP, SGD, GradientFlow, gradient_norms


def _data(n=32, d=5, k=3, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, d)), rng.integers(0, k, n)


def test_gradient_norms_are_the_frobenius_norms_of_backprop():
    X, y = _data()
    mlp = MLP((5, 4, 4, 3), seed=1, dtype=np.float64)
    expected = [np.sqrt((G**2).sum()) for G in mlp.gradients(X, y)]
    np.testing.assert_allclose(gradient_norms(mlp, X, y), expected, rtol=1e-15)


@pytest.mark.parametrize("engine", ["fast", "reference"])
def test_one_step_epoch_records_exactly_that_steps_norms_and_update(engine):
    """One batch = one step per epoch: the recorded values can be recomputed by hand."""
    X, y = _data()
    mlp = MLP((5, 4, 4, 3), seed=1, dtype=np.float64)
    before = [W.copy() for W in mlp.weights]
    expected_norms = gradient_norms(mlp, X, y)
    history = mlp.fit(
        X,
        y,
        epochs=1,
        batch_size=32,
        validation_split=0.0,
        shuffle=False,
        verbose=0,
        engine=engine,
        optimizer=SGD(learning_rate=0.1),
        gradient_flow=GradientFlow(every=1),
    )
    (norms,) = history.history["grad_norm"]
    (ratios,) = history.history["update_ratio"]
    np.testing.assert_allclose(norms, expected_norms, rtol=1e-12)
    moved = [
        np.linalg.norm(W - B) / np.linalg.norm(B) for W, B in zip(mlp.weights, before, strict=True)
    ]
    np.testing.assert_allclose(ratios, moved, rtol=1e-10)
    assert history.history["flow_steps"] == [1]


def test_sampling_every_k_steps_and_engines_agree():
    X, y = _data(n=200)
    runs = {}
    for engine in ("fast", "reference"):
        mlp = MLP((5, 6, 3), seed=2, dtype=np.float64)
        runs[engine] = mlp.fit(
            X,
            y,
            epochs=2,
            batch_size=20,
            seed=0,
            verbose=0,
            engine=engine,
            gradient_flow=GradientFlow(every=4),
        ).history
    # 180 training rows / 20 = 9 steps an epoch; steps 1, 5, 9, 13, 17 of 18 are recorded
    assert runs["fast"]["flow_steps"] == [3, 2]
    for key in ("grad_norm", "update_ratio"):
        np.testing.assert_allclose(runs["fast"][key], runs["reference"][key], rtol=1e-10)
        assert all(len(per_layer) == 2 for per_layer in runs["fast"][key])


def test_off_by_default_and_every_is_validated():
    X, y = _data()
    history = MLP((5, 4, 3), seed=0).fit(X, y, epochs=1, verbose=0)
    assert "grad_norm" not in history.history and "update_ratio" not in history.history
    with pytest.raises(ValueError, match="every must be a positive integer"):
        GradientFlow(every=0)


def test_epoch_line_skips_the_per_layer_lists(capsys):
    X, y = _data()
    MLP((5, 4, 3), seed=0).fit(X, y, epochs=1, verbose=2, gradient_flow=GradientFlow(every=1))
    line = capsys.readouterr().out
    assert "loss:" in line and "grad_norm" not in line
