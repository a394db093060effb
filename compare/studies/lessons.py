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


def delta_factors(delta_norms: Sequence[float]) -> list[float]:
    """||delta^(l)|| / ||delta^(l+1)|| for neighbouring hidden layers: the backward factor.

    `delta_norms` has one entry per layer after the input (hidden layers h1 ... hd, then the
    output), as `numpy_mlp.layer_stats` gives them. The hidden layers all have the same width, so a
    depth-d network has d - 1 factors (the output layer, k wide, is left out). Below 1 the
    backpropagated error shrinks on its way down through that layer.
    """
    hidden = [float(n) for n in delta_norms[:-1]]
    return [a / b if b else math.nan for a, b in zip(hidden[:-1], hidden[1:], strict=True)]


def forward_factors(weight_factors: Sequence[float], delta_factors: Sequence[float]) -> list[float]:
    """The forward part of each weight-gradient factor: weight factor / backward factor.

    dL/dW_h(l) = [1 | A_h(l-1)]^T delta_h(l), so the weight-gradient factor between W_h(l) and
    W_h(l+1) (l = 2 ... d-1) is the backward factor delta_h(l) / delta_h(l+1) times this part,
    which is how much more gradient the activations A_h(l-1) make of an error of a given size than
    A_h(l) do. `delta_factors` are all d - 1 backward factors (input side first); the pairs of the
    weight factors start at the second.
    """
    pairs = delta_factors[1:]
    return [w / d if d else math.nan for w, d in zip(weight_factors, pairs, strict=True)]


# A part of the gradient "changes" it when its per-layer factor, compounded over every layer the
# network has, moves it by more than this factor either way; within it, the part keeps its size.
COMPOUND_CHANGE = 2.0


def compound_verdict(mean_factor: float | None, steps: int) -> str | None:
    """ "shrinks", "keeps" or "grows": what a per-layer factor compounds to over `steps` layers
    (mean_factor ** steps below 1/COMPOUND_CHANGE, within it, or above COMPOUND_CHANGE); None
    when there is no factor."""
    if mean_factor is None or steps < 1:
        return None
    total = mean_factor**steps
    if total < 1 / COMPOUND_CHANGE:
        return "shrinks"
    if total > COMPOUND_CHANGE:
        return "grows"
    return "keeps"


TREND_WORDS = {"shrinks": "shrinks", "keeps": "keeps its size", "grows": "grows"}


def changing_part(backward: str | None, forward: str | None) -> str | None:
    """Which part of the weight gradient changes it from layer to layer: "backward" (the
    backpropagated error), "forward" (the activations it multiplies), "both" or "neither"."""
    if backward is None or forward is None:
        return None
    moved = (backward != "keeps", forward != "keeps")
    return {(True, True): "both", (True, False): "backward", (False, True): "forward"}.get(
        moved, "neither"
    )


# The forward signal "collapses" when the last hidden layer's unit spread is below this fraction
# of the first's; the logits "ignore the input" when their spread over the rows is below
# LOGITS_IGNORE: every softmax probability then moves by under about 1 % from image to image.
SPREAD_COLLAPSE = 0.01
LOGITS_IGNORE = 0.01


def forward_verdict(unit_spread: Sequence[float], logit_spread: float | None) -> dict:
    """What the forward signal does with depth: {"collapses": bool, "logits_ignore_input": bool,
    "per_layer": geometric mean of spread(l+1)/spread(l), "first", "last"} (None per_layer for
    one hidden layer)."""
    spreads = [float(v) for v in unit_spread]
    first, last = spreads[0], spreads[-1]
    steps = [b / a for a, b in zip(spreads[:-1], spreads[1:], strict=True) if a > 0]
    return {
        "collapses": first > 0 and last / first < SPREAD_COLLAPSE,
        "logits_ignore_input": logit_spread is not None and logit_spread < LOGITS_IGNORE,
        "per_layer": geometric_mean(steps) if len(steps) == len(spreads) - 1 else None,
        "first": first,
        "last": last,
        "logit_spread": logit_spread,
    }


