"""The sentences of a sweep's report that say what a result means, computed from the numbers.

Pure functions, like those of lessons.py: a test feeds data where the conclusion must flip (the
best value moves, nothing diverges, nothing still improving, accuracy follows the effective step
or not) and reads the words. sweep_report.py only arranges what they say.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np

from compare.studies.lessons import fmt, plural

# Spearman's rho at or above this counts as "rises with" (below: "does not rise steadily").
RISES_RHO = 0.8
# Cells with the same effective step "reach the same accuracy" when they differ by at most this
# fraction of the range of accuracies across the grid.
SAME_STEP_FRACTION = 0.2


def spearman(x: Sequence[float], y: Sequence[float]) -> float | None:
    """Spearman's rank correlation (ties get their mean rank); None below 3 points or no spread."""
    if len(x) < 3 or len(x) != len(y):
        return None
    rx, ry = _ranks(x), _ranks(y)
    if np.std(rx) == 0 or np.std(ry) == 0:
        return None
    return float(np.corrcoef(rx, ry)[0, 1])


def _ranks(values: Sequence[float]) -> np.ndarray:
    v = np.asarray(values, float)
    order = np.argsort(v, kind="stable")
    ranks = np.empty(v.size)
    ranks[order] = np.arange(v.size, dtype=float)
    for value in np.unique(v):
        same = v == value
        ranks[same] = ranks[same].mean()
    return ranks


def fixed_settings(base: Mapping, swept: Sequence[str]) -> str:
    """The settings a sweep did not vary, in words; the swept ones are left out."""
    layers = list(base["layers"])
    parts = []
    if "hidden" in swept:
        parts.append(f"{len(layers) - 2} hidden layer(s)")
    else:
        parts.append(f"network {'-'.join(map(str, layers))}")
    parts += [f"{base['activation']}", f"{base.get('init', 'glorot_uniform')} init"]
    parts.append(f"{base['epochs']} epochs")
    names = {
        "batch_size": "batch",
        "learning_rate": "lr",
        "momentum": "momentum",
        "decay": "decay",
        "weight_decay": "weight decay",
    }
    parts += [f"{word} {fmt(base[key])}" for key, word in names.items() if key not in swept]
    parts.append(str(base["dtype"]))
    return ", ".join(parts)


def _mean_sd(values: Sequence[float]) -> str:
    if len(values) == 1:
        return f"{values[0]:.2f} % (one seed: no spread measured)"
    return f"{np.mean(values):.2f} % +- {np.std(values):.2f} (mean +- sd over {len(values)} seeds)"


def best_value(groups: Sequence[Mapping]) -> str:
    """The best value by mean validation accuracy, its spread and its test accuracy.

    groups: one per value (or grid cell), each {"label": str, "val": [...], "test": [...],
    "diverged": int}. Only values where no seed diverged compete.
    """
    fine = [g for g in groups if g["val"] and not g["diverged"]]
    if not fine:
        return "No value trained on every seed without diverging: there is no best value to name."
    ranked = sorted(fine, key=lambda g: -float(np.mean(g["val"])))
    best = ranked[0]
    text = (
        f"Best on the validation rows: {best['label']}, validation accuracy {_mean_sd(best['val'])}."
        f" Its test accuracy, {_mean_sd(best['test'])}, is the honest final number: the "
        "validation rows chose this value, so its validation accuracy is biased upward; the test "
        "rows played no part in the choice."
    )
    if len(ranked) > 1:
        second = ranked[1]
        gap = float(np.mean(best["val"]) - np.mean(second["val"]))
        text += f" Next: {second['label']}, {gap:.2f} points lower"
        if len(best["val"]) > 1 and len(second["val"]) > 1:
            spread = float(np.std(best["val"]) + np.std(second["val"]))
            if gap <= spread:
                text += (
                    f", within the two values' spread over seeds ({spread:.2f} points): more "
                    "seeds would be needed to tell them apart"
                )
            else:
                text += f", more than the two values' spread over seeds ({spread:.2f} points)"
        text += "."
    return text


def still_improving(cells: Sequence[Mapping], label) -> str:
    """Cells whose best validation epoch is their last: more epochs would likely help them.

    cells: records with "status", "best_epoch", "epochs_run"; label(cell) names its value.
    """
    done = [c for c in cells if c.get("status") == "complete" and c.get("best_epoch")]
    if not done:
        return "No cell finished, so none can be judged still improving."
    if all(c.get("epochs_run") == 1 for c in done):
        return (
            "With one epoch every cell's best epoch is its last, so whether they were still "
            "improving cannot be told: train for more epochs."
        )
    late = [c for c in done if c["best_epoch"] == c["epochs_run"]]
    if not late:
        return (
            f"No cell was still improving at its last epoch: all {len(done)} that finished had "
            "their best validation accuracy earlier."
        )
    head = (
        f"Still improving, train longer: {len(late)} of {len(done)} finished cells had their best "
        "validation accuracy in their last epoch"
    )
    if len(late) == len(done):
        return head + " (all of them)."
    if 2 * len(late) > len(done):
        early = [c for c in done if c not in late]
        return head + f"; only {_count_by(early, label)} peaked earlier."
    return head + f": {_count_by(late, label)}."


