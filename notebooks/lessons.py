"""The walkthrough's sentences about its own results, written from the numbers.

Every sentence the notebook says about an outcome (a loss near ln 10, a study's best value, a
network stuck at one class, a learning rate that diverged) comes from a function here, so the
text cannot contradict the output above it; tests/test_notebook_lessons.py feeds each function
numbers on both sides of every rule and checks the words.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from numpy_mlp.training.divergence import loss_bound

LN_10 = math.log(10)
STUCK_SHARE = 0.9  # a network giving one class to >= 90 % of the test digits has not learned
VANISHING_FACTOR = 10.0  # first/last gradient ratio changing more than 10x with depth


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


def initial_loss_sentence(loss: float, row_variance: float, zero_output_loss: float) -> str:
    """Is the untrained network's loss where it should be, and why.

    loss: mean cross-entropy at initialization; row_variance: the mean over rows of the variance
    of that row's logits Z_out; zero_output_loss: the loss with W_out set to zero (ln 10 exactly
    for 10 classes). For small logits, L ~ ln K + Var_row(Z_out) / 2 (second-order expansion of
    log-sum-exp, with the true class's logit no larger than the rest on average).
    """
    predicted = LN_10 + row_variance / 2
    gap = loss - LN_10
    if abs(gap) < 0.05:
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
        if abs(loss - predicted) < 0.05:
            start += (
                f" That is what its spread-out logits predict: within a row, Z_out varies with "
                f"variance {row_variance:.3f}, and ln 10 + {row_variance:.3f} / 2 = "
                f"{predicted:.4f}. Nothing is broken; the initial weights are simply not tiny."
            )
        else:
            start += (
                f" The logits' spread predicts {predicted:.4f} (ln 10 + {row_variance:.3f} / 2), "
                "which does not explain it: check the loss and the initialization."
            )
    return start + (
        f" With W_out set to zero, every class gets probability 1/10 and the loss is "
        f"{zero_output_loss:.4f}."
    )


def overfit_sentence(accuracies: Sequence[float], rows: int) -> str:
    """Did training memorize a tiny subset (the proof that the loop works)?"""
    final = accuracies[-1]
    first = next((i + 1 for i, a in enumerate(accuracies) if a >= 1.0), None)
    if final >= 1.0:
        return (
            f"Training accuracy on the {rows} examples: {pct(final)}, first reached in epoch "
            f"{first} of {len(accuracies)}: the network can memorize a small set, so the forward "
            "pass, backpropagation and the update work together."
        )
    return (
        f"Training accuracy on the {rows} examples: {pct(final)} after {len(accuracies)} epochs, "
        "short of 100 %: a network this size should memorize them; look for a bug in the "
        "training loop (or train longer)."
    )


def vanishing_sentences(runs: Sequence[dict]) -> list[str]:
    """One sentence per activation about the gradient ratio and the accuracy across depths.

    runs: dicts with activation, depth, first_over_last (||dL/dW^(1)|| / ||dL/dW_out|| at
    initialization), test_accuracy (fraction) and top_class_share (the fraction of test digits
    given the most frequent prediction).
    """
    out = []
    for activation in dict.fromkeys(r["activation"] for r in runs):
        rows = sorted((r for r in runs if r["activation"] == activation), key=lambda r: r["depth"])
        shallow, deep = rows[0], rows[-1]
        ratios = [r["first_over_last"] for r in rows]
        change = shallow["first_over_last"] / deep["first_over_last"]
        words = (
            f"**{activation}**: the first layer's gradient is {shallow['first_over_last']:.2g} "
            f"times the output layer's with {shallow['depth']} hidden layer"
            f"{'s' * (shallow['depth'] != 1)} and {deep['first_over_last']:.2g} times with "
            f"{deep['depth']}"
        )
        if change > VANISHING_FACTOR:
            words += f": it shrinks {change:,.0f}-fold as layers are added (a vanishing gradient)."
        elif change < 1 / VANISHING_FACTOR:
            words += (
                f": it grows {1 / change:,.0f}-fold as layers are added (an exploding gradient)."
            )
        else:
            spread = max(ratios) / min(ratios)
            words += f": it stays within a factor {spread:.1f} at every depth (no vanishing)."
        stuck = [r for r in rows if r["top_class_share"] >= STUCK_SHARE]
        learned = [r for r in rows if r["top_class_share"] < STUCK_SHARE]
        if stuck:
            depths = " and ".join(str(r["depth"]) for r in stuck)
            shares = sorted(r["top_class_share"] for r in stuck)
            share = (
                f"{shares[0]:.0%}"
                if shares[0] == shares[-1]
                else f"{shares[0]:.0%}-{shares[-1]:.0%}"
            )
            words += (
                f" With {depths} hidden layers it has not learned: it gives a single class to "
                f"{share} of the test digits ({pct(max(r['test_accuracy'] for r in stuck))} test "
                "accuracy at best)."
            )
        if learned:
            accs = [r["test_accuracy"] for r in learned]
            subject = "At the other depths, test accuracy" if stuck else "Test accuracy"
            if len(learned) == 1:
                words += f" {subject} is {pct(accs[0])} (depth {learned[0]['depth']})."
            elif max(accs) - min(accs) < 0.02:
                words += (
                    f" {subject} is {pct(min(accs))} to {pct(max(accs))}, within 2 points at "
                    f"every depth ({', '.join(str(r['depth']) for r in learned)})."
                )
            else:
                first, last = learned[0], learned[-1]
                trend = "falls" if last["test_accuracy"] < first["test_accuracy"] else "rises"
                words += (
                    f" {subject} {trend} with depth, from {pct(first['test_accuracy'])} (depth "
                    f"{first['depth']}) to {pct(last['test_accuracy'])} (depth {last['depth']})."
                )
        out.append(words)
    return out


def learning_rate_sentences(
    runs: Sequence[dict], initial_loss: float, n_classes: int = 10
) -> list[str]:
    """What the learning-rate study shows: the best rate, and what the others did.

    runs: dicts with learning_rate, loss and val_loss (per-epoch lists) and val_accuracy (list);
    diverged=True for a run that fit stopped (numpy_mlp's rule: a non-finite loss, or an epoch's
    mean training loss above 2 ln k), with the epochs it finished. initial_loss: the training
    loss before the first step (the same for every run).
    """
    bound = loss_bound(n_classes)
    diverged = [r for r in runs if r.get("diverged") or not r["loss"]]
    fine = [r for r in runs if r not in diverged]
    out = []
    if not fine:
        return [f"Every learning rate tried diverged (a non-finite loss, or an epoch's training "
                f"loss above 2 ln {n_classes} = {bound:.2f}). Try smaller ones."]  # fmt: skip
    learning = [r for r in fine if r["loss"][-1] < initial_loss]
    if not learning:
        return [f"No learning rate tried lowered the training loss below the {initial_loss:.3f} "
                "it started from (the rest were stopped as diverged). Try smaller ones."]  # fmt: skip
    best = max(learning, key=lambda r: r["val_accuracy"][-1])
    epochs = len(best["val_accuracy"])
    rates = sorted(r["learning_rate"] for r in runs)
    out.append(
        f"Best: learning rate {best['learning_rate']:g}, {pct(best['val_accuracy'][-1])} "
        f"validation accuracy after {epochs} epoch{'s' * (epochs != 1)}."
        + (
            " It is the smallest rate tried: smaller ones may do better."
            if best["learning_rate"] == rates[0]
            else " It is the largest rate tried: larger ones may do better."
            if best["learning_rate"] == rates[-1]
            else ""
        )
    )
    for r in sorted(fine, key=lambda r: r["learning_rate"]):
        if r is best:
            continue
        lr, val = r["learning_rate"], r["val_loss"]
        side = "smaller" if lr < best["learning_rate"] else "larger"
        still = len(val) > 1 and val[-1] < val[-2]
        words = f"{lr:g} ({side}): {pct(r['val_accuracy'][-1])} validation accuracy"
        if r not in learning:  # not diverged by the rule, yet no better than at the start
            words += (
                f", yet its training loss ended at {r['loss'][-1]:.3g}, no lower than the "
                f"{initial_loss:.3f} it started from: steps this large leave it confidently wrong "
                f"on many rows (below the {bound:.2f} that counts as diverged, so not stopped)."
            )
        elif side == "smaller" and still:
            words += (
                f", validation loss still falling in the last epoch ({val[-2]:.3f} -> "
                f"{val[-1]:.3f}): steps this small learn slowly."
            )
        elif side == "larger":
            words += (
                f", validation loss {val[-1]:.3f} against the best's "
                f"{best['val_loss'][-1]:.3f}: steps this large overshoot."
            )
        else:
            words += f", validation loss {val[-1]:.3f}."
        out.append(words)
    for r in sorted(diverged, key=lambda r: r["learning_rate"]):
        loss = r["loss"][-1] if r["loss"] else float("nan")
        how = (
            "became non-finite within the first epoch"
            if not math.isfinite(loss)
            else f"reached {loss:.3g} in epoch {len(r['loss'])}, above 2 ln {n_classes} = "
            f"{bound:.2f} (worse than a uniform guess), and training stopped"
        )
        out.append(f"{r['learning_rate']:g}: diverged, the training loss {how}.")
    return out


def top_class_share(predictions: np.ndarray) -> float:
    """The fraction of predictions that are the most frequent class."""
    return float(np.bincount(np.asarray(predictions)).max() / len(predictions))
