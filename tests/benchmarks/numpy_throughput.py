"""NumPy training throughput, side by side in one run: the figures of the README's speed section.

    python -m tests.benchmarks.numpy_throughput                    # as in the README (10 epochs)
    python -m tests.benchmarks.numpy_throughput --epochs 2 --limit 20000   # shorter, on a busy machine

Prints, for the tutorial network (784-50-50-10, float32, batch 64) on MNIST, with the machine's
load before and after:

1. model-epochs per second of 8 cells (4 learning rates 1e-3, 1e-2, 0.1, 3 x 2 seeds; the two at
   rate 3 diverge in their first epoch) trained as `fit` one after another in this process, as
   `fit_many` stacked in 1 and in 2 worker processes, and as separate fits in 2 worker processes;
2. the same 8 cells as the sweep command end to end (`mlp-compare study sweep` in a fresh process:
   start-up, data, training, figures, report) against the fits one by one, and the start-up alone;
3. the step's operation breakdown (`numpy_mlp.training.profile`: the step's own operation list,
   each timed) and one epoch of `fit` against its matrix products alone;
4. the first layer's products of 8 networks: 8 small ones (as stacked) against one product with
   8 x 50 columns (fused), forward and weight gradient, each alone (the README says why the fused
   product, faster alone, is not used);
5. K = 8 tutorial networks sharing one seed (8 learning rates from 1e-3 to 0.2), `fit_many`
   against `fit` called 8 times, in a child process held to one core (`os.sched_setaffinity`:
   fit's batch thread shares that core too) and in one free to use both.

Everything runs with one BLAS thread per process (as `fit` does). Timings are medians of `--rounds`
alternating rounds; on a shared machine read the ratios, not the absolute times.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

RATES = (1e-3, 1e-2, 0.1, 3.0)
SEEDS = 2
ROOT = Path(__file__).resolve().parents[2]


def _load() -> str:
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "n/a"


def _plan(epochs: int, limit: int | None, jobs: int, method: str):
    from compare.config import TUTORIAL
    from compare.studies.sweep import SweepPlan

    base = dataclasses.replace(TUTORIAL, epochs=epochs)
    axes = (("learning_rate", RATES),)
    return SweepPlan(axes=axes, seeds=SEEDS, base=base, limit=limit, jobs=jobs, method=method)


def _cells_run(plan) -> tuple[float, int]:
    """(seconds, model-epochs) for the plan's cells, placed on processes as the sweep places them."""
    from compare.studies.sweep import batches_of_work, run_group
    from compare.studies.workers import process_pool

    work = batches_of_work(plan.cells(), plan.method, plan.jobs)
    started = time.perf_counter()
    if plan.jobs > 1 and len(work) > 1:
        pool, close = process_pool(min(plan.jobs, len(work)))
        try:
            futures = [pool.submit(run_group, g, None, plan.limit, plan.method) for g in work]
            pairs = [p for f in futures for p in f.result()]
        finally:
            close()
    else:
        pairs = [p for g in work for p in run_group(g, None, plan.limit, plan.method)]
    seconds = time.perf_counter() - started
    return seconds, sum(r.get("epochs_run") or 0 for _, r in pairs)


def _sequential_fits(plan) -> tuple[float, int]:
    """`fit` once per cell, one after another, in this process."""
    from compare.studies.cells import cached_data, train_cell

    data = cached_data(None, plan.base.dtype, plan.limit)
    started = time.perf_counter()
    with threadpool_limits(limits=1, user_api="blas"):
        records = [train_cell(c.settings, data) for c in plan.cells()]
    return time.perf_counter() - started, sum(r.get("epochs_run") or 0 for r in records)


def _sweep_command(epochs: int, limit: int | None, extra: list[str]) -> float:
    """Wall seconds of the sweep command in a fresh process, start to exit."""
    with tempfile.TemporaryDirectory() as tmp:
        args = [sys.executable, "-m", "compare", "study", "sweep", "--param", "learning_rate",
                "--values", ",".join(map(str, RATES)), "--seeds", str(SEEDS),
                "--epochs", str(epochs), "--out", str(Path(tmp) / "sweep"), *extra]  # fmt: skip
        if limit:
            args += ["--limit", str(limit)]
        started = time.perf_counter()
        subprocess.run(args, check=True, capture_output=True, cwd=ROOT)
        return time.perf_counter() - started


def _startup() -> dict[str, float]:
    """Seconds to start a fresh Python with the sweep's imports, and to load MNIST there."""
    code = (
        "import time; t = time.perf_counter(); import compare.studies.sweep, numpy_mlp; "
        "i = time.perf_counter() - t; from compare.studies.cells import cached_data; "
        "t = time.perf_counter(); cached_data(None, 'float32', None); "
        "print(i, time.perf_counter() - t)"
    )
    started = time.perf_counter()
    out = subprocess.run(
        [sys.executable, "-c", code], check=True, capture_output=True, text=True, cwd=ROOT
    )
    total = time.perf_counter() - started
    imports, data = map(float, out.stdout.split())
    return {"process": total, "imports": imports, "data": data}


