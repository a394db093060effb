"""The one softmax cross-entropy (numpy_mlp.model.loss): its value against the definition, its
one-hot shortcut against the general sum, a stack of networks against each network alone, and the
training paths that use it."""

from __future__ import annotations

import numpy as np
import pytest

from numpy_mlp import MLP, SGD, fit
from numpy_mlp.model import loss
from numpy_mlp.training.batches import PrefetchedBatches


def _logits(m=33, k=7, seed=0, dtype=np.float64, scale=5.0):
    rng = np.random.default_rng(seed)
    Z = (rng.normal(size=(m, k)) * scale).astype(dtype)
    labels = rng.integers(0, k, m)
    return Z, labels, np.eye(k, dtype=dtype)[labels]


def _log_softmax(Z):
    shifted = Z - Z.max(axis=1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))


@pytest.mark.parametrize("soft", [False, True], ids=["one-hot", "soft targets"])
def test_the_value_is_the_definition_to_rounding(soft):
    Z, labels, Y = _logits()
    if soft:
        Y = np.random.default_rng(1).dirichlet(np.ones(Y.shape[1]), Y.shape[0])
    expected = -(Y * _log_softmax(Z)).sum() / Z.shape[0]
    # each of the 2m summed terms carries a relative rounding error of a few eps
    assert abs(loss.cross_entropy(Z, Y) - expected) <= 8 * Z.size * np.finfo(float).eps
    L, correct, A_out = loss.softmax_cross_entropy(Z, Y)
    assert L == loss.cross_entropy(Z, Y)
    assert correct == int(np.count_nonzero(Z.argmax(axis=1) == Y.argmax(axis=1)))
    np.testing.assert_allclose(A_out.sum(axis=1), 1.0, rtol=1e-15 * Y.shape[1])


def test_a_confident_wrong_answer_gives_a_large_finite_loss():
    Z = np.array([[1000.0, -1000.0]])
    assert loss.cross_entropy(Z, np.array([[0.0, 1.0]])) == pytest.approx(2000.0)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_picking_the_label_logit_equals_summing_y_times_s_bit_for_bit(dtype):
    Z, labels, Y = _logits(dtype=dtype)
    S = loss.shifted_logits(Z)
    positions = loss.label_positions(labels, Z.shape[1])
    picked = loss.label_logits_one_hot(S.reshape(-1), positions)
    assert np.array_equal(picked, loss.label_logits(S, Y))
    assert np.array_equal(picked, S[np.arange(Z.shape[0]), labels])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_a_stack_gives_each_network_the_loss_and_count_it_gets_alone(dtype):
    stack = [_logits(seed=s, dtype=dtype) for s in range(4)]
    labels, Y = stack[0][1], stack[0][2]
    Z = np.stack([z for z, _, _ in stack])  # four networks' logits, the same batch
    S = loss.shifted_logits(Z)
    z = loss.label_logits(S, Y)
    correct = loss.count_correct(S, labels)
    together = loss.batch_loss(loss.exp_row_sums(S, out=S), z)
    for k, (Zk, _, _) in enumerate(stack):
        Sk = loss.shifted_logits(Zk)
        assert correct[k] == loss.count_correct(Sk, labels)
        zk = loss.label_logits(Sk, Y)
        assert together[k] == loss.batch_loss(loss.exp_row_sums(Sk, out=Sk), zk)


def test_delta_out_is_the_gradient_of_the_value():
    Z, _, Y = _logits(m=5, k=4)
    delta = loss.delta_out(loss.softmax(Z), Y)
    h = 1e-6
    for i, j in [(0, 0), (2, 3), (4, 1)]:
        up, down = Z.copy(), Z.copy()
        up[i, j] += h
        down[i, j] -= h
        numeric = (loss.cross_entropy(up, Y) - loss.cross_entropy(down, Y)) / (2 * h)
        assert numeric == pytest.approx(delta[i, j], abs=1e-8)


def test_fit_on_soft_targets_matches_the_reference_engine():
    """Soft targets take the general path (z = sum_j Y S, no label picking) in the fast step."""
    rng = np.random.default_rng(3)
    X = rng.normal(size=(40, 6))
    Y = rng.dirichlet(np.ones(3), 40)
    runs = {}
    for engine in ("fast", "reference"):
        mlp = MLP((6, 5, 3), seed=2, dtype=np.float64)
        h = fit(mlp, X, Y, epochs=2, batch_size=8, seed=1, verbose=0, engine=engine,
                optimizer=SGD(learning_rate=0.1))  # fmt: skip
        runs[engine] = (mlp.params, h.history)
    np.testing.assert_allclose(runs["fast"][0], runs["reference"][0], rtol=1e-12, atol=1e-14)
    for key in ("loss", "accuracy", "val_loss"):
        np.testing.assert_allclose(runs["fast"][1][key], runs["reference"][1][key], rtol=1e-12)


def test_prefetched_labels_and_positions_point_at_each_rows_label():
    rng = np.random.default_rng(0)
    n, k, batch = 53, 4, 8
    labels = rng.integers(0, k, n)
    X, Y = rng.normal(size=(n, 3)), np.eye(k)[labels]
    order = rng.permutation(n)
    seen = []
    with PrefetchedBatches(X, Y, batch, chunk_batches=3, labels=labels) as batches:
        for _, Yb, lb, positions in batches.epoch(order):
            assert np.array_equal(lb, Yb.argmax(axis=1))
            assert np.array_equal(positions, np.arange(len(lb)) * k + lb)
            assert np.all(Yb.reshape(-1)[positions] == 1.0)
            seen.append(lb.copy())
    assert np.array_equal(np.concatenate(seen), labels[order])
