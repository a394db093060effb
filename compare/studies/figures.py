"""The studies' figures (PNG, written atomically like every figure of the project)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from compare.plots import _pyplot, _save
from compare.studies.rules import step_size


def _pairs(runs: Sequence[dict]) -> list[tuple[str, str]]:
    return list(dict.fromkeys((r["activation"], r["init"]) for r in runs))


def _panels(plt, n: int, title: str):
    fig, axes = plt.subplots(1, n, figsize=(4.2 * n, 3.8), sharey=True, squeeze=False)
    fig.suptitle(title)
    return fig, axes[0]


def _one_per_network(runs: Sequence[dict]) -> list[dict]:
    """The first run of each (activation, init, depth): init measurements do not depend on lr."""
    seen: dict[tuple, dict] = {}
    for r in runs:
        seen.setdefault((r["activation"], r["init"], r["depth"]), r)
    return list(seen.values())


def vanishing_figures(study: dict, out: Path) -> list[str]:
    """vanishing_factors.png, vanishing_layers.png, vanishing_init.png, vanishing_training.png,
    vanishing_accuracy.png."""
    runs = study["runs"]
    nets = _one_per_network(runs)
    pairs = _pairs(runs)
    plt = _pyplot()
    names = []

    if any(r.get("delta_factors") for r in nets):
        fig, axes = _panels(
            plt, len(pairs), "Backward factor ||delta^(l)|| / ||delta^(l+1)|| at initialization"
        )
        for ax, (activation, init) in zip(axes, pairs, strict=True):
            for r in (r for r in nets if (r["activation"], r["init"]) == (activation, init)):
                factors = r.get("delta_factors") or []
                if factors:
                    x = np.arange(1, len(factors) + 1)
                    ax.plot(x, factors, marker="o", label=f"depth {r['depth']}")
            ax.axhline(1.0, color="grey", ls=":", lw=1)
            ax.axhline(0.25, color="red", ls="--", lw=1)
            ax.annotate(" f' <= 1/4 (logistic)", (0.0, 0.25), xycoords=("axes fraction", "data"),
                        va="bottom", color="red", fontsize=8)  # fmt: skip
            ax.annotate(" 1: no change", (0.0, 1.0), xycoords=("axes fraction", "data"),
                        va="bottom", color="grey", fontsize=8)  # fmt: skip
            ax.set_yscale("log")
            ax.set_ylim(0.05, 5)
            ax.set_title(f"{activation}, {init}")
            ax.set_xlabel("l (factor between hidden layers l and l+1)")
            ax.xaxis.get_major_locator().set_params(integer=True)
            ax.grid(True, which="both", alpha=0.3)
            if ax.get_legend_handles_labels()[0]:
                ax.legend(fontsize=8, loc="lower right")
        axes[0].set_ylabel("factor (log scale; below 1 = shrinks)")
        _save(fig, out / "vanishing_factors.png")
        names.append("vanishing_factors.png")

    names += _layer_figure(plt, runs, nets, pairs, out)

    fig, axes = _panels(plt, len(pairs), "||dL/dW^(l)|| at initialization, fixed batch")
    for ax, (activation, init) in zip(axes, pairs, strict=True):
        for r in (r for r in nets if (r["activation"], r["init"]) == (activation, init)):
            norms = np.maximum(np.asarray(r["grad_norms"], float), 1e-300)
            x = np.arange(1, norms.size + 1)
            (line,) = ax.plot(x, norms, label=f"depth {r['depth']}")
            ax.plot(x[1:-1], norms[1:-1], "o", color=line.get_color())
            ends = [0, norms.size - 1]
            ax.plot(x[ends], norms[ends], "o", mfc="none", color=line.get_color())
        ax.set_yscale("log")
        ax.set_title(f"{activation}, {init}")
        ax.set_xlabel("weight matrix l (1 = W_h1, last = W_out)")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
    axes[0].set_ylabel("gradient norm (log scale)")
    fig.text(0.5, -0.07, "hollow markers: W_h1 and W_out, whose shapes differ from the hidden-to-"
             "hidden matrices, so their norms are not comparable with them", ha="center",
             fontsize=8)  # fmt: skip
    _save(fig, out / "vanishing_init.png")
    names.append("vanishing_init.png")

    rate = (study["config"].get("learning_rates") or [None])[0]
    fig, axes = _panels(plt, len(pairs), f"||dL/dW^(l)|| over training, deepest network, lr {rate}")
    for ax, (activation, init) in zip(axes, pairs, strict=True):
        mine = [
            r
            for r in runs
            if (r["activation"], r["init"]) == (activation, init)
            and r.get("learning_rate", rate) == rate
        ]
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
    names.append("vanishing_training.png")

    c = study["config"]
    fig, axes = _panels(plt, len(pairs), f"Test accuracy after {c['epochs']} epoch(s)")
    rates = sorted({r.get("learning_rate") for r in runs if r.get("learning_rate") is not None})
    colours = plt.get_cmap("viridis")(np.linspace(0, 0.85, max(len(rates), 1)))
    for ax, (activation, init) in zip(axes, pairs, strict=True):
        for lr, colour in zip(rates, colours, strict=False):
            mine = sorted(
                (
                    r
                    for r in runs
                    if (r["activation"], r["init"]) == (activation, init)
                    and r.get("learning_rate") == lr
                ),
                key=lambda r: r["depth"],
            )
            depths = [r["depth"] for r in mine]
            acc = [np.nan if r.get("test_accuracy") is None else r["test_accuracy"] for r in mine]
            ax.plot(depths, acc, marker="o", color=colour, label=f"lr {lr:g}")
            blown = [r["depth"] for r in mine if r["status"] == "diverged"]
            ax.plot(blown, [0] * len(blown), "x", color=colour, ms=9, mew=2, clip_on=False)
        if c.get("test_majority_percent") is not None:
            share = c["test_majority_percent"]
            ax.axhline(share, color="red", ls="--", lw=1)
            ax.annotate(f" always class {c['test_majority_class']}: {share:.2f} %", (0.0, share),
                        xycoords=("axes fraction", "data"), va="bottom", color="red",
                        fontsize=8)  # fmt: skip
        ax.set_xscale("log", base=2)
        all_depths = sorted({r["depth"] for r in runs})
        ax.set_xticks(all_depths, [str(d) for d in all_depths])
        ax.minorticks_off()
        ax.set_ylim(0, 100)
        ax.set_title(f"{activation}, {init}")
        ax.set_xlabel("hidden layers")
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=8, loc="center right")
    axes[0].set_ylabel("test accuracy % (x on the axis: diverged)")
    _save(fig, out / "vanishing_accuracy.png")
    names.append("vanishing_accuracy.png")
    return names


def _best_complete(runs: Sequence[dict], net: dict) -> dict | None:
    mine = [
        r
        for r in runs
        if (r["activation"], r["init"], r["depth"])
        == (net["activation"], net["init"], net["depth"])
        and r["status"] == "complete"
        and len(r.get("layer_stats") or []) > 1
    ]
    return max(mine, key=lambda r: r["test_accuracy"]) if mine else None


LAYER_ROWS = (
    ("delta_norm", "||delta^(l)|| (log)", True),
    ("unit_spread", "unit spread (log)", True),
    ("saturation", "saturated share", False),
)


def _layer_figure(plt, runs, nets, pairs, out: Path) -> list[str]:
    """vanishing_layers.png: per hidden layer, ||delta||, unit spread and saturation, one column
    per pair, one line per depth: solid at initialization, dashed after training at that
    network's best rate."""
    if not any(r.get("layer_stats") for r in nets):
        return []
    fig, grid = plt.subplots(
        len(LAYER_ROWS), len(pairs), figsize=(4.2 * len(pairs), 9), squeeze=False, sharex="col"
    )
    fig.suptitle("Per hidden layer: solid at initialization, dashed after training (best rate)")
    for col, pair in enumerate(pairs):
        mine = sorted(
            (r for r in nets if (r["activation"], r["init"]) == pair), key=lambda r: r["depth"]
        )
        for i, r in enumerate(mine):
            colour = f"C{i}"
            best = _best_complete(runs, r)
            states = [(r["layer_stats"][0], "-", f"depth {r['depth']}")]
            if best is not None:
                states.append((best["layer_stats"][-1], "--", None))
            for row, (key, _, log) in enumerate(LAYER_ROWS):
                ax = grid[row, col]
                for stats, style, name in states:
                    values = np.asarray(stats[key], float)[: r["depth"]]  # hidden layers only
                    if log:
                        values = np.maximum(values, 1e-300)
                    x = np.arange(1, values.size + 1)
                    ax.plot(x, values, style, marker="o", ms=3, color=colour, label=name)
        for row, (_, label, log) in enumerate(LAYER_ROWS):
            ax = grid[row, col]
            if log:
                ax.set_yscale("log")
            else:
                ax.set_ylim(-0.02, 1.02)
            ax.grid(True, which="both", alpha=0.3)
            if col == 0:
                ax.set_ylabel(label)
        grid[0, col].set_title(f"{pair[0]}, {pair[1]}")
        grid[0, col].legend(fontsize=7)
        grid[-1, col].set_xlabel("hidden layer (1 = next to the input)")
        grid[-1, col].xaxis.get_major_locator().set_params(integer=True)
    _save(fig, out / "vanishing_layers.png")
    return ["vanishing_layers.png"]


