"""The walkthrough's sentences about its own results, written from the numbers.

Every sentence the notebook says about an outcome (a loss near ln 10, a study's best value, a
network stuck at one class, a learning rate that diverged) comes from a function here, so the
text cannot contradict the output above it. The rules behind the words (at chance, learns, the
layer factors and their verdicts, the seeds and intervals) are the studies' own,
compare/studies/rules.py, in its unit: accuracies in percent (the notebook's fractions are
converted on the way in). The verdict functions here return data that tests assert on; the
sentence functions render verdicts.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence

import numpy as np

from compare.studies import rules
from compare.studies.lessons import NEAR_LEARNED, ONE_SEED
from compare.studies.rules import (  # noqa: F401 - SLOPE_BOUND and layer_factors: the notebook's
    CHANCE,
    CHANCE_MARGIN,
    DIVERGED,
    LEARNS,
    SLOPE_BOUND,
    UNIFORM_LOSS_TOLERANCE,
    answers,
    compounded_trend,
    factor_trend,
    geometric_mean,
    layer_factors,
    learned_threshold,
    near_uniform,
    network_verdict,
)

LN_10 = math.log(10)


def pct(fraction: float) -> str:
    """0.9123 -> '91.23 %'."""
    return f"{100 * fraction:.2f} %"


def versus_reference(name: str, fraction: float, reference: float, epochs: int) -> str:
    """An accuracy next to the tutorial's, said to be comparable only at its 50 epochs."""
    if epochs == 50:
        return f"{name}: {pct(fraction)} (tutorial, also after 50 epochs: {reference:.2f} %)"
    return (
        f"{name}: {pct(fraction)} after {epochs} epoch{'s' * (epochs != 1)} (the tutorial's "
        f"{reference:.2f} % is after 50 epochs; set EPOCHS = 50 to compare)"
    )


PREDICTION_TOLERANCE = 0.05  # nats: a loss this close to ln 10 + Var/2 is what the logits predict


def initial_loss_verdict(loss: float, row_variance: float) -> str:
    """ "even" (within rules.UNIFORM_LOSS_TOLERANCE of ln 10), "explained" (elsewhere, but
    within PREDICTION_TOLERANCE of ln 10 + Var_row(Z_out) / 2) or "unexplained"."""
    if near_uniform(loss, 10):
        return "even"
    explained = abs(loss - (LN_10 + row_variance / 2)) <= PREDICTION_TOLERANCE
    return "explained" if explained else "unexplained"


def initial_loss_sentence(loss: float, row_variance: float, zero_output_loss: float) -> str:
    """Is the untrained network's loss where it should be, and why.

    loss: mean cross-entropy at initialization; row_variance: the mean over rows of the variance
    of that row's logits Z_out; zero_output_loss: the loss with W_out set to zero (ln 10 exactly
    for 10 classes). For small logits, L ~ ln K + Var_row(Z_out) / 2 (second-order expansion of
    log-sum-exp, with the true class's logit no larger than the rest on average).
    """
    predicted = LN_10 + row_variance / 2
    gap = loss - LN_10
    verdict = initial_loss_verdict(loss, row_variance)
    if verdict == "even":
        start = (
            f"The untrained network's loss is {loss:.4f}, within {abs(gap):.3f} of ln 10: it "
            "spreads its probability almost evenly over the ten classes, as it should."
        )
    else:
        start = (
            f"The untrained network's loss is {loss:.4f}, {abs(gap):.3f} "
            f"{'above' if gap > 0 else 'below'} ln 10 = {LN_10:.4f} (an even guess over ten "
            "classes)."
        )
        if verdict == "explained":
            start += (
                f" That is what its spread-out logits predict: within a row, Z_out varies with "
                f"variance {row_variance:.3f}, and the second-order estimate for small logits, "
                f"ln 10 + {row_variance:.3f} / 2 = {predicted:.4f}, is close to the measured "
                f"{loss:.4f}. Nothing is broken; the initial weights are simply not tiny."
            )
        else:
            start += (
                f" The logits' spread predicts {predicted:.4f} (the second-order estimate for small"
                f" logits, ln 10 + {row_variance:.3f} / 2), which does not explain the measured "
                f"{loss:.4f}: check the loss and the initialization."
            )
    return start + (
        f" With W_out set to zero, every class gets probability 1/10 and the loss is "
        f"{zero_output_loss:.4f}."
    )


LOSS_NEAR_ZERO = 0.1  # nats: the true class gets probability above e^-0.1 = 0.90 (geometric mean)


