"""The tutorial's epoch, timed: NumPy against Keras `fit` under several settings, interleaved.

Each contender runs one epoch per round, in turn, so that a slow spell of a shared machine hits
all of them; ratios are taken per round (paired) and summarised by their median and range.
"""

from __future__ import annotations

import numpy as np

from compare.config import TUTORIAL
from compare.speed import measure
from compare.speed.stats import paired_ratios, spread

NUMPY_1 = "numpy fast, 1 BLAS thread"
NUMPY_ALL = "numpy fast, BLAS on all cores"


def tutorial_section(
    X, Y, y, *, with_keras: bool, rounds: int, quick: bool, peak: dict, data_dir, say
) -> dict:
    """One epoch of the tutorial configuration, NumPy against Keras fit settings, interleaved."""
    from compare.environment import tf_threads, usable_cores

    epoch_flops = measure.train_flops(TUTORIAL.layers, X.shape[0])
    limit = epoch_flops / (peak["gflops"] * 1e9)
    section = {
        "rows": int(X.shape[0]),
        "updates": -(-X.shape[0] // 64),
        "epoch_gflop": epoch_flops / 1e9,
        "arithmetic_limit_seconds": limit,
        # the 1-thread NumPy epoch is held to one core's share of the peak, too
        "arithmetic_limit_one_core_seconds": limit * max(1, int(peak.get("blas_threads") or 1)),
        "peak_gflops": peak["gflops"],
        "rounds": rounds,
    }
    contenders = {
        NUMPY_1: measure.NumpyEpoch(X, y),
        NUMPY_ALL: measure.NumpyEpoch(X, y, blas_threads=usable_cores()),
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
    reference = measure.NumpyEpoch(X, y, engine="reference")
    times["numpy reference path"] = [reference()]
    contenders["numpy reference path"] = reference
    section["epoch_seconds"] = times
    section["median_seconds"] = {name: float(np.median(t)) for name, t in times.items()}
    section["spread"] = {name: spread(t) for name, t in times.items()}
    keras_threads = tf_threads() if with_keras else None
    section["threads_by_contender"] = {
        name: {"blas": epoch.blas_threads_in_force}
        if isinstance(epoch, measure.NumpyEpoch)
        else {"tf_intra_op": keras_threads["intra_op"], "tf_inter_op": keras_threads["inter_op"]}
        for name, epoch in contenders.items()
    }
    section["keras_fit"] = keras_configs
    numpy = times[NUMPY_1]
    section["numpy_over_limit"] = float(np.median(numpy)) / limit
    section["numpy_over_one_core_limit"] = (
        float(np.median(numpy)) / section["arithmetic_limit_one_core_seconds"]
    )
    if with_keras:
        from compare.environment import keras_device, numpy_device

        section["devices"] = {"numpy": numpy_device(), "keras": keras_device()}
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
            "numpy_1_blas_thread_seconds": section["median_seconds"][NUMPY_1],
            "numpy_all_cores_seconds": section["median_seconds"][NUMPY_ALL],
            "numpy_all_cores_blas_threads": section["threads_by_contender"][NUMPY_ALL]["blas"],
            "keras_tf_all_threads_seconds": section["median_seconds"]["keras fit, defaults"],
            "keras_tf_1_thread_seconds": float(np.median(one)),
            "keras_tf_1_thread_epochs": one,
        }
    say("Where a step's time goes, operation by operation ...")
    section["numpy_step_breakdown"] = measure.numpy_step_profile(X, Y, rounds=rounds)
    if with_keras:
        steps = measure.KerasSteps(TUTORIAL.layers, TUTORIAL.batch_size, X, Y, target=0.3)
        compiled = float(np.median([steps() for _ in range(rounds)]))
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
    threads = s.get("threads_by_contender", {})
    lines = [
        f"Tutorial configuration: 784-50-50-10, batch 64, float32, {s['rows']:,} rows = "
        f"{s['updates']} updates an epoch ({s['epoch_gflop']:.2f} GFLOP); seconds an epoch, "
        f"median of {s['rounds']} interleaved rounds, with the IQR as a share of the median:",
        f"  {'':<44} {'median':>9} {'IQR%':>5}  threads in force",
    ]
    for name, median in s["median_seconds"].items():
        extra = ""
        if name in s.get("keras_fit", {}):
            extra = f"   (first epoch {s['keras_fit'][name]['first_epoch_seconds']:.2f} s, tracing)"
        sp = s["spread"][name]
        iqr = f"{sp['relative_spread']:.0%}" if sp["n"] > 1 else "1 run"
        lines.append(
            f"  {name:<44} {median:7.3f} s {iqr:>5}  {thread_text(threads.get(name, {}))}{extra}"
        )
    lines.append(
        f"  Matrix-product peak {peak['gflops']:.0f} GFLOP/s ({peak['blas_threads']} BLAS "
        f"threads) -> arithmetic limit {s['arithmetic_limit_seconds']:.3f} s an epoch"
    )
    if "threads" in s:
        t = s["threads"]
        lines.append(
            f"  Threads: NumPy {t['numpy_1_blas_thread_seconds']:.3f} s with 1 BLAS thread, "
            f"{t['numpy_all_cores_seconds']:.3f} s with {t['numpy_all_cores_blas_threads']}; "
            f"Keras fit {t['keras_tf_all_threads_seconds']:.3f} s with TensorFlow's default "
            f"threads (all cores), {t['keras_tf_1_thread_seconds']:.3f} s with one (intra 1, "
            "inter 1)"
        )
    lines.append(format_breakdown(s["numpy_step_breakdown"]))
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
                f"{r['n']} rounds)"
            )
        if "devices" in s:
            lines.append(f"  {devices_line(s['devices'])}")
    lines.append(
        f"  NumPy epoch (1 BLAS thread) / arithmetic limit: {s['numpy_over_limit']:.1f}x of the "
        f"all-core limit, {s.get('numpy_over_one_core_limit', float('nan')):.1f}x of one core's "
        f"({s.get('arithmetic_limit_one_core_seconds', float('nan')):.3f} s)"
    )
    lines.append(f"  Peak RSS of a NumPy training run: {s['peak_rss_mb']:.0f} MB")
    return "\n".join(lines)


