"""Bounded reads: every file the project reads back (a model, a JSON record of an earlier run) is
opened only when it is a regular file of at most a stated size.

A path naming a device (/dev/zero), a FIFO, a folder, or a symbolic link that leads out of the
folder it sits in is refused before a byte is read, and so is a regular file larger than the
bound: a crafted path can never make a reader allocate gigabytes or wait forever. The checks run
on the opened descriptor (`fstat`), so the file cannot be swapped between check and read.
"""

from __future__ import annotations

import contextlib
import json
import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO


class UnreadableFileError(ValueError):
    """A file that is missing, not a regular file, outside its folder, or over its size bound."""


def _check_link(path: Path) -> None:
    """A symbolic link must lead to a file inside the folder that holds the link."""
    if not path.is_symlink():
        return
    folder = path.parent.resolve()
    target = path.resolve()
    if folder not in target.parents:
        raise UnreadableFileError(f"{path}: a symbolic link out of its folder (to {target})")


@contextlib.contextmanager
def open_bounded(path: str | os.PathLike, max_bytes: int) -> Iterator[BinaryIO]:
    """`path` opened for binary reading, if it is a regular file of at most `max_bytes` bytes
    (a symbolic link only to a file in the same folder); else UnreadableFileError naming it."""
    path = Path(path)
    _check_link(path)
    try:
        # O_NONBLOCK: opening a FIFO never waits for a writer; it is refused just below
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        raise UnreadableFileError(f"{path}: file not found") from None
    except OSError as exc:
        raise UnreadableFileError(f"{path}: cannot open it ({exc.strerror})") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise UnreadableFileError(f"{path}: not a regular file")
        if info.st_size > max_bytes:
            raise UnreadableFileError(
                f"{path}: {info.st_size:,} bytes, more than the {max_bytes:,} such a file can be"
            )
        os.set_blocking(fd, True)
        handle = os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise
    with handle:
        yield handle


def read_bounded(path: str | os.PathLike, max_bytes: int) -> bytes:
    """The bytes of `path`, checked as `open_bounded` checks it (and never more than the bound,
    should the file grow while it is read)."""
    with open_bounded(path, max_bytes) as handle:
        data = handle.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise UnreadableFileError(f"{path}: grew past {max_bytes:,} bytes while being read")
    return data


def _refuse_constant(name: str):
    raise ValueError(f"{name} is not strict JSON")


def read_json(path: str | os.PathLike, max_bytes: int):
    """The strict JSON (no NaN or Infinity) in `path`, read with `read_bounded`.

    Raises UnreadableFileError for the file and ValueError for its text; integers too long to
    convert are a ValueError too.
    """
    data = read_bounded(path, max_bytes)
    try:
        return json.loads(data, parse_constant=_refuse_constant)
    except RecursionError:
        raise ValueError(f"{path}: nested too deeply") from None