def _median(xs):
    return float(np.median(xs))


def throughput(epochs: int, limit: int | None, rounds: int) -> None:
    contenders = {
        "fit, 8 times, 1 process": lambda: _sequential_fits(_plan(epochs, limit, 1, "separate")),
        "fit_many stacked, 1 process": lambda: _cells_run(_plan(epochs, limit, 1, "stacked")),
        "fit_many stacked, 2 processes": lambda: _cells_run(_plan(epochs, limit, 2, "stacked")),
        "fit separate, 2 processes": lambda: _cells_run(_plan(epochs, limit, 2, "separate")),
    }
    from compare.studies.cells import cached_data

    cached_data(None, "float32", limit)  # loaded once here, shared with forked workers
    times: dict[str, list[float]] = {name: [] for name in contenders}
    model_epochs = {}
    for _ in range(rounds):
        for name, run in contenders.items():
            seconds, model_epochs[name] = run()
            times[name].append(seconds)
    base = _median(times["fit, 8 times, 1 process"]) / model_epochs["fit, 8 times, 1 process"]
    print(f"\n1. 8 cells x {epochs} epochs, {limit or 'all'} rows (model-epochs/s, median of "
          f"{rounds})")  # fmt: skip
    print(f"   {'':34s} {'seconds':>8s} {'m-ep':>5s} {'m-ep/s':>7s} {'x fit':>6s}")
    for name, ts in times.items():
        s, e = _median(ts), model_epochs[name]
        print(f"   {name:34s} {s:8.2f} {e:5d} {e / s:7.2f} {base / (s / e):6.2f}")

    fits = _median(times["fit, 8 times, 1 process"])
    sweeps = [_sweep_command(epochs, limit, []) for _ in range(rounds)]
    stacked1 = [_sweep_command(epochs, limit, ["--jobs", "1"]) for _ in range(rounds)]
    start = _startup()
    print("\n2. the sweep command end to end (fresh process) vs the fits one by one")
    print(f"   fit 8 times in this process:            {fits:7.2f} s")
    print(f"   sweep, default placement (--jobs {os.cpu_count()}):     {_median(sweeps):7.2f} s"
          f"  ({fits / _median(sweeps):.2f}x)")  # fmt: skip
    print(f"   sweep --jobs 1 (stacked, one process):  {_median(stacked1):7.2f} s"
          f"  ({fits / _median(stacked1):.2f}x)")  # fmt: skip
    print(f"   start-up: process {start['process']:.2f} s, of which imports "
          f"{start['imports']:.2f} s, MNIST {start['data']:.2f} s")  # fmt: skip


