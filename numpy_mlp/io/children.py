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


def die_with_parent() -> None:
    """In a just-forked child (subprocess's preexec_fn): be killed when the parent dies."""
    if not sys.platform.startswith("linux"):
        return
    import ctypes

    parent = os.getppid()
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent:  # the parent died before the request took effect
        os._exit(1)
