"""Sweep throughput: the same cells one after another in one process, against the parallel,
stacked sweep (pytest-benchmark). Each sweep runs as `mlp-compare study sweep` in a fresh process,
as a user runs it. The figure to read is model-epochs per second (the sweep's own measurement,
in extra_info) and, on the parallel run, its ratio to the sequential one (`over_sequential`)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.conftest import ROOT

pytestmark = pytest.mark.benchmark_suite

# 7 values that all train (the defaults go on to rates that diverge) x 2 seeds
SWEEP = ["--param", "learning_rate", "--values", "1e-4,3e-4,1e-3,3e-3,1e-2,3e-2,0.1",
         "--seeds", "2", "--epochs", "2"]  # fmt: skip
RATES: dict[str, float] = {}


def _sweep(out, mnist_dir, jobs: int, method: str) -> dict:
    args = [*SWEEP, "--jobs", str(jobs), "--method", method]
    subprocess.run(
        [sys.executable, "-m", "compare", "study", "sweep", *args,
         "--data-dir", str(mnist_dir), "--out", str(out)],
        check=True, capture_output=True, cwd=ROOT,
    )  # fmt: skip
    return json.loads((out / "sweep.json").read_text())


@pytest.mark.parametrize(
    ("name", "jobs", "method"),
    [("sequential", 1, "separate"), ("parallel_stacked", os.cpu_count() or 1, "stacked")],
    ids=["sequential", "parallel_stacked"],  # the job count varies by machine: in extra_info
)
@pytest.mark.benchmark(group="sweep: 14 cells x 2 epochs on MNIST")
def test_sweep_throughput(benchmark, record, tmp_path_factory, mnist_dir, name, jobs, method):
    sweep = benchmark.pedantic(
        lambda: _sweep(tmp_path_factory.mktemp(name), mnist_dir, jobs, method),
        rounds=2,
        iterations=1,
    )
    t = sweep["throughput"]
    RATES[name] = t["model_epochs_per_second"]
    extra = {"jobs": jobs, "method": method, "model_epochs_per_second": RATES[name]}
    if name == "parallel_stacked" and "sequential" in RATES:
        extra["over_sequential"] = RATES[name] / RATES["sequential"]
    record(impl=f"numpy sweep ({name})", **extra)
    assert t["model_epochs"] == 28 and all(c["status"] == "complete" for c in sweep["cells"])
