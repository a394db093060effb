"""Output folders: created and checked before long work, locked while a command writes, and
replaced only when they hold that command's own earlier output."""

from __future__ import annotations

import contextlib
import dataclasses
import os
import re
import stat
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


# -- ownership: a command replaces only its own earlier output ---------------------------------------

MAX_RECORD_BYTES = 2**26  # a record (metrics.json, sweep.json, ...) larger than 64 MiB is not ours
MAX_MANIFEST_BYTES = MAX_RECORD_BYTES


@dataclasses.dataclass(frozen=True)
class Owner:
    """What marks a folder as holding `command`'s earlier output: its `record` (a JSON object
    with every key of `keys`) and nothing but regular files whose names `files` matches (folders
    whose names `folders` matches), dot files included."""

    command: str
    record: str
    keys: tuple[str, ...]
    files: str  # a regular expression, matched against the whole name
    folders: str = r"(?!)"  # none

    def owns(self, name: str, is_dir: bool) -> bool:
        return re.fullmatch(self.folders if is_dir else self.files, name) is not None


_RUN_NAMES = (
    r"metrics\.json|report\.(md|html)|digits\.png|learning_curves\.png|epoch_times\.png"
    r"|(misclassified|confusion|hidden_weights|hidden_weights_change)_[a-z0-9-]+\.png"
    r"|model_[a-z0-9-]+\.(npz|keras)"
)
OWNERS = {
    "run": Owner("run of mlp-compare", "metrics.json", ("phases_done", "artifacts"), _RUN_NAMES),
    "bench": Owner("`bench`", "bench.json", ("environment", "machine", "matmul_peak"),
                   r"bench\.json|report\.(md|html)|bench(_[a-z0-9_]+)?\.png"),
    "train": Owner("`train`", "history.json", ("impl", "settings"),
                   r"history\.json|learning_curves\.png|model\.(npz|keras)"),
    "data": Owner("`data`", "data.json", ("source", "checksums"), r"data\.json|digits\.png"),
    "lockstep": Owner("`lockstep`", "lockstep.json", ("settings", "epochs", "trace"),
                      r"lockstep\.(json|png)"),
    "sweep": Owner("`study sweep`", "sweep.json", ("study",),
                   r"sweep\.json|report\.(md|html)|sweep_[a-z0-9_]+\.png", r"cells"),
    "vanishing": Owner("`study vanishing`", "study.json", ("study",),
                       r"study\.json|report\.(md|html)|vanishing_[a-z0-9_]+\.png"),
}  # fmt: skip


def _entries(out: Path, owner: Owner) -> list[tuple[str, bool, bool]]:
    """(name, is a folder, is ours) of every entry but the lock and the temporary files our own
    atomic writes leave when killed (.<name>.<random>.part)."""
    entries = []
    for path in sorted(out.iterdir()):
        name = path.name
        if name == LOCK_NAME:
            continue
        temp = re.fullmatch(r"\.(.+)\.[^.]+\.part", name)  # numpy_mlp.io.atomic's
        keras = re.fullmatch(r"\.(.+)\.part(\.keras)", name)  # keras_mlp.save_model's
        original = temp.group(1) if temp else "".join(keras.groups()) if keras else None
        if original and owner.owns(original, False) and _is_regular(path):
            continue
        is_dir = path.is_dir() and not path.is_symlink()
        ours = owner.owns(name, is_dir) and (is_dir or _is_regular(path))
        entries.append((name, is_dir, ours))
    return entries


def _is_regular(path: Path) -> bool:
    try:
        return stat.S_ISREG(os.lstat(path).st_mode)
    except OSError:
        return False


def read_record(path: Path) -> dict | None:
    """The JSON object in `path` if it is a regular file within MAX_RECORD_BYTES (see
    numpy_mlp.io.reading) holding strict JSON, else None."""
    from numpy_mlp.io.reading import read_json

    try:
        value = read_json(path, MAX_RECORD_BYTES)
    except (OSError, ValueError):
        return None
    return value if isinstance(value, dict) else None


def _names(names: list[str]) -> str:
    return f"{', '.join(names[:3])}{', ...' if len(names) > 3 else ''}"


def claim_folder(out: Path, command: str, flag: str = "--out") -> dict | None:
    """Before `command` writes into `out` (locked): None if it holds nothing, the parsed record
    if it holds `command`'s own earlier output and nothing else, else UsageError: no one's files
    are overwritten or mixed in. Dot files count (.env, .git/); a file of ours that is a symbolic
    link, a device or a folder does not."""
    owner = OWNERS[command]
    entries = _entries(out, owner)
    if not entries:
        return None
    record = read_record(out / owner.record)
    if (
        record is None
        or not all(k in record for k in owner.keys)
        or ("study" in owner.keys and record.get("study") != command)
    ):
        raise UsageError(
            f"{flag} {out}: not empty and not an earlier {owner.command} (holds "
            f"{_names([n for n, _, _ in entries])}); choose an empty or a new folder"
        )
    strangers = [name for name, _, ours in entries if not ours]
    if strangers:
        raise UsageError(
            f"{flag} {out}: not an earlier {owner.command} alone: it also holds "
            f"{_names(strangers)}; choose an empty or a new folder"
        )
    return record


def clear_earlier_run(out: Path, flag: str = "--out") -> list[str]:
    """Make `out` ready for a new `run`: an empty folder is; a folder holding an earlier run of
    mlp-compare and nothing else (`claim_folder`) has that run's files removed: those its
    metrics.json lists that are names `run` writes, regular files in the folder (returned);
    a folder holding anything else is refused, so no one's files are removed or mixed in."""
    metrics = claim_folder(out, "run", flag)
    if metrics is None:
        return []
    owner = OWNERS["run"]
    listed = {a for a in metrics.get("artifacts", []) if isinstance(a, str)}
    listed |= {"metrics.json", "report.md", "report.html"}
    present = {name for name, is_dir, ours in _entries(out, owner) if ours and not is_dir}
    unlisted = sorted(present - listed)
    if unlisted:  # a file with one of run's names that its record does not list: not ours
        raise UsageError(
            f"{flag} {out}: holds an earlier run and files its metrics.json does not list "
            f"({_names(unlisted)}); choose an empty or a new folder"
        )
    removed = sorted(present & listed)
    for name in removed:
        (out / name).unlink()
    return removed


def check_study_folder(out: Path, kind: str, manifest: str, flag: str = "--out") -> dict | None:
    """Before a study writes into `out`: None if it holds nothing, the parsed `manifest` if it holds
    an earlier study of this `kind` (its manifest, report, `kind`_*.png figures, cells/), else
    UsageError: a study replaces only its own earlier output, like `run`."""
    return claim_folder(out, kind, flag)
