"""`mlp-compare bench`: NumPy against Keras at the tutorial configuration, and how cost grows.

Measures, in this one process: the sustained float32 matrix-product rate (the arithmetic limit);
one training epoch of the tutorial configuration for NumPy and for Keras `fit` under several
settings; the peak memory of a NumPy training run; then sweeps batch size and hidden width,
reporting time per training sample, GFLOP/s and the fraction of the matrix-product peak for each
side, and where TensorFlow overtakes NumPy. Writes bench.json and bench.png.
"""

from __future__ import annotations

import argparse
import json

from compare.options import add_data_args, output_folder

TARGETS = {
    "vs_keras_defaults": 8.0,
    "vs_keras_best": 3.0,
    "over_arithmetic_limit": 2.5,
    "peak_rss_mb": 450.0,
}


def register(sub) -> None:
    parser = sub.add_parser(
        "bench",
        help="benchmark NumPy against Keras; sweep batch and width",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--quick", action="store_true", help="fewer configurations and rounds (about a minute)"
    )
    parser.add_argument("--no-keras", action="store_true", help="NumPy only")
    parser.add_argument(
        "--batches",
        type=sizes_arg,
        default=None,
        metavar="16,64,...",
        help="batch sizes to sweep (default: 16..1024 by powers of 2; quick: 16,64,256,1024)",
    )
    parser.add_argument(
        "--widths",
        type=sizes_arg,
        default=None,
        metavar="50,128,...",
        help="hidden widths to sweep (default: 50,128,256,512,1024,2048; quick: 50,256,1024,2048)",
    )
    add_data_args(parser)
    parser.add_argument(
        "--out",
        default="runs/bench",
        metavar="DIR",
        help="folder for bench.json and bench.png (default: runs/bench)",
    )
    parser.set_defaults(func=run)


def sizes_arg(text: str) -> list[int]:
    """'16,64,256' -> [16, 64, 256]: positive integers."""
    try:
        values = [int(v) for v in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a comma-separated list of integers"
        ) from None
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: sizes must be positive")
    return values


def _verdict(ok: bool) -> str:
    return "met" if ok else "NOT met"


