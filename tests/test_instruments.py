"""The per-layer instruments (numpy_mlp.training.instruments): delta and weight gradients against
torch autograd in float64, the forward statistics against their definitions, the update ratio
against a real optimizer step, and the probe callback in fit and fit_many."""

from __future__ import annotations

import numpy as np
import pytest

from numpy_mlp import MLP, SGD, LayerProbe, fit, fit_many, gradient_norms, layer_stats
from numpy_mlp.training.instruments import saturation, unit_spread

SIZES = (12, 7, 7, 7, 4)


def _data(n: int = 9, seed: int = 0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, SIZES[0])), rng.integers(0, SIZES[-1], size=n)


def _torch_reference(mlp: MLP, X: np.ndarray, y: np.ndarray):
    """(delta per layer, dL/dW per matrix, [1|A] per matrix) from torch autograd, float64."""
    torch = pytest.importorskip("torch", reason="torch is not installed: no autograd oracle")
    f = {"tanh": torch.tanh, "logistic": torch.sigmoid, "relu": torch.relu}[mlp.activation.name]
    Ws = [torch.tensor(W, dtype=torch.float64, requires_grad=True) for W in mlp.weights]
    A = torch.tensor(X, dtype=torch.float64)
    Zs, inputs = [], []
    for i, W in enumerate(Ws):
        A1 = torch.cat([torch.ones(A.shape[0], 1, dtype=torch.float64), A], dim=1)
        inputs.append(A1)
        Z = A1 @ W
        Zs.append(Z)
        A = f(Z) if i < len(Ws) - 1 else Z
    loss = torch.nn.functional.cross_entropy(A, torch.tensor(y))  # batch mean, from the logits
    grads = torch.autograd.grad(loss, [*Zs, *Ws])
    deltas, dWs = grads[: len(Zs)], grads[len(Zs) :]
    return (
        [d.numpy() for d in deltas],
        [g.numpy() for g in dWs],
        [a.detach().numpy() for a in inputs],
        float(loss.detach()),
    )


@pytest.mark.parametrize(
    "activation,init",
    [("tanh", "glorot_uniform"), ("logistic", "glorot_uniform"), ("relu", "he_uniform")],
)
def test_delta_and_weight_gradients_match_torch_autograd(activation, init):
    mlp = MLP(SIZES, activation=activation, init=init, seed=3, dtype=np.float64)
    X, y = _data()
    stats = layer_stats(mlp, X, y)
    deltas, dWs, inputs, loss = _torch_reference(mlp, X, y)
    # float64 rounding: a few ulps per operation over a handful of small products
    np.testing.assert_allclose(stats.delta_norm, [np.linalg.norm(d) for d in deltas], rtol=1e-12)
    np.testing.assert_allclose(stats.grad_norm, [np.linalg.norm(g) for g in dWs], rtol=1e-12)
    assert stats.loss == pytest.approx(loss, rel=1e-12)
    for A1, delta, dW in zip(inputs, deltas, dWs, strict=True):
        # the identity the decomposition rests on: dL/dW^(l) = [1 | A^(l)]^T delta^(l+1)
        np.testing.assert_allclose(A1.T @ delta, dW, rtol=1e-12, atol=1e-17)
    assert len(stats.delta_norm) == len(stats.grad_norm) == len(mlp.weights)
    assert stats.grad_norm == pytest.approx(gradient_norms(mlp, X, y), rel=1e-12)


def test_forward_statistics_follow_their_definitions():
    mlp = MLP(SIZES, activation="tanh", seed=1, dtype=np.float64)
    X, y = _data(n=20)
    stats = layer_stats(mlp, X, y)
    activations = mlp.forward(X)
    for l, A in enumerate(activations[1:-1]):
        h = A[:, 1:]
        assert stats.mean_activation[l] == pytest.approx(h.mean(), rel=1e-12)
        assert stats.unit_spread[l] == pytest.approx(h.std(axis=0).mean(), rel=1e-12)
        assert stats.saturation[l] == np.mean(np.abs(h) > 0.97)
    assert stats.logit_spread == pytest.approx(mlp.logits(X).std(axis=0).mean(), rel=1e-12)
    assert len(stats.unit_spread) == len(SIZES) - 2


