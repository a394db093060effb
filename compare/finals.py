"""Statuses true to the end: after a failure, every file that states a status says so, or is gone.

A record (metrics.json, sweep.json, study.json) and the reports rendered from it (report.md,
report.html) each state a status. When writing one of them fails (a full disk, a file-size limit),
the files written before it would go on saying `running` or `complete`. `settle` writes the final
record, then the reports from it; whatever of them cannot be written is removed.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from pathlib import Path

from compare.errors import interrupts_deferred
from compare.jsonio import write_json

REPORTS = ("report.md", "report.html")


def _remove(path: Path) -> None:
    with contextlib.suppress(OSError):
        path.unlink()


def settle(out: Path, record_name: str, record: dict, reports: Callable[[], None] | None) -> None:
    """Write `record` (its final status) to `record_name`, then `reports()`; any that fails to be
    written is removed, reports included. Never raises OSError: the caller is already ending for
    an error of its own."""
    with interrupts_deferred():
        try:
            write_json(out / record_name, record)
        except OSError:
            _remove(out / record_name)
        try:
            if reports is not None:
                reports()
        except Exception:
            for name in REPORTS:
                _remove(out / name)


def failed(record: dict, exc: BaseException, doing: str | None = None) -> None:
    """Mark `record` failed by `exc` (keeping an earlier error, if any, first)."""
    error = f"{type(exc).__name__}: {exc}" + (f" ({doing})" if doing else "")
    record["status"] = "failed"
    record["error"] = f"{record['error']}; then {error}" if record.get("error") else error