def _mean_sd(cells: Sequence[dict], key: str) -> tuple[float, float, int]:
    values = [c[key] for c in cells if c.get("status") == "complete" and c.get(key) is not None]
    if not values:
        return np.nan, np.nan, 0
    sd = float(np.std(values, ddof=1)) if len(values) > 1 else 0.0  # the sample sd
    return float(np.mean(values)), sd, len(values)


def sweep_figures(study: dict, out: Path) -> list[str]:
    """sweep_accuracy.png (one parameter) or sweep_heatmap.png (a grid), and sweep_curves.png.

    The two are drawn at once where a second core allows: sweep_curves.png in a forked child
    (`workers.aside`), the other here; an error in either is raised here.
    """
    from compare.studies.workers import aside

    _pyplot()  # imported (or its import by another thread awaited) before the fork, not twice after
    wait = aside(lambda: sweep_curves(study, out / "sweep_curves.png"))
    try:
        name = _summary_figure(study, out)
    except BaseException:
        wait(cancel=True)
        raise
    wait()
    return [name, "sweep_curves.png"]


def _summary_figure(study: dict, out: Path) -> str:
    """sweep_accuracy.png (one parameter) or sweep_heatmap.png (a grid); returns its name."""
    axes_cfg = study["config"]["axes"]
    cells = study["cells"]
    plt = _pyplot()
    if len(axes_cfg) == 1:
        name, values, log = axes_cfg[0]["param"], axes_cfg[0]["values"], axes_cfg[0]["log"]
        fig, ax = plt.subplots(figsize=(6.8, 4.2))
        use_log = log and min(values) > 0
        x = np.asarray(values, float) if use_log else np.arange(len(values))
        words = {"val_accuracy": "validation (last epoch)", "test_accuracy": "test"}
        for key, color in (("val_accuracy", "C0"), ("test_accuracy", "C1")):
            stats = [_mean_sd([c for c in cells if c["values"][name] == v], key) for v in values]
            mean = np.array([s[0] for s in stats])
            sd = np.array([s[1] for s in stats])
            ax.errorbar(x, mean, yerr=sd, marker="o", capsize=3, color=color, label=words[key])
            if key == "val_accuracy":
                clean = [
                    i
                    for i, v in enumerate(values)
                    if not any(c["status"] == "diverged" for c in cells if c["values"][name] == v)
                    and np.isfinite(mean[i])
                ]
                if clean:
                    best = max(clean, key=lambda i: mean[i])
                    ax.plot(x[best], mean[best], "*", ms=16, color="gold", mec="black",
                            label=f"best on validation: {values[best]:g}", zorder=5)  # fmt: skip
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
        ax.set_ylabel("accuracy % (mean +- sample sd over seeds)")
        ax.set_title(f"{name}: accuracy after training ({seeds} seed(s) per value)")
        ax.grid(True, alpha=0.3)
        ax.legend()
        _save(fig, out / "sweep_accuracy.png")
        return "sweep_accuracy.png"
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
                if {a["param"], b["param"]} == {"learning_rate", "momentum"}:
                    values = {a["param"]: a["values"][j], b["param"]: b["values"][i]}
                    step = step_size(values["learning_rate"], values["momentum"])
                    text += f"\nlr/(1-m) {step:.3g}"
                light = np.isfinite(grid[i, j]) and image.norm(grid[i, j]) > 0.6
                ax.text(j, i, text, ha="center", va="center", fontsize=8,
                        color="black" if light else "white")  # fmt: skip
        ax.set_xticks(range(len(a["values"])), [f"{v:g}" for v in a["values"]])
        ax.set_yticks(range(len(b["values"])), [f"{v:g}" for v in b["values"]])
        ax.set_xlabel(a["param"])
        ax.set_ylabel(b["param"])
        ax.set_title("validation accuracy % (mean over seeds)")
        fig.colorbar(image, ax=ax, label="validation accuracy %")
        _save(fig, out / "sweep_heatmap.png")
        return "sweep_heatmap.png"


