"""The studies' figures (PNG, written atomically like every figure of the project)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from compare.plots import _pyplot, _save


def _pairs(runs: Sequence[dict]) -> list[tuple[str, str]]:
    return list(dict.fromkeys((r["activation"], r["init"]) for r in runs))


def _panels(plt, n: int, title: str):
    fig, axes = plt.subplots(1, n, figsize=(4.2 * n, 3.8), sharey=True, squeeze=False)
    fig.suptitle(title)
    return fig, axes[0]


def vanishing_figures(study: dict, out: Path) -> list[str]:
    """vanishing_init.png, vanishing_training.png, vanishing_accuracy.png; returns their names."""
    runs = study["runs"]
    pairs = _pairs(runs)
    plt = _pyplot()

    fig, axes = _panels(plt, len(pairs), "||dL/dW^(l)|| at initialization, fixed batch")
    for ax, (activation, init) in zip(axes, pairs, strict=True):
        for r in (r for r in runs if (r["activation"], r["init"]) == (activation, init)):
            norms = np.maximum(np.asarray(r["grad_norms"], float), 1e-300)
            ax.plot(np.arange(1, norms.size + 1), norms, marker="o", label=f"depth {r['depth']}")
        ax.set_yscale("log")
        ax.set_title(f"{activation}, {init}")
        ax.set_xlabel("weight matrix l (1 = input layer, last = W_out)")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
    axes[0].set_ylabel("gradient norm (log scale)")
    _save(fig, out / "vanishing_init.png")

    fig, axes = _panels(plt, len(pairs), "||dL/dW^(l)|| over training, deepest network")
    for ax, (activation, init) in zip(axes, pairs, strict=True):
        mine = [r for r in runs if (r["activation"], r["init"]) == (activation, init)]
        deepest = max(mine, key=lambda r: r["depth"])
        series = np.array([deepest["grad_norms"], *deepest["epoch_grad_norms"]], dtype=float)
        for l in range(series.shape[1]):
            name = "W_out" if l == series.shape[1] - 1 else f"W_h{l + 1}"
            ax.plot(np.arange(series.shape[0]), np.maximum(series[:, l], 1e-300), label=name)
        ax.set_yscale("log")
        ax.set_title(f"{activation}, {init}, depth {deepest['depth']}")
        ax.set_xlabel("epoch (0 = initialization)")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=7, ncol=2)
    axes[0].set_ylabel("gradient norm (log scale)")
    _save(fig, out / "vanishing_training.png")

    fig, ax = plt.subplots(figsize=(6.5, 4))
    for activation, init in pairs:
        mine = sorted(
            (r for r in runs if (r["activation"], r["init"]) == (activation, init)),
            key=lambda r: r["depth"],
        )
        depths = [r["depth"] for r in mine]
        acc = [np.nan if r.get("test_accuracy") is None else r["test_accuracy"] for r in mine]
        ax.plot(depths, acc, marker="o", label=f"{activation}, {init}")
    ax.set_xscale("log", base=2)
    ax.set_xlabel("hidden layers")
    ax.set_ylabel("test accuracy %")
    ax.set_title(f"Test accuracy after {study['config']['epochs']} epochs")
    ax.grid(True, alpha=0.3)
    ax.legend()
    _save(fig, out / "vanishing_accuracy.png")
    return ["vanishing_init.png", "vanishing_training.png", "vanishing_accuracy.png"]
