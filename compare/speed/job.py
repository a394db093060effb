"""The job behind `mlp-compare bench`: peak, the tutorial's epoch, the sweeps; the machine's state
before and after, the warnings it and the spreads raise; bench.json, report.md/.html, figures."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from compare.config import TUTORIAL
from compare.jsonio import write_json
from compare.speed.stability import warnings
from compare.speed.sweeps import crossover, format_sweep, sweep_point


def run_bench(
    out: Path,
    *,
    quick: bool,
    with_keras: bool,
    batches: Sequence[int] | None = None,
    widths: Sequence[int] | None = None,
    data_dir: str | None = None,
    backends: Sequence[str] = (),
) -> dict:
    """Measure everything, print the tables as they come, write bench.json, report.md,
    report.html, bench_epochs.png and bench.png. `with_keras`: TensorFlow's in-process parts
    (fit settings, thread counts, sweeps); `backends`: Keras on each, in a process of its own."""
    from compare.environment import (
        cpu_snapshot,
        environment,
        load_average,
        machine,
        others_cpu_share,
    )

    rounds = 5 if quick else 7
    batches = batches or ([16, 64, 256, 1024] if quick else [16, 32, 64, 128, 256, 512, 1024])
    widths = widths or ([50, 256, 1024, 2048] if quick else [50, 128, 256, 512, 1024, 2048])
    X, Y, y = _training_rows(data_dir)
    state = {**machine(), "load_before": load_average()}
    cpu_before = cpu_snapshot()
    result = {"environment": environment(with_tensorflow=with_keras), "machine": state}
    result["quick"] = quick
    print(machine_text(result), flush=True)
    peak = result["matmul_peak"] = _peak()
    result["tutorial"] = _tutorial(
        X, Y, y, peak, rounds=rounds, quick=quick, with_keras=with_keras, data_dir=data_dir
    )
    if backends:
        result["backends"] = _backends(backends, quick=quick, data_dir=data_dir)
    points = _sweeps(X, Y, batches, widths, peak["gflops"], quick=quick, with_keras=with_keras)
    result["sweep_batch"], result["sweep_width"] = points["batch"], points["width"]
    result["crossover"] = {kind: crossover(points[kind], kind) for kind in points}
    print(sweeps_text(result, with_keras=with_keras))
    state["load_after"] = load_average()
    state["others_cpu_share"] = others_cpu_share(cpu_before, cpu_snapshot())
    result["warnings"] = warnings(state, spreads_of(result))
    _write(out, result, points, peak)
    print("\n" + machine_text(result))
    for warning in result["warnings"]:
        print(f"WARNING: {warning}.")
    print(f"\nSaved in {out}/: report.html, report.md, bench.json, bench_epochs.png, bench.png")
    return result


def _training_rows(data_dir: str | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The tutorial's training rows (validation split held out): X, one-hot Y and labels y."""
    from compare.data import load_data
    from numpy_mlp import one_hot
    from numpy_mlp.training.loop import split_validation

    data = load_data(data_dir, dtype="float32")
    X, y, _, _ = split_validation(data.X_train, data.y_train, TUTORIAL.validation_split)
    return np.ascontiguousarray(X), one_hot(y, dtype=np.float32), y


def _peak() -> dict:
    """The float32 matrix-product peak, measured and printed."""
    from compare.speed import measure

    print("Measuring the float32 matrix-product peak ...", flush=True)
    peak = measure.matmul_peak()
    print(
        f"  {peak['gflops']:.0f} GFLOP/s ({peak['n']}x{peak['n']}, {peak['blas_threads']} BLAS "
        "threads)",
        flush=True,
    )
    return peak


def _tutorial(X, Y, y, peak: dict, *, rounds: int, quick: bool, with_keras: bool, data_dir):
    """The tutorial's epoch, every contender, measured and printed."""
    from compare.speed.tutorial import format_tutorial, tutorial_section

    section = tutorial_section(
        X,
        Y,
        y,
        with_keras=with_keras,
        rounds=rounds,
        quick=quick,
        peak=peak,
        data_dir=data_dir,
        say=lambda m: print(m, flush=True),
    )
    print(format_tutorial(section, peak), flush=True)
    return section


def _backends(backends: Sequence[str], *, quick: bool, data_dir: str | None) -> dict:
    """Keras on each backend, each in a process of its own, paired with NumPy; printed."""
    from compare.speed.backends import backends_section, format_backends

    section = backends_section(
        backends,
        rounds=3 if quick else 5,
        quick=quick,
        data_dir=data_dir,
        say=lambda m: print(m, flush=True),
    )
    print(format_backends(section), flush=True)
    return section


