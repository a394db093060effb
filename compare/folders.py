"""Output folders: created and checked before long work, locked while a command writes, and
replaced only when they hold that command's own earlier output."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from compare.errors import UsageError


def prepare_out_dir(path: str | os.PathLike, flag: str = "--out") -> Path:
    """Create the output folder if needed and make sure it is writable, before any long work."""
    out = Path(path)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise UsageError(f"{flag} {out}: exists and is not a folder") from None
    except OSError as exc:
        raise UsageError(f"{flag} {out}: cannot create the folder ({exc.strerror})") from None
    try:
        with tempfile.TemporaryFile(dir=out):
            pass
    except OSError as exc:
        raise UsageError(f"{flag} {out}: folder is not writable ({exc.strerror})") from None
    return out


@contextlib.contextmanager
def output_folder(path: str | os.PathLike, flag: str = "--out") -> Iterator[Path]:
    """`prepare_out_dir`, locked for this process; if the command then fails leaving the new
    folder empty, it is removed.

    The lock (an flock on LOCK_NAME inside the folder, gone with the process) makes a second
    command writing into the same folder at the same time stop at once, naming the folder.
    """
    existed = Path(path).exists()
    out = prepare_out_dir(path, flag)
    lock = _lock(out, flag)
    try:
        yield out
    except BaseException:
        _unlock(lock, out)
        if not existed and out.is_dir() and not any(out.iterdir()):
            out.rmdir()
        raise
    _unlock(lock, out)


LOCK_NAME = ".mlp-compare.lock"
_HELD: list = []  # this process's lock files (a forked worker closes its copies: see below)


def _lock(out: Path, flag: str):
    import fcntl

    handle = open(out / LOCK_NAME, "a+")  # noqa: SIM115 - held until _unlock
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        raise UsageError(
            f"{flag} {out}: another mlp-compare command is writing into this folder; wait for it "
            "or choose another folder"
        ) from None
    _HELD.append(handle)
    return handle


def _unlock(handle, out: Path) -> None:
    with contextlib.suppress(OSError):
        (out / LOCK_NAME).unlink()
    handle.close()
    with contextlib.suppress(ValueError):
        _HELD.remove(handle)


def drop_inherited_locks() -> None:
    """In a forked child: close the copies of the parent's lock files, without unlocking.

    An flock belongs to the open file, which fork shares: a worker that kept its copy would keep
    the folder locked after the command that took the lock is gone. Closing the copy (never
    LOCK_UN, which would unlock the parent too) leaves the lock to the parent alone.
    """
    while _HELD:
        with contextlib.suppress(OSError):
            os.close(_HELD.pop().fileno())


def clear_earlier_run(out: Path, flag: str = "--out") -> list[str]:
    """Make `out` ready for a new `run`: an empty folder is; a folder holding an earlier run of
    mlp-compare has that run's files removed (they are listed in its metrics.json, returned);
    a folder holding anything else is refused, so no one's files are overwritten or mixed in."""
    present = sorted(p.name for p in out.iterdir() if p.name != LOCK_NAME)
    if not present:
        return []
    ours = _earlier_run_files(out / "metrics.json")
    strangers = [name for name in present if name not in ours and not name.startswith(".")]
    if strangers:
        raise UsageError(
            f"{flag} {out}: not empty and not an earlier run of mlp-compare (holds "
            f"{', '.join(strangers[:3])}{', ...' if len(strangers) > 3 else ''}); choose an empty "
            "or a new folder"
        )
    removed = [name for name in present if name in ours]
    for name in removed:
        (out / name).unlink()
    return removed


def _earlier_run_files(metrics_path: Path) -> set[str]:
    import json

    try:
        metrics = json.loads(metrics_path.read_text())
    except (OSError, ValueError):
        return set()
    if not isinstance(metrics, dict) or "phases_done" not in metrics:
        return set()
    listed = {a for a in metrics.get("artifacts", []) if isinstance(a, str) and "/" not in a}
    return listed | {"metrics.json", "report.md", "report.html"}


MAX_MANIFEST_BYTES = 2**26  # a sweep.json of 1,000 cells with long histories stays far below


def check_study_folder(out: Path, kind: str, manifest: str, flag: str = "--out") -> dict | None:
    """Before a study writes into `out`: None if it holds nothing, the parsed `manifest` if it holds
    an earlier study of this `kind` (its manifest, report, `kind`_*.png figures, cells/), else
    UsageError: a study replaces only its own earlier output, like `run`."""
    import json

    present = sorted(p.name for p in out.iterdir() if p.name != LOCK_NAME)
    if not present:
        return None
    earlier = None
    path = out / manifest
    if path.is_file() and path.stat().st_size <= MAX_MANIFEST_BYTES:
        try:
            earlier = json.loads(path.read_text())
        except (OSError, ValueError):
            earlier = None
    if not isinstance(earlier, dict) or earlier.get("study") != kind:
        raise UsageError(
            f"{flag} {out}: not empty and not an earlier `study {kind}` (holds "
            f"{', '.join(present[:3])}{', ...' if len(present) > 3 else ''}); choose an empty or "
            "a new folder"
        )
    ours = {manifest, "report.md", "report.html", "cells"}
    strangers = [
        name
        for name in present
        if name not in ours
        and not (name.startswith(f"{kind}_") and name.endswith(".png"))
        and not name.startswith(".")
    ]
    if strangers:
        raise UsageError(
            f"{flag} {out}: holds an earlier `study {kind}` and other files ("
            f"{', '.join(strangers[:3])}{', ...' if len(strangers) > 3 else ''}); choose an empty "
            "or a new folder"
        )
    return earlier
