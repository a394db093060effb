"""The tuning sweep: train the NumPy MLP over values of one hyperparameter, or a grid of two.

A *cell* is one configuration and one seed. Everything not swept is the tutorial's configuration
(or a fixed flag). Cells are independent, so they run in parallel worker processes; cells that
differ only in optimizer hyperparameters share their network shape, initial weights and batch
order, and are trained together by `compare.studies.stacked` (one wide product for all their
first layers), which gives each cell what `fit` alone would give, to float32 rounding.

Every finished cell is written at once to cells/<id>.json (atomically); a rerun with the same
output folder and the same settings skips the cells already there, and Ctrl-C keeps them.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from compare.config import TUTORIAL, Settings
from compare.errors import UsageError
from compare.jsonio import dumps, write_json
from compare.studies.cells import cached_data

# name -> (type, default values, log axis)
PARAMS: dict[str, tuple[type, tuple, bool]] = {
    "learning_rate": (float, (1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 1e-1), True),
    "momentum": (float, (0.0, 0.5, 0.8, 0.9, 0.95, 0.99), False),
    "weight_decay": (float, (0.0, 1e-5, 1e-4, 1e-3, 1e-2), True),
    "hidden": (int, (10, 25, 50, 100, 200), True),
    "decay": (float, (0.0, 1e-7, 1e-5, 1e-4, 1e-3), True),
    "batch_size": (int, (16, 32, 64, 128, 256), True),
}
# Cells whose settings differ only in these share shapes and batches: they can train stacked.
OPTIMIZER_PARAMS = ("learning_rate", "momentum", "decay", "weight_decay")


@dataclasses.dataclass(frozen=True)
class Cell:
    values: tuple[tuple[str, float], ...]  # (param, value) for each swept parameter
    seed: int
    settings: Settings

    @property
    def id(self) -> str:
        parts = [f"{name}={value:g}" for name, value in self.values]
        return ",".join([*parts, f"seed={self.seed}"])

    def group(self) -> tuple:
        """Cells with the same group key can be trained stacked (same shapes, weights, batches)."""
        s = self.settings
        return (s.layers, s.batch_size, s.seed, s.epochs, s.dtype, s.activation, s.init, s.nesterov)


@dataclasses.dataclass(frozen=True)
class SweepPlan:
    axes: tuple[tuple[str, tuple], ...]  # one (param, values) for a sweep, two for a grid
    seeds: int = 1
    base: Settings = TUTORIAL
    limit: int | None = None
    jobs: int = 1
    method: str = "stacked"
    scheduler: str | None = None

    def cells(self) -> list[Cell]:
        grids: list[tuple[tuple[str, float], ...]] = [()]
        for name, values in self.axes:
            grids = [(*g, (name, v)) for g in grids for v in values]
        return [
            Cell(g, self.base.seed + s, apply_values(self.base, g, self.base.seed + s))
            for g in grids
            for s in range(self.seeds)
        ]

    def describe(self) -> dict:
        return {
            "axes": [{"param": n, "values": list(v), "log": PARAMS[n][2]} for n, v in self.axes],
            "seeds": self.seeds,
            "base": self.base.to_dict(),
            "limit": self.limit,
            "jobs": self.jobs,
            "method": self.method,
            "scheduler": self.scheduler,
            "accuracy_unit": "percent",
        }


def apply_values(base: Settings, values: Sequence[tuple[str, float]], seed: int) -> Settings:
    """`base` with the swept values (hidden = units of each hidden layer) and `seed`."""
    changes: dict = {"seed": seed}
    for name, value in values:
        if name == "hidden":
            depth = len(base.layers) - 2
            changes["layers"] = (base.layers[0], *([int(value)] * depth), base.layers[-1])
        else:
            changes[name] = PARAMS[name][0](value)
    return dataclasses.replace(base, **changes)


def parse_values(name: str, text: str | None) -> tuple:
    """'1e-3,1e-2' -> (0.001, 0.01), checked like the training flags; None -> the defaults."""
    kind, defaults, _ = PARAMS[name]
    if text is None:
        return defaults
    try:
        values = tuple(kind(float(v)) if kind is int else kind(v) for v in text.split(",") if v)
    except ValueError:
        raise UsageError(f"--values {text}: not a comma-separated list of numbers") from None
    if not values:
        raise UsageError(f"--values {text}: give at least one value")
    for v in values:
        bad = (
            v != v
            or v in (float("inf"), float("-inf"))
            or v < 0
            or (name in ("learning_rate", "hidden", "batch_size") and v <= 0)
            or (name == "momentum" and v >= 1)
        )
        if bad:
            raise UsageError(f"--values {text}: {v:g} is not a valid {name}")
    return values


def plan_from_args(args) -> SweepPlan:
    """The plan the `study sweep` flags describe (UsageError on a bad combination)."""
    if (args.param is None) == (args.grid is None):
        raise UsageError("study sweep: give either --param (with --values) or --grid")
    if args.grid is not None:
        axes = []
        for item in args.grid:
            name, _, text = item.partition("=")
            if name not in PARAMS or not text:
                raise UsageError(
                    f"--grid {item}: write NAME=V1,V2,... with NAME one of {', '.join(PARAMS)}"
                )
            axes.append((name, parse_values(name, text)))
        if axes[0][0] == axes[1][0]:
            raise UsageError(f"--grid: two different parameters, please (got {axes[0][0]} twice)")
    else:
        axes = [(args.param, parse_values(args.param, args.values))]
    fixed = {
        k: getattr(args, k)
        for k in ("learning_rate", "momentum", "decay", "weight_decay", "batch_size")
        if getattr(args, k) is not None
    }
    base = dataclasses.replace(
        TUTORIAL, epochs=args.epochs, seed=args.seed, dtype=args.dtype, **fixed
    )
    if args.hidden is not None:
        base = apply_values(base, [("hidden", args.hidden)], args.seed)
    return SweepPlan(
        axes=tuple(axes),
        seeds=args.seeds,
        base=base,
        limit=args.limit,
        jobs=args.jobs or os.cpu_count() or 1,
        method=args.method,
        scheduler=args.scheduler,
    )


# -- running ----------------------------------------------------------------------------------------


def run_group(cells: Sequence[Cell], data_dir, limit, method: str) -> list[tuple[str, dict]]:
    """Train a group of cells in this process (a worker); returns (cell id, record) pairs."""
    from threadpoolctl import threadpool_limits

    from compare.studies.cells import train_cell
    from compare.studies.stacked import train_stacked

    data = cached_data(data_dir, cells[0].settings.dtype, limit)
    with threadpool_limits(limits=1, user_api="blas"):
        if method == "stacked" and len(cells) > 1:
            records = train_stacked([c.settings for c in cells], data)
        else:
            records = [train_cell(c.settings, data) for c in cells]
    return [(c.id, r) for c, r in zip(cells, records, strict=True)]


def batches_of_work(cells: Sequence[Cell], method: str, jobs: int) -> list[list[Cell]]:
    """Groups of cells for the workers: stackable cells together (split so every job has work)."""
    if method != "stacked":
        return [[c] for c in cells]
    groups: dict[tuple, list[Cell]] = {}
    for c in cells:
        groups.setdefault(c.group(), []).append(c)
    work = [g for g in groups.values()]
    while len(work) < jobs and any(len(g) > 1 for g in work):  # keep every worker busy
        work.sort(key=len)
        big = work.pop()
        work += [big[: len(big) // 2], big[len(big) // 2 :]]
    return work


class CellStore:
    """cells/<id>.json, one per finished cell; a folder of another sweep's cells is refused."""

    def __init__(self, out: Path, plan: SweepPlan) -> None:
        self.folder = out / "cells"
        self.folder.mkdir(exist_ok=True)
        # as it reads back from JSON (tuples become lists), so that a rerun compares equal
        self.signature = json.loads(
            dumps(
                {
                    k: v
                    for k, v in plan.describe().items()
                    if k not in ("jobs", "method", "scheduler")
                }
            )
        )

    def path(self, cell_id: str) -> Path:
        return self.folder / f"{cell_id}.json"

    def finished(self, cells: Sequence[Cell]) -> dict[str, dict]:
        done = {}
        for cell in cells:
            path = self.path(cell.id)
            if not path.exists():
                continue
            try:
                record = json.loads(path.read_text())
            except (OSError, ValueError):
                continue  # unreadable: train it again
            if record.get("signature") != self.signature:
                raise UsageError(
                    f"--out {self.folder.parent}: holds cells of a sweep with other settings; "
                    "use another folder"
                )
            done[cell.id] = record
        return done

    def save(self, cell: Cell, record: dict) -> dict:

        single = {"param": cell.values[0][0], "value": cell.values[0][1]}
        full = {
            "id": cell.id,
            **(single if len(cell.values) == 1 else {}),
            "values": dict(cell.values),
            "seed": cell.seed,
            "signature": self.signature,
            **record,
        }
        write_json(self.path(cell.id), full)
        return full