def value_colours(plt, n: int) -> list:
    """n colours in the order of the swept values, still told apart at 20 (a rainbow-like
    map, sampled evenly; its ends avoided, where it turns dark)."""
    return list(plt.get_cmap("turbo")(np.linspace(0.05, 0.95, n) if n > 1 else [0.15]))


def _series(members: Sequence[dict], key: str) -> np.ndarray:
    """One row per cell, NaN-padded to the longest history of `key`."""
    rows = [list((m.get("history") or {}).get(key) or []) for m in members]
    width = max((len(r) for r in rows), default=0)
    out = np.full((len(rows), width), np.nan)
    for i, r in enumerate(rows):
        out[i, : len(r)] = [np.nan if v is None else v for v in r]
    return out


def _nan_stat(stat, data: np.ndarray) -> np.ndarray:
    """stat over seeds (axis 0), NaN where no seed reached that epoch, without warnings."""
    out = np.full(data.shape[1], np.nan)
    some = ~np.all(np.isnan(data), axis=0)
    out[some] = stat(data[:, some], axis=0)
    return out


def diverged_at(cell: dict) -> int:
    """The epoch a diverged cell blew up in: its diverged_epoch, else one after its history."""
    if cell.get("diverged_epoch"):
        return int(cell["diverged_epoch"])
    return len((cell.get("history") or {}).get("loss") or []) + 1


