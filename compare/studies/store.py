"""A sweep's finished cells on disk: cells/<id>.json, one per cell, and what a rerun may reuse.

A rerun into the same folder skips the cells already finished, so a file found there is trusted
only as far as it can be checked: it must be a regular file of at most MAX_CELL_BYTES, strict
JSON, the record of this very cell (its id, values, seed and the sweep's settings, exactly) and
hold numbers in range (accuracies in 0-100, finite losses, epochs within the plan). Anything else
is set aside (renamed `<id>.json.rejected`, said in one line) and the cell trained again.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from pathlib import Path

from compare.errors import UsageError
from compare.jsonio import dumps, write_json

MAX_CELL_BYTES = 16 * 2**20  # a 10,000-epoch history is about 1 MB
STATUSES = ("complete", "diverged")


class CellStore:
    """cells/<id>.json of one sweep plan; `finished` returns the cells a rerun may reuse."""

    def __init__(self, out: Path, plan, say: Callable[[str], None] = print) -> None:
        self.folder = out / "cells"
        self.plan, self.say = plan, say
        # as it reads back from JSON (tuples become lists), so that a rerun compares equal
        described = plan.describe()
        self.signature = _as_json(
            {k: v for k, v in described.items() if k not in ("jobs", "method", "scheduler")}
        )

    def path(self, cell_id: str) -> Path:
        return self.folder / f"{cell_id}.json"

    def finished(self, cells: Sequence) -> dict[str, dict]:
        """{cell id: record} for the cells whose file passes every check; the rest set aside."""
        done = {}
        for cell in cells:
            path = self.path(cell.id)
            if not path.exists() and not path.is_symlink():
                continue
            record, problem = self._read(path)
            if problem is None:
                problem = self._problem(cell, record)
            if problem is None:
                done[cell.id] = record
            else:
                self._set_aside(path, problem)
        return done

    def save(self, cell, record: dict) -> dict:
        self.folder.mkdir(exist_ok=True)
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

    def remove_if_empty(self) -> None:
        """Leave no empty cells/ behind (a sweep that failed before finishing any cell)."""
        if self.folder.is_dir() and not any(self.folder.iterdir()):
            self.folder.rmdir()

    # -- checks ------------------------------------------------------------------------------------
    def _read(self, path: Path) -> tuple[dict | None, str | None]:
        if path.is_symlink() or not path.is_file():
            return None, "not a regular file"
        size = path.stat().st_size
        if size > MAX_CELL_BYTES:
            return None, f"{size:,} bytes, more than a cell's record can be"
        try:
            record = json.loads(path.read_bytes(), parse_constant=_refuse_constant)
        except (OSError, ValueError) as exc:
            return None, f"not valid JSON ({str(exc)[:80]})"
        if not isinstance(record, dict):
            return None, "not a cell record"
        return record, None

    def _problem(self, cell, r: dict) -> str | None:
        """What is wrong with record `r` as the finished result of `cell`, or None."""
        if r.get("signature") != self.signature:
            return "made by a sweep with other settings"
        expected = {"id": cell.id, "values": _as_json(dict(cell.values)), "seed": cell.seed}
        for key, value in expected.items():
            if r.get(key) != value:
                return f"its {key} is {str(r.get(key))[:60]!s}, not {value}"
        if r.get("status") not in STATUSES:
            return f"status {str(r.get('status'))[:40]!r} is not one of {', '.join(STATUSES)}"
        history = r.get("history")
        epochs = cell.settings.epochs
        if not isinstance(history, dict) or not all(
            isinstance(v, list) and len(v) <= epochs for v in history.values()
        ):
            return "its history is not per-epoch lists"
        if not isinstance(r.get("seconds"), int | float) or not r["seconds"] >= 0:
            return "its seconds are not a time"
        if r["status"] == "diverged":
            return None if isinstance(r.get("error"), str) else "a diverged cell without its error"
        for key in ("loss", "accuracy"):
            values = history.get(key)
            if not isinstance(values, list) or not values or not all(map(_finite, values)):
                return f"its {key} history is missing or not finite"
        runs = r.get("epochs_run")
        if not isinstance(runs, int) or isinstance(runs, bool) or not 1 <= runs <= epochs:
            return f"epochs_run {runs!r} is not in 1..{epochs}"
        for key in ("train_accuracy", "test_accuracy", "val_accuracy"):
            value = r.get(key)
            if value is None and key == "val_accuracy":
                continue
            if not _finite(value) or not 0 <= value <= 100:
                return f"{key} {value!r} is not a percentage"
        best = r.get("best_epoch")
        if best is not None and (not isinstance(best, int) or not 1 <= best <= runs):
            return f"best_epoch {best!r} is not in 1..{runs}"
        return None

    def _set_aside(self, path: Path, problem: str) -> None:
        target = path.with_name(path.name + ".rejected")
        n = 1
        while target.exists() or target.is_symlink():
            n += 1
            target = path.with_name(f"{path.name}.rejected{n}")
        try:
            path.rename(target)
        except OSError as exc:
            raise UsageError(
                f"{path}: cannot reuse it ({problem}) nor move it aside ({exc.strerror})"
            ) from None
        self.say(f"{path.parent.name}/{path.name}: {problem}; set aside as {target.name}, "
                 "training that cell again")  # fmt: skip


def _as_json(value):
    return json.loads(dumps(value))


def _finite(value) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _refuse_constant(name: str):
    raise ValueError(f"{name} is not strict JSON")
