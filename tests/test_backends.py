"""The same Keras model on TensorFlow, JAX and PyTorch, at parity with NumPy.

Keras fixes its backend when it is first imported, so each backend's checks run in a fresh
interpreter (one per backend, small networks and few rows); a backend whose module is missing is
skipped with the extra that installs it.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys

import pytest

from compare.parity import AGREEMENT_TOLERANCE
from keras_mlp.backend import BACKENDS, EXTRAS, BackendMismatchError, use_backend
from tests.conftest import ROOT, quick_run, run_cli

pytestmark = pytest.mark.keras

# One interpreter per backend: gradients (3-4-3, tanh and relu, float64 and float32), 12 lockstep
# updates in float64 and float32, and what set_numpy_weights does with the caller's arrays.
CHECKS = """
import json, sys
import numpy as np
from keras_mlp.backend import use_backend
use_backend(sys.argv[1])
from compare.environment import keras_device, keras_threads
from compare.lockstep import lockstep
from compare.parity import gradient_agreement
from compare.config import TUTORIAL
from keras_mlp import build_model, get_numpy_weights, set_numpy_weights
from keras_mlp.backend import keras
import dataclasses

rng = np.random.default_rng(0)
X, y = rng.normal(size=(8, 3)), rng.integers(0, 3, 8)
record = {"backend": keras().backend.backend(), "gradients": {}, "lockstep": {}}
for activation, init in (("tanh", "glorot_uniform"), ("relu", "he_uniform")):
    for dtype in ("float64", "float32"):
        r = gradient_agreement((3, 4, 3), X, y, dtype=dtype, seed=1, max_entries=12,
                               activation=activation, init=init)
        record["gradients"][f"{activation} {dtype}"] = {
            k: r[k] for k in ("max_rel_error", "passed", "loss_numpy", "loss_keras", "backend")}
settings = dataclasses.replace(TUTORIAL, layers=(6, 5, 3), batch_size=4)
Xl = rng.normal(size=(24, 6)); Yl = np.eye(3)[rng.integers(0, 3, 24)]
for dtype in ("float64", "float32"):
    epochs, _ = lockstep(Xl, Yl, settings, dtype=dtype, epochs=2)
    record["lockstep"][dtype] = [e.max_rel_diff for e in epochs]
model = build_model((3, 4, 3), dtype="float64")
mine = [np.ones((4, 4)), np.ones((5, 3))]
set_numpy_weights(model, mine)
mine[0] += 1.0  # the caller's array changes; the model's weights must not
record["weights_after_caller_change"] = float(get_numpy_weights(model)[0].max())
# every compiled epoch bench times (torch.compile aside: minutes to compile here) trains as
# NumPy does: the same float64 weights after 3 updates on the same batches
from keras_mlp.steps import EPOCH_SETTINGS, epoch_fn
from numpy_mlp import MLP, SGD
from numpy_mlp.training.fast import FastStep
Xb, Yb = Xl[:12].reshape(3, 4, 6), Yl[:12].reshape(3, 4, 3)
mlp = MLP((6, 5, 3), seed=3, dtype="float64")
start = [W.copy() for W in mlp.weights]
step = FastStep(mlp, SGD(**settings.optimizer_kwargs()), 4)
for i in range(3):
    step(Xl, Yl, np.arange(4 * i, 4 * i + 4))
record["epochs"] = {}
for setting in EPOCH_SETTINGS[record["backend"]]:
    if setting == "torch.compile":
        continue
    model = build_model((6, 5, 3), dtype="float64", **settings.optimizer_kwargs())
    set_numpy_weights(model, start)
    epoch_fn(model, Xb, Yb, setting)()
    record["epochs"][setting] = max(
        float(np.max(np.abs(a - b))) for a, b in zip(get_numpy_weights(model), mlp.weights))
