"""How cost grows with batch size and width: time per sample for NumPy and a compiled Keras step.

For each configuration the NumPy side runs with 1 BLAS thread and with every usable core, and
reports the faster; the Keras side is a compiled train step (not `fit`). The three contenders
alternate round by round (ABC ABC ...), so a slow spell of a shared machine hits all of them;
each figure is the median of the rounds, with its spread.
"""

from __future__ import annotations

from compare.speed.measure import KerasSteps, NumpySteps, interleaved, train_flops
from compare.speed.stats import spread


def sweep_point(
    layers, batch: int, X, Y, *, peak: float, target: float, rounds: int, with_keras: bool
) -> dict:
    """One configuration: time per sample, GFLOP/s and fraction of peak for each side."""
    from compare.environment import tf_threads, usable_cores

    flops = train_flops(layers, batch)
    counts = sorted({1, usable_cores()})
    contenders = {
        f"numpy {t}": NumpySteps(layers, batch, X, Y, threads=t, target=target) for t in counts
    }
    if with_keras:
        contenders["keras"] = KerasSteps(layers, batch, X, Y, target=target)
    times = interleaved(contenders, rounds)
    by_threads = {t: spread(times[f"numpy {t}"]) for t in counts}
    fastest = min(counts, key=lambda t: by_threads[t]["median"])
    t_np = by_threads[fastest]["median"]
    point = {
        "layers": list(layers),
        "batch": batch,
        "flops_per_step": flops,
        "rounds": rounds,
        "numpy": {
            "step_seconds": t_np,
            "step_spread": by_threads[fastest],
            "sample_seconds": t_np / batch,
            "gflops": flops / t_np / 1e9,
            "fraction_of_peak": flops / t_np / 1e9 / peak,
            "blas_threads": contenders[f"numpy {fastest}"].blas_threads,
            "step_seconds_by_threads": {
                str(contenders[f"numpy {t}"].blas_threads): by_threads[t]["median"] for t in counts
            },
        },
    }
    if with_keras:
        k = spread(times["keras"])
        t_k = k["median"]
        point["keras"] = {
            "step_seconds": t_k,
            "step_spread": k,
            "sample_seconds": t_k / batch,
            "gflops": flops / t_k / 1e9,
            "fraction_of_peak": flops / t_k / 1e9 / peak,
            "trace_seconds": contenders["keras"].trace_seconds,
            "method": "compiled tf.function train step on prepared tensors (not fit)",
            "tf_threads": tf_threads(),
        }
        point["keras_over_numpy"] = t_k / t_np
    return point


def crossover(points: list[dict], key: str) -> dict | None:
    """The first point (in sweep order) where Keras takes less time per sample than NumPy."""
    for p in points:
        if "keras" in p and p["keras"]["sample_seconds"] < p["numpy"]["sample_seconds"]:
            return {
                key: p[key] if key == "batch" else p["layers"][1],
                "keras_over_numpy": p["keras_over_numpy"],
            }
    return None


def format_sweep(points: list[dict], key: str) -> str:
    """The sweep table. NumPy: FastStep with the faster of 1 BLAS thread or all cores (shown);
    Keras: a compiled train step (tf.function on prepared tensors, not `fit`) with TensorFlow's
    threads. 'IQR%': the step time's IQR over its median, across the rounds."""
    head = f"{key:>6} {'numpy step us/sample':>21} {'IQR%':>5} {'threads':>7} {'GF/s':>6}"
    head += f" {'peak%':>6}"
    if points and "keras" in points[0]:
        head += f" {'keras step us/sample':>21} {'IQR%':>5} {'GF/s':>6} {'peak%':>6}"
        head += f" {'keras/numpy':>11}"
    lines = [head]
    for p in points:
        value = p["batch"] if key == "batch" else p["layers"][1]
        n = p["numpy"]
        line = (
            f"{value:>6} {n['sample_seconds'] * 1e6:>21.2f} {_iqr(n):>5} {n['blas_threads']:>7} "
            f"{n['gflops']:>6.1f} {n['fraction_of_peak'] * 100:>5.1f}%"
        )
        if "keras" in p:
            k = p["keras"]
            line += (
                f" {k['sample_seconds'] * 1e6:>21.2f} {_iqr(k):>5} {k['gflops']:>6.1f} "
                f"{k['fraction_of_peak'] * 100:>5.1f}% {p['keras_over_numpy']:>10.2f}x"
            )
        lines.append(line)
    return "\n".join(lines)


def _iqr(side: dict) -> str:
    s = side.get("step_spread")
    return f"{s['relative_spread']:.0%}" if s else "-"
