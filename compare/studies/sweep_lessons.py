"""The sentences of a sweep's report that say what a result means.

The verdicts (the best value and whether its runner-up is told apart, still improving, where
divergence begins, whether accuracy follows the effective step) are decided in rules.py; the
functions here render them, and sweep_report.py only arranges what they say.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from compare.studies import rules
from compare.studies.lessons import fmt, plural
from compare.studies.rules import MIN_SEEDS, SeedStats, seed_stats


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


def seed_summary(stats: SeedStats | None, unit: str = " %") -> str:
    """mean +- sample sd (ddof=1) [95 % t-interval] over n seeds, and what it is not with fewer
    than MIN_SEEDS seeds."""
    if stats is None:
        return "-"
    if stats.n == 1:
        return f"{stats.mean:.2f}{unit} (one seed: no spread measured)"
    if not stats.estimated:
        return (
            f"{stats.mean:.2f}{unit} +- {stats.sd:.2f} (mean +- sample sd over {stats.n} seeds, "
            f"too few for the spread to be an estimate: {MIN_SEEDS} or more are needed)"
        )
    return (
        f"{stats.mean:.2f}{unit} +- {stats.sd:.2f} (mean +- sample sd over {stats.n} seeds; "
        f"95 % interval of the mean {stats.low:.2f} to {stats.high:.2f})"
    )


def _compact(stats: SeedStats) -> str:
    """'57.48 % +- 3.28' (sample sd), or the bare value of one seed."""
    return f"{stats.mean:.2f} %" + ("" if stats.sd is None else f" +- {stats.sd:.2f}")


def best_value(groups: Sequence[Mapping]) -> str:
    """The best value by mean validation accuracy (rules.best_value), its spread, its test
    accuracy, and whether the runner-up is told apart from it.

    groups: one per value (or grid cell), each {"label": str, "val": [...], "test": [...],
    "diverged": int}. Only values where no seed diverged compete.
    """
    v = rules.best_value(groups)
    if v is None:
        return "No value trained on every seed without diverging: there is no best value to name."
    best = v.best
    if len(best["val"]) < MIN_SEEDS:
        return _no_ranking(groups, best)
    text = (
        f"Best on the validation rows: {best['label']}, validation accuracy "
        f"{seed_summary(seed_stats(best['val']))}. Its test accuracy, "
        f"{seed_summary(seed_stats(best['test']))}, is the honest final number: the validation "
        "rows chose this value, so its validation accuracy is biased upward; the test rows played "
        "no part in the choice."
    )
    if v.runner_up is None:
        return text
    second, d = v.runner_up, v.difference
    text += f" Next: {second['label']}, {v.gap:.2f} points lower"
    if v.comparison == "too few seeds":
        return text + (
            f". With fewer than {MIN_SEEDS} seeds per value there is no interval, so this report "
            "does not say whether the two differ: rerun with --seeds 3 or more."
        )
    how = (
        f", from the {d.n} per-seed differences (a seed has the same starting weights and "
        "batches at every value),"
        if d.paired
        else " (Welch's, the seeds not paired)"
    )
    text += f"; the 95 % interval of the difference{how} is {d.low:.2f} to {d.high:.2f} points"
    if v.comparison == "within noise":
        return (
            text
            + ": it includes 0, so within noise: more seeds would be needed to tell them apart."
        )
    return text + ": it excludes 0, so the two are apart, more than noise."


def _no_ranking(groups: Sequence[Mapping], best: Mapping) -> str:
    """Fewer than MIN_SEEDS seeds: each seed's validation accuracy per value, the highest mean
    named, and no ranking claimed."""
    n = len(best["val"])
    fine = [g for g in groups if g["val"] and not g["diverged"] and len(g["val"]) == n]
    listed = "; ".join(
        f"{g['label']}: " + ", ".join(f"{x:.2f}" for x in g["val"]) + " %" for g in fine
    )
    tops = {max(fine, key=lambda g: g["val"][i])["label"] for i in range(n)}
    agree = (
        "every seed puts it highest"
        if tops == {best["label"]}
        else "the seeds disagree on which value is highest"
    )
    return (
        f"Validation accuracy per seed ({n} seed(s) per value, in seed order): {listed}. "
        f"The highest mean is {best['label']}'s ({float(sum(best['val'])) / n:.2f} %) and "
        f"{agree}, but with fewer than {MIN_SEEDS} seeds there is no interval, so this is not a "
        "ranking. Rerun with --seeds 3 or more to rank them."
    )


def still_improving(cells: Sequence[Mapping], label) -> str:
    """Cells whose best validation epoch is their last (rules.still_improving): more epochs
    would likely help them. label(cell) names a cell's value."""
    v = rules.still_improving(cells)
    if v.kind == "unfinished":
        return "No cell finished, so none can be judged still improving."
    if v.kind == "one epoch":
        return (
            "With one epoch every cell's best epoch is its last, so whether they were still "
            "improving cannot be told: train for more epochs."
        )
    if v.kind == "none":
        return (
            f"No cell was still improving at its last epoch: all {len(v.done)} that finished had "
            "their best validation accuracy earlier."
        )
    head = (
        f"Still improving, train longer: {len(v.late)} of {len(v.done)} finished cells had their "
        "best validation accuracy in their last epoch"
    )
    if v.kind == "all":
        return head + " (all of them)."
    if v.kind == "most":
        early = [c for c in v.done if c not in v.late]
        return head + f"; only {_count_by(early, label)} peaked earlier."
    return head + f": {_count_by(v.late, label)}."