record["device"] = keras_device()
record["threads"] = keras_threads()
print(json.dumps(record))
"""


def backend_or_skip(backend: str) -> None:
    if importlib.util.find_spec(backend) is None:
        pytest.skip(f"{backend} is not installed (pip install 'mlp-compare[{EXTRAS[backend]}]')")


@pytest.fixture(scope="module", params=BACKENDS)
def checked(request) -> dict:
    backend_or_skip(request.param)
    done = subprocess.run(
        [sys.executable, "-c", CHECKS, request.param],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_keras_runs_on_the_backend_asked_for(checked):
    assert checked["backend"] in BACKENDS
    assert checked["threads"]["backend"] == checked["backend"]
    assert checked["device"]["kind"] in ("cpu", "gpu")
    assert checked["device"]["name"]


def test_float64_gradients_agree_with_numpy_to_rounding(checked):
    for name, r in checked["gradients"].items():
        if name.endswith("float64"):
            assert r["backend"] == checked["backend"]
            assert r["max_rel_error"] <= 1e-12, (checked["backend"], name, r)
            assert abs(r["loss_keras"] - r["loss_numpy"]) <= 1e-14 * abs(r["loss_numpy"])
            assert r["passed"]


def test_float32_gradients_agree_to_float32_rounding(checked):
    for name, r in checked["gradients"].items():
        if name.endswith("float32"):
            # float32's unit roundoff is 6e-8; a few operations' worth, never float64's 1e-15
            assert r["max_rel_error"] <= AGREEMENT_TOLERANCE["float32"], (name, r)
            assert r["passed"]


def test_lockstep_float64_stays_equal_to_rounding(checked):
    assert max(checked["lockstep"]["float64"]) <= 1e-12, checked["lockstep"]
    # float32 drifts by rounding, far from float64's agreement but far below a real difference
    assert max(checked["lockstep"]["float32"]) <= 1e-5, checked["lockstep"]


def test_every_compiled_epoch_bench_times_trains_as_numpy_does(checked):
    assert checked["epochs"], checked
    for setting, diff in checked["epochs"].items():
        assert diff <= 1e-14, (checked["backend"], setting, diff)


def test_set_numpy_weights_keeps_no_reference_to_the_callers_arrays(checked):
    assert checked["weights_after_caller_change"] == 1.0


@pytest.mark.parametrize(
    "backend, how", [("jax", "flag"), ("torch", "KERAS_BACKEND")], ids=["jax", "torch"]
)
def test_run_on_a_backend_records_it_and_its_device(backend, how, mnist_dir, tmp_path):
    backend_or_skip(backend)
    flags = ["--backend", backend] if how == "flag" else []
    env = {"KERAS_BACKEND": backend} if how == "KERAS_BACKEND" else {"KERAS_BACKEND": ""}
    out = tmp_path / "run"
    done = run_cli(
        "run", *flags, *quick_run(mnist_dir, out, limit=300, epochs=1), env=env, timeout=900
    )
    assert done.returncode == 0, done.stderr[-3000:]
    metrics = json.loads((out / "metrics.json").read_text())
    env_record = metrics["environment"]
    assert metrics["status"] == "complete"
    assert env_record["keras_backend"] == backend == metrics["keras"]["backend"]
    assert env_record["keras_device"]["kind"] == "cpu" or env_record["keras_device"]["memory_gib"]
    assert env_record["numpy_device"]["kind"] == "cpu"
    f64 = metrics["gradient_agreement"]["float64"]
    assert f64["backend"] == backend and f64["max_rel_error"] <= 1e-12
    report = (out / "report.md").read_text()
    assert "Devices: NumPy on the CPU" in report


@pytest.mark.parametrize("backend", ["jax", "torch"])
def test_a_missing_backend_is_one_line_naming_its_extra(backend, tmp_path):
    # the backend's module made unimportable in a fresh interpreter
    code = (
        f"import sys; sys.modules[{backend!r}] = None\n"
        "from compare.cli import main\n"
        f"sys.exit(main(['run', '--impl', 'keras', '--backend', {backend!r}, "
        f"'--out', {str(tmp_path / 'out')!r}]))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=300
    )
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and f"mlp-compare[{EXTRAS[backend]}]" in lines[0], done.stderr
    assert not (tmp_path / "out").exists()


def test_an_unknown_keras_backend_variable_is_a_usage_error(tmp_path):
    done = run_cli("train", "--impl", "keras", "--out", str(tmp_path), env={"KERAS_BACKEND": "x"})
    assert done.returncode == 2
    assert "KERAS_BACKEND" in done.stderr and len(done.stderr.strip().splitlines()) == 1


def test_a_process_cannot_switch_backends_once_keras_runs():
    import keras

    running = keras.backend.backend()
    other = next(b for b in BACKENDS if b != running)
    with pytest.raises(BackendMismatchError, match="fresh process"):
        use_backend(other)
    assert use_backend(running) == running


def test_bench_takes_a_list_of_backends_or_all():
    import argparse

    from compare.commands.bench import backends_arg

    assert backends_arg("all") == list(BACKENDS)
    assert backends_arg("jax,torch,jax") == ["jax", "torch"]
    with pytest.raises(argparse.ArgumentTypeError, match="choose from"):
        backends_arg("jax,mxnet")


def test_bench_with_a_missing_backend_is_one_line_before_any_work(tmp_path):
    code = (
        "import sys; sys.modules['torch'] = None\n"
        "from compare.cli import main\n"
        f"sys.exit(main(['bench', '--backend', 'jax,torch', '--out', {str(tmp_path / 'b')!r}]))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=300
    )
    assert done.returncode == 2
    assert len(done.stderr.strip().splitlines()) == 1 and "keras-torch" in done.stderr
    assert not (tmp_path / "b").exists()


def _record(backend: str, numpy: list[float], rows: dict[str, list[float]], device: dict) -> dict:
    from compare.speed.stats import paired_ratios, spread

    cpu = {"kind": "cpu", "name": "Test CPU", "cores": 2, "gpu_present_unused": False}
    built = [
        {
            "name": name,
            "kind": "steps",
            "setting": name,
            "updates": 843,
            "first_epoch_seconds": 1.0,
            "threads": {"backend": backend, "intra_op": 2, "inter_op": 2, "xla": "XLA's pool"},
            "seconds": times,
            "spread": spread(times),
            "over_numpy": paired_ratios(times, numpy),
        }
        for name, times in rows.items()
    ]
    return {
        "backend": backend,
        "version": "1.0",
        "keras": "3.15",
        "device": device,
        "threads": {"backend": backend},
        "numpy": {"seconds": numpy, "spread": spread(numpy), "blas_threads": 1, "device": cpu},
        "rows": built,
        "fastest": min(built, key=lambda r: r["spread"]["median"])["name"],
        "rounds": len(numpy),
    }


def test_the_fastest_keras_sentence_follows_the_numbers_and_names_both_devices():
    from compare.speed.backends import backends_table, fastest_keras, fastest_sentence

    cpu = {"kind": "cpu", "name": "Test CPU", "cores": 2, "gpu_present_unused": True}
    gpu = {"kind": "gpu", "name": "Test GPU", "memory_gib": 80.0, "gpu_present_unused": False}
    section = {
        "tensorflow": _record("tensorflow", [1.0, 1.0, 1.0], {"a": [3.0, 3.0, 3.0]}, cpu),
        "jax": _record("jax", [1.0, 1.1, 0.9], {"b": [2.0, 2.2, 1.8], "c": [0.5, 0.55, 0.45]}, gpu),
    }
    best = fastest_keras(section)
    assert (best["backend"], best["name"]) == ("jax", "c")
    sentence = fastest_sentence(section, best)
    assert "2.00x slower" in sentence and "GPU Test GPU, 80.0 GiB" in sentence
    assert "NumPy (1 BLAS thread) on the CPU (Test CPU" in sentence
    # the same numbers with the GPU row slower than NumPy: the sentence flips
    section["jax"] = _record("jax", [1.0, 1.0, 1.0], {"c": [4.0, 4.0, 4.0]}, gpu)
    best = fastest_keras(section)
    assert (best["backend"], best["name"]) == ("tensorflow", "a")
    assert "3.00x faster" in fastest_sentence(section, best)
    assert "a GPU was present but unused" in fastest_sentence(section, best)
    table = "\n".join(backends_table(section))
    assert "| tensorflow | 1.0, Keras 3.15 | **a** | 843 | 3.000 |" in table
    assert "TF intra 2, inter 2" in table and "JAX: XLA's pool" in table


def test_a_failed_backend_process_is_recorded_and_the_others_kept():
    from compare.speed.backends import backends_table, fastest_keras, format_backends

    cpu = {"kind": "cpu", "name": "Test CPU", "cores": 2, "gpu_present_unused": False}
    section = {
        "torch": {"backend": "torch", "error": "exit status 1"},
        "jax": _record("jax", [1.0, 1.0, 1.0], {"c": [2.0, 2.0, 2.0]}, cpu),
    }
    assert fastest_keras(section)["backend"] == "jax"
    assert "torch: not measured (exit status 1)" in format_backends(section)
    assert any("not measured: exit status 1" in row for row in backends_table(section))
