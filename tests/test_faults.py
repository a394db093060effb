"""Faults a run must survive with a final status: SIGTERM, a second interrupt, a locked or
foreign output folder, an interrupted Keras save; and the library's edges."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from numpy_mlp import MLP
from tests.conftest import ROOT, quick_run


def _start_run(out, mnist_dir, *extra):
    return subprocess.Popen(
        [sys.executable, "-m", "compare", "run", "--impl", "numpy", "--epochs", "30",
         "--limit", "20000", "--data-dir", str(mnist_dir), "--out", str(out), *extra],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
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
    _wait_for(proc, "Epoch 2/30")
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 143, err
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["status"] == "interrupted" and metrics["interrupted_by"] == "SIGTERM"
    assert "Traceback" not in err


def test_a_second_interrupt_right_after_the_first_still_ends_final(tmp_path, mnist_dir):
    out = tmp_path / "run"
    proc = _start_run(out, mnist_dir)
    _wait_for(proc, "Epoch 2/30")
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
        _wait_for(proc, "Epoch 1/30")
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
