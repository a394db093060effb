"""NumPy against Keras: forward, gradients, one training step, one epoch (pytest-benchmark).

Each group holds NumPy and Keras side by side. NumPy runs with 1 BLAS thread, as `fit` does;
forward, gradients and the train step also run with every usable core ("all-cores"), as their own
cases. Keras functions are traced and compiled before the timed rounds; the time that took is in
extra_info["trace_seconds"]. Timings are never asserted here. pytest-benchmark times one test
after another, so the separate NumPy and Keras records do not alternate; the train-step pair
(`test_train_step_pair_alternating`) does, step by step, and gives the paired ratio.

    pytest tests/benchmarks --benchmark-enable --benchmark-only          # measure
    pytest tests/benchmarks --benchmark-enable --benchmark-autosave      # save a baseline
    pytest tests/benchmarks --benchmark-enable --benchmark-compare       # compare to it
"""

from __future__ import annotations

import itertools
import time

import numpy as np
import pytest

from compare.environment import usable_cores
from numpy_mlp import MLP, SGD
from numpy_mlp.training.fast import FastStep
from tests.benchmarks.conftest import BATCH, DTYPE, LAYERS, traced
from tests.conftest import keras_or_skip

pytestmark = pytest.mark.benchmark_suite


def _batch(train_rows, seed=0):
    X, Y = train_rows
    idx = np.random.default_rng(seed).permutation(X.shape[0])[:BATCH]
    return X, Y, idx


@pytest.fixture
def numpy_step():
    mlp = MLP(LAYERS, seed=123, dtype=DTYPE)
    return mlp, FastStep(mlp, SGD(), BATCH, one_hot=True)  # MNIST's targets, as fit sees them


@pytest.fixture
def keras_model():
    keras_or_skip()
    from keras_mlp import build_model

    return build_model(LAYERS, seed=123, dtype=DTYPE)


def _tensors(X, Y, idx):
    from keras_mlp.tf import tensorflow

    tf = tensorflow()
    return tf.constant(X[idx]), tf.constant(Y[idx])


THREADS = pytest.mark.parametrize("blas", ["1-thread", "all-cores"], indirect=True)


# -- forward -----------------------------------------------------------------------------------------


@pytest.mark.benchmark(group="forward (batch 64)")
@THREADS
def test_forward_numpy(benchmark, record, blas, train_rows, numpy_step, request):
    _, step = numpy_step
    X, Y, idx = _batch(train_rows)
    for op in step.gather_operations(X, Y, idx):
        op.run()
    ops = step.operations(BATCH)  # the forward pass: up to A_out = softmax(Z_out)
    runs = [op.run for op in ops[: 1 + [op.label for op in ops].index("A_out = exp(S) / r")]]

    def forward():
        for run in runs:
            run()
        return step.result.loss

    record(impl="numpy")
    loss = benchmark(forward)
    assert np.isfinite(loss)
    expected = 1 if request.node.callspec.id == "1-thread" else usable_cores()
    assert blas == benchmark.extra_info["blas_threads"] == expected  # pinned, and recorded so


@pytest.mark.keras
@pytest.mark.benchmark(group="forward (batch 64)")
def test_forward_keras(benchmark, record, train_rows, keras_model):
    from keras_mlp.steps import forward_fn

    Xb, _ = _tensors(*_batch(train_rows))
    forward = forward_fn(keras_model)
    record(impl="keras tf.function", trace_seconds=traced(forward, Xb))
    P = benchmark(forward, Xb)
    assert P.shape == (BATCH, 10)


# -- gradients (forward + backward) ----------------------------------------------------------------------


@pytest.mark.benchmark(group="gradients: forward + backward (batch 64)")
@THREADS
def test_gradients_numpy(benchmark, record, blas, train_rows, numpy_step):
    _, step = numpy_step
    X, Y, idx = _batch(train_rows)
    for op in step.gather_operations(X, Y, idx):
        op.run()
    runs = [op.run for op in step.operations(BATCH) if op.kind not in ("check", "update")]

    def gradients():
        for run in runs:
            run()

    record(impl="numpy")
    benchmark(gradients)
    assert np.all(np.isfinite(step.grads[0]))


@pytest.mark.keras
@pytest.mark.benchmark(group="gradients: forward + backward (batch 64)")
def test_gradients_keras(benchmark, record, train_rows, keras_model):
    from keras_mlp.steps import gradient_fn

    Xb, Yb = _tensors(*_batch(train_rows))
    backward = gradient_fn(keras_model)
    record(impl="keras tf.function", trace_seconds=traced(backward, Xb, Yb))
    loss, grads = benchmark(backward, Xb, Yb)
    assert len(grads) == 6


# -- one training step --------------------------------------------------------------------------------


# Training steps cycle through a pool of batches: one batch over and over would drive its softmax
# to extremes, and float32 denormals then slow NumPy (TensorFlow flushes them to zero).
POOL = 64


@pytest.mark.benchmark(group="train step (batch 64)")
@THREADS
def test_train_step_numpy(benchmark, record, blas, train_rows, numpy_step):
    _, step = numpy_step
    X, Y = train_rows
    order = np.random.default_rng(0).permutation(X.shape[0])
    pool = itertools.cycle([order[i * BATCH : (i + 1) * BATCH] for i in range(POOL)])
    record(impl="numpy")
    loss, _ = benchmark(lambda: step(X, Y, next(pool)))
    assert np.isfinite(loss)


