"""Training callbacks, with the Keras meaning.

A callback sees the model at the start, and the epoch's logs (loss, accuracy, val_loss, ...) at the
end of each epoch; returning True from `on_epoch_end` stops training.
"""

from __future__ import annotations

import numpy as np


class Callback:
    """Base class: override the hooks you need."""

    def on_train_begin(self, model) -> None:
        self.model = model

    def on_epoch_end(self, epoch: int, logs: dict) -> bool:
        return False

    def on_train_end(self) -> None:
        pass


class EarlyStopping(Callback):
    """Stop when `monitor` has not improved by more than `min_delta` for `patience` epochs.

    With restore_best_weights=True the model ends with the weights of its best epoch.
    """

    def __init__(
        self,
        monitor: str = "val_loss",
        *,
        patience: int = 5,
        min_delta: float = 0.0,
        mode: str = "min",
        restore_best_weights: bool = True,
    ) -> None:
        if patience < 0:
            raise ValueError(f"patience must be >= 0, got {patience}")
        if mode not in ("min", "max"):
            raise ValueError(f"mode must be 'min' or 'max', got {mode!r}")
        self.monitor = monitor
        self.patience = patience
        self.min_delta = abs(min_delta)
        self.sign = 1.0 if mode == "min" else -1.0
        self.restore_best_weights = restore_best_weights
        self.best: float = np.inf
        self.best_epoch = -1
        self.best_weights: list[np.ndarray] | None = None
        self.wait = 0
        self.stopped_epoch: int | None = None

    def on_train_begin(self, model) -> None:
        super().on_train_begin(model)
        self.best, self.best_epoch, self.best_weights, self.wait = np.inf, -1, None, 0
        self.stopped_epoch = None

    def on_epoch_end(self, epoch: int, logs: dict) -> bool:
        if self.monitor not in logs:
            raise KeyError(
                f"EarlyStopping monitors {self.monitor!r}, which the logs lack "
                f"(have: {', '.join(sorted(logs))}); pass validation data or a validation_split"
            )
        value = self.sign * float(logs[self.monitor])
        if value < self.best - self.min_delta:
            self.best, self.best_epoch, self.wait = value, epoch, 0
            if self.restore_best_weights:
                self.best_weights = [W.copy() for W in self.model.weights]
            return False
        self.wait += 1
        if self.wait > self.patience:
            self.stopped_epoch = epoch
            return True
        return False

    def on_train_end(self) -> None:
        if self.restore_best_weights and self.best_weights is not None:
            for W, best in zip(self.model.weights, self.best_weights, strict=True):
                W[...] = best
