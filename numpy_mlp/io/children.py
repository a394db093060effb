"""Child processes that never outlive the process that started them.

`die_with_parent` is a `preexec_fn` for subprocess: on Linux it asks the kernel (prctl
PR_SET_PDEATHSIG) to send the child SIGKILL when its parent dies, however the parent dies (SIGKILL
included, which no handler of the parent can see). Elsewhere it does nothing.
"""

from __future__ import annotations

import os
import signal
import sys

PR_SET_PDEATHSIG = 1
_forking_parent = os.getpid()  # the process that forks, noted just before each fork


def _note_parent() -> None:
    global _forking_parent
    _forking_parent = os.getpid()


os.register_at_fork(before=_note_parent)  # subprocess runs it when a preexec_fn is given


def die_with_parent() -> None:
    """In a just-forked child (subprocess's preexec_fn): be killed when the parent dies."""
    if not sys.platform.startswith("linux"):
        return
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != _forking_parent:  # the parent died before the request took effect
        os._exit(1)
