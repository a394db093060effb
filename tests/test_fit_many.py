"""fit_many: K networks trained together equal `fit` network by network (float64, to the last bit),
whatever their shapes, activations and optimizer options; one diverging network leaves the others."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from numpy_mlp import MLP, SGD, EarlyStopping, GradientFlow, fit, fit_many
from tests.strategies import layer_lists, optimizers


def _data(n, d, k, seed):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, d)), rng.integers(0, k, n)


def _without_time(history) -> dict:
    return {key: v for key, v in history.history.items() if key != "seconds"}


@settings(max_examples=30, deadline=None)
@given(
    layers=layer_lists,
    configs=st.lists(optimizers, min_size=1, max_size=3),
    activation=st.sampled_from(["tanh", "logistic", "relu"]),
    n=st.integers(2, 60),
    batch=st.integers(1, 20),
    seed=st.integers(0, 2**16),
)
def test_each_network_ends_where_fit_alone_takes_it(layers, configs, activation, n, batch, seed):
    X, y = _data(n, layers[0], layers[-1], seed)
    kwargs = dict(epochs=2, batch_size=batch, validation_split=0.25, seed=seed, verbose=0)
    alone = []
    for c in configs:
        mlp = MLP(layers, activation=activation, seed=seed, dtype=np.float64)
        try:
            history = fit(mlp, X, y, optimizer=SGD(**c), **kwargs)
        except FloatingPointError as exc:  # diverged: fit_many must say the same
            history = exc.history
            history.diverged = exc
        alone.append((mlp, history))
    mlps = [MLP(layers, activation=activation, seed=seed, dtype=np.float64) for _ in configs]
    together = fit_many(mlps, [SGD(**c) for c in configs], X, y, **kwargs)
    for k, ((mlp, expected), mine, got) in enumerate(zip(alone, mlps, together, strict=True)):
        where = f"network {k} ({configs[k]})"
        assert _without_time(got) == _without_time(expected), where
        np.testing.assert_array_equal(mine.params, mlp.params, err_msg=where)
        np.testing.assert_array_equal(
            mine.optimizer.velocity, mlp.optimizer.velocity, err_msg=where
        )
        assert mine.optimizer.iterations == mlp.optimizer.iterations, where
        assert (got.diverged is None) == (expected.diverged is None), where
        if got.diverged is not None:
            assert str(got.diverged) == str(expected.diverged), where


def test_a_diverging_network_leaves_the_stack_and_the_others_carry_on():
    X, y = _data(300, 6, 3, 0)
    mlps = [MLP((6, 16, 3), activation="relu", seed=1, dtype=np.float64) for _ in range(3)]
    opts = [SGD(0.05), SGD(1e30, momentum=0.9), SGD(0.01, nesterov=True)]
    histories = fit_many(mlps, opts, X, y, epochs=3, batch_size=16, seed=2)
    assert histories[0].diverged is None and histories[2].diverged is None
    assert len(histories[0].history["loss"]) == 3 and len(histories[2].history["loss"]) == 3
    bad = histories[1].diverged
    assert bad is not None and bad.history is histories[1] and "smaller learning rate" in str(bad)
    assert np.isfinite(mlps[1].params).all()  # the failing step was not applied
    lone = MLP((6, 16, 3), activation="relu", seed=1, dtype=np.float64)
    with pytest.raises(FloatingPointError) as info:
        fit(lone, X, y, epochs=3, batch_size=16, seed=2, verbose=0, optimizer=SGD(1e30, 0.9))
    assert str(info.value) == str(bad)
    np.testing.assert_array_equal(lone.params, mlps[1].params)


def test_callbacks_and_gradient_flow_per_network_as_fit_records_them():
    X, y = _data(300, 6, 3, 5)
    configs = [dict(learning_rate=0.05, momentum=0.9, decay=0.0), dict(learning_rate=0.01)]
    alone = []
    for c in configs:
        mlp = MLP((6, 12, 3), seed=0, dtype=np.float64)
        stopper = EarlyStopping(patience=1)
        h = fit(mlp, X, y, epochs=30, batch_size=8, seed=0, verbose=0, optimizer=SGD(**c),
                callbacks=[stopper], gradient_flow=GradientFlow(every=3))  # fmt: skip
        alone.append((mlp, h))
    mlps = [MLP((6, 12, 3), seed=0, dtype=np.float64) for _ in configs]
    together = fit_many(
        mlps, [SGD(**c) for c in configs], X, y, epochs=30, batch_size=8, seed=0,
        callbacks=[[EarlyStopping(patience=1)] for _ in configs], gradient_flow=GradientFlow(3),
    )  # fmt: skip
    for (mlp, expected), mine, got in zip(alone, mlps, together, strict=True):
        assert _without_time(got) == _without_time(expected)
        assert len(got.epoch) < 30  # early stopping stopped it, and restored its best weights
        np.testing.assert_array_equal(mine.params, mlp.params)
        assert len(got.history["grad_norm"][0]) == 2  # one norm per weight matrix


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: ([], []), "at least one network"),
        (lambda: ([MLP((4, 3, 2))], [SGD(), SGD()]), "1 networks but 2 optimizers"),
        (lambda: ([MLP((4, 3, 2)), MLP((4, 5, 2))], [SGD(), SGD()]), "one shape"),
        (lambda: ([MLP((4, 3, 2)), MLP((4, 3, 2), activation="relu")], [SGD(), SGD()]),
         "one shape, dtype and activation"),
        (lambda: (lambda m: ([m, m], [SGD(), SGD()]))(MLP((4, 3, 2))), "given twice"),
    ],
)  # fmt: skip
def test_fit_many_refuses_networks_it_cannot_stack(make, message):
    mlps, opts = make()
    X, y = _data(20, 4, 2, 0)
    with pytest.raises(ValueError, match=message):
        fit_many(mlps, opts, X, y, epochs=1)


class _Raises:
    """A callback whose on_train_end raises; counts the calls it sees."""

    def __init__(self, fail_at_end: bool = False, interrupt_at_batch: int | None = None) -> None:
        self.ended = 0
        self.fail_at_end = fail_at_end

    def on_train_begin(self, mlp) -> None:
        pass

    def on_epoch_end(self, epoch, logs) -> bool:
        return False

    def on_train_end(self) -> None:
        self.ended += 1
        if self.fail_at_end:
            raise RuntimeError("callback failed")


def test_every_on_train_end_runs_when_one_raises():
    X, y = _data(40, 5, 3, 0)
    mlps = [MLP((5, 4, 3), seed=k, dtype=np.float64) for k in range(3)]
    callbacks = [[_Raises()], [_Raises(fail_at_end=True)], [_Raises()]]
    with pytest.raises(RuntimeError, match="callback failed"):
        fit_many(mlps, [SGD() for _ in mlps], X, y, epochs=1, batch_size=8, callbacks=callbacks)
    assert [cbs[0].ended for cbs in callbacks] == [1, 1, 1]


def test_an_interrupt_mid_epoch_leaves_weights_velocities_and_iterations_consistent(monkeypatch):
    """Ctrl-C after 3 updates of the second epoch: each network holds the weights and velocities
    of exactly its optimizer's `iterations` updates, as fit leaves it, and on_train_end ran."""
    from numpy_mlp.training import stacked

    X, y = _data(64, 5, 3, 1)
    kwargs = dict(epochs=3, batch_size=8, validation_split=0.0, seed=4, verbose=0)
    steps_per_epoch = 8
    stop_after = steps_per_epoch + 3
    calls = {"n": 0}
    real_update = stacked.StackedStep.update

    def update(self):
        real_update(self)
        calls["n"] += 1
        if calls["n"] == stop_after:
            raise KeyboardInterrupt

    monkeypatch.setattr(stacked.StackedStep, "update", update)
    mlps = [MLP((5, 4, 3), seed=k, dtype=np.float64) for k in range(2)]
    opts = [SGD(learning_rate=0.05), SGD(learning_rate=0.1, nesterov=True)]
    callbacks = [[_Raises()], [_Raises()]]
    with pytest.raises(KeyboardInterrupt):
        fit_many(mlps, opts, X, y, callbacks=callbacks, **kwargs)
    monkeypatch.undo()
    assert [cbs[0].ended for cbs in callbacks] == [1, 1]
    for k, (mlp, opt) in enumerate(zip(mlps, opts, strict=True)):
        assert opt.iterations == stop_after
        # the same network trained by fit, interrupted after the same update
        alone = MLP((5, 4, 3), seed=k, dtype=np.float64)
        alone_opt = SGD(**opt.get_config())
        real_step = SGD.step
        count = {"n": 0}

        def step(self, weights, grads, real_step=real_step, count=count):
            real_step(self, weights, grads)
            count["n"] += 1
            if count["n"] == stop_after:
                raise KeyboardInterrupt

        monkeypatch.setattr(SGD, "step", step)
        try:
            with pytest.raises(KeyboardInterrupt):
                fit(alone, X, y, optimizer=alone_opt, engine="reference", **kwargs)
        finally:
            monkeypatch.undo()
        assert alone_opt.iterations == stop_after
        for W, W_alone in zip(mlp.weights, alone.weights, strict=True):
            np.testing.assert_allclose(W, W_alone, rtol=1e-12, atol=1e-15)
        for v, v_alone in zip(opt.velocities, alone_opt.velocities, strict=True):
            np.testing.assert_allclose(v, v_alone, rtol=1e-12, atol=1e-15)


def test_fit_many_ends_where_fit_does_in_float32_too():
    """Every history value, weight and velocity equal to fit's in float32 (the default dtype)."""
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
