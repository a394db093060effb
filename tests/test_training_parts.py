"""The pieces training is made of, each on its own: the flat SGD update, the fast step under every
optimizer option and random shapes, minibatch prefetching, early stopping, atomic writes."""

from __future__ import annotations

import os

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from numpy_mlp import MLP, SGD, EarlyStopping
from numpy_mlp.io.atomic import atomic_open
from numpy_mlp.model.parameters import allocate
from numpy_mlp.training.batches import PrefetchedBatches
from numpy_mlp.training.fast import FastStep, ReferenceStep

layer_lists = st.lists(st.integers(1, 9), min_size=2, max_size=5).filter(lambda s: s[-1] >= 2)
optimizers = st.fixed_dictionaries(
    {
        "learning_rate": st.sampled_from([1e-3, 0.05, 0.3]),
        "momentum": st.sampled_from([0.0, 0.5, 0.9]),
        "decay": st.sampled_from([0.0, 1e-3]),
        "nesterov": st.booleans(),
        "weight_decay": st.sampled_from([0.0, 1e-3, 0.1]),
    }
)


@settings(max_examples=40, deadline=None)
@given(layers=layer_lists, config=optimizers, seed=st.integers(0, 2**16))
def test_flat_update_is_bit_for_bit_the_per_matrix_update(layers, config, seed):
    """SGD.step_flat on the whole buffer = SGD.step matrix by matrix, to the last bit."""
    rng = np.random.default_rng(seed)
    shapes = [(m + 1, d) for m, d in zip(layers[:-1], layers[1:], strict=False)]
    flat_W, views_W = allocate(shapes, np.float32)
    flat_W[:] = rng.normal(size=flat_W.shape)
    plain_W = [W.copy() for W in views_W]
    per_matrix, flat = SGD(**config), SGD(**config)
    mask = None
    if config["weight_decay"]:
        mask, mask_views = allocate(shapes, np.float32)
        for view in mask_views:
            view[1:] = config["weight_decay"]
    for _ in range(3):
        grads = [rng.normal(size=s).astype(np.float32) for s in shapes]
        per_matrix.step(plain_W, grads)
        flat.init_state(views_W)
        flat.step_flat(flat_W, np.concatenate([g.ravel() for g in grads]), mask)
    for mine, theirs in zip(views_W, plain_W, strict=True):
        np.testing.assert_array_equal(mine, theirs)
    np.testing.assert_array_equal(
        flat.velocity, np.concatenate([v.ravel() for v in per_matrix.velocities])
    )


@settings(max_examples=30, deadline=None)
@given(
    layers=layer_lists,
    config=optimizers,
    batch=st.integers(1, 16),
    n=st.integers(1, 40),
    seed=st.integers(0, 2**16),
    activation=st.sampled_from(["tanh", "logistic", "relu"]),
)
def test_fast_step_matches_the_reference_on_random_shapes(
    layers, config, batch, n, seed, activation
):
    """Random networks, batch sizes (partial last batch included), every optimizer option and
    every activation."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, layers[0]))
    Y = np.eye(layers[-1])[rng.integers(0, layers[-1], n)]
    fast_model = MLP(layers, activation=activation, seed=seed, dtype=np.float64)
    ref_model = fast_model.copy()
    fast = FastStep(fast_model, SGD(**config), batch_size=batch)
    ref = ReferenceStep(ref_model, SGD(**config))
    order = rng.permutation(n)
    for start in range(0, n, batch):
        idx = order[start : start + batch]
        loss_fast, hits_fast = fast(X, Y, idx)
        loss_ref, hits_ref = ref(X, Y, idx)
        assert loss_fast == pytest.approx(loss_ref, rel=1e-12, abs=1e-14)
        assert hits_fast == hits_ref
    for l, (mine, theirs) in enumerate(zip(fast_model.weights, ref_model.weights, strict=True)):
        np.testing.assert_allclose(mine, theirs, rtol=1e-12, atol=1e-14, err_msg=f"W{l}")


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
    stopper = EarlyStopping("val_accuracy", patience=1, mode="max")
    stopper.on_train_begin(mlp)
    assert not stopper.on_epoch_end(0, {"val_accuracy": 0.5})
    mlp.weights[0][...] = 1.0  # epoch 1 is the best
    best = [W.copy() for W in mlp.weights]
    assert not stopper.on_epoch_end(1, {"val_accuracy": 0.8})
    mlp.weights[0][...] = 2.0
    assert not stopper.on_epoch_end(2, {"val_accuracy": 0.7})  # patience 1: one bad epoch allowed
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
