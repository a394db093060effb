"""Atomic file writes: write to a temporary file in the target folder, then rename.

A reader (or a crash, or Ctrl-C) never sees a half-written file: either the old file is still there
or the new one is complete. The temporary file lives in the same folder so that `os.replace` is a
rename within one file system.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO


@contextlib.contextmanager
def atomic_open(path: str | os.PathLike, mode: str = "wb") -> Iterator[IO]:
    """Open a temporary sibling of `path` for writing; rename it onto `path` on success.

    On any exception (KeyboardInterrupt included) the temporary file is removed and `path` is left
    as it was. An existing `path` that is not a regular file (a device, a FIFO, a folder, a
    symbolic link) is never replaced: FileExistsError. A write error names `path`.
    """
    path = Path(path)
    refuse_non_regular(path)
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    except FileNotFoundError:
        raise FileNotFoundError(2, "cannot write: its folder does not exist", str(path)) from None
    try:
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; give the file the usual mode
        with os.fdopen(fd, mode) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        refuse_non_regular(path)  # checked again: it may have appeared meanwhile
        os.replace(tmp, path)
    except OSError as exc:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        if exc.filename is None and exc.errno is not None:  # e.g. EFBIG, ENOSPC from a write
            raise OSError(exc.errno, exc.strerror, str(path)) from None
        raise
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def refuse_non_regular(path: str | os.PathLike) -> None:
    """FileExistsError if `path` exists and is not a regular file (a device, a FIFO, a folder, a
    symbolic link): a rename onto it would replace it."""
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return
    if not stat.S_ISREG(info.st_mode):
        raise FileExistsError(
            errno.EEXIST, "exists and is not a regular file; not replaced", str(path)
        )


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    """Write `text` (UTF-8) to `path` atomically."""
    with atomic_open(path, "w") as handle:
        handle.write(text)


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write `data` to `path` atomically."""
    with atomic_open(path, "wb") as handle:
        handle.write(data)