def tutorial_section(
    X, Y, y, *, with_keras: bool, rounds: int, quick: bool, peak: dict, data_dir, say
) -> dict:
    """One epoch of the tutorial configuration, NumPy against Keras fit settings, interleaved."""
    import numpy as np

    from compare import bench
    from compare.speed import paired_ratios

    epoch_flops = bench.train_flops(bench.TUTORIAL, X.shape[0])
    limit = epoch_flops / (peak["gflops"] * 1e9)
    section = {
        "rows": int(X.shape[0]),
        "updates": -(-X.shape[0] // 64),
        "epoch_gflop": epoch_flops / 1e9,
        "arithmetic_limit_seconds": limit,
        "rounds": rounds,
    }
    contenders = {
        "numpy fast, 1 BLAS thread": bench.NumpyEpoch(X, y),
        "numpy fast, 2 BLAS threads": bench.NumpyEpoch(X, y, blas_threads=2),
    }
    keras_configs = {}
    if with_keras:
        for name, spe, jit in bench.KERAS_FIT_CONFIGS[:2] if quick else bench.KERAS_FIT_CONFIGS:
            say(f"Tracing Keras fit ({name}) ...")
            epoch = bench.KerasEpoch(X, Y, steps_per_execution=spe, jit_compile=jit)
            contenders[f"keras fit, {name}"] = epoch
            keras_configs[f"keras fit, {name}"] = {
                "steps_per_execution": spe,
                "jit_compile": str(jit),
                "first_epoch_seconds": epoch.first_seconds,
            }
    say(f"Timing {len(contenders)} contenders in {rounds} interleaved rounds ...")
    times = bench.interleaved(
        contenders, rounds, on_round=lambda r: say(f"  round {r + 1}/{rounds} done")
    )
    say("Timing the readable reference path (one epoch) ...")
    times["numpy reference path"] = [bench.NumpyEpoch(X, y, engine="reference")()]
    section["epoch_seconds"] = times
    section["median_seconds"] = {name: float(np.median(t)) for name, t in times.items()}
    section["keras_fit"] = keras_configs
    numpy = times["numpy fast, 1 BLAS thread"]
    section["numpy_over_limit"] = float(np.median(numpy)) / limit
    if with_keras:
        best = min(keras_configs, key=lambda k: section["median_seconds"][k])
        section["keras_best"] = best
        section["vs_keras_defaults_spread"] = paired_ratios(times["keras fit, defaults"], numpy)
        section["vs_keras_best_spread"] = paired_ratios(times[best], numpy)
        section["vs_keras_defaults"] = section["vs_keras_defaults_spread"]["median"]
        section["vs_keras_best"] = section["vs_keras_best_spread"]["median"]
    say("Peak memory of a NumPy training run ...")
    section["peak_rss_mb"] = bench.peak_rss_of_numpy_training(data_dir)
    return section


def format_tutorial(s: dict, peak: dict) -> str:
    lines = [
        f"Tutorial configuration: 784-50-50-10, batch 64, float32, {s['rows']:,} rows = "
        f"{s['updates']} updates an epoch ({s['epoch_gflop']:.2f} GFLOP); seconds an epoch, "
        f"median of {s['rounds']} interleaved rounds:",
    ]
    for name, median in s["median_seconds"].items():
        extra = ""
        if name in s.get("keras_fit", {}):
            extra = f"   (first epoch {s['keras_fit'][name]['first_epoch_seconds']:.2f} s, tracing)"
        lines.append(f"  {name:<44} {median:8.3f} s{extra}")
    lines.append(
        f"  Matrix-product peak {peak['gflops']:.0f} GFLOP/s -> arithmetic limit "
        f"{s['arithmetic_limit_seconds']:.3f} s an epoch"
    )
    lines.append("Targets (paired per-round ratios: median, and range over the rounds):")
    if "vs_keras_defaults" in s:
        for key, label in (
            ("vs_keras_defaults", "NumPy vs Keras fit defaults"),
            ("vs_keras_best", f"NumPy vs fastest Keras ({s['keras_best']})"),
        ):
            r = s[f"{key}_spread"]
            lines.append(
                f"  {label}: {r['median']:.1f}x faster ({r['min']:.1f}-{r['max']:.1f}x; "
                f"target {TARGETS[key]:g}x: {_verdict(r['median'] >= TARGETS[key])})"
            )
    lines.append(
        f"  NumPy epoch / arithmetic limit: {s['numpy_over_limit']:.1f}x (target "
        f"<= {TARGETS['over_arithmetic_limit']:g}x: "
        f"{_verdict(s['numpy_over_limit'] <= TARGETS['over_arithmetic_limit'])})"
    )
    lines.append(
        f"  Peak RSS of a NumPy training run: {s['peak_rss_mb']:.0f} MB (target < "
        f"{TARGETS['peak_rss_mb']:g} MB: {_verdict(s['peak_rss_mb'] < TARGETS['peak_rss_mb'])})"
    )
    return "\n".join(lines)


def format_sweep(points: list[dict], key: str) -> str:
    head = f"{key:>6} {'numpy us/sample':>16} {'GF/s':>6} {'peak%':>6}"
    head += f" {'keras us/sample':>16} {'GF/s':>6} {'peak%':>6} {'keras/numpy':>11}"
    lines = [head]
    for p in points:
        value = p["batch"] if key == "batch" else p["layers"][1]
        n = p["numpy"]
        line = (
            f"{value:>6} {n['sample_seconds'] * 1e6:>16.2f} {n['gflops']:>6.1f} "
            f"{n['fraction_of_peak'] * 100:>5.1f}%"
        )
        if "keras" in p:
            k = p["keras"]
            line += (
                f" {k['sample_seconds'] * 1e6:>16.2f} {k['gflops']:>6.1f} "
                f"{k['fraction_of_peak'] * 100:>5.1f}% {p['keras_over_numpy']:>10.2f}x"
            )
        lines.append(line)
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    import numpy as np

    from compare import bench, plots
    from compare.data import load_data
    from compare.environment import environment
    from numpy_mlp.io.atomic import atomic_write_text
    from numpy_mlp.io.progress import progress_bar
    from numpy_mlp.model.targets import one_hot
    from numpy_mlp.training.loop import split_validation

    with_keras = not args.no_keras
    if with_keras:
        from keras_mlp.tf import tensorflow

        tensorflow()
    quick = args.quick
    rounds = 3 if quick else 5
    batches = args.batches or ([16, 64, 256, 1024] if quick else [16, 32, 64, 128, 256, 512, 1024])
    widths = args.widths or ([50, 256, 1024, 2048] if quick else [50, 128, 256, 512, 1024, 2048])
    target = 0.15 if quick else 0.4

    with output_folder(args.out) as out:
        data = load_data(args.data_dir, dtype="float32")
        X, y, _, _ = split_validation(data.X_train, data.y_train, 0.1)
        X = np.ascontiguousarray(X)
        Y = one_hot(y, dtype=np.float32)
        result = {"environment": environment(with_tensorflow=with_keras), "quick": quick}
        print("Measuring the float32 matrix-product peak ...", flush=True)
        peak = result["matmul_peak"] = bench.matmul_peak()
        print(f"  {peak['gflops']:.0f} GFLOP/s ({peak['n']}x{peak['n']})", flush=True)
        section = tutorial_section(
            X,
            Y,
            y,
            with_keras=with_keras,
            rounds=rounds,
            quick=quick,
            peak=peak,
            data_dir=args.data_dir,
            say=lambda m: print(m, flush=True),
        )
        result["tutorial"] = section
        print(format_tutorial(section, peak), flush=True)

        configs = [("batch", (784, 50, 50, 10), b) for b in batches]
        configs += [("width", (784, w, w, 10), 64) for w in widths]
        points = {"batch": [], "width": []}
        with progress_bar(total=len(configs), desc="sweep", unit="config") as bar:
            for kind, layers, batch in configs:
                bar.set_postfix_str(f"{'-'.join(map(str, layers))} batch {batch}")
                points[kind].append(
                    bench.sweep_point(
                        layers,
                        batch,
                        X,
                        Y,
                        peak=peak["gflops"],
                        target=target,
                        rounds=3,
                        with_keras=with_keras,
                    )
                )
                bar.update(1)
        result["sweep_batch"] = points["batch"]
        result["sweep_width"] = points["width"]
        result["crossover"] = {
            "batch": bench.crossover(points["batch"], "batch"),
            "width": bench.crossover(points["width"], "width"),
        }
        print("\nBatch size sweep (784-50-50-10):")
        print(format_sweep(points["batch"], "batch"))
        print("\nHidden width sweep (784-w-w-10, batch 64):")
        print(format_sweep(points["width"], "width"))
        for kind, cross in result["crossover"].items():
            if not with_keras:
                break
            where = (
                f"TensorFlow overtakes NumPy from {kind} {cross[kind]} "
                f"({cross['keras_over_numpy']:.2f}x)"
                if cross
                else f"NumPy stays faster over the whole {kind} sweep"
            )
            print(f"Crossover ({kind}): {where}")
        atomic_write_text(out / "bench.json", json.dumps(result, indent=2) + "\n")
        plots.bench_sweeps(points, peak["gflops"], out / "bench.png")
        print(f"\nSaved {out / 'bench.json'} and {out / 'bench.png'}")
    return 0
