"""report.md of a sweep: what was fixed, one row per value (or grid cell) with mean and spread,
what the numbers say (computed in `lessons`), and the figures."""

from __future__ import annotations

from pathlib import Path

from compare.studies.lessons import fmt
from compare.studies.rules import MIN_SEEDS, seed_stats
from compare.studies.sweep_lessons import (
    best_value,
    divergence,
    effective_step,
    fixed_settings,
    still_improving,
)


def _stat(cells: list[dict], key: str) -> str:
    """mean +- sample sd [95 % interval] of a table cell; the bare mean below two seeds."""
    s = seed_stats([c[key] for c in cells if c["status"] == "complete" and c.get(key) is not None])
    if s is None:
        return "-"
    if s.sd is None:
        return f"{s.mean:.2f}"
    text = f"{s.mean:.2f} +- {s.sd:.2f}"
    return text + (f" [{s.low:.2f}, {s.high:.2f}]" if s.estimated else "")


def _label(names: list[str], key: tuple) -> str:
    return ", ".join(f"{n} = {fmt(v)}" for n, v in zip(names, key, strict=True))


def sweep_groups(study: dict) -> tuple[list[str], list[dict]]:
    """The swept names and one group per value (or grid cell), in the order of the values."""
    names = [a["param"] for a in study["config"]["axes"]]
    keys: list[tuple] = [()]
    for axis in study["config"]["axes"]:
        keys = [(*k, v) for k in keys for v in axis["values"]]
    groups = []
    for key in keys:
        cells = [s for s in study["cells"] if tuple(s["values"][n] for n in names) == key]
        if not cells:
            continue
        # in seed order: the same seed across values shares starting weights and batches (paired)
        done = sorted(
            (s for s in cells if s["status"] == "complete"), key=lambda s: s.get("seed") or 0
        )
        groups.append(
            {
                "key": key,
                "label": _label(names, key),
                "value": key[0] if len(key) == 1 else None,
                "cells": len(cells),
                "members": cells,
                "diverged": sum(s["status"] == "diverged" for s in cells),
                "val": [s["val_accuracy"] for s in done if s.get("val_accuracy") is not None],
                "test": [s["test_accuracy"] for s in done if s.get("test_accuracy") is not None],
                # the validation accuracy of a diverged cell's last finished epoch, in percent
                "diverged_val": [
                    100 * s["history"]["val_accuracy"][-1]
                    for s in cells
                    if s["status"] == "diverged" and (s.get("history") or {}).get("val_accuracy")
                ],
                **dict(zip(names, key, strict=True)),
            }
        )
    return names, groups


def _is_step_grid(names: list[str]) -> bool:
    return sorted(names) == ["learning_rate", "momentum"]


def conclusions(study: dict) -> list[str]:
    """The paragraphs of "What the numbers say"."""
    names, groups = sweep_groups(study)
    paragraphs = [
        best_value(groups),
        still_improving(
            study["cells"], lambda c: _label(names, tuple(c["values"][n] for n in names))
        ),
        divergence(
            groups, names[0] if len(names) == 1 else None, study["config"]["base"]["layers"][-1]
        ),
    ]
    if _is_step_grid(names):
        for g in groups:
            g["lr"], g["momentum"] = g["learning_rate"], g["momentum"]
        paragraphs += effective_step(groups)
    return paragraphs


def _table(names: list[str], groups: list[dict]) -> list[str]:
    step = _is_step_grid(names)
    head = names + (["lr / (1 - m)"] if step else [])
    rows = [
        "| "
        + " | ".join(head)
        + " | cells | diverged | val acc. % | test acc. % | best epoch / epochs run |",
        "|" + "---|" * (len(head) + 5),
    ]
    for g in groups:
        cells = g["members"]
        best = [
            f"{s['best_epoch']}/{s['epochs_run']}"
            + (" (last)" if s["best_epoch"] == s["epochs_run"] else "")
            for s in cells
            if s.get("best_epoch")
        ]
        diverged = [s for s in cells if s["status"] == "diverged"]
        epochs = [s.get("diverged_epoch") for s in diverged if s.get("diverged_epoch")]
        where = ", ".join(map(str, epochs))
        dcell = str(len(diverged)) + (
            f" (in epoch{'s' * (len(epochs) > 1)} {where})" if epochs else ""
        )
        extra = [f"{g['learning_rate'] / (1 - g['momentum']):.3g}"] if step else []
        rows.append(
            "| "
            + " | ".join([*(fmt(v) for v in g["key"]), *extra])
            + f" | {len(cells)} | {dcell} | {_stat(cells, 'val_accuracy')} | "
            f"{_stat(cells, 'test_accuracy')} | {', '.join(best) or '-'} |"
        )
    return rows


def sweep_report(study: dict, out: Path) -> str:
    c = study["config"]
    base = c["base"]
    names, groups = sweep_groups(study)
    t = study["throughput"]
    rate = t.get("model_epochs_per_second")
    figures = [
        (name, caption)
        for name, caption in (
            (
                "sweep_accuracy.png",
                "Accuracy against the swept value (mean +- sample sd over seeds)",
            ),
            ("sweep_heatmap.png", "Validation accuracy over the grid"),
            ("sweep_curves.png", "Learning curves (mean over seeds, band: min to max)"),
        )
        if (out / name).exists()
    ]
    lines = [
        f"# Sweep over {' x '.join(names)}",
        "",
        f"Status: **{study['status']}**. {len(study['cells'])} cells ({c['seeds']} seed(s) per "
        f"value, seeds {base['seed']}..{base['seed'] + c['seeds'] - 1}). Swept: "
        + "; ".join(
            f"{a['param']} over {', '.join(fmt(v) for v in a['values'])}" for a in c["axes"]
        )
        + f". Fixed: {fixed_settings(base, names)}"
        + (f"; first {c['limit']} training rows" if c.get("limit") else "")
        + ". Accuracies in percent; +- is the sample standard deviation over seeds (ddof=1) and "
        + (
            "[low, high] the 95 % t-interval of the mean"
            if c["seeds"] >= MIN_SEEDS
            else (
                "with 2 seeds the sd is a one-degree-of-freedom estimate of the spread, too rough "
                if c["seeds"] == 2
                else "with 1 seed no spread is measured "
            )
            + f"for an interval (that takes {MIN_SEEDS} or more seeds), so no two values are "
            "compared"
        )
        + "; validation accuracy is the last epoch's, on the held-out part of the training rows.",
        "",
        *_table(names, groups),
        "",
        "## What the numbers say",
        "",
        *"\n\n".join(conclusions(study)).split("\n"),
        "",
        f"This run trained {t['cells_trained_now']} cell(s), {t['model_epochs']} model-epochs "
        "(epochs the cells completed; the epoch in which a diverged cell was stopped is not "
        f"counted), in "
        f"{t['wall_seconds']:.1f} s"
        + (f" ({rate:.2f} model-epochs per second" if rate else "")
        + (f", {c['jobs']} worker process(es), method {c['method']})." if rate else ".")
        + (f" Placement: {t['placement']}." if t.get("placement") else ""),
        "",
        "## Figures",
        "",
    ]
    for name, caption in figures:
        lines += [f"### {caption}", "", f"![{caption}]({name})", ""]
    return "\n".join(lines) + "\n"
