"""The studies hold the main job's line: sizes checked before anything is allocated (peak memory
measured in a fresh process), no orphan workers after a SIGKILL, no trusted garbage on resume,
a bounded wait for a Dask scheduler, folders replaced only when they hold our own output."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tests.conftest import ROOT, alive

PEAK_LIMIT_MB = 400  # the CLI with NumPy and matplotlib imported is ~150 MB


def _cli_peak(args: list[str]) -> tuple[int, str, float]:
    """Run mlp-compare ARGS in a fresh interpreter: (exit status, stderr, peak resident MB)."""
    code = (
        "import sys\nfrom compare.cli import main\n"
        "try:\n    code = main(sys.argv[1:])\nexcept SystemExit as e:\n    code = e.code\n"
        "peak = [int(l.split()[1]) for l in open('/proc/self/status') if l.startswith('VmHWM')]\n"
        "print(peak[0], file=sys.stdout)\nsys.exit(code)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, cwd=ROOT, timeout=120
    )
    return result.returncode, result.stderr, int(result.stdout.split()[-1]) / 1024


SIZE_CASES = [
    (["study", "vanishing", "--width", "1000000", "--depths", "1", "--quick"], "--width 1000000"),
    (["study", "vanishing", "--width", "130000", "--depths", "1", "--quick"], "--width 130000"),
    (["study", "vanishing", "--depths", "100000"], "at most 64"),
    (["study", "vanishing", "--depths", "2147483647"], "at most 64"),
    (["study", "sweep", "--param", "hidden", "--values", "10000000"], "hidden=10000000"),
    (["study", "sweep", "--param", "learning_rate", "--hidden", "10000000"], "--hidden 10000000"),
    (["study", "sweep", "--param", "learning_rate", "--values",
      ",".join(str(i / 1e5 + 1e-6) for i in range(1, 10_001))], "at most 1,000"),
    (["study", "sweep", "--grid", "learning_rate=" + ",".join(str(i / 1e4) for i in range(1, 1001)),
      "momentum=" + ",".join(str(i / 1001) for i in range(1000))], "at most 1,000"),
    (["study", "sweep", "--param", "momentum", "--seeds", "2147483647"], "at most 1,000"),
    (["study", "sweep", "--param", "momentum", "--jobs", "2147483647"], "--jobs 2147483647"),
]  # fmt: skip


@pytest.mark.parametrize(("argv", "needle"), SIZE_CASES, ids=lambda v: str(v)[:60])
def test_study_sizes_are_refused_before_anything_is_allocated(tmp_path, argv, needle):
    out = tmp_path / "o"
    code, stderr, peak = _cli_peak([*argv, "--out", str(out)])
    lines = stderr.strip().splitlines()
    assert code == 2 and len(lines) == 1 and needle in lines[0], stderr[-2000:]
    assert "Traceback" not in stderr
    assert peak < PEAK_LIMIT_MB, f"peak {peak:.0f} MB"
    assert not out.exists()


def _sweep_args(mnist_dir, out, *extra, epochs="1", limit="600"):
    return ["study", "sweep", *extra, "--epochs", epochs, "--limit", limit,
            "--data-dir", str(mnist_dir), "--out", str(out)]  # fmt: skip


@pytest.mark.parametrize(
    ("extra", "needle"),
    [
        (("--param", "learning_rate", "--values", "0.1,0.1"), "0.1 is given twice"),
        (("--grid", "learning_rate=0.1,0.2", "momentum=0,0.9", "--values", "1"),
         "--values goes with --param"),
        (("--param", "hidden", "--values", "1.5,2.7"), "hidden must be a whole number"),
        (("--param", "batch_size", "--values", "1e12"), "batch_size must be a whole number"),
        (("--param", "batch_size", "--values", "1e308"), "batch_size must be a whole number"),
        (("--param", "hidden", "--values", "inf"), "hidden must be a whole number"),
        (("--param", "batch_size", "--values", "inf"), "batch_size must be a whole number"),
        (("--param", "learning_rate", "--values", "inf"), "learning_rate must be a finite"),
        (("--param", "learning_rate", "--limit", "1"), "leaves no training rows"),
        (("--param", "learning_rate", "--scheduler", "not a url at all"),
         "not a Dask scheduler address"),
        (("--param", "learning_rate", "--scheduler", "ftp://127.0.0.1:21"),
         "not a Dask scheduler address"),
    ],
)  # fmt: skip
def test_sweep_flags_that_would_mislead_are_refused(tmp_path, mnist_dir, cli, extra, needle):
    out = tmp_path / "o"
    argv = _sweep_args(mnist_dir, out, *extra)
    if "--limit" in extra:  # the case sets its own
        argv = ["study", "sweep", *extra, "--data-dir", str(mnist_dir), "--out", str(out)]
    result = cli(*argv)
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2 and len(lines) == 1 and needle in lines[0], result.stderr
    assert not out.exists()


def test_vanishing_with_too_few_rows_is_refused(tmp_path, mnist_dir, cli):
    out = tmp_path / "o"
    result = cli("study", "vanishing", "--limit", "1", "--data-dir", str(mnist_dir),
                 "--out", str(out))  # fmt: skip
    assert result.returncode == 2 and "leaves no training rows" in result.stderr
    assert not out.exists()


def test_cell_ids_are_exact_and_jobs_never_exceed_the_cells():
    from compare.cli import build_parser
    from compare.commands.study import sweep_plan_of

    args = build_parser().parse_args(
        ["study", "sweep", "--param", "learning_rate", "--values", "0.001,0.0010000001,0.1",
         "--jobs", "64"]
    )  # fmt: skip
    plan = sweep_plan_of(args)
    ids = [c.id for c in plan.cells()]
    assert len(set(ids)) == 3 and "learning_rate=0.0010000001,seed=123" in ids
    assert plan.jobs == 3
    one = build_parser().parse_args(["study", "sweep", "--param", "momentum", "--values", "0.5",
                                     "--jobs", "50"])  # fmt: skip
    assert sweep_plan_of(one).jobs == 1


# -- resume: what a rerun trusts ----------------------------------------------------------------


def _run(mnist_dir, out, values="0.01,0.02,0.03,0.04,0.05,0.06,0.07,0.08", *extra):
    from compare.cli import build_parser
    from compare.commands.study import sweep_plan_of
    from compare.studies.sweep import run_sweep

    args = build_parser().parse_args(
        _sweep_args(mnist_dir, out, "--param", "learning_rate", "--values", values, "--jobs", "1",
                    *extra)
    )  # fmt: skip
    lines: list[str] = []
    out.mkdir(exist_ok=True)
    run_sweep(sweep_plan_of(args), out, data_dir=str(mnist_dir), say=lines.append)
    return json.loads((out / "sweep.json").read_text()), lines


def test_resume_sets_aside_every_cell_file_it_cannot_trust(tmp_path, mnist_dir):
    out = tmp_path / "sweep"
    first, _ = _run(mnist_dir, out)
    assert first["status"] == "complete" and len(first["cells"]) == 8
    cells = out / "cells"
    files = sorted(cells.glob("*.json"), key=lambda p: json.loads(p.read_text())["value"])
    good = json.loads(files[0].read_text())
    tampered = {
        # lr=0.01's file edited to claim another learning rate at 99.99 %
        0: {**good, "values": {"learning_rate": 5}, "test_accuracy": 99.99},
        1: "[1, 2, 3]",
        2: {k: v for k, v in good.items() if k != "status"},
        3: {**good, "history": "not a history"},
        4: {**good, "value": "0.05", "values": {"learning_rate": "0.05"}},
        5: {**good, "test_accuracy": float("nan")},  # written by a lax writer: NaN
        6: {**good, "test_accuracy": 250.0},
    }
    for i, change in tampered.items():
        text = change if isinstance(change, str) else json.dumps(change)
        files[i].write_text(text)
    files[7].unlink()
    files[7].mkdir()  # a folder where a cell file goes
    (files[7] / "x").write_text("")
    again, lines = _run(mnist_dir, out)
    assert again["status"] == "complete" and len(again["cells"]) == 8
    assert sum("set aside as" in line for line in lines) == 8, lines
    for cell in again["cells"]:
        assert cell["values"]["learning_rate"] == cell["value"] and cell["status"] == "complete"
        assert 0 <= cell["test_accuracy"] <= 100
    assert len(list(cells.glob("*.rejected*"))) == 8
    report = (out / "report.md").read_text()
    assert "99.99" not in report and "nan" not in report.lower().split("finite")[0]


def test_a_huge_sparse_cell_file_is_set_aside_without_reading_it(tmp_path, mnist_dir):
    out = tmp_path / "sweep"
    _run(mnist_dir, out, values="0.01")
    path = next((out / "cells").glob("*.json"))
    with open(path, "r+b") as handle:
        handle.truncate(2 * 2**30)  # 2 GB, sparse: nothing on disk
    code = (
        "from pathlib import Path\nfrom compare.studies.store import CellStore\n"
        "from compare.cli import build_parser\nfrom compare.commands.study import sweep_plan_of\n"
        f"args = build_parser().parse_args({_sweep_args(mnist_dir, out, '--param', 'learning_rate', '--values', '0.01')!r})\n"  # noqa: E501
        "plan = sweep_plan_of(args)\nlines = []\n"
        f"done = CellStore(Path({str(out)!r}), plan, lines.append).finished(plan.cells())\n"
        "print(len(done), lines[0])\n"
        "print([int(l.split()[1]) for l in open('/proc/self/status') if l.startswith('VmHWM')][0])\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            cwd=ROOT, check=True)  # fmt: skip
    found, peak = result.stdout.strip().splitlines()
    assert found.startswith("0 ") and "bytes, more than a cell's record can be" in found
    assert int(peak) / 1024 < PEAK_LIMIT_MB


def test_a_rerun_with_other_settings_into_the_same_folder_is_refused(tmp_path, mnist_dir, cli):
    out = tmp_path / "sweep"
    assert (
        cli(*_sweep_args(mnist_dir, out, "--param", "momentum", "--values", "0,0.5")).returncode
        == 0
    )
    before = (out / "sweep.json").read_text()
    other = cli(*_sweep_args(mnist_dir, out, "--param", "momentum", "--values", "0,0.9"))
    assert other.returncode == 2 and "holds a sweep with other settings" in other.stderr
    assert (out / "sweep.json").read_text() == before  # untouched


def test_studies_replace_only_their_own_output(tmp_path, mnist_dir, cli):
    sweep = tmp_path / "sweep"
    assert (
        cli(*_sweep_args(mnist_dir, sweep, "--param", "momentum", "--values", "0")).returncode == 0
    )
    before = (sweep / "report.md").read_text()
    vanishing = cli("study", "vanishing", "--quick", "--data-dir", str(mnist_dir),
                    "--out", str(sweep))  # fmt: skip
    assert vanishing.returncode == 2 and "not an earlier `study vanishing`" in vanishing.stderr
    assert (sweep / "report.md").read_text() == before
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "report.md").write_text("my notes")
    result = cli(*_sweep_args(mnist_dir, mine, "--param", "momentum", "--values", "0"))
    assert result.returncode == 2 and "not empty and not an earlier `study sweep`" in result.stderr
    assert (mine / "report.md").read_text() == "my notes" and not (mine / "cells").exists()


# -- workers and schedulers ---------------------------------------------------------------------


def _children(pid: int) -> list[int]:
    kids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                kids.append(int(entry.name))
    return kids


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_sigkill_leaves_no_orphan_workers_and_no_lock(tmp_path, mnist_dir):
    import fcntl

    out = tmp_path / "sweep"
    proc = subprocess.Popen(
        [sys.executable, "-m", "compare",
         *_sweep_args(mnist_dir, out, "--param", "learning_rate", "--values", "0.01,0.02",
                      "--method", "separate", "--jobs", "2", epochs="200", limit="20000")],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        workers: list[int] = []
        while time.monotonic() < deadline and len(workers) < 2:
            time.sleep(0.2)
            workers = [k for k in _children(proc.pid) if alive(k)]
        assert len(workers) >= 2, "the workers never started"
        time.sleep(1.0)  # let them settle into training
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and any(alive(w) for w in workers):
            time.sleep(0.1)
        assert not any(alive(w) for w in workers), "a worker outlived the killed command"
        with open(out / ".mlp-compare.lock", "a+") as handle:  # the lock went with them
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    finally:
        if proc.poll() is None:
            proc.kill()
        for w in _children(proc.pid):
            os.kill(w, signal.SIGKILL)


@pytest.mark.parametrize("kind", ["silent", "http"])
def test_a_scheduler_that_does_not_answer_is_one_line_within_the_deadline(
    tmp_path, mnist_dir, cli, monkeypatch, kind
):
    pytest.importorskip("distributed", reason="the cluster extra is not installed")
    from compare.studies import workers

    monkeypatch.setattr(workers, "CONNECT_SECONDS", 3)
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(4)
    port = server.getsockname()[1]
    stop = threading.Event()

    def answer() -> None:  # "http": every connection gets an HTTP reply and is closed
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except OSError:
                continue
            if kind == "http":
                conn.sendall(b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nhi")
                conn.close()

    thread = threading.Thread(target=answer, daemon=True)
    thread.start()
    out = tmp_path / "o"
    started = time.monotonic()
    try:
        result = cli(*_sweep_args(mnist_dir, out, "--param", "learning_rate", "--values", "0.01",
                                  "--scheduler", f"tcp://127.0.0.1:{port}"))  # fmt: skip
    finally:
        stop.set()
        thread.join(2)
        server.close()
    assert time.monotonic() - started < 30
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2 and len(lines) == 1 and "--scheduler" in lines[0], result.stderr
    assert not out.exists()  # nothing written, not even an empty cells/


# -- smaller edges ------------------------------------------------------------------------------


def test_a_long_bad_name_is_cut_in_the_error():
    from numpy_mlp import MLP

    with pytest.raises(ValueError, match="init must be one of") as info:
        MLP((3, 4, 2), init="x" * 10**6)
    assert len(str(info.value)) < 300 and "1,000,002 characters" in str(info.value)


def test_gradient_norms_refuse_an_empty_batch():
    import numpy as np

    from numpy_mlp import MLP, gradient_norms

    with pytest.raises(ValueError, match="at least one row"):
        gradient_norms(MLP((3, 4, 2)), np.empty((0, 3), np.float32), np.empty(0, int))


def test_a_sweep_that_fails_ends_failed_with_the_error(tmp_path, mnist_dir, monkeypatch):
    from compare.studies import sweep as sweep_module

    calls: list[int] = []
    real = sweep_module.run_group

    def fail_second(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("worker lost")
        return real(*args, **kwargs)

    monkeypatch.setattr(sweep_module, "run_group", fail_second)
    out = tmp_path / "sweep"
    with pytest.raises(RuntimeError, match="worker lost"):
        _run(mnist_dir, out, "0.01,0.02", "--method", "separate")
    sweep = json.loads((out / "sweep.json").read_text())
    assert sweep["status"] == "failed" and "RuntimeError: worker lost" in sweep["error"]
    assert len(sweep["cells"]) == 1  # the finished cell is kept for a rerun


# -- plans built from values, no parser involved -----------------------------------------------------


def test_vanishing_plan_pairs_each_activation_with_its_partner_or_crosses_the_lists():
    from compare.studies.plans import vanishing_plan
    from compare.studies.vanishing import PARTNER

    common = dict(depths=(1, 2), width=8, learning_rates=(0.01,), epochs=1, limit=None, seed=5,
                  dtype="float64")  # fmt: skip
    paired = vanishing_plan(activations=("relu", "tanh"), inits=("paired",), **common)
    assert paired.pairs == (("relu", PARTNER["relu"]), ("tanh", PARTNER["tanh"]))
    assert paired.settings.seed == 5 and paired.settings.dtype == "float64"
    logistic = vanishing_plan(activations=("logistic",), inits=("paired",), **common)
    assert logistic.pairs == (("logistic", PARTNER["logistic"]), ("logistic", "glorot_uniform_x4"))
    crossed = vanishing_plan(
        activations=("relu", "tanh"), inits=("he_uniform", "glorot_uniform"), **common
    )
    assert crossed.pairs == (
        ("relu", "he_uniform"), ("relu", "glorot_uniform"),
        ("tanh", "he_uniform"), ("tanh", "glorot_uniform"),
    )  # fmt: skip
    assert len(crossed.networks()) == 4 * 2


@pytest.mark.parametrize(
    ("depths", "width", "needle"),
    [((1, 1), 8, "a depth is given twice"), ((65,), 8, "at most 64"),
     ((1,) * 17, 8, "at most 16 per study"), ((2,), 100_000, "--width 100000 with depth 2")],
)  # fmt: skip
def test_vanishing_sizes_are_checked_before_the_plan(depths, width, needle):
    from compare.errors import UsageError
    from compare.studies.plans import check_vanishing_sizes

    with pytest.raises(UsageError, match=needle):
        check_vanishing_sizes(depths, width)
    check_vanishing_sizes((1, 64), 50)  # the edges themselves are allowed


def test_sweep_axes_and_plan_from_values():
    from compare.config import TUTORIAL
    from compare.errors import UsageError
    from compare.studies.plans import sweep_axes, sweep_plan, sweep_settings

    assert sweep_axes("momentum", "0.5,0.9", None) == (("momentum", (0.5, 0.9)),)
    grid = sweep_axes(None, None, ["momentum=0,0.5", "hidden=10,20"])
    assert grid == (("momentum", (0.0, 0.5)), ("hidden", (10, 20)))
    with pytest.raises(UsageError, match="either --param"):
        sweep_axes("momentum", None, ["momentum=0"])
    base = sweep_settings({"epochs": 3, "batch_size": 32}, hidden=20, seed=7)
    assert base.layers == (784, 20, 20, 10) and base.batch_size == 32 and base.seed == 7
    assert base.learning_rate == TUTORIAL.learning_rate
    plan = sweep_plan(grid, base, seeds=2, limit=None, jobs=None, method="stacked", scheduler=None)
    assert len(plan.cells()) == 2 * 2 * 2 and 1 <= plan.jobs <= 8
    with pytest.raises(UsageError, match="at most 1,000"):
        sweep_plan(grid, base, seeds=251, limit=None, jobs=1, method="stacked", scheduler=None)
    sweep_plan(grid, base, seeds=250, limit=None, jobs=1, method="stacked", scheduler=None)


def test_a_sweep_killed_after_some_cells_resumes_with_the_same_command(tmp_path, mnist_dir, cli):
    """SIGKILL once two of four cells are finished (method separate, one job): sweep.json, written
    (running, with the plan) before the first cell, makes the same command resume; the finished
    cells are reused, not trained again, and the sweep ends complete."""
    out = tmp_path / "sweep"
    argv = _sweep_args(mnist_dir, out, "--param", "momentum", "--values", "0,0.3,0.6,0.9",
                       "--method", "separate", "--jobs", "1", epochs="3", limit="3000")  # fmt: skip
    proc = subprocess.Popen([sys.executable, "-m", "compare", *argv], cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and len(list((out / "cells").glob("*.json"))) < 2:
            assert proc.poll() is None, "the sweep ended before it was killed"
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
    record = json.loads((out / "sweep.json").read_text())
    assert record["status"] == "running" and record["config"]["axes"]
    finished = sorted(p.name for p in (out / "cells").glob("*.json"))
    assert 2 <= len(finished) < 4
    resumed = cli(*argv)
    assert resumed.returncode == 0, resumed.stderr
    assert f"({len(finished)} already finished" in resumed.stdout
    record = json.loads((out / "sweep.json").read_text())
    assert record["status"] == "complete" and len(record["cells"]) == 4
    assert record["throughput"]["cells_trained_now"] == 4 - len(finished)


def test_networks_trained_together_are_checked_against_the_memory_before_work(cli, tmp_path):
    from compare.cli import build_parser
    from compare.commands import study
    from compare.errors import UsageError
    from compare.studies.plans import check_sweep_memory

    argv = ["study", "sweep", "--param", "learning_rate", "--values", "0.1,0.2,0.3,0.4",
            "--layers", "784,1000,10", "--jobs", "1", "--out", str(tmp_path / "s")]  # fmt: skip
    plan = study.sweep_plan_of(build_parser().parse_args(argv))
    # 4 stacked networks of 795,010 weights, 5 float32 copies each: 63,600,800 bytes
    check_sweep_memory(plan, memory=2 * 63_600_800)
    with pytest.raises(UsageError, match="need about 0.1 GiB"):
        check_sweep_memory(plan, memory=2 * 63_600_800 - 2)
    separate = study.sweep_plan_of(build_parser().parse_args([*argv, "--method", "separate"]))
    check_sweep_memory(separate, memory=2 * 63_600_800 // 4)  # one network at a time
    # 1,000 stacked networks of 78.5 million weights: 1.4 TiB, more than any machine here
    result = cli("study", "sweep", "--param", "learning_rate", "--values",
                 ",".join(f"{i / 1000:g}" for i in range(1, 101)), "--seeds", "10", "--jobs", "1",
                 "--layers", "784,100000,10", "--out", str(tmp_path / "big"))  # fmt: skip
    assert result.returncode == 2 and "GiB for their weights" in result.stderr
    assert not (tmp_path / "big").exists()