def memorized_in(accuracies: Sequence[float]) -> int | None:
    """The epoch (from 1) in which training accuracy first reached 100 %, if it ends there;
    None when the last epoch is short of 100 %."""
    if accuracies[-1] < 1.0:
        return None
    return next(i + 1 for i, a in enumerate(accuracies) if a >= 1.0)


def overfit_sentence(accuracies: Sequence[float], rows: int, losses: Sequence[float]) -> str:
    """Did training memorize a tiny subset (the proof that the loop works)? accuracies: the
    training accuracy per epoch; losses: the training loss (the first epoch's running mean, then
    the loss on those rows after training, last)."""
    final, loss = accuracies[-1], losses[-1]
    first = memorized_in(accuracies)
    near_zero = loss < LOSS_NEAR_ZERO
    said_loss = f"the loss fell from {losses[0]:.3f} to {loss:.3f}, " + (
        f"near zero (below {LOSS_NEAR_ZERO:g}: the geometric mean over the rows of the "
        f"probability the right class gets is e^-{loss:.3f} = {math.exp(-loss):.2f})"
        if near_zero
        else f"not near zero (above {LOSS_NEAR_ZERO:g})"
    )
    if first is not None and near_zero:
        return (
            f"Training accuracy on the {rows} examples: {pct(final)}, first reached in epoch "
            f"{first} of {len(accuracies)}, and {said_loss}: the network can memorize a small "
            "set, so the forward pass, backpropagation and the update work together."
        )
    return (
        f"Training accuracy on the {rows} examples: {pct(final)} after {len(accuracies)} epochs, "
        f"and {said_loss}: a network this size should memorize them with a loss near zero; look "
        "for a bug in the training loop (or train longer)."
    )


def memorization_verdict(train_accuracy: float, test_accuracy: float, majority_share: float) -> str:
    """Random labels: "memorizes noise" (training accuracy at least 99 % and the test accuracy at
    chance by rules.outcome), "did not memorize" (below 99 %) or "above chance on test" (which
    random labels cannot explain: look for a leak)."""
    if train_accuracy < 0.99:
        return "did not memorize"
    chance = rules.outcome(100 * test_accuracy, 100 * majority_share) == CHANCE
    return "memorizes noise" if chance else "above chance on test"


def random_labels_sentence(
    rows: int, real: tuple[float, float], shuffled: tuple[float, float], majority_share: float
) -> str:
    """The same network and training on the same rows, with their labels and with the labels
    shuffled: (training accuracy, test accuracy) of each, as fractions."""
    verdict = memorization_verdict(*shuffled, majority_share)
    text = (
        f"With the real labels, the network fits the {rows} rows to {pct(real[0])} and scores "
        f"{pct(real[1])} on the 10,000 test images. With the labels shuffled (no pattern left to "
        f"learn), it fits the same rows to {pct(shuffled[0])} and scores {pct(shuffled[1])} on "
        f"the test images, "
    )
    if verdict == "memorizes noise":
        return text + (
            f"at chance (always answering the most common digit scores {pct(majority_share)}). "
            "It memorized noise: this network fits these shuffled labels, so 100 % on the "
            "training rows says nothing about what it learned; only rows it never trained on "
            "tell a learned pattern from memorized answers."
        )
    if verdict == "did not memorize":
        return text + "short of memorizing them: train longer to see it memorize noise."
    return text + "above chance, which shuffled labels cannot explain: look for a leak."


