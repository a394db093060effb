"""The tuning sweep: train the NumPy MLP over values of one hyperparameter, or a grid of two.

A *cell* is one configuration and one seed. Everything not swept is the tutorial's configuration
(or a fixed flag). The command line turns its flags into a `SweepPlan` (compare.studies.plans);
this module runs it. Cells are independent, so they run in parallel worker processes; cells that
differ only in optimizer hyperparameters share their network shape, initial weights and batch
order, and are trained together by numpy_mlp's `fit_many`, which gives each cell what `fit` alone
would give (bit for bit in float64).

Every finished cell is written at once to cells/<id>.json (atomically); a rerun with the same
output folder and the same settings skips the cells already there, and Ctrl-C keeps them.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from compare.config import TUTORIAL, Settings
from compare.errors import UsageError
from compare.jsonio import write_json
from compare.studies.cells import cached_data
from compare.studies.store import CellStore
from compare.studies.workers import dask_executor, process_pool

# name -> (type, default values, log axis)
PARAMS: dict[str, tuple[type, tuple, bool]] = {
    # up to a rate that diverges at the tutorial's momentum 0.9 (3: the loss passes 2 ln 10 in epoch 1)
    "learning_rate": (float, (1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 0.1, 0.3, 1.0, 3.0), True),
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
        """name=value,...,seed=N with every value exact (the shortest repr that reads back)."""
        parts = [f"{name}={value!r}" for name, value in self.values]
        return ",".join([*parts, f"seed={self.seed}"])

    def group(self) -> tuple:
        """Cells with the same group key can be trained stacked (same shapes, weights, batches)."""
        s = self.settings
        return (s.layers, s.batch_size, s.seed, s.epochs, s.dtype, s.activation, s.init)


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


# -- running ----------------------------------------------------------------------------------------


def run_group(cells: Sequence[Cell], data_dir, limit, method: str) -> list[tuple[str, dict]]:
    """Train a group of cells in this process (a worker); returns (cell id, record) pairs."""
    from threadpoolctl import threadpool_limits

    from compare.studies.cells import train_cell, train_group

    data = cached_data(data_dir, cells[0].settings.dtype, limit)
    with threadpool_limits(limits=1, user_api="blas"):
        if method == "stacked" and len(cells) > 1:
            records = train_group([c.settings for c in cells], data)
        else:
            records = [train_cell(c.settings, data) for c in cells]
    return [(c.id, r) for c, r in zip(cells, records, strict=True)]


def placement(work: Sequence[Sequence[Cell]], plan: SweepPlan) -> str:
    """How the cells of `work` (from `batches_of_work`) are placed on processes, in words."""
    cells = sum(len(g) for g in work)
    if plan.scheduler:
        where = f"on the Dask cluster at {plan.scheduler}"
    elif plan.jobs > 1 and len(work) > 1:
        where = f"on {min(plan.jobs, len(work))} worker processes, one BLAS thread each"
    else:
        where = "one after another in this process, one BLAS thread"
    if plan.method == "stacked":
        sizes = ", ".join(str(len(g)) for g in work)
        how = (
            f"{cells} cell(s) in {len(work)} stacked group(s) of {sizes} (each group one fit_many: "
            "cells with the same seed and shape share their batches)"
        )
    else:
        how = f"{cells} cell(s), each trained alone by fit"
    return f"{how}, {where}"


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


def run_sweep(
    plan: SweepPlan,
    out: Path,
    *,
    data_dir: str | None = None,
    say: Callable[[str], None] = print,
) -> int:
    """Run every cell not already finished in `out`; write sweep.json, figures and report.md.

    sweep.json always ends with a final status: complete, interrupted (Ctrl-C; the finished cells
    are kept) or failed (with the error).
    """
    from concurrent.futures import as_completed

    check_folder(out, plan)
    store = CellStore(out, plan, say)
    cells = plan.cells()
    done = store.finished(cells)
    todo = [c for c in cells if c.id not in done]
    by_id = {c.id: c for c in cells}
    say(
        f"Sweep: {len(cells)} cells ({len(done)} already finished in {out}), "
        f"{plan.base.epochs} epochs each, {plan.jobs} job(s), method {plan.method}"
    )
    work = batches_of_work(todo, plan.method, plan.jobs)
    placed = placement(work, plan) if todo else None
    if placed:
        say(f"Placement: {placed}")
    started = time.perf_counter()
    status, error = "running", None
    executor, close = None, lambda: None
    if todo and plan.scheduler:  # before anything is written: a wrong address leaves nothing
        executor, close = dask_executor(plan.scheduler)
    try:
        if todo:  # sweep.json (running, its plan) before the first cell: a killed sweep resumes
            _write(plan, out, cells, done, "running", 0.0, [])
        if todo and not plan.scheduler:
            cached_data(data_dir, plan.base.dtype, plan.limit)  # load once, before forking
            if plan.jobs > 1 and len(work) > 1:
                executor, close = process_pool(min(plan.jobs, len(work)))
        if executor is None:
            results = (run_group(g, data_dir, plan.limit, plan.method) for g in work)
        else:
            futures = [
                executor.submit(run_group, g, data_dir, plan.limit, plan.method) for g in work
            ]
            # the workers exist (forked at the first submit): while this process waits for them,
            # a thread loads the plotting library, which the figures would otherwise wait for
            _warm_figures()
            results = (f.result() for f in as_completed(futures))
        for pairs in results:
            for cell_id, record in pairs:
                done[cell_id] = store.save(by_id[cell_id], record)
                say(_line(len(done), len(cells), done[cell_id]))
        status = "complete"
    except KeyboardInterrupt:
        status = "interrupted"
        raise
    except BaseException as exc:
        status, error = "failed", f"{type(exc).__name__}: {exc}"
        raise
    finally:
        close()
        store.remove_if_empty()
        elapsed = time.perf_counter() - started
        trained = [r for cid, r in done.items() if cid in {c.id for c in todo}]
        _write(plan, out, cells, done, status, elapsed, trained, error, placed)
    return 0


def _warm_figures() -> None:
    """Import the figure code (matplotlib, ~0.5-1 s) in a background thread while workers train."""
    import threading

    def load() -> None:
        from compare.plots import _pyplot

        _pyplot()

    threading.Thread(target=load, name="figures-import", daemon=True).start()


def check_folder(out: Path, plan: SweepPlan) -> None:
    """UsageError unless `out` is new, empty, or holds this very sweep (to resume)."""
    from compare.folders import check_study_folder

    earlier = check_study_folder(out, "sweep", "sweep.json")
    if earlier is None:
        return
    ours = CellStore(out, plan).signature
    theirs = earlier.get("config") if isinstance(earlier.get("config"), dict) else {}
    if {k: v for k, v in theirs.items() if k in ours} != ours:
        raise UsageError(
            f"--out {out}: holds a sweep with other settings (see its sweep.json); use another "
            "folder, or the same flags to resume it"
        )


def _line(i: int, total: int, r: dict) -> str:
    if r["status"] != "complete":
        return f"[{i}/{total}] {r['id']}: {r['status']}"
    return (
        f"[{i}/{total}] {r['id']}: val {r['val_accuracy']:.2f}%, test {r['test_accuracy']:.2f}% "
        f"({r['seconds']:.1f} s)"
    )


def _write(
    plan,
    out: Path,
    cells,
    done: dict,
    status: str,
    elapsed: float,
    trained,
    error=None,
    placed=None,
) -> None:
    from compare.finals import REPORTS, failed, settle
    from compare.folders import read_record
    from compare.studies import figures
    from compare.studies.report import write_report

    epochs = sum(r.get("epochs_run") or 0 for r in trained)
    throughput = {
        "cells_trained_now": len(trained),
        "model_epochs": epochs,
        "wall_seconds": elapsed,
        "model_epochs_per_second": epochs / elapsed if elapsed > 0 and epochs else None,
        "placement": placed,
    }
    earlier = read_record(out / "sweep.json") if not trained else None  # nothing left to do
    if earlier is not None and isinstance(earlier.get("throughput"), dict):
        throughput = dict(earlier["throughput"])
    study = {
        "study": "sweep",
        "status": status,
        **({"error": error} if error else {}),
        "updated": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "config": plan.describe(),
        "throughput": throughput,
        "cells": [done[c.id] for c in cells if c.id in done],
    }
    if status == "running":  # the record a resume recognizes, before the first cell
        for name in REPORTS:  # an earlier report would go on stating its status
            (out / name).unlink(missing_ok=True)
        write_json(out / "sweep.json", study)
        return
    try:  # figures and reports first, the record last: no file says complete unless all are
        if study["cells"]:
            figures.sweep_figures(study, out)
            write_report(study, out)
        write_json(out / "sweep.json", study)
    except BaseException as exc:
        if not isinstance(exc, KeyboardInterrupt) or status == "complete":
            failed(study, exc, "writing the sweep's outputs")
        settle(out, "sweep.json", study, lambda: write_report(study, out))
        raise
