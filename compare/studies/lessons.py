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
    changing_part,
    compound_verdict,
    factor_trend,
    forward_verdict,
    geometric_mean,
    init_verdicts,
    learned_threshold,
    loss_rises_with_rate,
    near_uniform,
    needs_larger_rate,
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


TREND_WORDS = {
    "kept": "keeps its size",
    "mild shrink": "shrinks",
    "shrink": "shrinks",
    "mild growth": "grows",
    "growth": "grows",
}
PART_WORDS = {
    "backward": "what changes the weight gradients is the backpropagated error",
    "forward": "what changes the weight gradients is the rest (the activations and how they line "
    "up with delta), not the error's size",
    "both": "both parts change",
    "neither": "neither part changes the weight gradients much",
}


def decomposition_sentence(r: Mapping) -> str:
    """What one network's numbers at initialization say about where its weight gradients change
    (rules.changing_part: the backpropagated error, the rest = weight factor / backward factor,
    which holds the activations and how they line up with delta, or both), and
    whether its forward signal collapses (rules.forward_verdict). r: a vanishing study run
    (delta_factors, weight_grad_factors, forward_factors, layer_stats[0])."""
    activation, depth = r["activation"], r["depth"]
    head = f"{activation}, {r['init']}, depth {depth}"
    deltas = r.get("delta_factors") or []
    d_mean = geometric_mean(deltas)
    if d_mean is None:
        return f"{head}: one hidden layer, so no two hidden layers' errors to compare."
    bound = SLOPE_BOUND.get(activation)
    backward = compound_verdict(d_mean, len(deltas))
    bound_words = "" if bound is None else f", beside the slope bound f' <= {bound:g}"
    text = (
        f"{head}: the backpropagated error ||delta|| changes by {d_mean:.2f} per layer "
        f"({d_mean:.2f}^{len(deltas)} = {d_mean ** len(deltas):.2g} from layer {depth} down to "
        f"layer 1{bound_words}): it {TREND_WORDS[backward]} on its way down"
    )
    forwards = r.get("forward_factors") or []
    f_mean, w_mean = geometric_mean(forwards), geometric_mean(r.get("weight_grad_factors") or [])
    pairs = geometric_mean(deltas[1:])
    if f_mean is not None and w_mean is not None and pairs is not None:
        forward = compound_verdict(f_mean, len(forwards))
        part = changing_part(backward, forward)  # the error judged over all its layers
        opposite = part == "both" and ("shrink" in backward) != ("shrink" in forward)
        text += (
            f". The weight-gradient factor ||dL/dW^(l)|| / ||dL/dW^(l+1)|| is {w_mean:.2f} per "
            f"layer = backward {pairs:.2f} (the backward factor over the {len(forwards)} pairs of "
            f"layers that have a weight-gradient factor) x the rest {f_mean:.2f} (the activations "
            f"and how they line up with delta, which {TREND_WORDS[forward]} over those "
            f"{len(forwards)} steps); "
            + PART_WORDS[part]
            + (", in opposite directions, so the weight gradient hides what delta does" if opposite
               else "")
        )  # fmt: skip
    stats = (r.get("layer_stats") or [{}])[0] or {}
    if stats.get("unit_spread"):
        fwd = forward_verdict(stats["unit_spread"], stats.get("logit_spread"))
        if fwd.collapses:
            text += (
                f". The forward signal collapses: each unit's spread over the images falls from "
                f"{fwd.first:.2g} at layer 1 to {fwd.last:.2g} at layer {depth} "
                f"({fwd.per_layer:.2f} per layer)"
            )
            if fwd.logits_ignore_input:
                text += (
                    f" and the logits vary by {fwd.logit_spread:.2g}: the output ignores the "
                    "input before any training"
                )
    return text + "."


# What each activation's deep network needs from its initial weights, for the report to suggest.
INIT_TO_TRY = {
    "logistic": (
        "glorot_uniform_x4",
        "Glorot's range times 4 = 1 / max f': the weights partly make up for the slope's 1/4",
    ),
    "tanh": ("lecun_uniform", "variance 1 / fan_in, which keeps a slope-1 layer level"),
    "relu": ("he_uniform", "variance 2 / fan_in makes up for the half of the units that are off"),
}


