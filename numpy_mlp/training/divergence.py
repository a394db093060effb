"""When training has diverged: one rule, used by `fit`, `fit_many` and everything built on them.

A step whose batch loss or gradient is NaN or infinite is never applied. At the end of an epoch,
training has diverged when the epoch's mean training loss is not finite or exceeds

    2 ln k        (k classes: twice the loss ln k of guessing every class with probability 1/k),

or the validation loss is not finite. The bound matters because the loss of a saturating network
can grow without limit and stay finite: at a learning rate of 10 the tutorial's tanh network
reaches a loss near 50 within two epochs, which "not finite" alone would call healthy.
"""

from __future__ import annotations

import math


def loss_bound(n_classes: int) -> float:
    """2 ln k: twice the cross-entropy of a uniform guess over k classes."""
    return 2.0 * math.log(n_classes)


def diverged(epoch_loss: float, n_classes: int) -> bool:
    """True when an epoch's mean training loss is not finite or exceeds 2 ln k."""
    return not math.isfinite(epoch_loss) or epoch_loss > loss_bound(n_classes)


def epoch_divergence(logs: dict, n_classes: int) -> tuple[str, float] | None:
    """(what, value) when an epoch's logs show divergence (see the module docstring), else None."""
    if diverged(logs["loss"], n_classes):
        return "mean training loss", logs["loss"]
    val_loss = logs.get("val_loss")
    if val_loss is not None and not math.isfinite(val_loss):
        return "validation loss", val_loss
    return None


class TrainingDivergedError(FloatingPointError):
    """Training diverged (see the module docstring); `history` holds the epochs finished before.

    A batch's loss or gradient is checked before its update, so the weights are those from before
    the failing step; an epoch-end verdict leaves the weights of that epoch (and that epoch in the
    history). The inputs are checked up front, so what is left is the learning rate's doing.
    """

    def __init__(
        self,
        epoch: int,
        step: int | None,
        loss: float,
        learning_rate: float,
        what: str = "loss",
        *,
        n_classes: int | None = None,
    ) -> None:
        where = f"at epoch {epoch}, step {step}" if step else f"in epoch {epoch}"
        kept = "from before that step" if step else "of that epoch"
        if n_classes is not None and math.isfinite(loss):
            problem = (
                f"{what} {loss:.4g} {where}, above 2 ln {n_classes} = {loss_bound(n_classes):.2f} "
                "(worse than guessing)"
            )
        else:
            problem = f"{what} became {loss} {where}"
        super().__init__(
            f"{problem}; training stopped with the weights {kept}. "
            f"Try a smaller learning rate (eta_0 was {learning_rate:g})."
        )
        self.epoch, self.step, self.loss, self.what = epoch, step, loss, what
        self.history = None  # the History of the finished epochs, set by the trainer