def devices_line(devices: dict) -> str:
    """Which devices the epoch ratios compare (Keras here is TensorFlow, in this process)."""
    from compare.environment import device_text

    return (
        f"Devices compared: NumPy on the {device_text(devices['numpy'])}; Keras (TensorFlow) on "
        f"the {device_text(devices['keras'])}."
    )


def thread_text(threads: dict) -> str:
    """'1 BLAS' or 'TF intra 2, inter 2' for a contender's thread counts in force."""
    if "blas" in threads:
        return f"{threads['blas']} BLAS"
    if "tf_intra_op" in threads:
        return f"TF intra {threads['tf_intra_op']}, inter {threads['tf_inter_op']}"
    return "-"


def format_breakdown(b: dict) -> str:
    """The NumPy step operation by operation: median microseconds, share of the step, and the
    whole step against the sum of its operations and the products-only floor."""
    step, products = b["step_us"], b["products_us"]
    lines = [
        f"  One NumPy step ({b['blas_threads']} BLAS thread), operation by operation: median over "
        f"{b['rounds']} rounds of {b['steps_per_round']} steps, each operation timed alone",
        f"    {'operation':<52} {'us':>7} {'share':>6} {'IQR%':>5}",
    ]
    for op in b["operations"]:
        lines.append(
            f"    {op['label']:<52} {op['median']:7.2f} {op['share']:6.1%} "
            f"{op['relative_spread']:5.0%}"
        )
    kinds = ", ".join(f"{kind} {us:.0f} us" for kind, us in b["by_kind_us"].items())
    lines += [
        f"    whole step (timed without the per-operation clock) {step['median']:.0f} us "
        f"(IQR {step['relative_spread']:.0%}); sum of the operations {b['operations_sum_us']:.0f}"
        f" us ({kinds})",
        f"    products-only floor: the {sum(1 for o in b['operations'] if o['kind'] == 'product')}"
        f" matrix products back to back {products['median']:.0f} us "
        f"({b['products_gflops']:.0f} GFLOP/s) = {products['median'] / step['median']:.0%} of "
        f"the step; everything else {step['median'] - products['median']:.0f} us",
    ]
    return "\n".join(lines)