def _executor(plan: SweepPlan):
    if plan.scheduler:
        try:
            from distributed import Client
        except ImportError:
            raise UsageError(
                "--scheduler needs Dask: install the cluster extra, "
                "pip install 'mlp-compare[cluster]'"
            ) from None
        try:
            client = Client(plan.scheduler, timeout="10s")
        except (OSError, TimeoutError) as exc:
            raise UsageError(f"--scheduler {plan.scheduler}: cannot connect ({exc})") from None
        return client.get_executor(pure=False), client.close
    if plan.jobs == 1:
        return None, lambda: None
    import multiprocessing
    import sys
    from concurrent.futures import ProcessPoolExecutor

    # fork shares the MNIST arrays already loaded here (copy-on-write) and starts at once; it is
    # not safe once TensorFlow (with its threads) is loaded in this process, so spawn then.
    method = "spawn" if "tensorflow" in sys.modules else "fork"
    pool = ProcessPoolExecutor(plan.jobs, mp_context=multiprocessing.get_context(method))
    return pool, lambda: pool.shutdown(wait=False, cancel_futures=True)


def run_sweep(
    plan: SweepPlan,
    out: Path,
    *,
    data_dir: str | None = None,
    say: Callable[[str], None] = print,
) -> int:
    """Run every cell not already finished in `out`; write sweep.json, figures and report.md."""
    from concurrent.futures import as_completed

    store = CellStore(out, plan)
    cells = plan.cells()
    done = store.finished(cells)
    todo = [c for c in cells if c.id not in done]
    by_id = {c.id: c for c in cells}
    say(
        f"Sweep: {len(cells)} cells ({len(done)} already finished in {out}), "
        f"{plan.base.epochs} epochs each, {plan.jobs} job(s), method {plan.method}"
    )
    work = batches_of_work(todo, plan.method, plan.jobs)
    started = time.perf_counter()
    status = "running"
    if todo and not plan.scheduler:
        cached_data(data_dir, plan.base.dtype, plan.limit)  # load once, before the workers fork
    executor, close = _executor(plan) if todo else (None, lambda: None)
    try:
        if executor is None:
            results = (run_group(g, data_dir, plan.limit, plan.method) for g in work)
        else:
            futures = [
                executor.submit(run_group, g, data_dir, plan.limit, plan.method) for g in work
            ]
            results = (f.result() for f in as_completed(futures))
        for pairs in results:
            for cell_id, record in pairs:
                done[cell_id] = store.save(by_id[cell_id], record)
                say(_line(len(done), len(cells), done[cell_id]))
        status = "complete"
    except KeyboardInterrupt:
        status = "interrupted"
        raise
    finally:
        close()
        elapsed = time.perf_counter() - started
        trained = [r for cid, r in done.items() if cid in {c.id for c in todo}]
        _write(plan, out, cells, done, status, elapsed, trained)
    return 0


