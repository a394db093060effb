"""NumPy and Keras trained in lockstep: same initial weights, same batches, same order, same SGD.

After every epoch (and every `trace_every` updates) the largest difference between corresponding
weights is recorded. In float64 the two are the same algorithm to machine precision; in float32
rounding makes them drift apart slowly. `run_lockstep` is the job behind `mlp-compare lockstep`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from compare.config import TUTORIAL, Settings
from compare.jsonio import write_json


@dataclass
class LockstepEpoch:
    epoch: int
    updates: int
    max_abs_diff: float  # max over matrices of max |W_numpy - W_keras|
    max_rel_diff: float  # the same divided by max |W|
    loss_numpy: float
    loss_keras: float
    seconds_numpy: float
    seconds_keras: float


class _Pair:
    """The two models, built from the same weights, each stepping on the batches it is given."""

    def __init__(self, settings: Settings, dtype: str) -> None:
        from keras_mlp import build_model, set_numpy_weights
        from numpy_mlp import MLP, SGD
        from numpy_mlp.training.fast import FastStep

        self.mlp = MLP(
            settings.layers, seed=settings.seed, dtype=dtype, **settings.network_kwargs()
        )
        self.step = FastStep(self.mlp, SGD(**settings.optimizer_kwargs()), settings.batch_size)
        self.model = build_model(
            settings.layers,
            seed=settings.seed,
            dtype=dtype,
            **settings.optimizer_kwargs(),
            **settings.network_kwargs(),
        )
        set_numpy_weights(self.model, self.mlp.weights)
        self.seconds = {"numpy": 0.0, "keras": 0.0}

    def train(self, X: np.ndarray, Y: np.ndarray, idx: np.ndarray) -> tuple[float, float]:
        """One update of each model on rows `idx`; returns (NumPy loss, Keras loss)."""
        from keras_mlp import floatx_of

        started = time.perf_counter()
        loss_numpy, _ = self.step(X, Y, idx)
        self.seconds["numpy"] += time.perf_counter() - started
        started = time.perf_counter()
        with floatx_of(self.model):  # Keras sums a float64 loss and L2 penalty in floatx
            out = self.model.train_on_batch(X[idx], Y[idx], return_dict=True)
        self.seconds["keras"] += time.perf_counter() - started
        return loss_numpy, float(out["loss"])

    def weight_diff(self) -> float:
        from keras_mlp import get_numpy_weights

        theirs = get_numpy_weights(self.model)
        return max(
            float(np.max(np.abs(a - b))) for a, b in zip(self.mlp.weights, theirs, strict=True)
        )

    def weight_scale(self) -> float:
        return max(float(np.max(np.abs(W))) for W in self.mlp.weights)


def lockstep(
    X: np.ndarray,
    Y: np.ndarray,
    settings: Settings = TUTORIAL,
    *,
    dtype: str = "float64",
    epochs: int = 1,
    max_updates: int | None = None,
    trace_every: int = 0,
    on_epoch: Callable[[LockstepEpoch], None] | None = None,
    on_step: Callable[[int, int], None] | None = None,
) -> tuple[list[LockstepEpoch], list[tuple[int, float]]]:
    """Train both models from the same weights on the same batches; compare after every epoch.

    X: (n, d_in) training rows (already split off from validation); Y: one-hot (n, k).
    The NumPy side is numpy_mlp's training step (the fast path `fit` uses); the Keras side is the
    compiled model's own `train_on_batch` (its SGD, InverseTimeDecay and loss). `settings` gives
    the network, batch size, seed and optimizer. Returns the per-epoch records and, when
    trace_every > 0, (update, max |W_numpy - W_keras|) every trace_every updates.
    """
    X = np.ascontiguousarray(X, dtype=dtype)
    Y = np.ascontiguousarray(Y, dtype=dtype)
    pair = _Pair(settings, dtype)
    rng = np.random.default_rng(settings.seed)
    n, B = X.shape[0], settings.batch_size
    budget = max_updates if max_updates is not None else epochs * -(-n // B)
    records: list[LockstepEpoch] = []
    trace: list[tuple[int, float]] = []
    updates = 0
    for epoch in range(epochs):
        order = rng.permutation(n)
        loss_sums, rows = np.zeros(2), 0
        for s, start in enumerate(range(0, n, B)):
            if updates >= budget:
                break
            idx = order[start : start + B]
            loss_sums += np.multiply(pair.train(X, Y, idx), idx.shape[0])
            rows += idx.shape[0]
            updates += 1
            if trace_every and updates % trace_every == 0:
                trace.append((updates, pair.weight_diff()))
            if on_step is not None:
                on_step(epoch, s)
        diff = pair.weight_diff()
        loss_numpy, loss_keras = loss_sums / max(rows, 1)
        record = LockstepEpoch(
            epoch + 1,
            updates,
            diff,
            diff / pair.weight_scale(),
            float(loss_numpy),
            float(loss_keras),
            pair.seconds["numpy"],
            pair.seconds["keras"],
        )
        records.append(record)
        if on_epoch is not None:
            on_epoch(record)
        if updates >= budget:
            break
    if trace_every and (not trace or trace[-1][0] != updates):  # the trace ends where training did
        trace.append((updates, pair.weight_diff()))
    return records, trace


def format_table(rows: list[dict]) -> str:
    lines = [
        f"{'dtype':<8} {'epoch':>5} {'updates':>7} {'max |W_np - W_k|':>17} "
        f"{'relative':>10} {'loss numpy':>12} {'loss keras':>12}"
    ]
    for r in rows:
        lines.append(
            f"{r['dtype']:<8} {r['epoch']:>5} {r['updates']:>7} {r['max_abs_diff']:>17.3e} "
            f"{r['max_rel_diff']:>10.2e} {r['loss_numpy']:>12.8f} {r['loss_keras']:>12.8f}"
        )
    return "\n".join(lines)


def run_lockstep(
    settings: Settings,
    dtypes: Sequence[str],
    out: Path,
    *,
    data_dir: str | None = None,
    limit: int | None = None,
    trace_every: int = 20,
) -> None:
    """The `lockstep` command's work: every dtype in turn on MNIST, then the table, JSON and plot."""
    from compare import plots
    from compare.data import load_data
    from numpy_mlp.io.progress import progress_bar
    from numpy_mlp.training.loop import split_validation

    data = load_data(data_dir, dtype="float64", limit=limit)
    X, Y, _, _ = split_validation(data.X_train, data.Y_train, settings.validation_split)
    steps = -(-X.shape[0] // settings.batch_size)
    rows, traces = [], {}
    for dtype in dtypes:
        with progress_bar(
            total=steps * settings.epochs, desc=f"lockstep {dtype}", unit="update"
        ) as bar:
            records, trace = lockstep(
                X,
                Y,
                settings,
                dtype=dtype,
                epochs=settings.epochs,
                trace_every=trace_every,
                on_step=lambda e, s: bar.update(1),
                on_epoch=lambda r, d=dtype: bar.write(
                    f"{d} epoch {r.epoch}: max |W_numpy - W_keras| = {r.max_abs_diff:.3e}"
                ),
            )
        rows += [{"dtype": dtype, **asdict(r)} for r in records]
        traces[dtype] = trace
    print(format_table(rows))
    record = {
        "settings": {
            **{k: v for k, v in settings.to_dict().items() if k != "dtype"},
            "dtypes": list(dtypes),
            "limit": limit,
        },
        "epochs": rows,
        "trace": traces,
    }
    write_json(out / "lockstep.json", record)
    plots.lockstep_trace(traces, rows, out / "lockstep.png")
    print(f"Saved {out / 'lockstep.json'} and {out / 'lockstep.png'}")
