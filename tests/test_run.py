"""`mlp-compare run`, the main job: artifacts, robustness, and the full tutorial configuration."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time

import numpy as np
import pytest
from PIL import Image

from compare.config import Settings
from tests.conftest import ROOT, interruptible, keras_or_skip, quick_run, run_cli

PNGS = [
    "digits.png",
    "learning_curves.png",
    "epoch_times.png",
    "misclassified_numpy.png",
    "misclassified_keras.png",
    "hidden_weights_numpy.png",
    "hidden_weights_keras.png",
    "hidden_weights_change_numpy.png",
    "hidden_weights_change_keras.png",
    "confusion_numpy.png",
    "confusion_keras.png",
]


def _get(metrics: dict, dotted: str):
    value = metrics
    for part in dotted.split("."):
        value = value[part]
    return value


@pytest.mark.keras
def test_run_on_a_slice_writes_every_artifact(tmp_path, mnist_dir, cli):
    keras_or_skip()
    out = tmp_path / "run"
    result = cli(
        "run",
        *quick_run(mnist_dir, out),
    )
    assert result.returncode == 0, result.stderr + result.stdout
    for phase in (
        "[1/5]",
        "[2/5] Training the NumPy MLP",
        "[3/5] Training the Keras MLP",
        "[4/5] Gradient agreement",
        "[5/5]",
    ):
        assert phase in result.stdout
    assert "Keras / NumPy epoch time:" in result.stdout
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["status"] == "complete"
    for key in (
        "numpy.train_accuracy",
        "numpy.test_accuracy",
        "keras.train_accuracy",
        "keras.test_accuracy",
    ):
        assert 70 < _get(metrics, key) <= 100, key
    for key in ("numpy.epoch_seconds", "keras.epoch_seconds"):
        seconds = _get(metrics, key)
        assert len(seconds) == 2 and all(s > 0 for s in seconds)
    assert _get(metrics, "gradient_agreement.float64.max_rel_error") < 1e-10
    assert _get(metrics, "gradient_agreement.float32.max_rel_error") < 1e-4
    assert _get(metrics, "speed.keras_over_numpy") > 0
    assert metrics["environment"]["numpy"] == np.__version__
    assert "tensorflow" in metrics["environment"]
    for name in PNGS:
        with Image.open(out / name) as image:
            image.verify()
    report = (out / "report.md").read_text()
    assert "The two implementations agree" in report and "faster here" in report
    assert "From the same initial weights (Keras started from the NumPy model's)" in report
    assert "Why this looks like noise:" in report and "pixels have the same value" in report
    assert metrics["keras"]["initial_weights"] == "the NumPy model's"
    assert 0 < metrics["data"]["constant_pixels"] < 784
    assert all(f"({name})" in report for name in PNGS)
    assert not [p for p in out.iterdir() if p.name.endswith(".part")]
    listed = result.stdout.split(f"Artifacts in {out}/: ")[1].strip().split(", ")
    assert sorted(listed) == sorted(p.name for p in out.iterdir())  # the models included


@pytest.mark.slow
@pytest.mark.keras
def test_full_tutorial_configuration_both_models(tmp_path, mnist_dir):
    """50 epochs each: both within half a point of the reference (98.8 train, 96.3 test)."""
    keras_or_skip()
    out = tmp_path / "full"
    result = run_cli("run", "--data-dir", str(mnist_dir), "--out", str(out), timeout=1800)
    assert result.returncode == 0, result.stderr[-2000:]
    metrics = json.loads((out / "metrics.json").read_text())
    for impl in ("numpy", "keras"):
        assert abs(metrics[impl]["train_accuracy"] - 98.8) <= 0.5, (impl, metrics[impl])
        assert abs(metrics[impl]["test_accuracy"] - 96.3) <= 0.5, (impl, metrics[impl])
        assert metrics[impl]["epochs_run"] == 50
    assert metrics["gradient_agreement"]["float64"]["max_rel_error"] < 1e-10


def test_numpy_only_run_without_tensorflow(tmp_path, mnist_dir):
    """With TensorFlow unimportable: --impl numpy works, --impl both names the extra."""
    out = tmp_path / "np"
    code = (
        "import sys; sys.modules['tensorflow'] = None; sys.modules['keras'] = None\n"
        "from compare.cli import main\n"
        "sys.exit(main(sys.argv[1:]))\n"
    )
    common = ["--limit", "2000", "--epochs", "1", "--data-dir", str(mnist_dir)]
    ok = subprocess.run(
        [sys.executable, "-c", code, "run", "--impl", "numpy", *common, "--out", str(out)],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert ok.returncode == 0, ok.stderr
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["status"] == "complete" and "keras" not in metrics
    assert metrics["numpy_gradcheck"]["passed"]
    # the closing line names every file the run wrote, the model file included
    listed = ok.stdout.split(f"Artifacts in {out}/: ")[1].strip().split(", ")
    assert "model_numpy.npz" in listed and len(listed) == len(set(listed))
    assert sorted(listed) == sorted(p.name for p in out.iterdir())
    both = subprocess.run(
        [
            sys.executable,
            "-c",
            code,
            "run",
            "--impl",
            "both",
            *common,
            "--out",
            str(tmp_path / "both"),
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert both.returncode == 2
    assert "mlp-compare[keras]" in both.stderr and len(both.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "both").exists()


@pytest.mark.keras  # Run builds its Keras side's report from the Keras package
def test_divergence_of_one_model_keeps_the_other(tmp_path, mnist_dir):
    """The NumPy model diverges (absurd learning rate); the other model's results are kept."""
    from compare.runner import Run
    from compare.trainers import train_numpy

    def diverging(data, settings, **kwargs):
        return train_numpy(
            data,
            Settings(**{**settings.to_dict(), "layers": settings.layers, "learning_rate": 1e36}),
            **kwargs,
        )

    def healthy(data, settings, **kwargs):
        return train_numpy(data, settings, **kwargs)

    settings = Settings(epochs=2, learning_rate=0.01)
    run = Run(
        settings,
        ["numpy", "keras"],
        tmp_path,
        data_dir=str(mnist_dir),
        limit=2000,
        trainers={"numpy": diverging, "keras": healthy},
    )
    run.gradients = lambda data: None  # this test is about training failures only
    code = run.execute()
    assert code == 1
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["status"] == "failed"
    assert "smaller learning rate" in metrics["numpy"]["error"]
    assert metrics["keras"]["test_accuracy"] > 70  # the other side's results survive
    report = (tmp_path / "report.md").read_text()
    assert "NumPy training failed" in report and "| NumPy | failed:" in report


