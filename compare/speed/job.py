"""The job behind `mlp-compare bench`: peak, the tutorial's epoch, the sweeps; bench.json and .png."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from compare.config import TUTORIAL
from compare.jsonio import write_json
from compare.speed.sweeps import crossover, format_sweep, sweep_point


def run_bench(
    out: Path,
    *,
    quick: bool,
    with_keras: bool,
    batches: Sequence[int] | None = None,
    widths: Sequence[int] | None = None,
    data_dir: str | None = None,
) -> dict:
    """Measure everything, print the tables as they come, write bench.json and bench.png."""
    from compare import plots
    from compare.data import load_data
    from compare.environment import environment
    from compare.speed import measure
    from compare.speed.tutorial import format_tutorial, tutorial_section
    from numpy_mlp import one_hot
    from numpy_mlp.training.loop import split_validation

    rounds = 3 if quick else 5
    batches = batches or ([16, 64, 256, 1024] if quick else [16, 32, 64, 128, 256, 512, 1024])
    widths = widths or ([50, 256, 1024, 2048] if quick else [50, 128, 256, 512, 1024, 2048])

    data = load_data(data_dir, dtype="float32")
    X, y, _, _ = split_validation(data.X_train, data.y_train, TUTORIAL.validation_split)
    X = np.ascontiguousarray(X)
    Y = one_hot(y, dtype=np.float32)
    result = {"environment": environment(with_tensorflow=with_keras), "quick": quick}
    print("Measuring the float32 matrix-product peak ...", flush=True)
    peak = result["matmul_peak"] = measure.matmul_peak()
    print(f"  {peak['gflops']:.0f} GFLOP/s ({peak['n']}x{peak['n']})", flush=True)
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
    result["tutorial"] = section
    print(format_tutorial(section, peak), flush=True)

    points = _sweeps(X, Y, batches, widths, peak["gflops"], quick=quick, with_keras=with_keras)
    result["sweep_batch"], result["sweep_width"] = points["batch"], points["width"]
    result["crossover"] = {kind: crossover(points[kind], kind) for kind in points}
    print(
        "\nNumPy: the training step fit uses, with the faster of 1 or 2 BLAS threads (column "
        "'threads'); Keras: a compiled tf.function train step on prepared tensors (not fit), "
        "TensorFlow's default threads (all cores)."
    )
    print("\nBatch size sweep (784-50-50-10):")
    print(format_sweep(points["batch"], "batch"))
    print("\nHidden width sweep (784-w-w-10, batch 64):")
    print(format_sweep(points["width"], "width"))
    if with_keras:
        for kind, cross in result["crossover"].items():
            where = (
                f"TensorFlow's compiled step takes less time per sample than NumPy from {kind} "
                f"{cross[kind]} on ({cross['keras_over_numpy']:.2f}x), in this one sweep"
                if cross
                else f"NumPy stays faster over the whole {kind} sweep"
            )
            print(f"Crossover ({kind}): {where}")
    write_json(out / "bench.json", result)
    plots.bench_sweeps(points, peak["gflops"], out / "bench.png")
    print(f"\nSaved {out / 'bench.json'} and {out / 'bench.png'}")
    return result


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
                    target=0.15 if quick else 0.4,
                    rounds=3,
                    with_keras=with_keras,
                )
            )
            bar.update(1)
    return points