def factor_sentences(networks: Sequence[dict]) -> list[str]:
    """One sentence per activation: its layer factors at initialization, beside the slope bound.

    networks: dicts with activation, depth and factors (`layer_factors` of the gradient norms at
    initialization). Vanishes / keeps its size / explodes is rules.factor_trend of the geometric
    mean of the deepest network's factors; what the product does over that network,
    rules.compounded_trend.
    """
    out = []
    for activation in dict.fromkeys(n["activation"] for n in networks):
        rows = sorted(
            (n for n in networks if n["activation"] == activation and n["factors"]),
            key=lambda n: n["depth"],
        )
        if not rows:
            out.append(
                f"**{activation}**: no network here has 3 hidden layers or more, so there are no "
                "two hidden-to-hidden matrices of the same shape to compare."
            )
            continue
        means = [geometric_mean(n["factors"]) for n in rows]
        each = [f for n in rows for f in n["factors"]]
        listed = " and ".join(
            f"{m:.2f} at depth {n['depth']}" for n, m in zip(rows, means, strict=True)
        )
        words = (
            f"**{activation}**: from one hidden layer down to the next, the gradient's norm is "
            f"multiplied by {listed} (geometric means of the layer factors; single factors "
            f"{min(each):.2f} to {max(each):.2f})"
        )
        deep, mean, steps = rows[-1], means[-1], len(rows[-1]["factors"])
        bound = SLOPE_BOUND.get(activation)
        if bound is not None and bound < 1:
            words += (
                f". The slope f' is at most {bound:g}, and depth {deep['depth']}'s mean factor "
                f"is {mean / bound:.2f} times that bound:"
            )
        elif bound is not None:
            words += f". The slope f' is at most {bound:g}, and"
        else:
            words += ":"
        cumulative = f"{mean:.3f}^{steps} = {mean**steps:.2g}"
        trend = factor_trend(mean)
        if trend == "vanishes":
            words += (
                f" the gradient shrinks about {1 / mean:.1f}-fold per layer, to {cumulative} of "
                f"its size over the {steps} factors of depth {deep['depth']}. It vanishes."
            )
        elif trend == "keeps":
            verdict = {
                "kept": "about its size: no vanishing gradient",
                "mild shrink": "a mild shrink, far from vanishing",
                "mild growth": "a mild growth",
                "shrink": "a shrink that more layers would deepen",
                "growth": "a growth that more layers would compound",
            }[compounded_trend(mean**steps)]
            deep_each = deep["factors"]
            words += (
                f" each layer multiplies the gradient by {min(deep_each):.2f} to "
                f"{max(deep_each):.2f} at depth {deep['depth']} (within a factor of 2 per "
                f"layer); over its {steps} factors that compounds to {cumulative} of its size, "
                f"{verdict}."
            )
        else:
            words += (
                f" the gradient grows about {mean:.1f}-fold per layer, to {cumulative} times "
                f"its size over the {steps} factors of depth {deep['depth']}. It explodes."
            )
        out.append(words)
    return out


def _and(items) -> str:
    items = [str(i) for i in items]
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} and {items[-1]}"


def _depths(networks: Sequence[dict]) -> str:
    return f"depth{'s' * (len(networks) > 1)} {_and(n['depth'] for n in networks)}"


def _rates(results: Sequence[dict]) -> str:
    return "lr " + _and(f"{r['learning_rate']:g}" for r in results)


def _span(values: Sequence[float], fmt) -> str:
    lo, hi = fmt(min(values)), fmt(max(values))
    return lo if lo == hi else f"{lo} to {hi}"


def _epochs(epochs: int) -> str:
    return f"{epochs} epoch{'s' * (epochs != 1)}"


def outcome(result: dict, majority_share: float) -> str:
    """rules.outcome of one result (test_accuracy a fraction, diverged_epoch None or the epoch
    fit stopped it in): DIVERGED, CHANCE, ABOVE or LEARNS."""
    return rules.outcome(
        100 * result["test_accuracy"], 100 * majority_share, result["diverged_epoch"] is not None
    )


def network_verdicts(networks: Sequence[dict], majority_share: float) -> list:
    """rules.network_verdict of each network (its results by learning rate, in percent)."""
    return [
        network_verdict(
            {
                r["learning_rate"]: None
                if r["diverged_epoch"] is not None
                else 100 * r["test_accuracy"]
                for r in n["results"]
            },
            100 * majority_share,
        )
        for n in networks
    ]


