"""Keras on each backend (TensorFlow, JAX, PyTorch) against NumPy: the tutorial's epoch.

Keras fixes its backend when it is first imported, so each backend is measured in a fresh process
of its own (`python -m compare.speed.backends BACKEND ROUNDS QUICK DATA_DIR`). In that process
NumPy's epoch (fast path, 1 BLAS thread: the anchor every ratio is paired with) and the backend's
contenders run one epoch each per round, in turn, so a slow spell of the shared machine hits all.
Contenders: Keras `fit` (its defaults, and steps_per_execution=32), and a whole epoch of the
model's train steps on batches prepared on the device, under each of the backend's compile
settings (keras_mlp.steps.EPOCH_SETTINGS; for PyTorch also with one intra-op thread). Every row
names its backend, version, compile setting, threads and device.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Sequence

import numpy as np

from compare.config import TUTORIAL

NUMPY = "numpy fast, 1 BLAS thread"


class _Contender:
    """One way of running an epoch: `run()` returns seconds; `info` describes it."""

    def __init__(self, name: str, run: Callable[[], float], info: dict) -> None:
        self.name, self.run, self.info = name, run, info


def _timed(run: Callable[[], None]) -> Callable[[], float]:
    def call() -> float:
        started = time.perf_counter()
        run()
        return time.perf_counter() - started

    return call


def _with_torch_threads(run: Callable[[], float], threads: int) -> Callable[[], float]:
    import torch

    def call() -> float:
        saved = torch.get_num_threads()
        torch.set_num_threads(threads)
        try:
            return run()
        finally:
            torch.set_num_threads(saved)

    return call


def _contenders(backend: str, X, Y, *, quick: bool, say) -> list[_Contender]:
    from compare.environment import keras_threads
    from compare.speed.measure import KerasEpoch
    from keras_mlp import build_model
    from keras_mlp.steps import EPOCH_SETTINGS, epoch_fn

    threads = keras_threads()
    found = []
    fits = [("defaults", 1, "auto")] + ([] if quick else [("steps_per_execution=32", 32, "auto")])
    for label, spe, jit in fits:
        say(f"  {backend}: tracing Keras fit ({label}) ...")
        epoch = KerasEpoch(X, Y, steps_per_execution=spe, jit_compile=jit)
        found.append(
            _Contender(
                f"keras fit, {label}",
                epoch,
                {
                    "kind": "fit",
                    "setting": f"fit, steps_per_execution={spe}, jit_compile={jit}",
                    "updates": -(-X.shape[0] // TUTORIAL.batch_size),
                    "first_epoch_seconds": epoch.first_seconds,
                    "threads": threads,
                },
            )
        )
    B = TUTORIAL.batch_size
    steps = X.shape[0] // B  # full batches only: one shape for every compiled program
    order = np.random.default_rng(TUTORIAL.seed).permutation(X.shape[0])[: steps * B]
    Xb = np.ascontiguousarray(X[order].reshape(steps, B, -1))
    Yb = np.ascontiguousarray(Y[order].reshape(steps, B, -1))
    settings = list(EPOCH_SETTINGS[backend])
    for setting in settings:
        say(f"  {backend}: compiling an epoch of train steps ({setting}) ...")
        model = build_model(TUTORIAL.layers, seed=TUTORIAL.seed, dtype="float32")
        try:
            run = _timed(epoch_fn(model, Xb, Yb, setting))
            first = run()
        except Exception as exc:  # e.g. torch.compile without a working compiler
            found.append(
                _Contender(
                    f"steps, {setting}",
                    None,
                    {"kind": "steps", "setting": setting, "error": f"{type(exc).__name__}: {exc}"},
                )
            )
            say(f"  {backend}: {setting} failed here: {type(exc).__name__}: {str(exc)[:200]}")
            continue
        info = {
            "kind": "steps",
            "setting": setting,
            "updates": steps,
            "first_epoch_seconds": first,
            "threads": threads,
        }
        found.append(_Contender(f"steps, {setting}", run, info))
        if backend == "torch" and threads.get("intra_op") != 1:
            one = {**info, "threads": {**threads, "intra_op": 1}}
            found.append(
                _Contender(f"steps, {setting}, 1 thread", _with_torch_threads(run, 1), one)
            )
    return found


def measure_backend(backend: str, *, rounds: int, quick: bool, data_dir, say) -> dict:
    """This process's Keras on `backend` against NumPy: one epoch each per round, in turn."""
    from compare.data import load_data
    from compare.environment import backend_version, keras_device, keras_threads, numpy_device
    from compare.speed.measure import NumpyEpoch, interleaved
    from compare.speed.stats import paired_ratios, spread
    from keras_mlp.backend import backend_module, keras, use_backend
    from numpy_mlp import one_hot
    from numpy_mlp.training.loop import split_validation

    use_backend(backend)
    backend_module(backend)
    data = load_data(data_dir, dtype="float32")
    X, y, _, _ = split_validation(data.X_train, data.y_train, TUTORIAL.validation_split)
    X = np.ascontiguousarray(X)
    Y = one_hot(y, dtype=np.float32)
    contenders = _contenders(backend, X, Y, quick=quick, say=say)
    numpy = NumpyEpoch(X, y)
    timed = {NUMPY: numpy, **{c.name: c.run for c in contenders if c.run is not None}}
    say(f"  {backend}: timing {len(timed)} contenders in {rounds} interleaved rounds ...")
    times = interleaved(timed, rounds)
    rows = []
    for c in contenders:
        row = {"name": c.name, **c.info}
        if c.run is not None:
            row["seconds"] = times[c.name]
            row["spread"] = spread(times[c.name])
            row["over_numpy"] = paired_ratios(times[c.name], times[NUMPY])
        rows.append(row)
    measured = [r for r in rows if "spread" in r]
    fastest = min(measured, key=lambda r: r["spread"]["median"]) if measured else None
    return {
        "backend": backend,
        "version": backend_version(backend),
        "keras": keras().__version__,
        "device": keras_device(),
        "threads": keras_threads(),
        "numpy": {
            "name": NUMPY,
            "seconds": times[NUMPY],
            "spread": spread(times[NUMPY]),
            "blas_threads": numpy.blas_threads_in_force,
            "device": numpy_device(),
        },
        "rows": rows,
        "fastest": fastest["name"] if fastest else None,
        "rounds": rounds,
    }


