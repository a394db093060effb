"""The pieces training is made of, each on its own: the one SGD update on every layout, the fast
step under every optimizer option and random shapes, minibatch prefetching, early stopping, atomic
writes."""

from __future__ import annotations

import os

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from numpy_mlp import MLP, SGD, EarlyStopping
from numpy_mlp.io.atomic import atomic_open
from numpy_mlp.model.parameters import flat_views, l2_mask, weight_shapes
from numpy_mlp.training.batches import PrefetchedBatches
from numpy_mlp.training.fast import FastStep, ReferenceStep
from numpy_mlp.training.optimizers import momentum_update
from tests.strategies import layer_lists, optimizers


@settings(max_examples=40, deadline=None)
@given(
    layers=layer_lists,
    configs=st.lists(optimizers, min_size=1, max_size=3),
    seed=st.integers(0, 2**16),
)
def test_one_update_serves_a_matrix_a_flat_buffer_and_a_stack(layers, configs, seed):
    """momentum_update on the flat buffer (the fast step) and on a (K, T) stack with per-network
    columns (fit_many) = SGD.step matrix by matrix, to the last bit, for every option."""
    rng = np.random.default_rng(seed)
    shapes = weight_shapes(layers)
    start = rng.normal(size=(len(configs), sum(r * c for r, c in shapes))).astype(np.float32)
    per_matrix = [SGD(**c) for c in configs]
    plain_W = [[W.copy() for W in flat_views(row, shapes)] for row in start]
    flat_P, flat_V = start.copy(), np.zeros_like(start)
    stack_P, stack_V = start.copy(), np.zeros_like(start)
    masks = [l2_mask(shapes, c["weight_decay"], np.float32) for c in configs]
    for t in range(3):
        grads = rng.normal(size=start.shape).astype(np.float32)
        etas = [c["learning_rate"] / (1.0 + c["decay"] * t) for c in configs]
        for k, c in enumerate(configs):
            per_matrix[k].step(plain_W[k], [G.copy() for G in flat_views(grads[k], shapes)])
            l2 = masks[k] if c["weight_decay"] else None
            momentum_update(
                flat_P[k], grads[k].copy(), flat_V[k], etas[k], c["momentum"], c["nesterov"], l2
            )
        column = lambda key: np.array([[c[key]] for c in configs])  # noqa: E731
        momentum_update(
            stack_P, grads.copy(), stack_V, np.array([[e] for e in etas], np.float32),
            column("momentum").astype(np.float32), column("nesterov"), np.stack(masks),
        )  # fmt: skip
    for k in range(len(configs)):
        expected = np.concatenate([W.ravel() for W in plain_W[k]])
        np.testing.assert_array_equal(flat_P[k], expected)
        np.testing.assert_array_equal(stack_P[k], expected)
        np.testing.assert_array_equal(flat_V[k], per_matrix[k].velocity)
        np.testing.assert_array_equal(stack_V[k], per_matrix[k].velocity)


def _near_ties(Z: np.ndarray, rtol: float) -> int:
    """Rows of logits Z whose two largest entries are within rtol of the largest |Z| (at least one
    float32 ulp of it): where paths that round differently may pick different classes."""
    if Z.shape[1] < 2:
        return 0
    top2 = np.sort(Z, axis=1)[:, -2:]
    scale = max(float(np.abs(Z).max()), np.finfo(np.float32).tiny)
    return int(np.count_nonzero(top2[:, 1] - top2[:, 0] <= rtol * scale))


@settings(max_examples=40, deadline=None)
@given(
    layers=layer_lists,
    config=optimizers,
    batch=st.integers(1, 16),
    n=st.integers(1, 40),
    seed=st.integers(0, 2**16),
    activation=st.sampled_from(["tanh", "logistic", "relu"]),
    dtype=st.sampled_from([np.float64, np.float32]),
)
@example(
    layers=[784, 50, 50, 10], config={"learning_rate": 0.01, "momentum": 0.9, "decay": 1e-3,
    "nesterov": False, "weight_decay": 0.0}, batch=64, n=150, seed=0, activation="tanh",
    dtype=np.float32,
)  # fmt: skip
def test_fast_step_matches_the_reference_on_random_shapes(
    layers, config, batch, n, seed, activation, dtype
):
    """The fast step against the readable one (MLP.gradients + SGD.step), step by step: random
    networks and the tutorial's, batch sizes with a partial last batch, every optimizer option and
    activation, float64 (to 1e-12) and float32 (to 2e-5 of the largest weight: both sum the same
    products in different orders)."""
    rtol = 1e-12 if dtype == np.float64 else 2e-5
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, layers[0])).astype(dtype)
    Y = np.eye(layers[-1], dtype=dtype)[rng.integers(0, layers[-1], n)]
    fast_model = MLP(layers, activation=activation, seed=seed, dtype=dtype)
    ref_model = fast_model.copy()
    fast = FastStep(fast_model, SGD(**config), batch_size=batch)
    ref = ReferenceStep(ref_model, SGD(**config))
    order = rng.permutation(n)
    for step, start in enumerate(range(0, n, batch)):
        idx = order[start : start + batch]
        ties = _near_ties(ref_model.logits(X[idx]), rtol) if dtype == np.float32 else 0
        loss_fast, hits_fast = fast(X, Y, idx)
        loss_ref, hits_ref = ref(X, Y, idx)
        assert loss_fast == pytest.approx(loss_ref, rel=rtol, abs=1e-14), f"step {step}"
        # float32 weights agree to rounding, so a row whose two best logits agree to rounding
        # may be counted by one path and not the other; every other row must count the same
        assert abs(hits_fast - hits_ref) <= ties, f"step {step}"
        for l, (mine, theirs) in enumerate(zip(fast_model.weights, ref_model.weights, strict=True)):
            err = np.abs(mine - theirs).max() / max(np.abs(theirs).max(), 1e-30)
            assert err <= rtol, f"step {step}, W{l}: fast vs reference {err:.2e} > {rtol:g}"