def chance_words(results: Sequence[dict], class_shares: Sequence[float]) -> str:
    """Why a network's results at chance are those of guessing, in numbers a learner can check.

    results: its runs at chance (dicts with learning_rate, test_accuracy, test_loss, top_class and
    top_class_share, the fraction of test images given its most frequent answer). class_shares:
    the fraction of the test set in each class (k = len(class_shares) classes). Returns a clause
    starting "its test accuracy is".
    """
    k = len(class_shares)
    majority = int(np.argmax(class_shares))
    words = f"its test accuracy is {_span([r['test_accuracy'] for r in results], pct)}"
    said = dict.fromkeys(r["top_class"] for r in results)
    kinds = {answers(100 * r["top_class_share"]) for r in results}
    every = all(r["top_class_share"] == 1.0 for r in results)
    same = (
        "every test image the same answer"
        if every
        else f"{_span([r['top_class_share'] for r in results], pct)} of the test images the same "
        "answer"
    )
    if kinds == {"one"} and list(said) == [majority]:
        words += (
            f": it gives {same}, {majority}, the most common digit, so its accuracy is "
            f"{'' if every else 'about '}the share of {majority}s in the test set"
        )
    else:
        if kinds == {"one"}:
            which = "; ".join(
                f"{c} at {_rates([r for r in results if r['top_class'] == c])}" for c in said
            )
            which = which if len(said) > 1 else str(next(iter(said)))
            shares = _and(f"{c}s are {pct(class_shares[c])}" for c in said)
            words += (
                f": it gives {same} ({which}), so its accuracy is "
                f"{'' if every else 'about '}that digit's share of the test set ({shares})"
            )
        elif kinds <= {"one", "mostly one"}:
            words += (
                f": it gives one answer to "
                f"{_span([r['top_class_share'] for r in results], pct)} of the test images"
            )
        words += (
            f"; always answering the most common digit, {majority}, would score "
            f"{pct(class_shares[majority])}"
        )
    losses = [r["test_loss"] for r in results]
    uniform = rules.uniform_loss(k)
    off = max(abs(v - uniform) for v in losses)
    loss = _span(losses, lambda v: f"{v:.3f}")
    if all(near_uniform(v, k) for v in losses):
        words += (
            f". Its test loss, {loss}, is within {max(math.ceil(off * 1000) / 1000, 0.001):.3f} "
            f"of ln {k} = "
            f"{uniform:.3f}, the loss of predicting 1/{k} for every class: it has learned "
            "nothing from the images"
        )
    else:
        words += (
            f". Its test loss is {loss} (predicting 1/{k} for every class would score ln {k} "
            f"= {uniform:.3f})"
        )
    return words + "."