def backends_section(
    backends: Sequence[str], *, rounds: int, quick: bool, data_dir, say
) -> dict[str, dict]:
    """Every backend measured in a fresh process of its own, one after the other; a backend whose
    process fails is recorded with its error (the others are kept)."""
    found = {}
    for backend in backends:
        say(f"Keras on {backend}, against NumPy, in a fresh process ...")
        env = {**os.environ, "KERAS_BACKEND": backend}
        args = [sys.executable, "-m", "compare.speed.backends", backend, str(rounds)]
        args += ["1" if quick else "0", data_dir or ""]
        done = subprocess.run(args, stdout=subprocess.PIPE, text=True, env=env)
        lines = done.stdout.strip().splitlines()
        if done.returncode != 0 or not lines:
            found[backend] = {"backend": backend, "error": f"exit status {done.returncode}"}
            say(f"  {backend}: the measuring process failed (exit status {done.returncode})")
            continue
        found[backend] = json.loads(lines[-1])
    return found


def fastest_keras(section: dict[str, dict]) -> dict | None:
    """The fastest Keras row over every backend measured (by its median epoch), with its backend."""
    best = None
    for record in section.values():
        for row in record.get("rows", []):
            if "spread" in row and (
                best is None or row["spread"]["median"] < best["spread"]["median"]
            ):
                best = {**row, "backend": record["backend"], "device": record["device"]}
    return best


def backend_rows(section: dict[str, dict]) -> list[dict]:
    """Flat rows for a table: backend, version, contender, setting, threads, device, times."""
    from compare.environment import device_text, threads_text

    rows = []
    for record in section.values():
        if "error" in record:
            rows.append({"backend": record["backend"], "error": record["error"]})
            continue
        numpy = record["numpy"]
        rows.append(
            {
                "backend": "numpy",
                "version": "",
                "name": f"{NUMPY} (anchor)",
                "threads": f"{numpy['blas_threads']} BLAS",
                "device": device_text(numpy["device"]),
                "spread": numpy["spread"],
            }
        )
        for row in record["rows"]:
            flat = {
                "backend": record["backend"],
                "version": f"{record['version']}, Keras {record['keras']}",
                "name": row["name"],
                "setting": row["setting"],
                "device": device_text(record["device"]),
                "fastest": row["name"] == record["fastest"],
            }
            if "error" in row:
                flat["error"] = row["error"]
            else:
                flat.update(
                    threads=threads_text(row["threads"]),
                    spread=row["spread"],
                    over_numpy=row["over_numpy"],
                    updates=row["updates"],
                    first=row["first_epoch_seconds"],
                )
            rows.append(flat)
    return rows


