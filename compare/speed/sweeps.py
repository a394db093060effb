"""How cost grows with batch size and width: time per sample for NumPy and a compiled Keras step.

For each configuration the NumPy side runs with 1 and with 2 BLAS threads and reports the faster;
the Keras side is a compiled train step (not `fit`). Each time is the median of several rounds.
"""

from __future__ import annotations

from compare.speed.measure import keras_step_seconds, numpy_step_seconds, train_flops


def sweep_point(
    layers, batch: int, X, Y, *, peak: float, target: float, rounds: int, with_keras: bool
) -> dict:
    """One configuration: time per sample, GFLOP/s and fraction of peak for each side."""
    flops = train_flops(layers, batch)
    numpy_by_threads = {
        threads: numpy_step_seconds(
            layers, batch, X, Y, target=target, rounds=rounds, threads=threads
        )
        for threads in (1, 2)
    }
    threads, t_np = min(numpy_by_threads.items(), key=lambda kv: kv[1])
    point = {
        "layers": list(layers),
        "batch": batch,
        "flops_per_step": flops,
        "numpy": {
            "step_seconds": t_np,
            "sample_seconds": t_np / batch,
            "gflops": flops / t_np / 1e9,
            "fraction_of_peak": flops / t_np / 1e9 / peak,
            "blas_threads": threads,
            "step_seconds_by_threads": {str(k): v for k, v in numpy_by_threads.items()},
        },
    }
    if with_keras:
        t_k, trace = keras_step_seconds(layers, batch, X, Y, target=target, rounds=rounds)
        point["keras"] = {
            "step_seconds": t_k,
            "sample_seconds": t_k / batch,
            "gflops": flops / t_k / 1e9,
            "fraction_of_peak": flops / t_k / 1e9 / peak,
            "trace_seconds": trace,
            "method": "compiled tf.function train step on prepared tensors (not fit)",
            "threads": "TensorFlow defaults (intra-op and inter-op 0: all cores)",
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
    """The sweep table. NumPy: FastStep with the faster of 1 or 2 BLAS threads (shown); Keras: a
    compiled train step (tf.function on prepared tensors, not `fit`) with TensorFlow's threads."""
    head = f"{key:>6} {'numpy step us/sample':>21} {'threads':>7} {'GF/s':>6} {'peak%':>6}"
    head += f" {'keras step us/sample':>21} {'GF/s':>6} {'peak%':>6} {'keras/numpy':>11}"
    lines = [head]
    for p in points:
        value = p["batch"] if key == "batch" else p["layers"][1]
        n = p["numpy"]
        line = (
            f"{value:>6} {n['sample_seconds'] * 1e6:>21.2f} {n['blas_threads']:>7} "
            f"{n['gflops']:>6.1f} {n['fraction_of_peak'] * 100:>5.1f}%"
        )
        if "keras" in p:
            k = p["keras"]
            line += (
                f" {k['sample_seconds'] * 1e6:>21.2f} {k['gflops']:>6.1f} "
                f"{k['fraction_of_peak'] * 100:>5.1f}% {p['keras_over_numpy']:>10.2f}x"
            )
        lines.append(line)
    return "\n".join(lines)
