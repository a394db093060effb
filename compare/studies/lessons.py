"""The sentences of the studies' reports that say what a result means, computed from the numbers.

Every function here is pure: numbers in, words out, so a test can feed data where the conclusion
must flip (best value moves, nothing diverges, a network at chance) and read the words. The
reports (report.py, sweep_report.py) only arrange what these functions say.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np

# A network is "at chance" when its test accuracy is at most this many percentage points above
# the share of the most common class: always answering that class scores the share itself.
CHANCE_MARGIN = 5.0
# A final loss within this of ln k is "the loss of a uniform guess" (predicting 1/k everywhere).
UNIFORM_LOSS_TOLERANCE = 0.05
# Spearman's rho at or above this counts as "rises with" (below: "does not rise steadily").
RISES_RHO = 0.8
# Cells with the same effective step "reach the same accuracy" when they differ by at most this
# fraction of the range of accuracies across the grid.
SAME_STEP_FRACTION = 0.2

# The most f'(z) can be, per activation: the factor the activation contributes to each layer.
SLOPE_BOUND = {"logistic": 0.25, "tanh": 1.0, "relu": 1.0}


def fmt(v: float) -> str:
    """A swept value as the CLI takes it: 0.001, 1e-05, 50."""
    return f"{v:g}"


def plural(n: int, word: str) -> str:
    return f"{n} {word}" + ("" if n == 1 else "s")


# --------------------------------------------------------------------------- vanishing study


def layer_factors(norms: Sequence[float]) -> list[float]:
    """||dL/dW^(l)|| / ||dL/dW^(l+1)|| for neighbouring hidden-to-hidden matrices.

    `norms` has one entry per weight matrix, input layer first: W_h1 (785 x w), W_h2 ... W_hd
    (each (w+1) x w), W_out ((w+1) x k). Only W_h2 ... W_hd share a shape, so a depth-d network
    has d - 2 factors (none for depth 1 or 2). A factor below 1 means the gradient shrank on its
    way down through that layer.
    """
    hidden = [float(n) for n in norms[1:-1]]
    return [a / b if b else math.nan for a, b in zip(hidden[:-1], hidden[1:], strict=True)]


def geometric_mean(values: Sequence[float]) -> float | None:
    """(prod values)^(1/n): the typical factor per layer; None for no values or a non-positive."""
    if not values or any(not (v > 0) or not math.isfinite(v) for v in values):
        return None
    return float(math.exp(sum(math.log(v) for v in values) / len(values)))


def factor_sentence(activation: str, depth: int, mean_factor: float | None) -> str:
    """What one network's mean layer factor says, beside the bound on its activation's slope."""
    if mean_factor is None:
        return (
            f"{activation}, depth {depth}: fewer than three hidden layers, so no two neighbouring "
            "hidden-to-hidden matrices of the same shape to compare."
        )
    bound = SLOPE_BOUND.get(activation)
    depth_factor = mean_factor ** max(depth - 2, 1)
    if mean_factor < 0.5:
        trend = (
            f"each layer shrinks the gradient about {1 / mean_factor:.1f}-fold on its way down "
            f"({mean_factor:.2f}^{depth - 2} = {depth_factor:.1e} across the hidden-to-hidden "
            "layers): it vanishes"
        )
    elif mean_factor <= 2:
        trend = "the gradient keeps its size from layer to layer (within a factor of 2)"
    else:
        trend = (
            f"each layer grows the gradient about {mean_factor:.1f}-fold on its way down: "
            "it explodes"
        )
    where = ""
    if bound is not None and bound < 1:
        where = f" ({mean_factor / bound:.2f} times the bound f' <= {bound:g} on the slope)"
    return f"{activation}, depth {depth}: mean factor {mean_factor:.2f}{where}; {trend}."


def at_chance(test_accuracy: float | None, majority_percent: float) -> bool:
    """True when the accuracy is no more than CHANCE_MARGIN points above the majority share."""
    return test_accuracy is None or test_accuracy <= majority_percent + CHANCE_MARGIN


def learned_threshold(majority_percent: float) -> float:
    """Halfway from the majority share to 100 %: above it a network "learns" (not just "above
    chance")."""
    return (majority_percent + 100.0) / 2


def chance_sentence(
    test_accuracy: float,
    loss: float | None,
    majority_class: int,
    majority_percent: float,
    n_classes: int,
) -> str:
    """Why a network's numbers are those of guessing, in terms a learner can check."""
    text = (
        f"{test_accuracy:.2f} % on the test set; always answering the most common class "
        f"({majority_class}) scores {majority_percent:.2f} %"
    )
    if test_accuracy <= majority_percent + 0.5:
        text += ", so it does no better than guessing that one class"
    else:
        text += f", so it is only {test_accuracy - majority_percent:.2f} points better than that"
    uniform = math.log(n_classes)
    if loss is None:
        return text + "."
    if abs(loss - uniform) <= UNIFORM_LOSS_TOLERANCE:
        same = f"{loss:.3f}" == f"{uniform:.3f}"
        text += (
            f"; its final validation loss {loss:.3f} is "
            + ("" if same else f"within {UNIFORM_LOSS_TOLERANCE:g} of ")
            + f"ln {n_classes} = {uniform:.3f}, the loss of predicting 1/{n_classes} for every "
            "class"
        )
    else:
        text += (
            f"; its final validation loss is {loss:.3f} (predicting 1/{n_classes} for every "
            f"class scores ln {n_classes} = {uniform:.3f})"
        )
    return text + "."


def learning_verdict(
    networks: Sequence[tuple[str, int, Mapping[float, float | None]]],
    majority_percent: float,
) -> list[str]:
    """Which networks learn at some learning rate, which only get above chance, which at none.

    networks: (activation, depth, {learning rate: test accuracy %, or None when it diverged}).
    "Learns" means above `learned_threshold` at one rate or more; "at chance" means at most
    CHANCE_MARGIN points above the majority share at every rate. Returns sentences.
    """
    rates = sorted({lr for *_, by_rate in networks for lr in by_rate})
    learned = learned_threshold(majority_percent)
    chance = majority_percent + CHANCE_MARGIN
    tiers: dict[str, dict[str, list[str]]] = {"learn": {}, "above": {}, "none": {}}
    depth_of: dict[tuple[str, str], list[int]] = {}
    out = []
    late = []
    for activation, depth, by_rate in networks:
        done = {lr: a for lr, a in by_rate.items() if a is not None}
        if not done:
            tier, what = "none", f"{depth} (diverged at every rate)"
        else:
            best = max(done, key=lambda lr: done[lr])
            what = f"{depth} ({done[best]:.2f} % at lr {fmt(best)})"
            tier = "learn" if done[best] > learned else "above" if done[best] > chance else "none"
            low = min(by_rate)
            if tier == "learn" and low in done and done[low] <= learned and best != low:
                late.append(
                    f"{activation} depth {depth} ({done[low]:.2f} % at lr {fmt(low)}, "
                    f"{done[best]:.2f} % at {fmt(best)})"
                )
        tiers[tier].setdefault(activation, []).append(what)
        depth_of.setdefault((tier, activation), []).append(depth)

    def listing(tier: str) -> str:
        return "; ".join(f"{a} at depth {', '.join(d)}" for a, d in tiers[tier].items())

    if tiers["learn"]:
        out.append(
            f"Learn at one rate or more (test accuracy above {learned:.2f} %, halfway from always "
            f"answering the most common class to perfect): {listing('learn')}."
        )
    if tiers["above"]:
        out.append(
            f"Above chance but far from trained at every rate (best between {chance:.2f} and "
            f"{learned:.2f} %): {listing('above')}."
        )
    if tiers["none"]:
        out.append(
            f"At chance at every rate tried ({', '.join(fmt(r) for r in rates)}; test accuracy at "
            f"most {chance:.2f} %): {listing('none')}."
        )
        for activation in tiers["none"]:
            stuck = min(depth_of[("none", activation)])
            fine = [d for d in depth_of.get(("learn", activation), []) if d < stuck]
            if fine:
                out.append(
                    f"With the same activation and the same rates, {activation} learns at depth "
                    f"{max(fine)} but not at depth {stuck}: at these rates and epochs, depth, not the "
                    "learning rate, is what stops it."
                )
    else:
        out.append("No network stays at chance at every rate tried.")
    if late:
        out.append(
            f"At lr {fmt(rates[0])} alone these stay at or below {learned:.2f} %, yet a larger "
            f"rate trains them: {'; '.join(late)}."
        )
    return out


def rate_note(lr: float, by_rate: Mapping[float, float | None], majority_percent: float) -> str:
    """For a network at chance at rate `lr`: whether it does better at a smaller or larger one.

    by_rate: {learning rate: test accuracy %, or None when it diverged} for that network.
    """
    good = {r: a for r, a in by_rate.items() if not at_chance(a, majority_percent)}
    for others, word in (
        ([r for r in good if r < lr], "large"),
        ([r for r in good if r > lr], "small"),
    ):
        if others:
            best = max(others, key=lambda r: good[r])
            if good[best] > learned_threshold(majority_percent):
                verdict = f"lr {fmt(lr)} is too {word} for it"
                if word == "small":
                    verdict += " in these epochs"
                return f" The same network reaches {good[best]:.2f} % at lr {fmt(best)}: {verdict}."
            return (
                f" The same network gets above chance at lr {fmt(best)} ({good[best]:.2f} %), "
                "though far from trained."
            )
    return ""


# --------------------------------------------------------------------------- sweeps


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


def divergence(groups: Sequence[Mapping], param: str | None) -> str:
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
    text = f"{n} of {total} cells diverged (training loss above 2 ln k or not finite): {where}."
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