def test_fast_step_writes_into_the_models_own_buffer():
    mlp = MLP((4, 3, 2), seed=0)
    before = mlp.params.copy()
    views = mlp.weights
    step = FastStep(mlp, SGD(learning_rate=0.1), batch_size=4)
    X, Y = np.ones((4, 4), np.float32), np.eye(2, dtype=np.float32)[[0, 1, 0, 1]]
    step(X, Y, np.arange(4))
    assert mlp.weights is views  # no matrix was swapped out
    assert not np.array_equal(mlp.params, before)
    assert np.shares_memory(mlp.weights[0], mlp.params)


@settings(max_examples=25, deadline=None)
@given(n=st.integers(1, 300), batch=st.integers(1, 70), chunk=st.integers(1, 5))
def test_prefetched_batches_are_exactly_the_ordered_rows(n, batch, chunk):
    rng = np.random.default_rng(n)
    X = rng.normal(size=(n, 3))
    Y = rng.normal(size=(n, 2))
    order = rng.permutation(n)
    seen_X, seen_Y, sizes = [], [], []
    with PrefetchedBatches(X, Y, batch, chunk_batches=chunk) as batches:
        for A_in, Yb in batches.epoch(order):
            assert np.all(A_in[:, 0] == 1.0)  # the bias unit column
            seen_X.append(A_in[:, 1:].copy())
            seen_Y.append(Yb.copy())
            sizes.append(A_in.shape[0])
    np.testing.assert_array_equal(np.concatenate(seen_X), X[order])
    np.testing.assert_array_equal(np.concatenate(seen_Y), Y[order])
    assert sizes == [min(batch, n - s) for s in range(0, n, batch)]


def test_prefetched_batches_need_the_context_manager():
    batches = PrefetchedBatches(np.zeros((4, 2)), np.zeros((4, 1)), 2)
    with pytest.raises(RuntimeError, match="context manager"):
        next(batches.epoch(np.arange(4)))


def test_early_stopping_in_max_mode_stops_and_restores_the_best_weights():
    mlp = MLP((2, 3, 2), seed=0)
    stopper = EarlyStopping("val_accuracy", patience=2, mode="max", restore_best_weights=True)
    stopper.on_train_begin(mlp)
    assert not stopper.on_epoch_end(0, {"val_accuracy": 0.5})
    mlp.weights[0][...] = 1.0  # epoch 1 is the best
    best = [W.copy() for W in mlp.weights]
    assert not stopper.on_epoch_end(1, {"val_accuracy": 0.8})
    mlp.weights[0][...] = 2.0
    assert not stopper.on_epoch_end(2, {"val_accuracy": 0.7})  # patience 2: the 2nd bad one stops
    mlp.weights[0][...] = 3.0
    assert stopper.on_epoch_end(3, {"val_accuracy": 0.79})
    stopper.on_train_end()
    assert stopper.best_epoch == 1 and stopper.stopped_epoch == 3
    for W, expected in zip(mlp.weights, best, strict=True):
        np.testing.assert_array_equal(W, expected)


def test_early_stopping_names_a_missing_metric():
    stopper = EarlyStopping("val_loss")
    stopper.on_train_begin(MLP((2, 3, 2)))
    with pytest.raises(KeyError, match="pass validation data"):
        stopper.on_epoch_end(0, {"loss": 1.0})


def test_atomic_open_replaces_the_file_only_on_success(tmp_path):
    target = tmp_path / "out.txt"
    target.write_text("old")
    with pytest.raises(RuntimeError, match="half way"), atomic_open(target, "w") as handle:
        handle.write("new, but incomplete")
        raise RuntimeError("half way")
    assert target.read_text() == "old"
    with atomic_open(target, "w") as handle:
        handle.write("new")
    assert target.read_text() == "new"
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]  # no temporary file left
    mask = os.umask(0)
    os.umask(mask)
    assert target.stat().st_mode & 0o777 == 0o666 & ~mask


def test_parameter_count_is_every_weight_of_the_model():
    from numpy_mlp import MLP
    from numpy_mlp.model.parameters import parameter_count

    assert parameter_count((784, 50, 50, 10)) == 785 * 50 + 51 * 50 + 51 * 10 == 42_310
    for sizes in [(3, 2), (5, 4, 3, 2), (1, 1, 2)]:
        assert (
            parameter_count(sizes)
            == MLP(sizes).params.size
            == sum(W.size for W in MLP(sizes).weights)
        )