@pytest.mark.keras
def test_divergence_from_the_command_line_exits_nonzero(tmp_path, mnist_dir, cli):
    keras_or_skip()
    result = cli(
        "run",
        *quick_run(mnist_dir, tmp_path, limit=1500, lr="1e36"),
    )
    assert result.returncode == 1
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["status"] == "failed"
    assert "error" in metrics["numpy"] and "error" in metrics["keras"]
    assert "FAILED" in result.stdout


@pytest.mark.keras
def test_ctrl_c_keeps_what_finished(tmp_path, mnist_dir):
    keras_or_skip()
    out = tmp_path / "interrupted"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "compare",
            "run",
            *quick_run(mnist_dir, out, limit=20000, epochs=30, lr=None),
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        preexec_fn=interruptible,
    )
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(proc.stdout), daemon=True)
    reader.start()  # read as it prints: a full pipe would stall the run
    deadline = time.time() + 300
    metrics = {}
    while time.time() < deadline:  # wait until the NumPy model is done and Keras is training
        time.sleep(0.5)
        path = out / "metrics.json"
        if path.exists():
            metrics = json.loads(path.read_text())
            done = "train_numpy" in metrics.get("phases_done", [])
            # Keras (verbose 2) prints a bare "Epoch 2/30" when its second epoch starts
            if done and any(line.strip() == "Epoch 2/30" for line in lines):
                break
    assert "train_numpy" in metrics.get("phases_done", []), "the NumPy phase never finished"
    assert any(line.strip() == "Epoch 2/30" for line in lines), "Keras never reached epoch 2"
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=120)
    reader.join(10)
    assert proc.returncode == 130, stderr
    assert "Traceback" not in stderr
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["status"] == "interrupted"
    assert metrics["numpy"]["test_accuracy"] > 80
    for name in ("digits.png", "misclassified_numpy.png", "learning_curves.png"):
        with Image.open(out / name) as image:
            image.verify()
    assert "interrupted" in (out / "report.md").read_text()
    assert not [p for p in out.iterdir() if p.name.endswith(".part")]


@pytest.mark.keras
def test_thread_counts_in_force_are_recorded(tmp_path, mnist_dir):
    """TensorFlow's threads can only be set before it starts: a fresh process, as a user runs."""
    keras_or_skip()
    out = tmp_path / "threads"
    result = run_cli(
        "run", "--epochs", "1", "--limit", "1000", "--numpy-threads", "2", "--tf-threads", "1,1",
        "--data-dir", str(mnist_dir), "--out", str(out),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["threads"]["numpy_blas"] == 2 and metrics["config"]["numpy_threads"] == 2
    assert (metrics["threads"]["tf_intra_op"], metrics["threads"]["tf_inter_op"]) == (1, 1)
    assert "NumPy trained with 2 BLAS thread(s)" in (out / "report.md").read_text()


@pytest.mark.keras
def test_a_runaway_loss_that_stays_finite_fails_both_models_by_one_rule(tmp_path, mnist_dir, cli):
    """tanh saturates: at lr 50 the loss runs to ~160 and stays finite; numpy_mlp's rule (epoch
    loss above 2 ln k) stops NumPy and Keras alike, and the run fails with exit status 1."""
    out = tmp_path / "out"
    result = cli("run", "--lr", "50", "--epochs", "2", "--limit", "2000",
                 "--data-dir", str(mnist_dir), "--out", str(out))  # fmt: skip
    assert result.returncode == 1
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["status"] == "failed"
    for impl in ("numpy", "keras"):
        assert "above 2 ln 10 = 4.61" in metrics[impl]["error"], metrics[impl]["error"]
        assert "eta_0 was 50" in metrics[impl]["error"]
