"""Faults a run must survive with a final status: SIGTERM, a second interrupt, a locked or
foreign output folder, an interrupted Keras save; and the library's edges."""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import stat
import subprocess
import sys
import time

import numpy as np
import pytest

from numpy_mlp import MLP
from tests.conftest import ROOT, alive, interruptible, quick_run

# Far more epochs than a test lets it finish: the signals below land while it trains.
EPOCHS = "1000"


def _start_run(out, mnist_dir, *extra):
    return subprocess.Popen(
        [sys.executable, "-m", "compare", "run", "--impl", "numpy", "--epochs", EPOCHS,
         "--limit", "20000", "--data-dir", str(mnist_dir), "--out", str(out), *extra],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT,
        env={**os.environ, "PYTHONUNBUFFERED": "1"}, preexec_fn=interruptible,
    )  # fmt: skip


def _wait_for(proc, needle: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    for line in proc.stdout:
        if needle in line:
            return
        assert time.monotonic() < deadline, f"no {needle!r} within {timeout} s"
    raise AssertionError(f"the run ended before printing {needle!r}")


def test_sigterm_ends_a_run_as_interrupted_with_exit_143(tmp_path, mnist_dir):
    out = tmp_path / "run"
    proc = _start_run(out, mnist_dir)
    _wait_for(proc, f"Epoch 2/{EPOCHS}")
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 143, err
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["status"] == "interrupted" and metrics["interrupted_by"] == "SIGTERM"
    assert "Traceback" not in err


def test_a_second_interrupt_right_after_the_first_still_ends_final(tmp_path, mnist_dir):
    out = tmp_path / "run"
    proc = _start_run(out, mnist_dir)
    _wait_for(proc, f"Epoch 2/{EPOCHS}")
    proc.send_signal(signal.SIGINT)
    time.sleep(0.1)
    proc.send_signal(signal.SIGINT)
    proc.communicate(timeout=120)
    assert proc.returncode == 130
    assert json.loads((out / "metrics.json").read_text())["status"] == "interrupted"


def test_a_second_run_into_a_busy_folder_stops_at_once(tmp_path, mnist_dir, cli):
    out = tmp_path / "run"
    proc = _start_run(out, mnist_dir)
    try:
        _wait_for(proc, f"Epoch 1/{EPOCHS}")
        result = cli("run", "--impl", "numpy", "--epochs", "1", "--out", str(out))
        assert result.returncode == 2
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and str(out) in lines[0] and "another mlp-compare" in lines[0]
    finally:
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=120)


def test_a_run_replaces_its_own_earlier_run_and_refuses_foreign_files(tmp_path, mnist_dir, cli):
    out = tmp_path / "run"
    args = ("run", "--impl", "numpy", "--epochs", "1", "--limit", "1000",
            "--data-dir", str(mnist_dir), "--out", str(out))  # fmt: skip
    assert cli(*args).returncode == 0
    (out / "extra_from_an_old_version.png").write_bytes(b"x")  # not listed: not ours
    refused = cli(*args)
    assert refused.returncode == 2 and "not an earlier run" in refused.stderr
    (out / "extra_from_an_old_version.png").unlink()
    first = json.loads((out / "metrics.json").read_text())["started"]
    again = cli(*args, "--layers", "784,20,10")
    assert again.returncode == 0 and "Replacing the earlier run" in again.stdout
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["config"]["layers"] == [784, 20, 10] and metrics["started"] >= first
    assert sorted(p.name for p in out.iterdir()) == sorted(
        ["metrics.json", "report.md", "report.html", *metrics["artifacts"]]
    )