def test_saturation_rules_flip_at_their_thresholds():
    assert saturation("tanh", np.array([[0.969, -0.5]])) == 0.0
    assert saturation("tanh", np.array([[0.971, -0.975]])) == 1.0
    assert saturation("logistic", np.array([[0.031, 0.969]])) == 0.0
    assert saturation("logistic", np.array([[0.029, 0.5], [0.971, 0.5]])) == 0.5
    # relu: a unit is dead when it is 0 on every row; one active row keeps it alive
    A = np.array([[0.0, 0.0, 1.0], [0.0, 2.0, 0.0]])
    assert saturation("relu", A) == pytest.approx(1 / 3)
    with pytest.raises(ValueError, match="softsign"):
        saturation("softsign", A)


def test_unit_spread_is_zero_for_a_layer_that_ignores_its_input():
    assert unit_spread(np.tile([[0.3, -0.2]], (5, 1))) == 0.0
    assert unit_spread(np.array([[0.0, 1.0], [2.0, 1.0]])) == pytest.approx(0.5)


@pytest.mark.parametrize("nesterov,weight_decay", [(False, 0.0), (True, 1e-3)])
def test_update_ratio_is_the_optimizers_next_step(nesterov, weight_decay):
    mlp = MLP(SIZES, seed=2, dtype=np.float64)
    X, y = _data()
    opt = SGD(learning_rate=0.05, momentum=0.9, decay=1e-2, nesterov=nesterov,
              weight_decay=weight_decay)  # fmt: skip
    opt.init_state(mlp.weights)
    opt.iterations = 7
    opt.velocity[...] = np.random.default_rng(5).normal(scale=1e-2, size=opt.velocity.shape)
    velocity = opt.velocity.copy()
    stats = layer_stats(mlp, X, y, opt)
    assert opt.iterations == 7 and np.array_equal(opt.velocity, velocity)  # nothing changed
    before = [W.copy() for W in mlp.weights]
    opt.step(mlp.weights, mlp.gradients(X, y))
    expected = [
        np.linalg.norm(W - B) / np.linalg.norm(B) for W, B in zip(mlp.weights, before, strict=True)
    ]
    np.testing.assert_allclose(stats.update_ratio, expected, rtol=1e-12)
    assert layer_stats(mlp, X, y).update_ratio is None  # a fresh model has no optimizer


def test_probe_records_at_start_and_every_epoch_and_fit_many_agrees_with_fit():
    X, y = _data(n=40, seed=4)
    probe_X, probe_y = X[:10], y[:10]
    alone = MLP(SIZES, seed=6, dtype=np.float64)
    probe = LayerProbe(probe_X, probe_y)
    start = layer_stats(alone, probe_X, probe_y)
    fit(alone, X, y, epochs=3, batch_size=8, optimizer=SGD(0.05), validation_split=0.0,
        seed=0, verbose=0, callbacks=[probe])  # fmt: skip
    assert len(probe.epochs) == 3
    assert probe.at_start.delta_norm == start.delta_norm
    assert probe.epochs[-1].grad_norm == layer_stats(alone, probe_X, probe_y).grad_norm
    assert probe.epochs[0].grad_norm != start.grad_norm  # measured on the trained weights

    mlps = [MLP(SIZES, seed=6, dtype=np.float64), MLP(SIZES, seed=7, dtype=np.float64)]
    probes = [LayerProbe(probe_X, probe_y), LayerProbe(probe_X, probe_y)]
    fit_many(mlps, [SGD(0.05), SGD(0.05)], X, y, epochs=3, batch_size=8, validation_split=0.0,
             seed=0, callbacks=[[p] for p in probes])  # fmt: skip
    for ours, theirs in zip(probes[0].epochs, probe.epochs, strict=True):
        np.testing.assert_allclose(ours.delta_norm, theirs.delta_norm, rtol=1e-12)
        np.testing.assert_allclose(ours.unit_spread, theirs.unit_spread, rtol=1e-12)
        np.testing.assert_allclose(ours.update_ratio, theirs.update_ratio, rtol=1e-12)
    assert probes[1].epochs[0].delta_norm != probes[0].epochs[0].delta_norm


def test_an_empty_probe_is_refused():
    mlp = MLP(SIZES, seed=0)
    with pytest.raises(ValueError, match="at least one row"):
        layer_stats(mlp, np.empty((0, SIZES[0])), np.empty(0, int))