def _count_by(cells: Sequence[Mapping], label) -> str:
    """'lr = 0.1 (2 cells); lr = 1 (1 cell)' in the order the cells come."""
    counts: dict[str, int] = {}
    for c in cells:
        counts[label(c)] = counts.get(label(c), 0) + 1
    return "; ".join(f"{k} ({plural(n, 'cell')})" for k, n in counts.items())


def divergence(groups: Sequence[Mapping], param: str | None, n_classes: int = 10) -> str:
    """How many cells diverged and from which value on (rules.divergence).

    groups: in the order of the swept values (a single parameter) or of the grid, each
    {"label", "value" (the swept value, or None for a grid), "cells", "diverged"}.
    """
    v = rules.divergence(groups, param is not None)
    if not v.diverged:
        largest = ""
        if v.largest is not None:
            largest = f"; the largest value, {param} = {fmt(v.largest)}, still trained"
        hint = (
            ": to see what too large a step does, extend the values upward"
            if param == "learning_rate"
            else ""
        )
        return f"No cell diverged (of {v.total}){largest}{hint}."
    where = ", ".join(
        f"{g['label']} ({g['diverged']} of {g['cells']}"
        + (
            f"; validation accuracy {_compact(seed_stats(g['diverged_val']))} in the last epoch "
            "they finished"
            if g.get("diverged_val")
            else ""
        )
        + ")"
        for g in v.groups
    )
    bound, uniform = rules.divergence_bound(n_classes), rules.uniform_loss(n_classes)
    text = (
        f"{v.diverged} of {v.total} cells diverged: their training loss went above 2 ln "
        f"{n_classes} = {bound:.2f} (or stopped being finite), worse than a uniform guess in "
        f"cross-entropy (predicting 1/{n_classes} for every class scores ln {n_classes} = "
        f"{uniform:.2f}), whatever their accuracy: {where}."
    )
    if param is not None:
        if v.onset is not None:
            text += f" Every cell from {param} = {fmt(v.onset)} on diverged, none below."
        else:
            text += " Divergence does not begin at one value: some larger values still trained."
    return text


def effective_step(groups: Sequence[Mapping]) -> list[str]:
    """For a learning_rate x momentum grid: does accuracy follow lr / (1 - momentum)?
    (rules.effective_step)

    groups: {"label", "lr", "momentum", "val": [...], "diverged": int} per grid cell. With
    momentum m, a constant gradient g moves the weights by lr g / (1 - m) per step once the
    velocity has built up: lr / (1 - m) is the step that matters for small steps, an
    approximation that says nothing of large ones.
    """
    v = rules.effective_step(groups)
    if v is None:
        return ["Too few cells trained to relate accuracy to the effective step lr / (1 - m)."]
    out = []
    approx = (
        "lr / (1 - m) is a small-step approximation (the step momentum builds up under a "
        "constant gradient), so this is a measured tendency, not a law"
    )
    lr_words = (
        "" if v.rho_lr is None else f"; against the learning rate alone, rho = {v.rho_lr:.2f}"
    )
    undecided = (
        f"with {v.seeds} seed(s) per cell this is a measurement, not a conclusion: "
        f"{MIN_SEEDS} or more are needed"
    )
    if v.rho is None:
        out.append(
            f"The best cell has effective step lr / (1 - m) = {v.best_step:.3g}; too few cells "
            "below it to say how accuracy rises with the step."
        )
    else:
        trend = (
            "the Spearman rank correlation of validation accuracy with it is"
            if v.rises is None
            else "validation accuracy rises with it"
            if v.rises
            else "validation accuracy does not rise steadily with it"
        )
        out.append(
            f"Up to the best cell's effective step lr / (1 - m) = {v.best_step:.3g}, {trend} "
            f"(Spearman rank correlation rho = {v.rho:.2f} over {v.upto} cells{lr_words}; "
            f"{approx}" + (f"; {undecided}" if v.rises is None else "") + ")."
        )
    if v.pairs:
        listed = "; ".join(
            f"{a[2]['label']} and {b[2]['label']} (step {a[0]:.3g}): {a[1]:.2f} vs {b[1]:.2f} %"
            + (
                ""
                if verdict == "too few seeds"
                else f", difference {d.diff:+.2f} points (95 % interval {d.low:.2f} to "
                f"{d.high:.2f}), {verdict}"
            )
            for a, b, d, verdict in v.pairs
        )
        text = f"Cells with the same effective step: {listed}."
        if v.same is None:
            text += f" Whether they differ is not decided: {undecided}."
        elif v.same:
            text += (
                " Every pair is within noise (the 95 % interval of each pair's per-seed "
                "difference includes 0): here accuracy follows "
                "lr / (1 - m) (approximately), not the learning rate or momentum alone."
            )
        else:
            text += (
                " At least one pair is apart (its difference's 95 % interval excludes 0): here "
                "the step alone does not "
                "set the accuracy."
            )
        out.append(text)
    if v.beyond or v.diverged_beyond:
        parts = []
        if v.beyond:
            parts.append(
                f"{plural(v.beyond, 'cell')} with a larger step reached lower validation accuracy"
            )
        if v.diverged_beyond:
            parts.append(f"{plural(v.diverged_beyond, 'cell')} diverged")
        out.append("Beyond the best step: " + " and ".join(parts) + ".")
    return out
