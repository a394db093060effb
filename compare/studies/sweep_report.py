"""report.md of a sweep: settings, one row per value (or grid cell) with mean and spread, figures."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def _stat(cells: list[dict], key: str) -> str:
    values = [c[key] for c in cells if c["status"] == "complete" and c.get(key) is not None]
    if not values:
        return "-"
    if len(values) == 1:
        return f"{values[0]:.2f}"
    return f"{np.mean(values):.2f} +- {np.std(values):.2f}"


def sweep_report(study: dict, out: Path) -> str:
    c = study["config"]
    base = c["base"]
    names = [a["param"] for a in c["axes"]]
    keys = sorted({tuple(cell["values"][n] for n in names) for cell in study["cells"]})
    rows = [
        "| " + " | ".join(names) + " | cells | diverged | val acc. % | test acc. % | best epoch |",
        "|" + "---|" * (len(names) + 5),
    ]
    for key in keys:
        group = [s for s in study["cells"] if tuple(s["values"][n] for n in names) == key]
        diverged = sum(s["status"] == "diverged" for s in group)
        best = [s["best_epoch"] for s in group if s.get("best_epoch")]
        rows.append(
            "| "
            + " | ".join(f"{v:g}" for v in key)
            + f" | {len(group)} | {diverged} | {_stat(group, 'val_accuracy')} | "
            f"{_stat(group, 'test_accuracy')} | {', '.join(map(str, best)) or '-'} |"
        )
    t = study["throughput"]
    rate = t.get("model_epochs_per_second")
    fixed = (
        f"network {'-'.join(map(str, base['layers']))}, {base['activation']}, {base['epochs']} "
        f"epochs, batch {base['batch_size']}, lr {base['learning_rate']:g}, momentum "
        f"{base['momentum']:g}, decay {base['decay']:g}, weight decay {base['weight_decay']:g}, "
        f"{base['dtype']}"
    )
    figures = [
        (name, caption)
        for name, caption in (
            ("sweep_accuracy.png", "Accuracy against the swept value (mean +- sd over seeds)"),
            ("sweep_heatmap.png", "Validation accuracy over the grid"),
            ("sweep_curves.png", "Learning curves"),
        )
        if (out / name).exists()
    ]
    lines = [
        f"# Sweep over {' x '.join(names)}",
        "",
        f"Status: **{study['status']}**. {len(study['cells'])} cells ({c['seeds']} seed(s) per "
        f"value, seeds {base['seed']}..{base['seed'] + c['seeds'] - 1}). Fixed: {fixed}"
        + (f"; first {c['limit']} training rows" if c.get("limit") else "")
        + ". Accuracies in percent; +- is the standard deviation over seeds.",
        "",
        *rows,
        "",
        f"This run trained {t['cells_trained_now']} cell(s), {t['model_epochs']} model-epochs, in "
        f"{t['wall_seconds']:.1f} s"
        + (f" ({rate:.2f} model-epochs per second" if rate else "")
        + (f", {c['jobs']} worker process(es), method {c['method']})." if rate else "."),
        "",
        "## Figures",
        "",
    ]
    for name, caption in figures:
        lines += [f"### {caption}", "", f"![{caption}]({name})", ""]
    return "\n".join(lines) + "\n"
