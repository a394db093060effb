"""The tutorial's epoch, timed: NumPy against Keras `fit` under several settings, interleaved.

Each contender runs one epoch per round, in turn, so that a slow spell of a shared machine hits
all of them; ratios are taken per round (paired) and summarised by their median and range.
"""

from __future__ import annotations

import numpy as np

from compare.config import TUTORIAL
from compare.speed import measure
from compare.speed.stats import paired_ratios


def tutorial_section(
    X, Y, y, *, with_keras: bool, rounds: int, quick: bool, peak: dict, data_dir, say
) -> dict:
    """One epoch of the tutorial configuration, NumPy against Keras fit settings, interleaved."""
    epoch_flops = measure.train_flops(TUTORIAL.layers, X.shape[0])
    limit = epoch_flops / (peak["gflops"] * 1e9)
    section = {
        "rows": int(X.shape[0]),
        "updates": -(-X.shape[0] // 64),
        "epoch_gflop": epoch_flops / 1e9,
        "arithmetic_limit_seconds": limit,
        "rounds": rounds,
    }
    contenders = {
        "numpy fast, 1 BLAS thread": measure.NumpyEpoch(X, y),
        "numpy fast, 2 BLAS threads": measure.NumpyEpoch(X, y, blas_threads=2),
    }
    keras_configs = {}
    if with_keras:
        for name, spe, jit in measure.KERAS_FIT_CONFIGS[:2] if quick else measure.KERAS_FIT_CONFIGS:
            say(f"Tracing Keras fit ({name}) ...")
            epoch = measure.KerasEpoch(X, Y, steps_per_execution=spe, jit_compile=jit)
            contenders[f"keras fit, {name}"] = epoch
            keras_configs[f"keras fit, {name}"] = {
                "steps_per_execution": spe,
                "jit_compile": str(jit),
                "first_epoch_seconds": epoch.first_seconds,
            }
    say(f"Timing {len(contenders)} contenders in {rounds} interleaved rounds ...")
    times = measure.interleaved(
        contenders, rounds, on_round=lambda r: say(f"  round {r + 1}/{rounds} done")
    )
    say("Timing the readable reference path (one epoch) ...")
    times["numpy reference path"] = [measure.NumpyEpoch(X, y, engine="reference")()]
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
    if with_keras:
        say("Keras fit with one TensorFlow thread (a fresh process) ...")
        one = measure.keras_epoch_in_fresh_process(1, 1, data_dir, rounds=2 if quick else 3)
        section["threads"] = {
            "numpy_1_blas_thread_seconds": section["median_seconds"]["numpy fast, 1 BLAS thread"],
            "numpy_2_blas_threads_seconds": section["median_seconds"]["numpy fast, 2 BLAS threads"],
            "keras_tf_all_threads_seconds": section["median_seconds"]["keras fit, defaults"],
            "keras_tf_1_thread_seconds": float(np.median(one)),
            "keras_tf_1_thread_epochs": one,
        }
    say("Where a step's time goes ...")
    section["numpy_step_breakdown"] = measure.numpy_step_breakdown(X, Y)
    if with_keras:
        compiled, _ = measure.keras_step_seconds(
            TUTORIAL.layers, TUTORIAL.batch_size, X, Y, target=0.3, rounds=rounds
        )
        section["keras_step_breakdown"] = {
            "fit_per_step_us": section["median_seconds"]["keras fit, defaults"]
            / section["updates"]
            * 1e6,
            "compiled_step_us": compiled * 1e6,
        }
    say("Peak memory of a NumPy training run ...")
    section["peak_rss_mb"] = measure.peak_rss_of_numpy_training(data_dir)
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
    if "threads" in s:
        t = s["threads"]
        lines.append(
            f"  Threads: NumPy {t['numpy_1_blas_thread_seconds']:.3f} s with 1 BLAS thread, "
            f"{t['numpy_2_blas_threads_seconds']:.3f} s with 2; Keras fit "
            f"{t['keras_tf_all_threads_seconds']:.3f} s with TensorFlow's default threads (all "
            f"cores), {t['keras_tf_1_thread_seconds']:.3f} s with one (intra 1, inter 1)"
        )
    b = s["numpy_step_breakdown"]
    lines.append(
        f"  One NumPy step (1 BLAS thread): {b['step_us']:.0f} us = matrix products "
        f"{b['products_us']:.0f} us ({b['products_gflops']:.0f} GFLOP/s, timed alone at the same "
        f"shapes) + everything else {b['rest_us']:.0f} us (elementwise, reductions, update, calls)"
    )
    if "keras_step_breakdown" in s:
        k = s["keras_step_breakdown"]
        lines.append(
            f"  One Keras step: {k['fit_per_step_us']:.0f} us inside fit (defaults) against "
            f"{k['compiled_step_us']:.0f} us for the compiled train step alone"
        )
    lines.append("NumPy's speed-up (paired per-round ratios: median, and range over the rounds):")
    if "vs_keras_defaults" in s:
        for key, label in (
            ("vs_keras_defaults", "NumPy vs Keras fit defaults"),
            ("vs_keras_best", f"NumPy vs fastest Keras ({s['keras_best']})"),
        ):
            r = s[f"{key}_spread"]
            lines.append(
                f"  {label}: {r['median']:.1f}x faster ({r['min']:.1f}-{r['max']:.1f}x over "
                f"{r['pairs']} rounds)"
            )
    lines.append(f"  NumPy epoch / arithmetic limit: {s['numpy_over_limit']:.1f}x")
    lines.append(f"  Peak RSS of a NumPy training run: {s['peak_rss_mb']:.0f} MB")
    return "\n".join(lines)