def test_an_interrupted_keras_save_leaves_no_file(tmp_path, monkeypatch):
    pytest.importorskip("tensorflow")
    from keras_mlp import build_model, save_model

    model = build_model((3, 4, 3))
    target = tmp_path / "model_keras.keras"

    def interrupted_save(path, *a, **k):
        with open(path, "wb") as handle:
            handle.write(b"")  # Keras has opened the file, then Ctrl-C
        raise KeyboardInterrupt

    monkeypatch.setattr(model, "save", interrupted_save)
    with pytest.raises(KeyboardInterrupt, match="^$"):
        save_model(model, target)
    assert list(tmp_path.iterdir()) == []
    monkeypatch.undo()
    save_model(model, target)
    assert [p.name for p in tmp_path.iterdir()] == ["model_keras.keras"]


def test_library_edges():
    mlp = MLP((4, 3, 2), seed=0)
    X = np.zeros((5, 4))
    with pytest.raises(ValueError, match="batch_size must be a positive integer"):
        mlp.predict_proba(X, batch_size=0)
    with pytest.raises(ValueError, match="at least one"):
        mlp.accuracy(np.zeros((0, 4)), np.zeros(0, int))
    with pytest.raises(FileNotFoundError, match="folder does not exist") as info:
        mlp.save("/nonexistent-folder/model.npz")
    assert info.value.filename == "/nonexistent-folder/model.npz"


def test_set_numpy_weights_checks_everything_before_changing_anything():
    pytest.importorskip("tensorflow")
    from keras_mlp import WeightShapeError, build_model, get_numpy_weights, set_numpy_weights

    model = build_model((3, 4, 2))
    before = get_numpy_weights(model)
    good = MLP((3, 4, 2), seed=5).weights
    with pytest.raises(WeightShapeError, match="matrix 1"):
        set_numpy_weights(model, [good[0], np.zeros((2, 2))])
    with pytest.raises(WeightShapeError, match="not numeric"):
        set_numpy_weights(model, [good[0], np.full((5, 2), "x")])
    for a, b in zip(before, get_numpy_weights(model), strict=True):
        np.testing.assert_array_equal(a, b)
    set_numpy_weights(model, [W.tolist() for W in good])  # plain lists work
    np.testing.assert_allclose(get_numpy_weights(model)[1], good[1], rtol=1e-7)


def test_a_full_disk_mid_run_is_one_line_and_status_failed(tmp_path, mnist_dir, cli, monkeypatch):
    import errno

    import compare.runner as runner

    real, calls = runner.atomic_write_text, []

    def full_after_two(path, text):
        calls.append(path)
        if len(calls) > 2:
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        real(path, text)

    monkeypatch.setattr(runner, "atomic_write_text", full_after_two)
    out = tmp_path / "run"
    result = cli("run", "--impl", "numpy", *quick_run(mnist_dir, out, limit=1000, epochs=1))
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "No space left on device" in lines[0] and "report.md" in lines[0]
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["status"] == "failed" and "No space left" in metrics["error"]


def test_a_data_error_mid_run_is_status_failed(tmp_path, mnist_dir, cli):
    import shutil

    data = tmp_path / "data"
    shutil.copytree(mnist_dir, data)
    (data / "t10k-labels-idx1-ubyte").write_bytes(b"\x00\x00\x08\x01\x00\x00\x00\x02\x01")
    out = tmp_path / "run"
    result = cli(
        "run", "--impl", "numpy", "--epochs", "1", "--data-dir", str(data), "--out", str(out)
    )
    assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1
    assert "t10k-labels-idx1-ubyte" in result.stderr
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["status"] == "failed" and "MnistFormatError" in metrics["error"]


# -- folders stay their owner's ---------------------------------------------------------------------


def _listing(folder):
    return sorted((str(p.relative_to(folder)), p.read_bytes() if p.is_file() else None)
                  for p in folder.rglob("*"))  # fmt: skip


def _earlier_run(folder, **metrics):
    folder.mkdir()
    record = {"status": "complete", "phases_done": ["data"], "artifacts": [], **metrics}
    (folder / "metrics.json").write_text(json.dumps(record))
    (folder / "report.md").write_text("# an earlier run")