def sweep_curves(study: dict, path: Path) -> None:
    """Training loss and validation accuracy per epoch: one line per value (mean over the seeds
    that finished), a band from the lowest to the highest of them, and each diverged cell dashed
    over the epochs it finished, with an x on the divergence line at the epoch it blew up."""
    from compare.studies.sweep_report import sweep_groups
    from numpy_mlp.training.divergence import loss_bound

    plt = _pyplot()
    _, groups = sweep_groups(study)
    n_classes = study["config"]["base"]["layers"][-1]
    bound = loss_bound(n_classes)
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(11, 4.4))
    for g, colour in zip(groups, value_colours(plt, len(groups)), strict=True):
        label = g["label"]
        if g["diverged"]:
            label += f" ({g['diverged']} of {g['cells']} diverged)"
        finished = [m for m in g["members"] if m.get("status") == "complete"]
        blown = [m for m in g["members"] if m.get("status") == "diverged"]
        for ax, key, scale in ((ax_loss, "loss", 1.0), (ax_acc, "val_accuracy", 100.0)):
            data = _series(finished, key) * scale
            if data.shape[1]:
                epochs = np.arange(1, data.shape[1] + 1)
                ax.plot(epochs, _nan_stat(np.nanmean, data), color=colour, marker=".")
                if data.shape[0] > 1:
                    low, high = _nan_stat(np.nanmin, data), _nan_stat(np.nanmax, data)
                    ax.fill_between(epochs, low, high, color=colour, alpha=0.2, lw=0)
            # a diverged cell alone, dashed, over the epochs it finished
            for row in _series(blown, key) * scale:
                ax.plot(np.arange(1, row.size + 1), row, color=colour, ls="--", marker=".")
        for m in blown:
            ax_loss.plot(diverged_at(m), bound, "x", color=colour, ms=9, mew=2, clip_on=False)
        ax_loss.plot([], [], color=colour, marker=".", label=label)  # one legend entry per value
    ax_loss.axhline(bound, color="red", ls="--", lw=1)
    ax_loss.annotate(f"above 2 ln {n_classes} = {bound:.2f}: diverged (x) ", (1.0, bound),
                     xycoords=("axes fraction", "data"), ha="right", va="top", color="red",
                     fontsize=8)  # fmt: skip
    ax_loss.set_yscale("log")
    ax_loss.set_ylabel("mean training loss of the epoch (log scale)")
    ax_acc.set_ylabel("validation accuracy %")
    for ax in (ax_loss, ax_acc):
        ax.set_xlabel("epoch")
        ax.xaxis.get_major_locator().set_params(integer=True)
        ax.grid(True, which="both", alpha=0.3)
    seeds = study["config"]["seeds"]
    fig.suptitle(
        "Learning curves: mean over the seeds that finished"
        + (
            f", band from lowest to highest of {seeds} seeds; dashed: diverged"
            if seeds > 1
            else " (one seed); dashed: diverged"
        )
    )
    fig.legend(loc="center left", bbox_to_anchor=(1.0, 0.5), fontsize=8,
               ncol=1 if len(groups) <= 20 else 2)  # fmt: skip
    fig.tight_layout()
    _save(fig, path)