def learning_sentences(
    networks: Sequence[dict], class_shares: Sequence[float], epochs: int
) -> list[str]:
    """Which networks learn at some learning rate and which at none, from their test results
    (rules.network_verdict of each), as sentences.

    networks: dicts with activation, depth, factors (`layer_factors`) and results: one dict per
    learning rate with learning_rate, diverged_epoch (None, or the epoch fit stopped it in),
    test_accuracy, test_loss, top_class and top_class_share. class_shares: the fraction of the
    test set in each class. epochs: how long each network trained.

    Returns: the definitions; one sentence per activation (which depths learn at some rate and
    which at none, why a stuck one's numbers are a guess's, which depths only a larger rate
    trains, which rates are too large); and a closing one on the networks stuck at every rate.
    """
    majority = int(np.argmax(class_shares))
    share = float(class_shares[majority])
    rates = sorted({r["learning_rate"] for n in networks for r in n["results"]})
    verdict = dict(
        zip(map(id, networks), network_verdicts(networks, share), strict=True)
    )  # fmt: skip
    out = [
        f"Below, a network *learns* at a rate if its test accuracy there is above "
        f"{learned_threshold(100 * share):.2f} %, halfway from always answering the most common "
        f"digit ({majority}, {pct(share)} of the test set) to 100 %, and is *at chance* if it is "
        f"within {CHANCE_MARGIN:g} points of {pct(share)}. Each network is trained from {ONE_SEED}."
    ]
    stuck_all, deep_learners = [], []
    for activation in dict.fromkeys(n["activation"] for n in networks):
        rows = sorted(
            (n for n in networks if n["activation"] == activation), key=lambda n: n["depth"]
        )
        learners = [n for n in rows if verdict[id(n)].tier == LEARNS]
        above = [n for n in rows if verdict[id(n)].tier == rules.ABOVE]
        stuck = [n for n in rows if verdict[id(n)].tier in (CHANCE, DIVERGED)]
        stuck_all += [(activation, n) for n in stuck]
        deep_learners += [(activation, n) for n in learners]
        parts = []
        if learners:
            highest = "; ".join(
                f"depth {n['depth']}: {verdict[id(n)].best_accuracy:.2f} % at lr "
                f"{verdict[id(n)].best_rate:g}"
                for n in learners
            )
            every = ", every depth tried" if len(learners) == len(rows) else ""
            parts.append(
                f"learns at one rate or more at {_depths(learners)}{every} (highest test "
                f"accuracy, {highest})"
            )
        if above:
            highest = "; ".join(
                f"depth {n['depth']}: {verdict[id(n)].best_accuracy:.2f} %" for n in above
            )
            parts.append(
                f"gets above chance but learns at no rate at {_depths(above)} (highest: {highest})"
            )
        if stuck:
            parts.append(
                f"learns at none of the rates ({_and(f'{lr:g}' for lr in rates)}) at "
                f"{_depths(stuck)}"
            )
        text = f"**{activation}** " + "; ".join(parts) + "."
        for n in stuck:
            kinds = verdict[id(n)].outcomes
            chance = [r for r in n["results"] if kinds[r["learning_rate"]] == CHANCE]
            gone = [r for r in n["results"] if kinds[r["learning_rate"]] == DIVERGED]
            if chance:
                where = "every rate" if len(chance) == len(n["results"]) else _rates(chance)
                text += f" At depth {n['depth']}, at {where}, {chance_words(chance, class_shares)}"
            if gone:
                text += f" At depth {n['depth']}, {_rates(gone)} diverged."
        for n in learners:
            v = verdict[id(n)]
            if v.slow_at_smallest:
                low = min(n["results"], key=lambda r: r["learning_rate"])
                gap = learned_threshold(100 * share) - 100 * low["test_accuracy"]
                state = (
                    "at chance"
                    if v.outcomes[low["learning_rate"]] == CHANCE
                    else "far from trained"
                    if gap >= NEAR_LEARNED
                    else "not trained"
                )
                text += (
                    f" At lr {low['learning_rate']:g} alone, depth {n['depth']} would look unable "
                    f"to learn ({pct(low['test_accuracy'])}, {state}), yet lr {v.best_rate:g} "
                    f"trains it to {v.best_accuracy:.2f} % in {_epochs(epochs)}: that rate was too "
                    "small, not the network too deep."
                )
        for lr in rates:
            failed = {
                kind: [
                    n
                    for n in learners
                    if lr in verdict[id(n)].too_large and verdict[id(n)].outcomes[lr] == kind
                ]
                for kind in (DIVERGED, CHANCE)
            }
            said = [
                f"{word} at {_depths(failed[kind])}"
                for kind, word in ((DIVERGED, "diverges"), (CHANCE, "sits at chance"))
                if failed[kind]
            ]
            if said:
                many = len(failed[DIVERGED]) + len(failed[CHANCE]) > 1
                text += (
                    f" At lr {lr:g} it {' and '.join(said)}, though a smaller rate trains "
                    f"{'them' if many else 'it'}: lr {lr:g} is too large a step for "
                    f"{'them' if many else 'it'}."
                )
        out.append(text)
    if not stuck_all:
        out.append(
            f"Every network learns at one rate or more in {_epochs(epochs)}: none of these "
            "depths is too deep to train, given the right learning rate."
        )
        return out
    names = _and(f"{a} with {n['depth']} hidden layers" for a, n in stuck_all)
    one = len(stuck_all) == 1
    text = f"Only {names} learn{'s' * one} at none of the rates tried, in {_epochs(epochs)}."
    trends = {}
    for activation, n in stuck_all:
        mean = geometric_mean(n["factors"])
        trend = trends[(activation, n["depth"])] = factor_trend(mean)
        subject = "Its" if one else f"{activation} at depth {n['depth']}: its"
        if trend is None:
            text += (
                f" {subject} backward factors cannot be measured (fewer than 3 hidden layers), "
                "so they cannot show whether a vanishing gradient is the cause."
            )
        elif trend == "vanishes":
            text += (
                f" {subject} backward factor, {mean:.3f}, leaves the backpropagated error "
                f"delta {mean ** len(n['factors']):.2g} of its size {len(n['factors'])} hidden "
                "layers down: the vanishing gradient the factors predicted."
            )
        else:
            text += (
                f" {subject} backward factor, {mean:.2f}, keeps the backpropagated error's size, "
                "so a vanishing gradient does not explain it."
            )
    deepest = max(n["depth"] for _, n in stuck_all)
    level = [
        (a, n, geometric_mean(n["factors"]))
        for a, n in deep_learners
        if n["depth"] == deepest and geometric_mean(n["factors"]) is not None
    ]
    if level and all(t == "vanishes" for t in trends.values()):
        if all(factor_trend(m) != "vanishes" for *_, m in level):
            text += (
                " At the same depth, "
                + _and(
                    f"{a} (factor {m:.2f}, {m ** len(n['factors']):.2g} over "
                    f"{len(n['factors'])} layers)"
                    for a, n, m in level
                )
                + f" learn{'s' * (len(level) == 1)}: one thing that stops a deep network here "
                "is the product of its backward factors, one per layer, and the closer a factor "
                "is to 1 the less that product shrinks delta as layers are added; the forward "
                "statistics above say whether its signal collapses on the way up as well."
            )
    out.append(text)
    return out