@pytest.mark.parametrize(
    ("command", "setup", "needle"),
    [
        (["bench", "--no-keras", "--quick"], "run", "not empty and not an earlier `bench`"),
        (["train", "--impl", "numpy"], "run", "not empty and not an earlier `train`"),
        (["train", "--impl", "numpy"], "user_png", "not empty and not an earlier `train`"),
        (["data"], "run", "not empty and not an earlier `data`"),
        (["run", "--impl", "numpy"], "dot_files", "not empty and not an earlier run"),
        (["run", "--impl", "numpy"], "crafted", "also holds notes.txt"),
        (["run", "--impl", "numpy"], "metrics_to_device", "not empty and not an earlier run"),
        (["study", "sweep", "--param", "momentum", "--values", "0"], "dot_files",
         "not empty and not an earlier `study sweep`"),
    ],
)  # fmt: skip
def test_no_command_writes_into_a_folder_it_does_not_own(tmp_path, mnist_dir, cli, command,
                                                         setup, needle):  # fmt: skip
    out = tmp_path / "out"
    if setup == "run":
        _earlier_run(out)
    elif setup == "user_png":
        out.mkdir()
        (out / "learning_curves.png").write_bytes(b"my own figure")
    elif setup == "dot_files":
        out.mkdir()
        (out / ".env").write_text("SECRET=1")
        (out / ".git").mkdir()
        (out / ".git" / "HEAD").write_text("ref: refs/heads/main")
    elif setup == "crafted":
        _earlier_run(out, artifacts=["notes.txt", "sub"])
        (out / "notes.txt").write_text("my notes")
        (out / "sub").mkdir()
    else:
        out.mkdir()
        (out / "metrics.json").symlink_to("/dev/zero")  # read whole, 2.7 GB before the change
    before = _listing(out) if setup != "metrics_to_device" else None
    result = cli(*command, "--epochs", "1", "--limit", "600", "--data-dir", str(mnist_dir),
                 "--out", str(out)) if command[0] in ("train", "run", "study") else cli(
                 *command, "--data-dir", str(mnist_dir), "--out", str(out))  # fmt: skip
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and needle in lines[0], lines
    if before is not None:
        assert _listing(out) == before  # nothing changed, nothing removed
    else:
        assert (out / "metrics.json").is_symlink()


def test_bench_train_data_and_lockstep_recognize_their_own_records():
    from compare.folders import OWNERS

    assert OWNERS["train"].owns("history.json", False) and not OWNERS["train"].owns(
        "notes.txt", False
    )
    assert not OWNERS["run"].owns("cells", True) and OWNERS["sweep"].owns("cells", True)
    assert not OWNERS["run"].owns(".env", False)


def test_a_train_replaces_its_own_earlier_training(tmp_path, mnist_dir, cli):
    out = tmp_path / "train"
    args = ("train", "--impl", "numpy", "--epochs", "1", "--limit", "600", "--verbose", "0",
            "--data-dir", str(mnist_dir), "--out", str(out))  # fmt: skip
    assert cli(*args).returncode == 0
    assert cli(*args).returncode == 0  # its own: replaced
    (out / "notes.txt").write_text("mine")
    again = cli(*args)
    assert again.returncode == 2 and "also holds notes.txt" in again.stderr
    assert (out / "notes.txt").read_text() == "mine"


# -- statuses true to the end ----------------------------------------------------------------------


def _with_fsize(limit: int, argv: list[str]) -> subprocess.CompletedProcess:
    """`mlp-compare ARGV` in a child whose files may not grow past `limit` bytes (as prlimit
    --fsize): every larger write fails with EFBIG."""
    code = (
        "import resource, sys\n"
        f"resource.setrlimit(resource.RLIMIT_FSIZE, ({limit}, {limit}))\n"
        "from compare.cli import main\n"
        "sys.exit(main(sys.argv[1:]))\n"
    )
    return subprocess.run([sys.executable, "-c", code, *argv], capture_output=True, text=True,
                          cwd=ROOT, timeout=600)  # fmt: skip