def _count_by(cells: Sequence[Mapping], label) -> str:
    """'lr = 0.1 (2 cells); lr = 1 (1 cell)' in the order the cells come."""
    counts: dict[str, int] = {}
    for c in cells:
        counts[label(c)] = counts.get(label(c), 0) + 1
    return "; ".join(f"{k} ({plural(n, 'cell')})" for k, n in counts.items())


def divergence(groups: Sequence[Mapping], param: str | None, n_classes: int = 10) -> str:
    """How many cells diverged and from which value on.

    groups: in the order of the swept values (a single parameter) or of the grid, each
    {"label", "value" (the swept value, or None for a grid), "cells", "diverged"}.
    """
    total = sum(g["cells"] for g in groups)
    bad = [g for g in groups if g["diverged"]]
    if not bad:
        largest = ""
        if param is not None and groups:
            top = max(groups, key=lambda g: g["value"])
            largest = f"; the largest value, {param} = {fmt(top['value'])}, still trained"
        hint = (
            ": to see what too large a step does, extend the values upward"
            if param == "learning_rate"
            else ""
        )
        return f"No cell diverged (of {total}){largest}{hint}."
    n = sum(g["diverged"] for g in bad)
    where = ", ".join(f"{g['label']} ({g['diverged']} of {g['cells']})" for g in bad)
    bound = f"2 ln {n_classes} = {2 * math.log(n_classes):.2f}"
    text = f"{n} of {total} cells diverged (training loss above {bound} or not finite): {where}."
    if param is not None:
        ordered = sorted(groups, key=lambda g: g["value"])
        tail_start = None
        for i in range(len(ordered)):
            if all(g["diverged"] == g["cells"] for g in ordered[i:]):
                tail_start = ordered[i]
                break
        if tail_start is not None and all(
            not g["diverged"] for g in ordered[: ordered.index(tail_start)]
        ):
            text += (
                f" Every cell from {param} = {fmt(tail_start['value'])} on diverged, none below."
            )
        else:
            text += " Divergence does not begin at one value: some larger values still trained."
    return text


def step_size(lr: float, momentum: float) -> float:
    """lr / (1 - momentum), rounded to 10 significant digits so that equal steps compare equal
    (0.001 / (1 - 0.9) is 0.010000000000000002 in floating point)."""
    return float(f"{lr / (1 - momentum):.10g}")


def effective_step(groups: Sequence[Mapping]) -> list[str]:
    """For a learning_rate x momentum grid: does accuracy follow lr / (1 - momentum)?

    groups: {"label", "lr", "momentum", "val": [...], "diverged": int} per grid cell. With
    momentum m, a constant gradient g moves the weights by lr g / (1 - m) per step once the
    velocity has built up, so lr / (1 - m) is the step that matters.
    """
    rows = [
        (step_size(g["lr"], g["momentum"]), float(np.mean(g["val"])), g)
        for g in groups
        if g["val"] and not g["diverged"]
    ]
    if len(rows) < 3:
        return ["Too few cells trained to relate accuracy to the effective step lr / (1 - m)."]
    best_step = max(rows, key=lambda r: r[1])[0]
    upto = [r for r in rows if r[0] <= best_step]
    out = []
    rho = spearman([r[0] for r in upto], [r[1] for r in upto])
    rho_lr = spearman([r[2]["lr"] for r in upto], [r[1] for r in upto])
    lr_words = "" if rho_lr is None else f"; against the learning rate alone, rho = {rho_lr:.2f}"
    if rho is None:
        out.append(
            f"The best cell has effective step lr / (1 - m) = {best_step:.3g}; too few cells "
            "below it to say how accuracy rises with the step."
        )
    else:
        rises = rho >= RISES_RHO
        out.append(
            f"Up to the best cell's effective step lr / (1 - m) = {best_step:.3g}, validation "
            + ("accuracy rises with it" if rises else "accuracy does not rise steadily with it")
            + f" (Spearman rho = {rho:.2f} over {len(upto)} cells{lr_words})."
        )
    span = max(r[1] for r in rows) - min(r[1] for r in rows)
    pairs = []
    for i, a in enumerate(rows):
        for b in rows[i + 1 :]:
            if math.isclose(a[0], b[0], rel_tol=1e-6):
                pairs.append((a, b))
    if pairs:
        worst = max(abs(a[1] - b[1]) for a, b in pairs)
        listed = "; ".join(
            f"{a[2]['label']} and {b[2]['label']} (step {a[0]:.3g}): {a[1]:.2f} vs {b[1]:.2f} %"
            for a, b in pairs
        )
        same = worst <= SAME_STEP_FRACTION * span
        out.append(
            f"Cells with the same effective step: {listed}. They differ by at most {worst:.2f} "
            f"points, against {span:.2f} across the grid: "
            + (
                "accuracy follows lr / (1 - m), not the learning rate or momentum alone."
                if same
                else "here the step alone does not set the accuracy."
            )
        )
    beyond = [r for r in rows if r[0] > best_step]
    diverged = [
        g for g in groups if g["diverged"] and step_size(g["lr"], g["momentum"]) > best_step
    ]
    if beyond or diverged:
        parts = []
        if beyond:
            parts.append(
                f"{plural(len(beyond), 'cell')} with a larger step reached lower validation accuracy"
            )
        if diverged:
            parts.append(f"{plural(len(diverged), 'cell')} diverged")
        out.append("Beyond the best step: " + " and ".join(parts) + ".")
    return out
