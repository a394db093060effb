"""Where a study's cells run: in this process, in forked worker processes, or on a Dask cluster;
and `aside`, one task (a figure) in a forked child while this process does another.

Forked workers and children die with the command: each asks the kernel for SIGKILL when its parent
dies (Linux's PR_SET_PDEATHSIG; elsewhere it exits if its parent is already gone when it starts),
and closes its inherited copy of the output folder's lock, so a killed sweep leaves no process behind
that holds the folder. A Dask scheduler is reached within CONNECT_SECONDS or not at all.
"""

from __future__ import annotations

import os
import re
import signal
import sys
import threading
from collections.abc import Callable

from compare.errors import UsageError
from compare.folders import drop_inherited_locks

CONNECT_SECONDS = 20
# what Dask's Client accepts for a scheduler: tcp:// or tls://, a host, a port (or host:port)
ADDRESS = re.compile(r"^(?:(?:tcp|tls)://)?(?:\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):(\d{1,5})$")


def _die_with_parent(parent: int) -> None:
    """Worker initializer: SIGKILL when the parent dies; leave the folder lock to the parent."""
    if sys.platform.startswith("linux"):
        import ctypes

        PR_SET_PDEATHSIG = 1
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:  # the parent died before the request took effect
        os._exit(1)
    drop_inherited_locks()


def process_pool(jobs: int):
    """(executor, close) for `jobs` worker processes that die with this one."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    # fork shares the MNIST arrays already loaded here (copy-on-write) and starts at once; it is
    # not safe once TensorFlow (with its threads) is loaded in this process, so spawn then.
    method = "spawn" if "tensorflow" in sys.modules else "fork"
    pool = ProcessPoolExecutor(
        jobs,
        mp_context=multiprocessing.get_context(method),
        initializer=_die_with_parent,
        initargs=(os.getpid(),),
    )
    return pool, lambda: pool.shutdown(wait=False, cancel_futures=True)


def fork_is_safe() -> bool:
    """Whether this process may fork a child that runs Python: fork exists here, and TensorFlow
    (whose threads a forked child would inherit in an unknown state) is not loaded."""
    import multiprocessing

    return "fork" in multiprocessing.get_all_start_methods() and "tensorflow" not in sys.modules


def _child_main(task: Callable[[], None], conn, parent: int) -> None:
    """In a forked child: run `task`, send back None or the exception it raised."""
    _die_with_parent(parent)
    try:
        task()
    except BaseException as exc:
        try:
            conn.send(exc)
        except Exception:  # an exception that does not pickle: its type and text
            conn.send(RuntimeError(f"{type(exc).__name__}: {exc}"))
        return
    conn.send(None)


def aside(task: Callable[[], None]) -> Callable[..., None]:
    """Start `task()` in a forked child that dies with this process; return `wait`, which waits
    for it and raises what `task` raised (re-raised here, so a caller handles it as its own);
    `wait(cancel=True)` kills it instead (for a caller that is failing already).

    Where a fork is not safe (`fork_is_safe`), there is one core or the fork fails, `task` runs
    here, at once, and `wait` does nothing. A `wait` cut short (Ctrl-C) kills the child before it returns.
    """
    import multiprocessing

    if (os.cpu_count() or 1) < 2 or not fork_is_safe():
        task()
        return lambda cancel=False: None
    context = multiprocessing.get_context("fork")
    reader, writer = context.Pipe(duplex=False)
    child = context.Process(target=_child_main, args=(task, writer, os.getpid()), daemon=True)
    try:
        child.start()
    except OSError:  # no process to be had (memory, a process limit): the task runs here
        reader.close()
        writer.close()
        task()
        return lambda cancel=False: None
    writer.close()

    def wait(cancel: bool = False) -> None:
        received, outcome = False, None
        try:
            if not cancel:
                outcome, received = reader.recv(), True
        except EOFError:  # it ended without a word: killed
            pass
        finally:
            if not received:  # interrupted here, or it died: nothing of it outlives this call
                child.kill()
            child.join()
            reader.close()
        if cancel:
            return
        if not received:
            raise RuntimeError(
                f"a child process ended before its work was done (exit status {child.exitcode})"
            )
        if outcome is not None:
            raise outcome

    return wait


def check_scheduler_address(address: str) -> str:
    """The address, or UsageError: Dask's tcp://HOST:PORT (or tls://, or HOST:PORT)."""
    match = ADDRESS.match(address)
    if not match or not 0 < int(match.group(1)) < 65536:
        shown = address if len(address) <= 80 else address[:77] + "..."
        raise UsageError(
            f"--scheduler {shown}: not a Dask scheduler address; write tcp://HOST:PORT "
            "(e.g. tcp://127.0.0.1:8786)"
        )
    return address


def dask_executor(address: str) -> tuple[object, Callable[[], None]]:
    """(executor, close) on the Dask scheduler at `address`, connected within CONNECT_SECONDS."""
    try:
        from distributed import Client
    except ImportError:
        raise UsageError(
            "--scheduler needs Dask: install the cluster extra, pip install 'mlp-compare[cluster]'"
        ) from None
    outcome: dict = {}

    def connect() -> None:
        try:
            outcome["client"] = Client(address, timeout=f"{CONNECT_SECONDS}s")
        except BaseException as exc:  # reported below, in the calling thread
            outcome["error"] = exc

    # the deadline is ours: a listener that accepts and never answers can stall a handshake
    thread = threading.Thread(target=connect, name="dask-connect", daemon=True)
    thread.start()
    thread.join(CONNECT_SECONDS + 5)
    if "client" not in outcome:
        why = outcome.get("error")
        reason = f"{type(why).__name__}: {why}" if why else "no answer"
        raise UsageError(
            f"--scheduler {address}: no Dask scheduler answered within {CONNECT_SECONDS} s "
            f"({reason[:200]})"
        )
    client = outcome["client"]
    return client.get_executor(pure=False), client.close