def _line(i: int, total: int, r: dict) -> str:
    if r["status"] != "complete":
        return f"[{i}/{total}] {r['id']}: {r['status']}"
    return (
        f"[{i}/{total}] {r['id']}: val {r['val_accuracy']:.2f}%, test {r['test_accuracy']:.2f}% "
        f"({r['seconds']:.1f} s)"
    )


def _write(plan, out: Path, cells, done: dict, status: str, elapsed: float, trained) -> None:
    from compare.studies import figures
    from compare.studies.report import write_report

    epochs = sum(r.get("epochs_run") or 0 for r in trained)
    throughput = {
        "cells_trained_now": len(trained),
        "model_epochs": epochs,
        "wall_seconds": elapsed,
        "model_epochs_per_second": epochs / elapsed if elapsed > 0 and epochs else None,
    }
    if not trained and (out / "sweep.json").exists():  # a rerun with nothing left to do
        try:
            throughput = json.loads((out / "sweep.json").read_text())["throughput"]
        except (OSError, ValueError, KeyError):
            pass
    study = {
        "study": "sweep",
        "status": status,
        "updated": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "config": plan.describe(),
        "throughput": throughput,
        "cells": [done[c.id] for c in cells if c.id in done],
    }
    write_json(out / "sweep.json", study)
    if study["cells"]:
        figures.sweep_figures(study, out)
        write_report(study, out)