@dataclasses.dataclass(frozen=True)
class RateVerdict:
    """What one learning rate did over its seeds, next to the best rate.

    kind: "best", "diverged" (every seed stopped by the rule), "some diverged", "no lower" (the
    final training loss, mean over seeds, no lower than before training), or "trained".
    side: "smaller" or "larger" than the best rate (None for the best). accuracy, train_loss,
    val_loss: rules.SeedStats of the final validation accuracy (percent), the training loss on
    the training rows after training and the last epoch's validation loss (the seeds that did not
    diverge). accuracy_vs_best, train_vs_best, val_loss_vs_best: rules.compare_settings against
    the best rate ("apart", "within noise", "too few seeds": the 95 % t-interval of the
    difference, paired by seed when no seed of this rate diverged, else Welch's);
    accuracy_difference: that rules.Difference for the accuracy (this rate - best).
    still_falling: the validation loss (mean over seeds) fell in the last epoch. diverged: how
    many seeds diverged, of seeds; diverged_accuracy: the validation accuracy (percent) of the
    diverged seeds' last epochs.
    """

    learning_rate: float
    kind: str
    side: str | None
    seeds: int
    diverged: int
    accuracy: rules.SeedStats | None
    train_loss: rules.SeedStats | None
    val_loss: rules.SeedStats | None
    accuracy_vs_best: str | None = None
    train_vs_best: str | None = None
    val_loss_vs_best: str | None = None
    still_falling: bool = False
    diverged_accuracy: rules.SeedStats | None = None
    accuracy_difference: rules.Difference | None = None


def rate_verdicts(runs: Sequence[dict], initial_loss: float) -> list[RateVerdict]:
    """The learning-rate study's verdicts, one per rate, in the order of the rates.

    runs: one dict per rate: learning_rate and seeds, a list with one dict per seed: diverged
    (bool), val_accuracy and val_loss (per-epoch lists, fractions and nats; what was recorded
    before a divergence) and train_loss (the mean loss over the training rows after training,
    evaluated at the end, not the running mean of an epoch; None when it diverged).
    initial_loss: the training loss before the first step, the mean over the same seeds (each
    seed starts from its own weights). Returns [] when no rate trained on
    every seed and lowered the loss; the best rate (highest mean final validation accuracy among
    those) is the one whose kind is "best".
    """
    out, values = {}, {}
    for run in runs:
        ok = [s for s in run["seeds"] if not s["diverged"]]
        gone = [s for s in run["seeds"] if s["diverged"]]
        last_acc = [100 * s["val_accuracy"][-1] for s in gone if s["val_accuracy"]]
        stats = {
            "accuracy": rules.seed_stats([100 * s["val_accuracy"][-1] for s in ok]),
            "train_loss": rules.seed_stats([s["train_loss"] for s in ok]),
            "val_loss": rules.seed_stats([s["val_loss"][-1] for s in ok]),
        }
        if not ok:
            kind = "diverged"
        elif gone:
            kind = "some diverged"
        elif stats["train_loss"].mean >= initial_loss:
            kind = "no lower"
        else:
            kind = "trained"
        falling = bool(ok) and len(ok[0]["val_loss"]) > 1
        if falling:
            falling = float(np.mean([s["val_loss"][-1] for s in ok])) < float(
                np.mean([s["val_loss"][-2] for s in ok])
            )
        values[run["learning_rate"]] = {
            "accuracy": [100 * s["val_accuracy"][-1] for s in ok],
            "train_loss": [s["train_loss"] for s in ok],
            "val_loss": [s["val_loss"][-1] for s in ok],
        }
        out[run["learning_rate"]] = dict(
            learning_rate=run["learning_rate"], kind=kind, seeds=len(run["seeds"]),
            diverged=len(gone), still_falling=falling,
            diverged_accuracy=rules.seed_stats(last_acc), **stats,
        )  # fmt: skip
    trained = [v for v in out.values() if v["kind"] == "trained"]
    if not trained:
        return []
    best = max(trained, key=lambda v: v["accuracy"].mean)
    verdicts = []
    for lr, v in out.items():
        if v is best:
            verdicts.append(RateVerdict(side=None, **{**v, "kind": "best"}))
            continue
        compared = {}
        if v["accuracy"] is not None:
            mine, top, paired = values[lr], values[best["learning_rate"]], not v["diverged"]
            d = rules.difference(mine["accuracy"], top["accuracy"], paired)
            compared = {
                "accuracy_vs_best": d.verdict,
                "accuracy_difference": d,
                "train_vs_best": rules.compare_settings(
                    mine["train_loss"], top["train_loss"], paired
                ),
                "val_loss_vs_best": rules.compare_settings(
                    mine["val_loss"], top["val_loss"], paired
                ),
            }
        side = "smaller" if lr < best["learning_rate"] else "larger"
        verdicts.append(RateVerdict(side=side, **v, **compared))
    return verdicts