def decomposition_sentence(r: Mapping) -> str:
    """What one network's numbers at initialization say about where its weight gradients change
    (the backpropagated error, the activations it multiplies, or both), and whether its forward
    signal collapses. r: a vanishing study run (delta_factors, weight_grad_factors,
    forward_factors, layer_stats[0])."""
    activation, depth = r["activation"], r["depth"]
    head = f"{activation}, {r['init']}, depth {depth}"
    deltas = r.get("delta_factors") or []
    if not deltas:
        return f"{head}: one hidden layer, so no two hidden layers' errors to compare."
    d_mean = geometric_mean(deltas)
    bound = SLOPE_BOUND.get(activation)
    backward = compound_verdict(d_mean, len(deltas))
    bound_words = "" if bound is None else f", beside the slope bound f' <= {bound:g}"
    text = (
        f"{head}: the backpropagated error ||delta|| changes by {d_mean:.2f} per layer "
        f"({d_mean:.2f}^{len(deltas)} = {d_mean ** len(deltas):.2g} from layer {depth} down to "
        f"layer 1{bound_words}): it {TREND_WORDS[backward]} on its way down"
    )
    weights = r.get("weight_grad_factors") or []
    forwards = r.get("forward_factors") or []
    f_mean = geometric_mean(forwards)
    w_mean = geometric_mean(weights)
    if weights and f_mean is not None and w_mean is not None:
        pairs = geometric_mean(deltas[1:])
        forward = compound_verdict(f_mean, len(forwards))
        part = changing_part(backward, forward)  # the error judged over all its layers
        text += (
            f". The weight-gradient factor ||dL/dW^(l)|| / ||dL/dW^(l+1)|| is {w_mean:.2f} per "
            f"layer = backward {pairs:.2f} x forward {f_mean:.2f} (the activations each error "
            f"multiplies, which {TREND_WORDS[forward]} over the {len(forwards)} steps); "
            + {
                "backward": "what changes the weight gradients is the backpropagated error",
                "forward": "what changes the weight gradients is the activations, not the error",
                "both": "both parts change"
                + (
                    ", in opposite directions, so the weight gradient hides what delta does"
                    if (backward == "shrinks") != (forward == "shrinks")
                    else ""
                ),
                "neither": "neither part changes the weight gradients much",
            }[part]
        )
    stats = (r.get("layer_stats") or [{}])[0]
    if stats.get("unit_spread"):
        fwd = forward_verdict(stats["unit_spread"], stats.get("logit_spread"))
        if fwd["collapses"]:
            text += (
                f". The forward signal collapses: each unit's spread over the images falls from "
                f"{fwd['first']:.2g} at layer 1 to {fwd['last']:.2g} at layer {depth} "
                f"({fwd['per_layer']:.2f} per layer)"
            )
            if fwd["logits_ignore_input"]:
                text += (
                    f" and the logits vary by {fwd['logit_spread']:.2g}: the output ignores the "
                    "input before any training"
                )
    return text + "."


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
    rates_of: dict[tuple[str, int], Mapping[float, float | None]] = {}
    for activation, depth, by_rate in networks:
        rates_of[activation, depth] = by_rate
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
            if fine and not needs_larger_rate(rates_of[activation, stuck], majority_percent):
                out.append(
                    f"With the same activation and the same rates, {activation} learns at depth "
                    f"{max(fine)} but not at depth {stuck}: at these rates and epochs, depth, not the "
                    "learning rate, is what stops it."
                )
            elif fine:
                top = max(rates_of[activation, stuck])
                out.append(
                    f"{activation} learns at depth {max(fine)} but not at depth {stuck} at any rate "
                    f"tried, yet the largest, {fmt(top)}, still finished: a larger rate must be "
                    "tried before depth alone is blamed."
                )
    else:
        out.append("No network stays at chance at every rate tried.")
    edge = [
        f"{activation} depth {depth} (lr {fmt(max(by_rate))})"
        for (activation, depth), by_rate in rates_of.items()
        if any(a is not None and a > chance for a in by_rate.values())
        and needs_larger_rate(by_rate, majority_percent)
    ]
    if edge:
        out.append(
            "Best at the largest rate tried, so a larger rate may do better still (the study "
            f"must try one before calling this the best): {'; '.join(edge)}."
        )
    if late:
        out.append(
            f"At lr {fmt(rates[0])} alone these stay at or below {learned:.2f} %, yet a larger "
            f"rate trains them: {'; '.join(late)}."
        )
    return out


