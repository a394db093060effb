"""Timing primitives: FLOP counts, the matrix-product peak, training steps, one epoch, and one
NumPy step operation by operation.

Every number is measured in this process on this machine, NumPy's with its BLAS thread count set
explicitly (threadpoolctl) and the count in force recorded. The NumPy step is numpy_mlp's FastStep
(the step `fit` uses, batch gather included); the Keras step is a compiled tf.function train step
on tensors prepared in advance (its input pipeline is not timed), traced before timing. An epoch
is a whole `fit` epoch on either side.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence

import numpy as np
from threadpoolctl import threadpool_limits

from compare.config import TUTORIAL
from numpy_mlp.io.children import die_with_parent


def train_flops(layers: Sequence[int], rows: int) -> float:
    """Floating-point operations of one training pass over `rows` rows (multiply-add = 2).

    Per row: forward 2 sum(m_l d_l), weight gradients the same again, and delta propagation
    2 sum(d_l m_l) for every matrix but the first (the input needs no delta). m_l excludes bias units
    (their products are additions, not counted). 784-50-50-10: 174,800 per row, 9.44 GFLOP for
    54,000 rows.
    """
    products = [a * b for a, b in zip(layers[:-1], layers[1:], strict=False)]
    return float(rows) * (4 * sum(products) + 2 * sum(products[1:]))


def median_time(fn: Callable[[], None], *, rounds: int) -> float:
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return float(np.median(times))


def matmul_peak(n: int = 2048, rounds: int = 7, threads: int | None = None) -> dict:
    """Sustained float32 GFLOP/s of an n x n matrix product with `threads` BLAS threads (default:
    every usable core), and the count in force while it ran."""
    from compare.environment import blas_threads_in_force, usable_cores

    threads = threads or usable_cores()
    rng = np.random.default_rng(0)
    A = rng.random((n, n), dtype=np.float32)
    B = rng.random((n, n), dtype=np.float32)
    out = np.empty_like(A)
    with threadpool_limits(limits=threads, user_api="blas"):
        in_force = blas_threads_in_force()
        np.matmul(A, B, out=out)
        t = median_time(lambda: np.matmul(A, B, out=out), rounds=rounds)
    return {"n": n, "seconds": t, "gflops": 2 * n**3 / t / 1e9, "blas_threads": in_force}


def _calibrate(run_steps: Callable[[int], None], target: float, lo: int = 5, hi: int = 2000) -> int:
    started = time.perf_counter()
    run_steps(lo)
    per_step = (time.perf_counter() - started) / lo
    return int(min(hi, max(lo, target / max(per_step, 1e-9))))


class NumpySteps:
    """Training steps of numpy_mlp's FastStep (the step `fit` uses, batch gather included) with
    `threads` BLAS threads; each call times `steps` of them (calibrated to about `target` seconds)
    and returns seconds per step. `blas_threads` is the count in force while they ran."""

    def __init__(self, layers, batch: int, X, Y, *, threads: int, target: float) -> None:
        from compare.environment import blas_threads_in_force
        from numpy_mlp import MLP, SGD
        from numpy_mlp.training.fast import FastStep

        self.step = FastStep(MLP(layers, seed=0, dtype=np.float32), SGD(), batch, one_hot=True)
        rng = np.random.default_rng(0)
        self.pool = [rng.choice(X.shape[0], batch, replace=False) for _ in range(8)]
        self.X, self.Y, self.threads = X, Y, threads
        with threadpool_limits(limits=threads, user_api="blas"):
            self.blas_threads = blas_threads_in_force()
            self.steps = _calibrate(self._run, target)

    def _run(self, k: int) -> None:
        for i in range(k):
            self.step(self.X, self.Y, self.pool[i % 8])

    def __call__(self) -> float:
        with threadpool_limits(limits=self.threads, user_api="blas"):
            started = time.perf_counter()
            self._run(self.steps)
            return (time.perf_counter() - started) / self.steps


class KerasSteps:
    """A compiled Keras train step (tf.function on tensors prepared in advance, traced first);
    each call times `steps` of them and returns seconds per step. `trace_seconds`: the tracing."""

    def __init__(self, layers, batch: int, X, Y, *, target: float, jit_compile=False) -> None:
        from keras_mlp import build_model
        from keras_mlp.steps import train_step_fn
        from keras_mlp.tf import tensorflow

        tf = tensorflow()
        self.fn = train_step_fn(
            build_model(layers, seed=0, dtype="float32"), jit_compile=jit_compile
        )
        rng = np.random.default_rng(0)
        self.pool = []
        for _ in range(8):
            idx = rng.choice(X.shape[0], batch, replace=False)
            self.pool.append((tf.constant(X[idx]), tf.constant(Y[idx])))
        started = time.perf_counter()
        float(self.fn(*self.pool[0]))
        self.trace_seconds = time.perf_counter() - started
        self.steps = _calibrate(self._run, target)

    def _run(self, k: int) -> None:
        loss = None
        for i in range(k):
            loss = self.fn(*self.pool[i % 8])
        float(loss)  # wait for the last step to finish

    def __call__(self) -> float:
        started = time.perf_counter()
        self._run(self.steps)
        return (time.perf_counter() - started) / self.steps


def numpy_step_profile(X: np.ndarray, Y: np.ndarray, *, rounds: int = 5, steps: int = 64) -> dict:
    """Where the tutorial step's time goes, with one BLAS thread, operation by operation.

    Each round (alternating, so a slow spell hits all three) times: `steps` whole FastStep steps;
    the same number of steps run as numpy_mlp.training.profile's operations, each operation timed
    on its own (the clock's own cost, timed on an empty call, subtracted); and the step's matrix
    products alone, back to back at the same shapes on the same buffers (the products-only
    floor). Per operation: the median over rounds of its mean time in a round, in microseconds.
    """
    from compare.environment import blas_threads_in_force
    from compare.speed.stats import spread
    from numpy_mlp import MLP, SGD
    from numpy_mlp.training.fast import FastStep
    from numpy_mlp.training.profile import step_operations

    B = TUTORIAL.batch_size
    rng = np.random.default_rng(0)
    pool = [rng.choice(X.shape[0], B, replace=False) for _ in range(steps)]
    whole = FastStep(MLP(TUTORIAL.layers, seed=0, dtype=np.float32), SGD(), B, one_hot=True)
    split = FastStep(MLP(TUTORIAL.layers, seed=0, dtype=np.float32), SGD(), B, one_hot=True)
    op_lists = [step_operations(split, X, Y, idx) for idx in pool]
    products = [op.run for op in op_lists[0] if op.kind == "product"]
    labels = [(op.label, op.kind) for op in op_lists[0]]
    clock = time.perf_counter

    def nothing() -> None:
        return None

    def clock_cost() -> float:
        started = clock()
        for _ in range(1000):
            t0 = clock()
            nothing()
            clock() - t0
        return (clock() - started) / 1000

    samples: dict[str, list[float]] = {"step": [], "products": [], "clock": []}
    per_op: list[list[float]] = [[] for _ in labels]
    with threadpool_limits(limits=1, user_api="blas"):
        in_force = blas_threads_in_force()
        for _ in range(rounds):
            started = clock()
            for idx in pool:
                whole(X, Y, idx)
            samples["step"].append((clock() - started) / steps)
            samples["clock"].append(clock_cost())
            totals = [0.0] * len(labels)
            for ops in op_lists:
                for i, op in enumerate(ops):
                    t0 = clock()
                    op.run()
                    totals[i] += clock() - t0
            for i, total in enumerate(totals):
                per_op[i].append(total / steps - samples["clock"][-1])
            started = clock()
            for _ in range(steps):
                for run in products:
                    run()
            samples["products"].append((clock() - started) / steps)
    us = {key: spread([t * 1e6 for t in times]) for key, times in samples.items()}
    step_us = us["step"]["median"]
    operations = []
    for (label, kind), times in zip(labels, per_op, strict=True):
        s = spread([t * 1e6 for t in times])
        operations.append({"label": label, "kind": kind, **s, "share": s["median"] / step_us})
    by_kind = {}
    for op in operations:
        by_kind[op["kind"]] = by_kind.get(op["kind"], 0.0) + op["median"]
    return {
        "step_us": us["step"],
        "products_us": us["products"],
        "clock_us": us["clock"]["median"],
        "operations": operations,
        "operations_sum_us": sum(op["median"] for op in operations),
        "by_kind_us": by_kind,
        "products_gflops": train_flops(TUTORIAL.layers, B) / (us["products"]["median"] / 1e6) / 1e9,
        "rounds": rounds,
        "steps_per_round": steps,
        "blas_threads": in_force,
    }


class NumpyEpoch:
    """One `fit` epoch of the tutorial network over all of X (no validation) per call; seconds.

    fit sets `blas_threads` itself; the call runs inside the same limit, read as it runs
    (`blas_threads_in_force`)."""

    def __init__(self, X, y, *, engine: str = "fast", blas_threads: int = 1) -> None:
        from numpy_mlp import MLP

        self.X, self.y, self.engine, self.blas_threads = X, y, engine, blas_threads
        self.mlp = MLP(TUTORIAL.layers, seed=TUTORIAL.seed, dtype=np.float32)

    def __call__(self) -> float:
        from compare.environment import blas_threads_in_force

        with threadpool_limits(limits=self.blas_threads, user_api="blas"):
            self.blas_threads_in_force = blas_threads_in_force()
            history = self.mlp.fit(
                self.X,
                self.y,
                epochs=1,
                batch_size=TUTORIAL.batch_size,
                validation_split=0.0,
                verbose=0,
                engine=self.engine,
                blas_threads=self.blas_threads,
            )
        return float(history.history["seconds"][0])


class KerasEpoch:
    """One Keras `fit` epoch over all of X per call; seconds from epoch begin to end.

    The first call (graph tracing, compilation) is made at construction and kept apart.
    """

    def __init__(self, X, Y, *, steps_per_execution: int, jit_compile) -> None:
        from keras_mlp import build_model

        self.model = build_model(
            TUTORIAL.layers,
            seed=TUTORIAL.seed,
            dtype="float32",
            steps_per_execution=steps_per_execution,
            jit_compile=jit_compile,
        )
        self.X, self.Y = X, Y
        self.first_seconds = self()

    def __call__(self) -> float:
        from keras_mlp.callbacks import epoch_timer

        timer = epoch_timer()
        self.model.fit(
            self.X,
            self.Y,
            batch_size=TUTORIAL.batch_size,
            epochs=1,
            verbose=0,
            shuffle=True,
            callbacks=[timer],
        )
        return timer.seconds[0]


def interleaved(
    contenders: dict[str, Callable[[], float]],
    rounds: int,
    on_round: Callable[[int], None] | None = None,
) -> dict[str, list[float]]:
    """Call each contender once per round, in turn, so slow spells of a shared machine hit all."""
    times: dict[str, list[float]] = {name: [] for name in contenders}
    for r in range(rounds):
        for name, run in contenders.items():
            times[name].append(run())
        if on_round is not None:
            on_round(r)
    return times


KERAS_FIT_CONFIGS = (
    ("defaults", 1, "auto"),
    ("steps_per_execution=32", 32, "auto"),
    ("steps_per_execution=32, XLA", 32, True),
    ("steps_per_execution=128", 128, "auto"),
)


def keras_epoch_in_fresh_process(
    intra: int, inter: int, data_dir: str | None, rounds: int
) -> list[float]:
    """Seconds of Keras `fit` epochs (defaults) with TensorFlow's threads set to (intra, inter).

    TensorFlow's thread pools can only be chosen before it starts, so this runs in a new process
    (the first epoch, with its tracing, is left out).
    """
    code = (
        "import json, sys, numpy as np\n"
        "from keras_mlp.tf import set_threads\n"
        f"set_threads({intra}, {inter})\n"
        "from compare.data import load_data\n"
        "from compare.speed.measure import KerasEpoch\n"
        "from numpy_mlp.training.loop import split_validation\n"
        f"data = load_data({data_dir!r}, dtype='float32')\n"
        "X, y, _, _ = split_validation(data.X_train, data.y_train, 0.1)\n"
        "epoch = KerasEpoch(np.ascontiguousarray(X), np.eye(10, dtype=np.float32)[y], "
        "steps_per_execution=1, jit_compile='auto')\n"
        f"print(json.dumps([epoch() for _ in range({rounds})]))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        preexec_fn=die_with_parent,  # a killed bench leaves no Keras child running
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


def peak_rss_of_numpy_training(data_dir: str | None, epochs: int = 1) -> float:
    """Peak resident memory (MB) of `mlp-compare train --impl numpy` at the tutorial configuration."""
    with tempfile.TemporaryDirectory() as out:
        args = [
            sys.executable,
            "-m",
            "compare",
            "train",
            "--impl",
            "numpy",
            "--epochs",
            str(epochs),
            "--verbose",
            "0",
            "--out",
            out,
        ]
        if data_dir:
            args += ["--data-dir", data_dir]
        code = (
            "import resource, subprocess, sys\n"
            "from numpy_mlp.io.children import die_with_parent\n"
            "subprocess.run(sys.argv[1:], check=True, stdout=subprocess.DEVNULL, "
            "preexec_fn=die_with_parent)\n"
            "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
        )
        result = subprocess.run(
            [sys.executable, "-c", code, *args],
            capture_output=True,
            text=True,
            check=True,
            preexec_fn=die_with_parent,
        )
    return int(result.stdout.strip().splitlines()[-1]) / 1024.0