NEAR_LEARNED = 2.0  # points below the learned line: too close to call a network "far from" it
ONE_SEED = (
    "1 seed: no interval; a result within a few points of a threshold may flip with another seed"
)


def _how_far(v) -> str:
    """A network verdict in a few words: at chance, or its best accuracy above chance."""
    if v.tier == ABOVE:
        return f"best {v.best_accuracy:.2f} % at lr {fmt(v.best_rate)}, above chance"
    return "diverged at every rate" if v.tier == DIVERGED else "at chance at every rate"


def init_sentences(
    networks: Sequence[tuple[str, str, int, Mapping[float, float | None]]],
    majority_percent: float,
    epochs: int | None = None,
) -> list[str]:
    """rules.init_verdicts as sentences: which initializers train each activation's deepest
    network at some rate tried, or that nothing tried did (and what to try, if not tried)."""
    out = []
    when = f"in {plural(epochs, 'epoch')}" if epochs else "in these epochs"
    for v in init_verdicts(networks, majority_percent):
        head = f"{v.activation} at depth {v.depth}"
        if v.trains:
            trains = ", ".join(f"{i} ({a:.2f} % at lr {fmt(lr)})" for i, lr, a in v.trains)
            text = f"{head} trains {when} with {trains}"
            if v.fails:  # each with its own rates: the rule adds rates per network
                fails = ", ".join(
                    f"{i} ({_how_far(n)}; rates up to {fmt(max(n.outcomes))})" for i, n in v.fails
                )
                out.append(text + f", not with {fails}.")
            else:
                out.append(text + f" (rates tried up to {fmt(max(v.rates))}).")
            continue
        tried = ", ".join(f"{i} ({_how_far(n)})" for i, n in v.fails)
        text = (
            f"{head}: nothing tried trains it {when} (test accuracy above "
            f"{learned_threshold(majority_percent):.2f} %): {tried}; rates "
            f"{', '.join(fmt(r) for r in v.rates)}"
        )
        name, why = INIT_TO_TRY.get(v.activation, (None, None))
        if name is not None and name not in [i for i, _ in v.fails]:
            text += f". To try: --inits {name} ({why})"
        out.append(text + ".")
    return out


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
    val: Mapping[tuple[str, int], Mapping[float, float | None]] | None = None,
    losses: Mapping[tuple[str, int], Mapping[float, float | None]] | None = None,
    n_classes: int | None = None,
) -> list[str]:
    """Which networks learn at some learning rate, which only get above chance, which at none
    (rules.network_verdict for each), as sentences.

    networks: (activation, depth, {learning rate: test accuracy %, or None when it diverged}).
    val, losses: {(activation, depth): {rate: final validation accuracy % / loss}}, when
    recorded: the best rate and whether a larger one is owed are judged on validation accuracy
    (on test accuracy without it); the losses say whether the loss rises with the rate.
    """
    val, losses = val or {}, losses or {}
    rates = sorted({lr for *_, by_rate in networks for lr in by_rate})
    learned = learned_threshold(majority_percent)
    chance = chance_ceiling(majority_percent)
    tiers: dict[str, dict[str, list[str]]] = {LEARNS: {}, ABOVE: {}, CHANCE: {}}
    depth_of: dict[tuple[str, str], list[int]] = {}
    out = []
    late = []
    rates_of: dict[tuple[str, int], Mapping[float, float | None]] = {}
    above_rates: list[Mapping[float, float | None]] = []
    chance_rates: set[float] = set()  # the rates the networks at chance were tried at
    for activation, depth, by_rate in networks:
        rates_of[activation, depth] = by_rate
        v = network_verdict(by_rate, majority_percent, val.get((activation, depth)))
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
        if tier == ABOVE:
            above_rates.append(by_rate)
        if tier == CHANCE:
            chance_rates.update(by_rate)
        depth_of.setdefault((tier, activation), []).append(depth)

    def listing(tier: str) -> str:
        return "; ".join(f"{a} at depth {', '.join(d)}" for a, d in tiers[tier].items())

    if tiers[LEARNS]:
        out.append(
            f"Learn at one rate or more (test accuracy above {learned:.2f} %, halfway from always "
            f"answering the most common class to perfect): {listing(LEARNS)}."
        )
    if tiers[ABOVE]:
        bests = [max(a for a in r.values() if a is not None) for r in above_rates]
        near = any(learned - a < NEAR_LEARNED for a in bests)
        out.append(
            f"Above chance but {'not' if near else 'far from'} trained at every rate (best "
            f"between {chance:.2f} and {learned:.2f} %): {listing(ABOVE)}."
        )
    if tiers[CHANCE]:
        out.append(
            f"At chance at every rate tried ({', '.join(fmt(r) for r in sorted(chance_rates))}; "
            "test accuracy at "
            f"most {chance:.2f} %): {listing(CHANCE)}."
        )
        for activation in tiers[CHANCE]:
            stuck = min(depth_of[(CHANCE, activation)])
            fine = [d for d in depth_of.get((LEARNS, activation), []) if d < stuck]
            judged = val.get((activation, stuck), rates_of[activation, stuck])
            owed = needs_larger_rate(judged, majority_percent)
            top = fmt(max(rates_of[activation, stuck]))
            known = losses.get((activation, stuck))
            rises = bool(known) and loss_rises_with_rate(known)
            if rises:
                out.append(
                    f"{activation} at depth {stuck}: rates up to {top} were tried; the loss rises "
                    f"with the rate ({_losses(known)}){_uniform_note(known, n_classes)}, so "
                    "nothing here says a larger rate would help (the initializer verdict says "
                    "whether another init trains it)."
                )
            elif known and not owed:
                out.append(
                    f"{activation} at depth {stuck}: at chance at every rate up to {top}, and the "
                    f"loss does not rise with the rate by more than {UNIFORM_LOSS_TOLERANCE} "
                    f"({_losses(known)}){_uniform_note(known, n_classes)}: whether a larger rate "
                    "moves it is not known."
                )
            if fine and not owed and (rises or not known):
                out.append(
                    f"With the same activation and the same rates, {activation} learns at depth "
                    f"{max(fine)} but not at depth {stuck}: at these rates and epochs, depth, not the "
                    "learning rate, is what stops it."
                )
            elif fine and owed:
                out.append(
                    f"{activation} learns at depth {max(fine)} but not at depth {stuck} at any rate "
                    f"tried, yet the largest, {top}, is its best and above chance on validation: a "
                    "larger rate must be tried before depth alone is blamed."
                )
    else:
        out.append("No network stays at chance at every rate tried.")
    edge = [
        f"{activation} depth {depth} (lr {fmt(max(by_rate))})"
        for (activation, depth), by_rate in rates_of.items()
        if network_verdict(by_rate, majority_percent).tier in (LEARNS, ABOVE)
        and needs_larger_rate(val.get((activation, depth), by_rate), majority_percent)
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


def _uniform_note(by_rate: Mapping[float, float | None], n_classes: int | None) -> str:
    """ "; every one within ... of ln k" when every loss is a uniform guess's (rules.near_uniform)."""
    values = list(by_rate.values())
    if n_classes is None or any(v is None or not near_uniform(v, n_classes) for v in values):
        return ""
    return (
        f"; every one is within {UNIFORM_LOSS_TOLERANCE:g} of ln {n_classes} = "
        f"{uniform_loss(n_classes):.3f}, a uniform guess's loss"
    )


def _losses(by_rate: Mapping[float, float | None]) -> str:
    """Final validation losses by rate, e.g. "2.3029 at lr 0.001, diverged at lr 0.1"."""
    return ", ".join(
        f"{'diverged' if v is None else f'{v:.4f}'} at lr {fmt(lr)}"
        for lr, v in sorted(by_rate.items())
    )


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
    far = learned_threshold(majority_percent) - note.accuracy >= NEAR_LEARNED
    return (
        f" The same network gets above chance at lr {fmt(note.rate)} ({note.accuracy:.2f} %), "
        f"though {'far from' if far else 'not'} trained."
    )
