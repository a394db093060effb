"""Shared set-up for the benchmark suite: the tutorial configuration on real MNIST, float32.

Every NumPy benchmark runs with its BLAS thread count set (the `blas` fixture: 1, as `fit` uses,
or every usable core where a test is parametrized with "all-cores"), and every record's extra_info
holds the count in force while it ran, TensorFlow's intra/inter-op threads, the machine (CPU
model, cores, BLAS library and version, frequency governor) and the load average before and after
the benchmark. The terminal summary ends with the machine's load over the session, a warning when
it was busy or a timing unstable (thresholds in compare.speed.stability), and each group's members
as multiples of the fastest, marked where the difference is within the noise.
"""

from __future__ import annotations

import time

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

from compare.environment import (
    blas_threads_in_force,
    cpu_snapshot,
    environment,
    load_average,
    machine,
    others_cpu_share,
    usable_cores,
)
from compare.speed.stats import spread
from numpy_mlp.training.loop import split_validation

LAYERS = (784, 50, 50, 10)
BATCH = 64
DTYPE = "float32"

# what the session measured: its load at the first benchmark, and every timed benchmark's spread
SESSION: dict = {"load_before": None, "cpu_before": None, "timed": {}}


@pytest.fixture(scope="session")
def train_rows(mnist):
    """The 54,000 training rows (float32) and one-hot targets, after the 10% validation split."""
    X = mnist.X_train.astype(np.float32)
    Y = np.eye(10, dtype=np.float32)[mnist.y_train]
    X_train, Y_train, _, _ = split_validation(X, Y, 0.1)
    return np.ascontiguousarray(X_train), np.ascontiguousarray(Y_train)


@pytest.fixture(scope="session")
def env_info():
    """Versions, the machine, and TensorFlow's thread settings in force (when it is installed)."""
    try:
        info = environment(with_tensorflow=True)
    except ImportError:
        return environment(with_tensorflow=False)
    from compare.environment import tf_threads

    return {**info, "tf_threads": tf_threads()}


@pytest.fixture
def blas(request):
    """BLAS threads for a NumPy benchmark: 1 (as `fit`), or every usable core when parametrized
    "all-cores" (indirect). Yields the count in force inside the limit."""
    which = getattr(request, "param", "1-thread")
    with threadpool_limits(limits=1 if which == "1-thread" else usable_cores(), user_api="blas"):
        yield blas_threads_in_force()


@pytest.fixture
def record(benchmark, env_info):
    """Fill benchmark.extra_info with versions, the machine, dtype and the threads in force (call
    it inside the test, where the `blas` limit holds), plus anything given; after the benchmark,
    add the load average before and after it and keep its spread for the terminal summary."""
    load_before = load_average()
    if SESSION["load_before"] is None:
        SESSION["load_before"], SESSION["cpu_before"] = load_before, cpu_snapshot()

    def fill(**extra):
        tf = env_info.get("tf_threads", {})
        benchmark.extra_info.update(
            {
                "dtype": DTYPE,
                "layers": "-".join(map(str, LAYERS)),
                "batch": BATCH,
                "numpy": env_info["numpy"],
                "blas": [f"{b['internal_api']} {b['version']}" for b in env_info["blas"]],
                "blas_threads": blas_threads_in_force(),
                "tensorflow": env_info.get("tensorflow"),
                "tf_intra_op_threads": tf.get("intra_op"),
                "tf_inter_op_threads": tf.get("inter_op"),
                **{k: env_info.get(k) for k in ("cpu_model", "cores", "usable_cores", "governor")},
                **extra,
            }
        )

    yield fill
    benchmark.extra_info["load_before"] = load_before
    benchmark.extra_info["load_after"] = load_average()
    timed = benchmark.stats.stats if benchmark.stats is not None else None
    if timed is not None and timed.rounds:
        SESSION["timed"][benchmark.name] = {
            "group": benchmark.group,
            **spread(timed.data),  # the rounds' times, summarised as every other timing is
            "keras_over_numpy": benchmark.extra_info.get("keras_over_numpy"),  # alternating pairs
        }


@pytest.hookimpl(trylast=True)  # after pytest-benchmark's tables
def pytest_terminal_summary(terminalreporter):
    """The machine's load over the timed benchmarks, the warnings, each group's comparison."""
    from compare.speed.stability import group_text, warnings

    timed = SESSION["timed"]
    if not timed:  # benchmarks ran once as tests (no --benchmark-enable): nothing was timed
        return
    state = {**machine(), "load_before": SESSION["load_before"], "load_after": load_average()}
    state["others_cpu_share"] = others_cpu_share(SESSION["cpu_before"], cpu_snapshot())
    write = terminalreporter.write_line
    terminalreporter.section("benchmark machine state")
    write(
        f"{state['cpu_model']}, {state['usable_cores']} usable cores; 1-minute load average "
        f"{state['load_before'][0]:.2f} at the first benchmark, {state['load_after'][0]:.2f} "
        "at the end"
        + (
            f"; other processes used {state['others_cpu_share']:.0%} of the CPU time meanwhile"
            if state["others_cpu_share"] is not None
            else ""
        )
    )
    found = warnings(state, timed)
    for warning in found:
        write(f"WARNING: {warning}.", yellow=True, bold=True)
    if not found:
        write("No warning: the load and every benchmark's spread stayed within the thresholds.")
    groups: dict[str, dict] = {}
    for name, s in timed.items():
        groups.setdefault(s["group"] or name, {})[name] = s
    for group, members in groups.items():
        if len(members) > 1:
            write(f"{group}:")
            for line in group_text(members):
                write(f"  {line}")
    for name, s in timed.items():
        r = s["keras_over_numpy"]
        if r:
            write(
                f"{name}: Keras / NumPy per alternating pair, median {r['median']:.2f}x "
                f"(quartiles {r['q1']:.2f}-{r['q3']:.2f}x) over {r['n']:,} pairs"
            )


def traced(fn, *args) -> float:
    """Call fn once (tracing, compilation, warm-up) and return how long that took."""
    started = time.perf_counter()
    fn(*args)
    return time.perf_counter() - started
