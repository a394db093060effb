"""The exceptions the CLI turns into a one-line message, and the signal handling every command
shares (SIGTERM ends a command as Ctrl-C does)."""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator


class UsageError(Exception):
    """Bad input from the user (a flag, a file, a folder): reported in one line, exit status 2."""


class Terminated(KeyboardInterrupt):
    """SIGTERM, turned into an interrupt so that every command ends it as it ends Ctrl-C."""


@contextlib.contextmanager
def terminate_as_interrupt() -> Iterator[None]:
    """While active (in the main thread), SIGTERM raises Terminated instead of killing outright."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum, frame):
        raise Terminated("terminated (SIGTERM)")

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextlib.contextmanager
def interrupts_deferred() -> Iterator[None]:
    """Ignore further Ctrl-C and SIGTERM while a few essential lines run (writing the final
    status after an interrupt): a second interrupt cannot leave the status unrecorded. The command
    is ending for an interrupt already, so they are not delivered afterwards."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    saved = {sig: signal.signal(sig, signal.SIG_IGN) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in saved.items():
            signal.signal(sig, handler)


def ignore_interrupts() -> None:
    """From now on ignore Ctrl-C and SIGTERM: the command is already ending for one, and what is
    left (a message, the exit) must not be cut off into a traceback."""
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, signal.SIG_IGN)