def breakdown(rounds: int) -> None:
    from compare.config import TUTORIAL
    from compare.speed.measure import NumpyEpoch, numpy_step_profile, train_flops
    from compare.studies.cells import cached_data

    data = cached_data(None, "float32", None)
    X = np.ascontiguousarray(data.X_train[:54000], dtype=np.float32)
    Y = np.eye(10, dtype=np.float32)[data.y_train[:54000]]
    prof = numpy_step_profile(X, Y, rounds=rounds)
    print(f"\n3. one step (batch 64, 1 BLAS thread), median of {rounds} rounds")
    print(f"   whole step {prof['step_us']['median']:.1f} us; its products alone "
          f"{prof['products_us']['median']:.1f} us; operations timed one by one sum to "
          f"{prof['operations_sum_us']:.1f} us")  # fmt: skip
    for op in prof["operations"]:
        print(f"   {op['median']:7.1f} us  {op['kind']:11s} {op['label']}")
    kinds = ", ".join(f"{k} {v:.1f}" for k, v in prof["by_kind_us"].items())
    print(f"   by kind (us): {kinds}")
    epoch = NumpyEpoch(X, data.y_train[:54000])
    epochs = [epoch() for _ in range(rounds)]
    steps = -(-X.shape[0] // TUTORIAL.batch_size)
    products = prof["products_us"]["median"] * 1e-6 * steps
    e = _median(epochs)
    print(f"   fit epoch over 54,000 rows: {e:.3f} s; its {steps} steps' products alone "
          f"{products:.3f} s: epoch / products = {e / products:.2f}x "
          f"({train_flops(TUTORIAL.layers, X.shape[0]) / e / 1e9:.1f} GFLOP/s)")  # fmt: skip


def fused_first_layer(rounds: int, K: int = 8) -> None:
    """8 networks' first-layer products one by one (stacked matmul) against one fused product."""
    rng = np.random.default_rng(0)
    A = rng.normal(size=(64, 785)).astype(np.float32)
    W = rng.normal(size=(K, 785, 50)).astype(np.float32)
    W_fused = np.ascontiguousarray(W.transpose(1, 0, 2).reshape(785, K * 50))
    D = rng.normal(size=(K, 64, 50)).astype(np.float32)
    D_fused = np.ascontiguousarray(D.transpose(1, 0, 2).reshape(64, K * 50))
    Z, Zf = np.empty((K, 64, 50), np.float32), np.empty((64, K * 50), np.float32)
    G, Gf = np.empty((K, 785, 50), np.float32), np.empty((785, K * 50), np.float32)
    cases = {
        "forward, stacked (K products)": lambda: np.matmul(A[None], W, out=Z),
        "forward, fused (one product)": lambda: np.dot(A, W_fused, out=Zf),
        "weight gradient, stacked": lambda: np.matmul(A.T[None], D, out=G),
        "weight gradient, fused": lambda: np.dot(A.T, D_fused, out=Gf),
    }
    times: dict[str, list[float]] = {name: [] for name in cases}
    with threadpool_limits(limits=1, user_api="blas"):
        for _ in range(rounds):
            for name, run in cases.items():
                started = time.perf_counter()
                for _ in range(200):
                    run()
                times[name].append((time.perf_counter() - started) / 200 * 1e6)
    print(f"\n4. first layer of {K} networks (batch 64, 785 x 50 each), median us per call")
    for name, ts in times.items():
        print(f"   {name:32s} {_median(ts):8.1f}")


def one_core(epochs: int, limit: int | None, rounds: int, K: int = 8) -> dict[str, float]:
    """`fit_many` of K networks with one seed against `fit` K times, in this process (seconds)."""
    from compare.studies.cells import cached_data
    from numpy_mlp import MLP, SGD, fit_many

    data = cached_data(None, "float32", limit)
    X, y = data.X_train, data.y_train
    rates = np.geomspace(1e-3, 0.2, K)

    def nets():
        return [MLP([784, 50, 50, 10], seed=1) for _ in rates], [
            SGD(learning_rate=r) for r in rates
        ]

    def stacked_run():
        fit_many(*nets(), X, y, epochs=epochs, seed=1)

    def fits():
        for mlp, opt in zip(*nets(), strict=True):
            mlp.fit(X, y, epochs=epochs, seed=1, optimizer=opt, verbose=0)

    times: dict[str, list[float]] = {"fit_many": [], "fit": []}
    for _ in range(rounds):
        for name, run in (("fit_many", stacked_run), ("fit", fits)):
            started = time.perf_counter()
            run()
            times[name].append(time.perf_counter() - started)
    return {name: _median(ts) for name, ts in times.items()}


def fit_many_one_core(epochs: int, limit: int | None, rounds: int) -> None:
    print(f"\n5. 8 tutorial networks, one seed, {epochs} epoch(s): fit_many vs fit 8 times "
          f"(model-epochs/s, median of {rounds})")  # fmt: skip
    for where, cores in (("held to one core", "1"), ("free (both cores)", "")):
        code = (
            "import json, os, sys; "
            f"cores = '{cores}'; "
            "cores and os.sched_setaffinity(0, {int(cores)}); "
            "from tests.benchmarks.numpy_throughput import one_core; "
            f"print(json.dumps(one_core({epochs}, {limit!r}, {rounds})))"
        )
        out = subprocess.run(
            [sys.executable, "-c", code], check=True, capture_output=True, text=True, cwd=ROOT
        )
        t = json.loads(out.stdout.strip().splitlines()[-1])
        model_epochs = 8 * epochs
        print(f"   {where:18s} fit_many {model_epochs / t['fit_many']:6.2f}, fit "
              f"{model_epochs / t['fit']:6.2f} model-epochs/s: {t['fit'] / t['fit_many']:.2f}x "
              f"(load now {_load()})")  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--limit", type=int, default=None, help="MNIST rows (default: all)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--skip", default="", help="comma list of parts to skip: 1,2,3,4,5")
    args = parser.parse_args(argv)
    skip = set(args.skip.split(","))
    print(f"load before: {_load()} (1, 5, 15 min), {os.cpu_count()} cores")
    started = time.perf_counter()
    if "1" not in skip or "2" not in skip:
        throughput(args.epochs, args.limit, args.rounds)
    if "3" not in skip:
        breakdown(args.rounds)
    if "4" not in skip:
        fused_first_layer(args.rounds)
    if "5" not in skip:
        fit_many_one_core(args.epochs, args.limit, args.rounds)
    print(f"\nload after: {_load()}; {time.perf_counter() - started:.0f} s in all")
    print(json.dumps({"epochs": args.epochs, "limit": args.limit, "rounds": args.rounds}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
