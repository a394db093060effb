"""How a sweep places its cells on processes (groups split so every worker has work, in words), and
the figure it draws aside in a forked child."""

from __future__ import annotations

import contextlib
import dataclasses
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from compare.config import TUTORIAL
from compare.studies import workers
from compare.studies.sweep import SweepPlan, batches_of_work, placement
from tests.conftest import alive


def _plan(jobs: int, method: str, seeds: int = 2) -> SweepPlan:
    axes = (("learning_rate", (1e-3, 1e-2, 0.1, 3.0)),)
    base = dataclasses.replace(TUTORIAL, epochs=1)
    return SweepPlan(axes=axes, seeds=seeds, base=base, jobs=jobs, method=method)


@pytest.mark.parametrize(
    ("jobs", "seeds", "sizes"),
    [
        (1, 2, [4, 4]),
        (2, 2, [4, 4]),
        (4, 2, [2] * 4),
        (2, 1, [2, 2]),
        (3, 1, [1, 1, 2]),
        (10, 2, [1] * 8),
    ],
)
def test_stacked_groups_are_one_per_seed_and_halved_until_every_worker_has_one(jobs, seeds, sizes):
    plan = _plan(jobs, "stacked", seeds)
    work = batches_of_work(plan.cells(), plan.method, plan.jobs)
    assert sorted(len(g) for g in work) == sizes
    for group in work:  # a group shares its batches: one seed, one shape
        assert len({c.group() for c in group}) == 1
    words = placement(work, plan)
    assert f"in {len(work)} stacked group(s)" in words
    if jobs > 1:
        assert f"on {min(jobs, len(work))} worker processes" in words
    else:
        assert "in this process" in words


def test_separate_cells_each_train_alone():
    plan = _plan(2, "separate")
    work = batches_of_work(plan.cells(), plan.method, plan.jobs)
    assert [len(g) for g in work] == [1] * 8
    assert placement(work, plan).startswith("8 cell(s), each trained alone by fit, on 2 worker")


# -- a figure drawn aside: a forked child while the parent draws the other ---------------------------


@pytest.fixture
def forking(monkeypatch):
    """aside forks even where TensorFlow is loaded (earlier tests of the same run load it): the
    children here run plain Python, none of TensorFlow's threads' work."""
    import multiprocessing

    if "fork" not in multiprocessing.get_all_start_methods() or (os.cpu_count() or 1) < 2:
        pytest.skip("aside runs tasks in this process here (no fork, or one core)")
    monkeypatch.setattr(workers, "fork_is_safe", lambda: True)


needs_fork = pytest.mark.usefixtures("forking")


@needs_fork
def test_aside_runs_the_task_in_a_child_and_waits_for_it(tmp_path):
    path = tmp_path / "pid"
    wait = workers.aside(lambda: path.write_text(str(os.getpid())))
    wait()
    assert int(path.read_text()) != os.getpid()  # written, and by another process


@needs_fork
def test_aside_raises_the_childs_error_here(tmp_path):
    def fails() -> None:
        raise OSError(28, "No space left on device", str(tmp_path / "sweep_curves.png"))

    with pytest.raises(OSError, match="No space left") as caught:
        workers.aside(fails)()
    assert caught.value.errno == 28 and caught.value.filename.endswith("sweep_curves.png")

    class Unpicklable(Exception):  # a local class: pickle cannot name it
        pass

    def fails_oddly() -> None:
        raise Unpicklable("odd 42")

    with pytest.raises(RuntimeError, match="Unpicklable: odd 42"):
        workers.aside(fails_oddly)()


@needs_fork
def test_aside_cancelled_leaves_no_child(tmp_path):
    path = tmp_path / "pid"

    def slow() -> None:
        path.write_text(str(os.getpid()))
        time.sleep(60)

    wait = workers.aside(slow)
    for _ in range(500):  # the child has started once it wrote its pid
        if path.exists() and path.read_text():
            break
        time.sleep(0.01)
    started = time.perf_counter()
    wait(cancel=True)
    assert time.perf_counter() - started < 10
    with pytest.raises(ProcessLookupError):  # gone, and reaped
        os.kill(int(path.read_text()), 0)


def test_aside_without_a_safe_fork_runs_the_task_here(tmp_path, monkeypatch):
    monkeypatch.setattr(workers, "fork_is_safe", lambda: False)
    path = tmp_path / "pid"
    wait = workers.aside(lambda: path.write_text(str(os.getpid())))
    assert int(path.read_text()) == os.getpid()  # at once, before any wait
    wait()


@needs_fork
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")
def test_a_child_drawing_aside_dies_with_a_killed_parent(tmp_path):
    marker = tmp_path / "child"
    code = (
        "import os, sys, time\n"
        "from compare.studies.workers import aside\n"
        "def task():\n"
        f"    open({str(marker)!r}, 'w').write(str(os.getpid()))\n"
        "    time.sleep(60)\n"
        "wait = aside(task)\n"
        "time.sleep(60)\n"
    )
    root = Path(__file__).resolve().parents[1]
    parent = subprocess.Popen([sys.executable, "-c", code], cwd=root)
    child = None
    try:
        deadline = time.monotonic() + 30
        while child is None and time.monotonic() < deadline:
            text = marker.read_text() if marker.exists() else ""
            child = int(text) if text else None
            time.sleep(0.05)
        assert child is not None, "the child never started"
        parent.send_signal(signal.SIGKILL)
        parent.wait(timeout=10)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and alive(child):
            time.sleep(0.05)
        assert not alive(child)
    finally:
        parent.kill()
        parent.wait()
        if child is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(child, signal.SIGKILL)


def test_aside_runs_the_task_here_when_no_process_can_be_started(tmp_path, monkeypatch):
    import multiprocessing.process

    def no_fork(self) -> None:
        raise BlockingIOError(11, "Resource temporarily unavailable")

    monkeypatch.setattr(multiprocessing.process.BaseProcess, "start", no_fork)
    path = tmp_path / "pid"
    wait = workers.aside(lambda: path.write_text(str(os.getpid())))
    assert int(path.read_text()) == os.getpid()
    wait()