@pytest.mark.keras
@pytest.mark.benchmark(group="train step (batch 64)")
def test_train_step_keras(benchmark, record, train_rows, keras_model):
    from keras_mlp.steps import train_step_fn

    X, Y = train_rows
    order = np.random.default_rng(0).permutation(X.shape[0])
    pool = itertools.cycle(
        [_tensors(X, Y, order[i * BATCH : (i + 1) * BATCH]) for i in range(POOL)]
    )
    train_step = train_step_fn(keras_model)
    record(impl="keras tf.function", trace_seconds=traced(train_step, *next(pool)))
    loss = benchmark(lambda: train_step(*next(pool)))
    assert np.isfinite(float(loss))


@pytest.mark.keras
@pytest.mark.benchmark(group="train step, NumPy then Keras alternating (batch 64)")
def test_train_step_pair_alternating(benchmark, record, blas, train_rows, numpy_step, keras_model):
    """One NumPy step then one Keras step, in turn (ABAB), so slow spells of a shared machine
    hit both; each side's time is kept and their paired ratio is in extra_info and the summary."""
    from compare.speed.stats import paired_ratios
    from keras_mlp.steps import train_step_fn

    _, step = numpy_step
    X, Y = train_rows
    order = np.random.default_rng(0).permutation(X.shape[0])
    batches = [order[i * BATCH : (i + 1) * BATCH] for i in range(POOL)]
    numpy_pool = itertools.cycle(batches)
    keras_pool = itertools.cycle([_tensors(X, Y, idx) for idx in batches])
    train_step = train_step_fn(keras_model)
    trace = traced(train_step, *next(keras_pool))
    times: dict[str, list[float]] = {"numpy": [], "keras": []}
    clock = time.perf_counter

    def pair():
        t0 = clock()
        step(X, Y, next(numpy_pool))
        t1 = clock()
        float(train_step(*next(keras_pool)))  # waits for the step to finish
        times["numpy"].append(t1 - t0)
        times["keras"].append(clock() - t1)

    benchmark(pair)
    ratio = paired_ratios(times["keras"], times["numpy"])
    record(
        impl="numpy and keras tf.function, alternating",
        trace_seconds=trace,
        numpy_median_us=float(np.median(times["numpy"])) * 1e6,
        keras_median_us=float(np.median(times["keras"])) * 1e6,
        keras_over_numpy=ratio,
    )
    assert ratio["n"] == len(times["numpy"]) >= 1 and ratio["min"] > 0


# -- one epoch --------------------------------------------------------------------------------------


@pytest.mark.benchmark(group="epoch (54,000 rows, 844 updates)")
def test_epoch_numpy(benchmark, record, blas, train_rows):
    X, Y = train_rows
    mlp = MLP(LAYERS, seed=123, dtype=DTYPE)
    record(impl="numpy fit")
    benchmark.pedantic(
        mlp.fit,
        args=(X, Y),
        kwargs={"epochs": 1, "validation_split": 0.0, "verbose": 0, "seed": 0},
        rounds=5,
        iterations=1,
        warmup_rounds=1,
    )
    assert mlp.optimizer.iterations >= 844


@pytest.mark.keras
@pytest.mark.benchmark(group="epoch (54,000 rows, 844 updates)")
@pytest.mark.parametrize(
    ("steps_per_execution", "jit_compile"),
    [(1, "auto"), (32, "auto"), (32, True)],
    ids=["defaults", "spe32", "spe32-xla"],
)
def test_epoch_keras_fit(benchmark, record, train_rows, steps_per_execution, jit_compile):
    keras_or_skip()
    from keras_mlp import build_model

    X, Y = train_rows
    model = build_model(
        LAYERS,
        seed=123,
        dtype=DTYPE,
        steps_per_execution=steps_per_execution,
        jit_compile=jit_compile,
    )
    kwargs = {"batch_size": BATCH, "epochs": 1, "verbose": 0, "shuffle": True}
    record(
        impl="keras fit",
        steps_per_execution=steps_per_execution,
        jit_compile=str(jit_compile),
        trace_seconds=traced(lambda: model.fit(X, Y, **kwargs)),
    )
    benchmark.pedantic(model.fit, args=(X, Y), kwargs=kwargs, rounds=3, iterations=1)
    assert int(model.optimizer.iterations.numpy()) >= 844 * 2


# -- the cost of recording gradient flow ------------------------------------------------------------


@pytest.mark.benchmark(group="epoch with gradient flow recorded (54,000 rows)")
@pytest.mark.parametrize("every", [0, 1, 10], ids=["off", "every-step", "every-10-steps"])
def test_epoch_numpy_gradient_flow(benchmark, record, blas, train_rows, every):
    """The same epoch as test_epoch_numpy with GradientFlow off, on every step, every 10 steps."""
    from numpy_mlp import GradientFlow

    X, Y = train_rows
    mlp = MLP(LAYERS, seed=123, dtype=DTYPE)
    record(impl="numpy fit", gradient_flow_every=every)

    def epoch():
        flow = GradientFlow(every=every) if every else None
        return mlp.fit(X, Y, epochs=1, validation_split=0.0, verbose=0, seed=0, gradient_flow=flow)

    history = benchmark.pedantic(epoch, rounds=5, iterations=1, warmup_rounds=1)
    assert ("grad_norm" in history.history) == bool(every)
