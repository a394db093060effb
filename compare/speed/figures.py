"""bench's figures, each with error bars from the rounds: the epoch per contender, the sweeps."""

from __future__ import annotations

import io
import os
from collections.abc import Mapping, Sequence

from numpy_mlp.io.atomic import atomic_write_bytes


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path: str | os.PathLike) -> None:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    _pyplot().close(fig)
    atomic_write_bytes(path, buffer.getvalue())


def _bars(s: Mapping, scale: float = 1.0) -> tuple[float, float]:
    """(below, above) the median: the distance to the first and third quartiles."""
    return (s["median"] - s["q1"]) * scale, (s["q3"] - s["median"]) * scale


def epoch_times(spreads: Mapping[str, Mapping], path) -> None:
    """Horizontal bars: median seconds an epoch per contender, whiskers from q1 to q3."""
    plt = _pyplot()
    names = list(spreads)
    fig, ax = plt.subplots(figsize=(9, 0.45 * len(names) + 1.5))
    medians = [spreads[n]["median"] for n in names]
    below, above = zip(*(_bars(spreads[n]) for n in names), strict=True)
    ax.barh(names, medians, xerr=[below, above], color="C0", capsize=4, alpha=0.8)
    for i, n in enumerate(names):  # right of the whisker
        ax.text(spreads[n]["q3"], i, f"   n={spreads[n]['n']}", va="center", fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel("seconds per epoch (median; whiskers: first to third quartile over the rounds)")
    ax.set_title("One epoch of the tutorial configuration (784-50-50-10, batch 64, float32)")
    ax.grid(True, axis="x", alpha=0.3)
    _save(fig, path)


def sweeps(points: Mapping[str, Sequence[Mapping]], peak: float, path) -> None:
    """Log-log: time per training sample (top) and fraction of the matmul peak (bottom), each
    point the median of the rounds with whiskers from the first to the third quartile."""
    plt = _pyplot()
    fig, axes = plt.subplots(2, 2, figsize=(10, 7.5), sharex="col")
    for col, (kind, label) in enumerate(
        (("batch", "batch size (784-50-50-10)"), ("width", "hidden width w (784-w-w-10, batch 64)"))
    ):
        rows = points.get(kind) or []
        xs = [p["batch"] if kind == "batch" else p["layers"][1] for p in rows]
        for impl, color in (("numpy", "C0"), ("keras", "C1")):
            if not rows or impl not in rows[0]:
                continue
            per_sample = [1e6 / p["batch"] for p in rows]
            y = [
                p[impl]["step_spread"]["median"] * k for p, k in zip(rows, per_sample, strict=True)
            ]
            err = list(
                zip(
                    *(
                        _bars(p[impl]["step_spread"], k)
                        for p, k in zip(rows, per_sample, strict=True)
                    ),
                    strict=True,
                )
            )
            axes[0, col].errorbar(xs, y, yerr=err, fmt="o-", color=color, capsize=3, label=impl)
            flops = [p["flops_per_step"] / 1e9 / peak for p in rows]
            frac = [f / p[impl]["step_spread"]["median"] for f, p in zip(flops, rows, strict=True)]
            # the fraction of peak is inversely proportional to the time: q3 of time -> lower bound
            lo = [
                fr - f / p[impl]["step_spread"]["q3"]
                for fr, f, p in zip(frac, flops, rows, strict=True)
            ]
            hi = [
                f / p[impl]["step_spread"]["q1"] - fr
                for fr, f, p in zip(frac, flops, rows, strict=True)
            ]
            axes[1, col].errorbar(
                xs, frac, yerr=[lo, hi], fmt="o-", color=color, capsize=3, label=impl
            )
        axes[0, col].set_ylabel("microseconds per training sample")
        axes[1, col].set_ylabel(f"fraction of matmul peak ({peak:.0f} GFLOP/s)")
        axes[1, col].set_xlabel(label)
        for ax in axes[:, col]:
            ax.set_xscale("log", base=2)
            ax.set_yscale("log")
            ax.grid(True, which="both", alpha=0.3)
            ax.legend()
    fig.suptitle(
        "Training cost: NumPy (FastStep) vs Keras (compiled train step); whiskers: quartiles"
    )
    fig.tight_layout()
    _save(fig, path)