def needs_larger_rate(by_rate: Mapping[float, float | None], majority_percent: float) -> bool:
    """True when a learning rate larger than any tried might train the network better: the
    largest rate tried finished (did not diverge) and either gives the best test accuracy or the
    network is at chance at every rate. by_rate: {rate: test accuracy %, None when diverged}."""
    done = {lr: a for lr, a in by_rate.items() if a is not None}
    top = max(by_rate)
    if top not in done:
        return False
    if all(at_chance(a, majority_percent) for a in done.values()):
        return True
    return done[top] >= max(done.values())


def next_rate(lr: float) -> float:
    """The next learning rate on the 1-3-10 ladder: 0.1 -> 0.3 -> 1 -> 3."""
    step = 3.0 if f"{lr:.6e}".startswith("1") else 10.0 / 3.0
    return float(f"{lr * step:.6g}")


# What each activation's deep network needs from its initial weights, for the report to suggest.
INIT_TO_TRY = {
    "logistic": "glorot_uniform_x4 (Glorot's range times 4 = 1 / max f': the weights make up for "
    "the slope's 1/4, in both directions)",
    "tanh": "glorot_uniform or lecun_uniform (slope 1 at 0: weights of variance about 1 / fan_in "
    "keep the signal level)",
    "relu": "he_uniform (variance 2 / fan_in makes up for the half of the units that are off)",
}


def init_verdict(
    networks: Sequence[tuple[str, str, int, Mapping[float, float | None]]],
    majority_percent: float,
) -> list[str]:
    """For each activation, at the deepest depth studied: which initializers train it at some
    rate tried (above `learned_threshold`) and which do not, or that nothing tried did.

    networks: (activation, init, depth, {rate: test accuracy %, None when diverged}).
    """
    if not networks:
        return []
    learned = learned_threshold(majority_percent)
    out = []
    for activation in dict.fromkeys(a for a, *_ in networks):
        mine = [n for n in networks if n[0] == activation]
        deepest = max(d for _, _, d, _ in mine)
        trains, fails = [], []
        for _, init, depth, by_rate in mine:
            if depth != deepest:
                continue
            done = {lr: a for lr, a in by_rate.items() if a is not None}
            best = max(done, key=lambda lr: done[lr]) if done else None
            if best is not None and done[best] > learned:
                trains.append(f"{init} ({done[best]:.2f} % at lr {fmt(best)})")
            else:
                fails.append(init)
        rates = sorted({lr for _, _, d, by_rate in mine if d == deepest for lr in by_rate})
        head = f"{activation} at depth {deepest}"
        if trains:
            text = f"{head} trains with {', '.join(trains)}"
            if fails:
                text += f", not with {', '.join(fails)}"
            out.append(text + f" (rates tried up to {fmt(max(rates))}).")
        else:
            text = (
                f"{head}: nothing tried trains it in these epochs (initializers "
                f"{', '.join(fails)}; rates {', '.join(fmt(r) for r in rates)})"
            )
            suggestion = INIT_TO_TRY.get(activation)
            if suggestion and suggestion.split()[0] not in fails:
                text += f". To try: {suggestion}"
            out.append(text + ".")
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