def _statuses(out):
    """{file: the status it states} for every record and report in `out`."""
    found = {}
    for name in ("metrics.json", "sweep.json", "study.json"):
        if (out / name).is_file():
            found[name] = json.loads((out / name).read_text())["status"]
    for name in ("report.md", "report.html"):
        if (out / name).is_file():
            text = (out / name).read_text()
            match = re.search(r"Status:\s*(?:\*\*|<span [^>]*><strong>|<strong>)(\w+)", text)
            found[name] = match.group(1) if match else text[:200]
    return found


@pytest.mark.parametrize(
    ("argv", "limit"),
    [
        (["run", "--impl", "numpy", "--epochs", "1", "--limit", "600"], 40_000),
        (["study", "sweep", "--param", "momentum", "--values", "0", "--epochs", "1",
          "--limit", "600", "--jobs", "1"], 40_000),
        (["study", "vanishing", "--quick", "--depths", "1,2", "--activations", "tanh"], 40_000),
    ],
)  # fmt: skip
def test_a_full_disk_never_leaves_a_status_saying_complete(tmp_path, mnist_dir, argv, limit):
    out = tmp_path / "out"
    result = _with_fsize(limit, [*argv, "--data-dir", str(mnist_dir), "--out", str(out)])
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert "File too large" in lines[-1] and str(out) in lines[-1], lines
    statuses = _statuses(out)
    assert statuses and all(s == "failed" for s in statuses.values()), statuses


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")
@pytest.mark.parametrize("watched", [True, False])
def test_a_child_started_with_die_with_parent_never_outlives_a_killed_parent(watched):
    """bench's Keras measurement child is started so: SIGKILL of the command takes it along.
    (Without die_with_parent, the control case, the child outlives its parent.)"""
    code = (
        "import subprocess, sys, time\n"
        "from numpy_mlp.io.children import die_with_parent\n"
        "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'],"
        f" preexec_fn={'die_with_parent' if watched else 'None'})\n"
        "print(child.pid, flush=True)\n"
        "time.sleep(60)\n"
    )
    parent = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, stdout=subprocess.PIPE,
                              text=True)  # fmt: skip
    child = int(parent.stdout.readline())
    try:
        parent.send_signal(signal.SIGKILL)
        parent.wait(timeout=10)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and alive(child):
            time.sleep(0.05)
        assert alive(child) is not watched
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(child, signal.SIGKILL)


def test_bench_starts_its_measurement_children_with_die_with_parent(monkeypatch):
    from compare.speed import measure
    from numpy_mlp.io.children import die_with_parent

    seen = []

    def run(args, **kwargs):
        seen.append(kwargs.get("preexec_fn"))
        raise RuntimeError("stop here")

    monkeypatch.setattr(measure.subprocess, "run", run)
    for call in (lambda: measure.keras_epoch_in_fresh_process(1, 1, None, 1),
                 lambda: measure.peak_rss_of_numpy_training(None)):  # fmt: skip
        with pytest.raises(RuntimeError, match="stop here"):
            call()
    assert seen == [die_with_parent, die_with_parent]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")
def test_a_parent_killed_during_the_fork_still_takes_its_child_along(tmp_path):
    """The parent dies between fork and the child's prctl: the child must notice and never run."""
    marker = tmp_path / "ran"
    code = (
        "import subprocess, sys, time\n"
        "from numpy_mlp.io.children import die_with_parent\n"
        "def late():\n"
        "    time.sleep(0.5)\n"
        "    die_with_parent()\n"
        "print('forking', flush=True)\n"
        "subprocess.Popen([sys.executable, '-c', 'import sys; open(sys.argv[1], \"w\")',"
        f" {str(marker)!r}], preexec_fn=late)\n"
    )
    parent = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, stdout=subprocess.PIPE,
                              text=True)  # fmt: skip
    assert parent.stdout.readline().strip() == "forking"
    time.sleep(0.1)
    parent.send_signal(signal.SIGKILL)
    parent.wait(timeout=10)
    time.sleep(2.0)  # the child's late preexec ends at 0.5 s; it would run at once after it
    assert not marker.exists()