def format_backends(section: dict[str, dict]) -> str:
    """The terminal table: seconds an epoch per backend and setting, and the paired ratio."""
    lines = [
        "Keras per backend against NumPy (each backend in its own process, NumPy's epoch timed "
        "in the same rounds; seconds an epoch, median and IQR share; Keras / NumPy paired per "
        "round):"
    ]
    for row in backend_rows(section):
        if "error" in row and "name" not in row:
            lines.append(f"  {row['backend']}: not measured ({row['error']})")
            continue
        label = f"{row['backend']:<10} {row['name']:<44}"
        if "error" in row:
            lines.append(f"  {label} failed: {row['error'][:120]}")
            continue
        sp = row["spread"]
        ratio = row.get("over_numpy")
        text = f"  {label} {sp['median']:7.3f} s {sp['relative_spread']:4.0%}"
        if ratio:
            text += f"  {ratio['median']:6.2f}x ({ratio['min']:.2f}-{ratio['max']:.2f})"
            text += "  *fastest" if row["fastest"] else ""
        lines.append(f"{text}  [{row['threads']}; {row['device']}]")
    best = fastest_keras(section)
    if best:
        lines.append(fastest_sentence(section, best))
    return "\n".join(lines)


def fastest_sentence(section: dict[str, dict], best: dict) -> str:
    """NumPy against the fastest Keras over the backends, naming both devices."""
    from compare.environment import device_text

    record = section[best["backend"]]
    r = best["over_numpy"]
    faster = r["median"] > 1
    return (
        f"Fastest Keras: {best['backend']} ({record['version']}), {best['name']}, on the "
        f"{device_text(best['device'])}: {best['spread']['median']:.3f} s an epoch; NumPy "
        f"(1 BLAS thread) on the {device_text(record['numpy']['device'])} is "
        + (f"{r['median']:.2f}x faster" if faster else f"{1 / r['median']:.2f}x slower")
        + f" (paired per round: {r['min']:.2f}-{r['max']:.2f}x Keras / NumPy over "
        f"{r['n']} rounds)."
    )


def backends_table(section: dict[str, dict]) -> list[str]:
    """The report's markdown table and the fastest-Keras sentence."""
    rows = [
        "| backend | version | contender | updates | median (s) | IQR / median | Keras / NumPy "
        "(range) | threads | device |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for row in backend_rows(section):
        if "name" not in row:
            rows.append(f"| {row['backend']} | not measured: {row['error']} | | | | | | | |")
            continue
        if "error" in row:
            rows.append(
                f"| {row['backend']} | {row['version']} | {row['name']} | - | failed: "
                f"{row['error'][:100].replace('|', '/')} | | | | {row['device']} |"
            )
            continue
        sp, ratio = row["spread"], row.get("over_numpy")
        ratio_cell = (
            f"{ratio['median']:.2f}x ({ratio['min']:.2f}-{ratio['max']:.2f})" if ratio else "-"
        )
        name = f"**{row['name']}**" if row.get("fastest") else row["name"]
        rows.append(
            f"| {row['backend']} | {row['version']} | {name} | {row.get('updates', 844)} | "
            f"{sp['median']:.3f} | {sp['relative_spread']:.0%} | {ratio_cell} | "
            f"{row['threads']} | {row['device']} |"
        )
    best = fastest_keras(section)
    if best:
        rows += ["", fastest_sentence(section, best)]
    return rows


def _main(argv: Sequence[str]) -> int:
    backend, rounds, quick, data_dir = argv[0], int(argv[1]), argv[2] == "1", argv[3] or None
    from keras_mlp.backend import use_backend

    use_backend(backend)  # before anything imports Keras

    def say(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    record = measure_backend(backend, rounds=rounds, quick=quick, data_dir=data_dir, say=say)
    print(json.dumps(record))
    return 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
