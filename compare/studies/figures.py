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


def _mean_sd(cells: Sequence[dict], key: str) -> tuple[float, float, int]:
    values = [c[key] for c in cells if c.get("status") == "complete" and c.get(key) is not None]
    if not values:
        return np.nan, np.nan, 0
    return float(np.mean(values)), float(np.std(values)), len(values)


def sweep_figures(study: dict, out: Path) -> list[str]:
    """sweep_accuracy.png (one parameter) or sweep_heatmap.png (a grid), and sweep_curves.png."""
    axes_cfg = study["config"]["axes"]
    cells = study["cells"]
    plt = _pyplot()
    names = []
    if len(axes_cfg) == 1:
        name, values, log = axes_cfg[0]["param"], axes_cfg[0]["values"], axes_cfg[0]["log"]
        fig, ax = plt.subplots(figsize=(6.8, 4.2))
        use_log = log and min(values) > 0
        x = np.asarray(values, float) if use_log else np.arange(len(values))
        for key, color in (("val_accuracy", "C0"), ("test_accuracy", "C1")):
            stats = [_mean_sd([c for c in cells if c["values"][name] == v], key) for v in values]
            mean = np.array([s[0] for s in stats])
            sd = np.array([s[1] for s in stats])
            ax.errorbar(x, mean, yerr=sd, marker="o", capsize=3, color=color, label=key)
        for xi, v in zip(x, values, strict=True):
            group = [c for c in cells if c["values"][name] == v]
            if group and all(c["status"] == "diverged" for c in group):
                ax.axvline(xi, color="red", alpha=0.3)
                ax.annotate("diverged", (xi, 0.02), xycoords=("data", "axes fraction"),
                            rotation=90, color="red", fontsize=8)  # fmt: skip
        if use_log:
            ax.set_xscale("log")
        else:
            ax.set_xticks(x, [f"{v:g}" for v in values])
        seeds = study["config"]["seeds"]
        ax.set_xlabel(name)
        ax.set_ylabel("accuracy % (mean +- sd over seeds)")
        ax.set_title(f"{name}: accuracy after training ({seeds} seed(s) per value)")
        ax.grid(True, alpha=0.3)
        ax.legend()
        _save(fig, out / "sweep_accuracy.png")
        names.append("sweep_accuracy.png")
    else:
        (a, b) = axes_cfg
        grid = np.full((len(b["values"]), len(a["values"])), np.nan)
        for i, vb in enumerate(b["values"]):
            for j, va in enumerate(a["values"]):
                group = [
                    c
                    for c in cells
                    if c["values"][a["param"]] == va and c["values"][b["param"]] == vb
                ]
                grid[i, j] = _mean_sd(group, "val_accuracy")[0]
        fig, ax = plt.subplots(figsize=(1.2 * len(a["values"]) + 3, 1.0 * len(b["values"]) + 2))
        image = ax.imshow(grid, cmap="viridis", origin="lower", aspect="auto")
        for i in range(grid.shape[0]):
            for j in range(grid.shape[1]):
                text = "diverged" if np.isnan(grid[i, j]) else f"{grid[i, j]:.1f}"
                ax.text(j, i, text, ha="center", va="center", color="white", fontsize=8)
        ax.set_xticks(range(len(a["values"])), [f"{v:g}" for v in a["values"]])
        ax.set_yticks(range(len(b["values"])), [f"{v:g}" for v in b["values"]])
        ax.set_xlabel(a["param"])
        ax.set_ylabel(b["param"])
        ax.set_title("validation accuracy % (mean over seeds)")
        fig.colorbar(image, ax=ax, label="validation accuracy %")
        _save(fig, out / "sweep_heatmap.png")
        names.append("sweep_heatmap.png")

    fig, ax = plt.subplots(figsize=(6.8, 4.2))
    for i, c in enumerate(c for c in cells if c.get("status") == "complete"):
        values = c["history"].get("val_loss") or []
        label = ", ".join(f"{k}={v:g}" for k, v in c["values"].items()) + f", seed {c['seed']}"
        ax.plot(np.arange(1, len(values) + 1), values, color=f"C{i % 10}", label=label)
    ax.set_xlabel("epoch")
    ax.set_ylabel("validation loss")
    ax.set_yscale("log")
    ax.set_title("Learning curves (validation loss)")
    ax.grid(True, which="both", alpha=0.3)
    if len(cells) <= 12:
        ax.legend(fontsize=7)
    _save(fig, out / "sweep_curves.png")
    return [*names, "sweep_curves.png"]