def test_settle_removes_every_status_file_it_cannot_rewrite(tmp_path, monkeypatch):
    """compare.finals.settle: reports that cannot be rewritten are removed (an earlier one would
    go on saying complete); a record that cannot be written is removed too."""
    from compare import finals

    for name in ("sweep.json", "report.md", "report.html"):
        (tmp_path / name).write_text('{"status": "complete"} Status: **complete**')

    def reports():
        raise OSError(27, "File too large", str(tmp_path / "report.html"))

    finals.settle(tmp_path, "sweep.json", {"status": "failed"}, reports)
    assert json.loads((tmp_path / "sweep.json").read_text()) == {"status": "failed"}
    assert not (tmp_path / "report.md").exists() and not (tmp_path / "report.html").exists()

    def full(path, value):
        raise OSError(28, "No space left on device", str(path))

    monkeypatch.setattr(finals, "write_json", full)
    finals.settle(tmp_path, "sweep.json", {"status": "failed"}, None)
    assert not (tmp_path / "sweep.json").exists()


@pytest.mark.parametrize(
    ("command", "record", "files"),
    [
        ("bench", {"environment": {}, "machine": {}, "matmul_peak": {}},
         ["report.md", "report.html", "bench.png", "bench_epochs.png"]),
        ("train", {"impl": "numpy", "settings": {}}, ["model.npz", "learning_curves.png"]),
        ("data", {"source": {}, "checksums": "all match"}, ["digits.png"]),
        ("lockstep", {"settings": {}, "epochs": [], "trace": {}}, ["lockstep.png"]),
    ],
)  # fmt: skip
def test_each_command_claims_only_its_own_earlier_output(tmp_path, command, record, files):
    from compare.errors import UsageError
    from compare.folders import OWNERS, claim_folder

    assert claim_folder(tmp_path, command) is None  # empty: nothing to claim
    name = OWNERS[command].record
    (tmp_path / name).write_text(json.dumps(record))
    for f in files:
        (tmp_path / f).write_bytes(b"earlier output")
    (tmp_path / f".{name}.x1y2.part").write_bytes(b"")  # left by an atomic write cut short
    assert claim_folder(tmp_path, command) == record
    for other, content in ((".env", "A=1"), ("notes.txt", "mine")):
        (tmp_path / other).write_text(content)
        with pytest.raises(UsageError, match=f"also holds {other}"):
            claim_folder(tmp_path, command)
        (tmp_path / other).unlink()
    (tmp_path / files[0]).unlink()
    (tmp_path / files[0]).symlink_to(tmp_path / name)  # one of its names, but not a file of ours
    with pytest.raises(UsageError, match=f"also holds {files[0]}"):
        claim_folder(tmp_path, command)
    (tmp_path / files[0]).unlink()
    (tmp_path / name).write_text(json.dumps({"something": "else"}))
    with pytest.raises(UsageError, match="not empty and not an earlier"):
        claim_folder(tmp_path, command)


def test_a_keras_save_cut_short_leaves_a_temporary_file_a_rerun_accepts(tmp_path):
    from compare.folders import claim_folder

    record = {"impl": "keras", "settings": {}}
    (tmp_path / "history.json").write_text(json.dumps(record))
    (tmp_path / ".model.part.keras").write_bytes(b"half a model")  # keras_mlp.save_model's
    assert claim_folder(tmp_path, "train") == record


@pytest.mark.keras
def test_a_keras_save_never_replaces_what_is_not_a_regular_file(tmp_path):
    from keras_mlp import build_model, save_model

    target = tmp_path / "model.keras"
    os.mkfifo(target)
    with pytest.raises(FileExistsError, match="not a regular file"):
        save_model(build_model((3, 4, 3)), target)
    assert stat.S_ISFIFO(os.lstat(target).st_mode)
    assert [p.name for p in tmp_path.iterdir()] == ["model.keras"]
