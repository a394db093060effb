"""The sentences of the vanishing study's report that say what a result means (the sweep's are
in sweep_lessons.py).

The rules (at chance, learns, the layer factor's verdict, which other rate trains a network)
are decided in rules.py; the functions here only render those verdicts as words, and the report
(report.py) only arranges what they say.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from compare.studies.rules import (
    ABOVE,
    CHANCE,
    CHANCE_MARGIN,
    DIVERGED,
    LEARNS,
    SLOPE_BOUND,
    UNIFORM_LOSS_TOLERANCE,
    answers,
    at_chance,
    better_rate,
    chance_ceiling,
    factor_trend,
    learned_threshold,
    near_uniform,
    network_verdict,
    no_better_than_majority,
    uniform_loss,
)

__all__ = ["CHANCE_MARGIN", "SLOPE_BOUND", "at_chance"]  # the report's names for the rules


def fmt(v: float) -> str:
    """A swept value as the CLI takes it: 0.001, 1e-05, 50."""
    return f"{v:g}"


def plural(n: int, word: str) -> str:
    return f"{n} {word}" + ("" if n == 1 else "s")


# --------------------------------------------------------------------------- vanishing study


def factor_sentence(activation: str, depth: int, mean_factor: float | None) -> str:
    """What one network's mean layer factor says (rules.factor_trend), beside the bound on its
    activation's slope."""
    trend = factor_trend(mean_factor)
    if trend is None:
        return (
            f"{activation}, depth {depth}: fewer than three hidden layers, so no two neighbouring "
            "hidden-to-hidden matrices of the same shape to compare."
        )
    bound = SLOPE_BOUND.get(activation)
    depth_factor = mean_factor ** max(depth - 2, 1)
    words = {
        "vanishes": f"each layer shrinks the gradient about {1 / mean_factor:.1f}-fold on its way "
        f"down ({mean_factor:.2f}^{depth - 2} = {depth_factor:.1e} across the hidden-to-hidden "
        "layers): it vanishes",
        "keeps": "the gradient keeps its size from layer to layer (within a factor of 2)",
        "explodes": f"each layer grows the gradient about {mean_factor:.1f}-fold on its way down: "
        "it explodes",
    }[trend]
    where = ""
    if bound is not None and bound < 1:
        where = f" ({mean_factor / bound:.2f} times the bound f' <= {bound:g} on the slope)"
    return f"{activation}, depth {depth}: mean factor {mean_factor:.2f}{where}; {words}."


def chance_sentence(
    test_accuracy: float,
    loss: float | None,
    majority_class: int,
    majority_percent: float,
    n_classes: int,
    top_class: int | None = None,
    top_share: float | None = None,
) -> str:
    """Why a network's numbers are those of guessing, in terms a learner can check.

    top_class, top_share: the class the network predicts most often on the test set and the
    percentage of test images it gives that answer (when recorded).
    """
    text = (
        f"{test_accuracy:.2f} % on the test set; always answering the most common class "
        f"({majority_class}) scores {majority_percent:.2f} %"
    )
    if top_class is not None and answers(top_share) == "one":
        text += (
            f"; it answers {top_class} for {top_share:.1f} % of the test images, so its accuracy "
            f"is about the share of {top_class}s in the test set"
        )
    elif no_better_than_majority(test_accuracy, majority_percent):
        text += ", so it does no better than guessing that one class"
    else:
        text += f", so it is only {test_accuracy - majority_percent:.2f} points better than that"
    uniform = uniform_loss(n_classes)
    if loss is None:
        return text + "."
    if near_uniform(loss, n_classes):
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
    """Which networks learn at some learning rate, which only get above chance, which at none
    (rules.network_verdict for each), as sentences.

    networks: (activation, depth, {learning rate: test accuracy %, or None when it diverged}).
    """
    rates = sorted({lr for *_, by_rate in networks for lr in by_rate})
    learned = learned_threshold(majority_percent)
    chance = chance_ceiling(majority_percent)
    tiers: dict[str, dict[str, list[str]]] = {LEARNS: {}, ABOVE: {}, CHANCE: {}}
    depth_of: dict[tuple[str, str], list[int]] = {}
    out = []
    late = []
    for activation, depth, by_rate in networks:
        v = network_verdict(by_rate, majority_percent)
        tier = CHANCE if v.tier == DIVERGED else v.tier
        if v.best_rate is None:
            what = f"{depth} (diverged at every rate)"
        else:
            what = f"{depth} ({v.best_accuracy:.2f} % at lr {fmt(v.best_rate)})"
        if v.slow_at_smallest:
            low = min(by_rate)
            late.append(
                f"{activation} depth {depth} ({by_rate[low]:.2f} % at lr {fmt(low)}, "
                f"{v.best_accuracy:.2f} % at {fmt(v.best_rate)})"
            )
        tiers[tier].setdefault(activation, []).append(what)
        depth_of.setdefault((tier, activation), []).append(depth)

    def listing(tier: str) -> str:
        return "; ".join(f"{a} at depth {', '.join(d)}" for a, d in tiers[tier].items())

    if tiers[LEARNS]:
        out.append(
            f"Learn at one rate or more (test accuracy above {learned:.2f} %, halfway from always "
            f"answering the most common class to perfect): {listing(LEARNS)}."
        )
    if tiers[ABOVE]:
        out.append(
            f"Above chance but far from trained at every rate (best between {chance:.2f} and "
            f"{learned:.2f} %): {listing(ABOVE)}."
        )
    if tiers[CHANCE]:
        out.append(
            f"At chance at every rate tried ({', '.join(fmt(r) for r in rates)}; test accuracy at "
            f"most {chance:.2f} %): {listing(CHANCE)}."
        )
        for activation in tiers[CHANCE]:
            stuck = min(depth_of[(CHANCE, activation)])
            fine = [d for d in depth_of.get((LEARNS, activation), []) if d < stuck]
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
    """For a network at chance at rate `lr`: whether it does better at a smaller or larger one
    (rules.better_rate).

    by_rate: {learning rate: test accuracy %, or None when it diverged} for that network.
    """
    note = better_rate(lr, by_rate, majority_percent)
    if note is None:
        return ""
    if note.outcome == LEARNS:
        verdict = (
            f"lr {fmt(lr)} is too {'large' if note.direction == 'smaller' else 'small'} for it"
        )
        if note.direction == "larger":
            verdict += " in these epochs"
        return f" The same network reaches {note.accuracy:.2f} % at lr {fmt(note.rate)}: {verdict}."
    return (
        f" The same network gets above chance at lr {fmt(note.rate)} ({note.accuracy:.2f} %), "
        "though far from trained."
    )
