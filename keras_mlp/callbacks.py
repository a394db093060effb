"""Keras callbacks the harness uses."""

from __future__ import annotations

import time

from keras_mlp.tf import keras


def epoch_timer():
    """A Keras callback recording each epoch's wall time (training plus validation) in `seconds`.

    The time is also written into the epoch's logs (key "seconds"), as numpy_mlp's fit logs it.
    """

    class EpochTimer(keras().callbacks.Callback):
        def __init__(self) -> None:
            super().__init__()
            self.seconds: list[float] = []

        def on_epoch_begin(self, epoch, logs=None):
            self._started = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            self.seconds.append(time.perf_counter() - self._started)
            if logs is not None:
                logs["seconds"] = self.seconds[-1]

    return EpochTimer()


def divergence_guard(n_classes: int, learning_rate: float):
    """A Keras callback applying numpy_mlp's divergence rule after every epoch: a mean training
    loss that is not finite or exceeds 2 ln k, or a non-finite validation loss, stops training and
    leaves the TrainingDivergedError `fit` would raise in `.error` (None while healthy)."""
    from numpy_mlp.training.divergence import TrainingDivergedError, epoch_divergence

    class DivergenceGuard(keras().callbacks.Callback):
        def __init__(self) -> None:
            super().__init__()
            self.error: TrainingDivergedError | None = None

        def on_epoch_end(self, epoch, logs=None):
            logs = {k: float(v) for k, v in (logs or {}).items() if k in ("loss", "val_loss")}
            verdict = epoch_divergence(logs, n_classes) if "loss" in logs else None
            if verdict is not None:
                what, value = verdict
                self.error = TrainingDivergedError(
                    epoch + 1, None, value, learning_rate, f"Keras {what}", n_classes=n_classes
                )
                self.model.stop_training = True

    return DivergenceGuard()