def _stats(s: rules.SeedStats, unit: str = "", digits: int = 2) -> str:
    """'94.74 % +- 0.25 [94.43, 95.05]', the bare mean for one seed."""
    if s.sd is None:
        return f"{s.mean:.{digits}f}{unit}"
    text = f"{s.mean:.{digits}f}{unit} +- {s.sd:.{digits}f}"
    return text + (f" [{s.low:.{digits}f}, {s.high:.{digits}f}]" if s.estimated else "")


def learning_rate_sentences(
    runs: Sequence[dict],
    initial_loss: float,
    n_classes: int = 10,
    majority_percent: float | None = None,
) -> list[str]:
    """What the learning-rate study shows (rate_verdicts), as sentences: how the numbers are
    given, the best rate, and what each other rate did next to it. runs, initial_loss: as
    `rate_verdicts` takes them; majority_percent: the share of the most common class among the
    validation rows, against which a diverged run's accuracy is judged (rules.outcome)."""
    bound, uniform = rules.divergence_bound(n_classes), rules.uniform_loss(n_classes)
    verdicts = rate_verdicts(runs, initial_loss)
    seeds = max(len(r["seeds"]) for r in runs)
    few = seeds < rules.MIN_SEEDS
    out = [
        f"Each rate trained {seeds} network{'s' * (seeds != 1)} (initial-weight seeds), on the "
        "same batches; numbers are mean +- sample standard deviation over them"
        + (
            f"; with fewer than {rules.MIN_SEEDS} seeds the spread is not an estimate and no two "
            "rates are compared below."
            if few
            else " [95 % t-interval of the mean]; two rates are told apart when the 95 % "
            "t-interval of their difference, seed by seed (a seed starts from the same weights "
            "and sees the same batches at every rate), excludes 0."
        )
        + " Training loss here is the loss on the training rows after training, measured like "
        "the validation loss (not the running mean over the last epoch's batches)."
    ]
    if not verdicts:
        out.append(
            "No learning rate tried trained on every seed and lowered the training loss below the "
            f"{initial_loss:.3f} it started from (mean over the seeds). Try smaller ones."
        )
        return out
    rates = sorted(r["learning_rate"] for r in runs)
    best = next(v for v in verdicts if v.kind == "best")
    edge = (
        " It is the smallest rate tried: smaller ones may do better."
        if best.learning_rate == rates[0]
        else " It is the largest rate tried: larger ones may do better."
        if best.learning_rate == rates[-1]
        else ""
    )
    out.append(
        f"Best: learning rate {best.learning_rate:g}, validation accuracy "
        f"{_stats(best.accuracy, ' %')}, validation loss {_stats(best.val_loss, '', 3)}, "
        f"training loss {_stats(best.train_loss, '', 3)}.{edge}"
    )
    for v in sorted(verdicts, key=lambda v: v.learning_rate):
        if v is best:
            continue
        head = f"{v.learning_rate:g} ({v.side})"
        if v.kind == "diverged":
            accuracy = ""
            if v.diverged_accuracy is not None:
                accuracy = (
                    " Its validation accuracy in the last epoch it finished was "
                    f"{_stats(v.diverged_accuracy, ' %')}"
                )
                kind = (
                    None
                    if majority_percent is None
                    else rules.outcome(v.diverged_accuracy.mean, majority_percent)
                )
                accuracy += {
                    None: ".",
                    CHANCE: ": no better than a guess in accuracy either.",
                }.get(
                    kind,
                    ": better than a guess in accuracy (always answering the most common class "
                    f"scores {majority_percent:.2f} %), yet its loss says it is confidently wrong "
                    "on many rows.",
                )
            out.append(
                f"{head}: diverged on {v.diverged} of {v.seeds} seeds: the training loss went "
                f"above 2 ln {n_classes} = {bound:.2f}, worse than a uniform guess in cross-entropy "
                f"(predicting 1/{n_classes} for every class scores ln {n_classes} = {uniform:.2f}),"
                f" or stopped being finite, and fit stopped it.{accuracy}"
            )
            continue
        words = f"{head}: validation accuracy {_stats(v.accuracy, ' %')}"
        if v.kind == "some diverged":
            words += (
                f" on the {v.seeds - v.diverged} seeds that trained; {v.diverged} of {v.seeds} "
                f"diverged (training loss above 2 ln {n_classes} = {bound:.2f}, worse than a "
                "uniform guess in cross-entropy): at this rate training is a gamble."
            )
        elif v.kind == "no lower":
            words += (
                f", yet its training loss ended at {_stats(v.train_loss, '', 3)}, no lower than "
                f"the {initial_loss:.3f} the same seeds started from (their mean): steps this "
                f"large leave it confidently wrong on many rows (below the {bound:.2f} that counts "
                "as diverged, so not stopped)."
            )
        elif v.accuracy_vs_best == "too few seeds":
            words += (
                f", validation loss {_stats(v.val_loss, '', 3)}, training loss "
                f"{_stats(v.train_loss, '', 3)}; too few seeds to say whether it differs from "
                "the best."
            )
        else:
            d = v.accuracy_difference
            how = "seed by seed" if d.paired else "Welch's, unpaired"
            gap = (
                f"{abs(d.diff):.2f} points {'below' if d.diff < 0 else 'above'} the best, 95 % "
                f"interval of the difference ({how}) [{d.low:.2f}, {d.high:.2f}]"
            )
            words += (
                f": {gap}, which excludes 0: apart from the best"
                if v.accuracy_vs_best == "apart"
                else f": {gap}, which includes 0: within noise of the best"
            )
            if v.side == "smaller" and v.still_falling:
                words += (
                    "; its validation loss was still falling in the last epoch: steps this small "
                    "learn slowly."
                )
            elif (
                v.side == "larger"
                and v.train_vs_best == "apart"
                and (v.train_loss.mean > best.train_loss.mean)
            ):
                words += (
                    f"; its training loss, {_stats(v.train_loss, '', 3)}, is above the best's as "
                    "well: steps this large overshoot, on the training rows too."
                )
            elif (
                v.side == "larger"
                and v.val_loss_vs_best == "apart"
                and (v.val_loss.mean > best.val_loss.mean)
            ):
                words += (
                    f"; its training loss is within noise of the best's or lower "
                    f"({_stats(v.train_loss, '', 3)}) while its validation loss is higher "
                    f"({_stats(v.val_loss, '', 3)} vs {_stats(best.val_loss, '', 3)}): it fits "
                    "the training rows as well and does worse on held-out rows."
                )
            else:
                words += f"; validation loss {_stats(v.val_loss, '', 3)}."
        out.append(words)
    return out


