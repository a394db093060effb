"""The sentences of the vanishing study's report that say what a result means, computed from the
numbers (the sweep's are in sweep_lessons.py).

Every function here is pure: numbers in, words out, so a test can feed data where the conclusion
must flip (a network at chance, one that learns only at a larger rate) and read the words. The
report (report.py) only arranges what these functions say.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

# A network is "at chance" when its test accuracy is at most this many percentage points above
# the share of the most common class: always answering that class scores the share itself.
CHANCE_MARGIN = 5.0
# A final loss within this of ln k is "the loss of a uniform guess" (predicting 1/k everywhere).
UNIFORM_LOSS_TOLERANCE = 0.05

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
    if top_class is not None and top_share is not None and top_share >= 99.0:
        text += (
            f"; it answers {top_class} for {top_share:.1f} % of the test images, so its accuracy "
            f"is about the share of {top_class}s in the test set"
        )
    elif test_accuracy <= majority_percent + 0.5:
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
