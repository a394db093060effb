"""Timing primitives: FLOP counts, the matrix-product peak, one training step, one epoch.

Every number is measured in this process on this machine. The NumPy step is numpy_mlp's FastStep
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


def matmul_peak(n: int = 2048, rounds: int = 7) -> dict:
    """Sustained float32 GFLOP/s of an n x n matrix product with NumPy's default threads."""
    rng = np.random.default_rng(0)
    A = rng.random((n, n), dtype=np.float32)
    B = rng.random((n, n), dtype=np.float32)
    out = np.empty_like(A)
    np.matmul(A, B, out=out)
    t = median_time(lambda: np.matmul(A, B, out=out), rounds=rounds)
    return {"n": n, "seconds": t, "gflops": 2 * n**3 / t / 1e9}


def _calibrate(run_steps: Callable[[int], None], target: float, lo: int = 5, hi: int = 2000) -> int:
    started = time.perf_counter()
    run_steps(lo)
    per_step = (time.perf_counter() - started) / lo
    return int(min(hi, max(lo, target / max(per_step, 1e-9))))


def numpy_step_seconds(
    layers, batch: int, X: np.ndarray, Y: np.ndarray, *, target: float, rounds: int, threads: int
) -> float:
    """Seconds per training step of numpy_mlp's FastStep (gather included)."""
    from numpy_mlp import MLP, SGD
    from numpy_mlp.training.fast import FastStep

    mlp = MLP(layers, seed=0, dtype=np.float32)
    step = FastStep(mlp, SGD(), batch)
    rng = np.random.default_rng(0)
    pool = [rng.choice(X.shape[0], batch, replace=False) for _ in range(8)]

    def run(k: int) -> None:
        for i in range(k):
            step(X, Y, pool[i % 8])

    with threadpool_limits(limits=threads, user_api="blas"):
        k = _calibrate(run, target)
        return median_time(lambda: run(k), rounds=rounds) / k


def numpy_step_breakdown(X: np.ndarray, Y: np.ndarray, *, rounds: int = 5) -> dict:
    """Where the tutorial step's time goes, with one BLAS thread: the whole FastStep step, its
    eight matrix products alone (timed at the same shapes, on the same buffers), and the rest
    (elementwise work, reductions, the update, NumPy's per-call overhead), in microseconds."""
    from numpy_mlp import MLP, SGD
    from numpy_mlp.training.fast import FastStep

    mlp = MLP(TUTORIAL.layers, seed=0, dtype=np.float32)
    B = TUTORIAL.batch_size
    step = FastStep(mlp, SGD(), B)
    rng = np.random.default_rng(0)
    pool = [rng.choice(X.shape[0], B, replace=False) for _ in range(64)]
    buf = step.buffers(B)
    W, G, D = step.weights, step.grads, buf.delta

    def products() -> None:
        np.dot(buf.A_in, W[0], out=buf.Z_h[0])
        np.dot(buf.A_h[0], W[1], out=buf.Z_h[1])
        np.dot(buf.A_h[1], W[2], out=D[2])
        np.dot(buf.A_h[1].T, D[2], out=G[2])
        np.dot(D[2], step._kernels_T[2], out=D[1])
        np.dot(buf.A_h[0].T, D[1], out=G[1])
        np.dot(D[1], step._kernels_T[1], out=D[0])
        np.dot(buf.A_in.T, D[0], out=G[0])

    def steps(k: int) -> None:
        for i in range(k):
            step(X, Y, pool[i % 64])

    def product_runs(k: int) -> None:
        for _ in range(k):
            products()

    with threadpool_limits(limits=1, user_api="blas"):
        k = _calibrate(steps, 0.3)
        whole = median_time(lambda: steps(k), rounds=rounds) / k
        k = _calibrate(product_runs, 0.3)
        dots = median_time(lambda: product_runs(k), rounds=rounds) / k
    return {
        "step_us": whole * 1e6,
        "products_us": dots * 1e6,
        "rest_us": (whole - dots) * 1e6,
        "products_gflops": train_flops(TUTORIAL.layers, B) / dots / 1e9,
        "rounds": rounds,
    }


def keras_step_seconds(
    layers,
    batch: int,
    X: np.ndarray,
    Y: np.ndarray,
    *,
    target: float,
    rounds: int,
    jit_compile: bool = False,
) -> tuple[float, float]:
    """(seconds per compiled Keras train step, seconds spent tracing it)."""
    from keras_mlp import build_model
    from keras_mlp.steps import train_step_fn
    from keras_mlp.tf import tensorflow

    tf = tensorflow()
    model = build_model(layers, seed=0, dtype="float32")
    step = train_step_fn(model, jit_compile=jit_compile)
    rng = np.random.default_rng(0)
    pool = []
    for _ in range(8):
        idx = rng.choice(X.shape[0], batch, replace=False)
        pool.append((tf.constant(X[idx]), tf.constant(Y[idx])))
    started = time.perf_counter()
    float(step(*pool[0]))
    trace = time.perf_counter() - started

    def run(k: int) -> None:
        loss = None
        for i in range(k):
            loss = step(*pool[i % 8])
        float(loss)  # wait for the last step to finish

    k = _calibrate(run, target)
    return median_time(lambda: run(k), rounds=rounds) / k, trace


class NumpyEpoch:
    """One `fit` epoch of the tutorial network over all of X (no validation) per call; seconds."""

    def __init__(self, X, y, *, engine: str = "fast", blas_threads: int = 1) -> None:
        from numpy_mlp import MLP

        self.X, self.y, self.engine, self.blas_threads = X, y, engine, blas_threads
        self.mlp = MLP(TUTORIAL.layers, seed=TUTORIAL.seed, dtype=np.float32)

    def __call__(self) -> float:
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
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
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
            "subprocess.run(sys.argv[1:], check=True, stdout=subprocess.DEVNULL)\n"
            "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
        )
        result = subprocess.run(
            [sys.executable, "-c", code, *args], capture_output=True, text=True, check=True
        )
    return int(result.stdout.strip().splitlines()[-1]) / 1024.0