def top_class_share(predictions: np.ndarray) -> float:
    """The fraction of predictions that are the most frequent class."""
    return float(np.bincount(np.asarray(predictions)).max() / len(predictions))


ROUNDING_EPS = 10  # within this many machine epsilons: only rounding separates them
GROWTH = 4  # the gap growing this many times from its first nonzero value: it accumulates


def lockstep_verdict(dtype: str, diffs: Sequence[float]) -> str:
    """ "identical" (never apart), "rounding" (below ROUNDING_EPS eps and not growing), "stays"
    (further apart, not growing) or "grows" (GROWTH times or more since first apart)."""
    nonzero = [d for d in diffs if d > 0]
    if not nonzero:
        return "identical"
    if float(diffs[-1]) / nonzero[0] >= GROWTH:
        return "grows"
    return "rounding" if float(diffs[-1]) < ROUNDING_EPS * float(np.finfo(dtype).eps) else "stays"


def lockstep_sentence(dtype: str, updates: Sequence[int], diffs: Sequence[float]) -> str:
    """How far apart the two implementations' weights are after lockstep training, measured
    against the dtype's rounding step (its machine epsilon) and how it grew (lockstep_verdict)."""
    eps = float(np.finfo(dtype).eps)
    last, n = float(diffs[-1]), int(updates[-1])
    verdict = lockstep_verdict(dtype, diffs)
    if verdict == "identical":
        return f"{dtype}: the weights are identical after {n} updates, bit for bit."
    first_u, first = next((u, d) for u, d in zip(updates, diffs, strict=True) if d > 0)
    growth = last / first
    trend = (
        f"it grows x{growth:.0f} from update {first_u} to {n}: rounding accumulates"
        if verdict == "grows"
        else f"it stays there (x{growth:.1f} from update {first_u} to {n})"
    )
    return (
        f"{dtype}: at most {last:.2g} apart after {n} updates, {last / eps:.2g} times "
        f"{dtype}'s rounding step (eps = {eps:.2g}), from the first updates on ({first:.2g} at "
        f"update {first_u}); {trend}. The two compute the same sums in different orders, and "
        "that is all that separates them."
        if verdict == "rounding"
        else f"{dtype}: {last:.2g} apart after {n} updates, {last / eps:.2g} times {dtype}'s "
        f"rounding step (eps = {eps:.2g}); {trend}."
    )