def sweeps_text(result: dict, *, with_keras: bool) -> str:
    """The two sweeps' tables and, with Keras, where its compiled step overtakes NumPy."""
    lines = [
        "\nNumPy: the training step fit uses, with the faster of 1 BLAS thread or all cores (column "
        "'threads'); Keras: a compiled tf.function train step on prepared tensors (not fit), "
        "TensorFlow's default threads (all cores).",
        "\nBatch size sweep (784-50-50-10):",
        format_sweep(result["sweep_batch"], "batch"),
        "\nHidden width sweep (784-w-w-10, batch 64):",
        format_sweep(result["sweep_width"], "width"),
    ]
    if with_keras:
        for kind, cross in result["crossover"].items():
            where = (
                f"TensorFlow's compiled step takes less time per sample than NumPy from {kind} "
                f"{cross[kind]} on ({cross['keras_over_numpy']:.2f}x), in this one sweep"
                if cross
                else f"NumPy stays faster over the whole {kind} sweep"
            )
            lines.append(f"Crossover ({kind}): {where}")
    return "\n".join(lines)


def _write(out: Path, result: dict, points: dict, peak: dict) -> None:
    """bench.json, the two figures, report.md and report.html."""
    from compare.html import write_html
    from compare.speed import figures
    from compare.speed.report import TITLE, render_bench_report
    from numpy_mlp.io.atomic import atomic_write_text

    write_json(out / "bench.json", result)
    figures.epoch_times(result["tutorial"]["spread"], out / "bench_epochs.png")
    figures.sweeps(points, peak["gflops"], out / "bench.png")
    report = render_bench_report(result)
    atomic_write_text(out / "report.md", report)
    write_html(report, out, title=TITLE)


def machine_text(result: dict) -> str:
    """One line: CPU, cores, BLAS, governor, load before (and after, once known)."""
    m, env = result["machine"], result["environment"]
    blas = ", ".join(f"{b['internal_api']} {b['version']}" for b in env.get("blas", [])) or "-"
    load = lambda key: f"{m[key][0]:.2f}" if m.get(key) else "-"  # noqa: E731
    text = (
        f"Machine: {m.get('cpu_model')}, {m.get('usable_cores')} usable cores of "
        f"{m.get('cores')}, BLAS {blas}, governor {m.get('governor') or 'not readable'}; "
        f"1-minute load before {load('load_before')}"
    )
    if "load_after" in m:
        text += f", after {load('load_after')}"
    if m.get("others_cpu_share") is not None:
        text += f"; other processes used {m['others_cpu_share']:.0%} of the CPU time meanwhile"
    return text


def spreads_of(result: dict) -> dict[str, dict]:
    """Every figure with its spread, by name, for the stability check."""
    section = result["tutorial"]
    found = {f"epoch, {name}": s for name, s in section["spread"].items()}
    found["one NumPy step"] = section["numpy_step_breakdown"]["step_us"]
    for backend, record in result.get("backends", {}).items():
        for row in record.get("rows", []):
            if "spread" in row:
                found[f"{backend}: {row['name']}"] = row["spread"]
    for kind in ("batch", "width"):
        for p in result.get(f"sweep_{kind}", []):
            value = p["batch"] if kind == "batch" else p["layers"][1]
            for impl in ("numpy", "keras"):
                if impl in p:
                    found[f"{impl} step at {kind} {value}"] = p[impl]["step_spread"]
    return found


def _sweeps(X, Y, batches, widths, peak: float, *, quick: bool, with_keras: bool) -> dict:
    """Every batch size at the tutorial's widths, then every width at batch 64, with a progress bar."""
    from numpy_mlp.io.progress import progress_bar

    inputs, classes = TUTORIAL.layers[0], TUTORIAL.layers[-1]
    configs = [("batch", TUTORIAL.layers, b) for b in batches]
    configs += [("width", (inputs, w, w, classes), TUTORIAL.batch_size) for w in widths]
    points: dict[str, list[dict]] = {"batch": [], "width": []}
    with progress_bar(total=len(configs), desc="sweep", unit="config") as bar:
        for kind, layers, batch in configs:
            bar.set_postfix_str(f"{'-'.join(map(str, layers))} batch {batch}")
            points[kind].append(
                sweep_point(
                    layers,
                    batch,
                    X,
                    Y,
                    peak=peak,
                    target=0.15 if quick else 0.3,
                    rounds=5,
                    with_keras=with_keras,
                )
            )
            bar.update(1)
    return points
