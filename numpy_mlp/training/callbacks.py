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


def _keras_float(value):
    """The number as Keras 3's ops compare it: a Python float or int becomes a float32 tensor
    (TensorFlow converts Python scalars to float32), a NumPy scalar keeps its dtype."""
    if type(value) in (float, int):
        return np.float32(value)
    return np.asarray(value)[()]


def _keras_compare(op: str, a, b) -> bool:
    """ops.less / ops.greater as Keras 3 computes them: both operands at their common dtype."""
    a, b = _keras_float(a), _keras_float(b)
    common = np.result_type(a.dtype, b.dtype)
    a, b = a.astype(common), b.astype(common)
    return bool(a < b) if op == "less" else bool(a > b)


class EarlyStopping(Callback):
    """Stop when `monitor` has stopped improving: Keras 3's EarlyStopping, rule for rule.

    Each epoch from `start_from_epoch` on: `wait` counts up by one; a value that improves on the
    best so far (min mode: value + min_delta < best; max: value - min_delta > best; the first
    monitored value always does) becomes the best and resets `wait` to 0, unless a `baseline` is
    set and the value does not also improve on it. Otherwise training stops when
    wait >= patience (and epoch > 0): with patience 3 on a flat loss, 4 epochs run.
    restore_best_weights=True (default False, as Keras) puts back the weights of the best epoch at
    the end, or of the first monitored epoch if none improved. mode "auto" minimises a monitor
    whose name without "val_" is "loss" and maximises one naming an accuracy.

    `best`, `best_epoch`, `wait` and `stopped_epoch` (0 if it did not stop, as Keras) read like
    Keras's. Unlike Keras, a monitor missing from the logs is a KeyError (Keras only warns and
    never stops), and an unknown mode a ValueError (Keras warns and falls back to "auto").
    Comparisons are made as Keras's ops make them: Python-float logs at float32, NumPy scalars at
    their own dtype (see `_keras_compare`).
    """

    def __init__(
        self,
        monitor: str = "val_loss",
        min_delta: float = 0.0,
        patience: int = 0,
        verbose: int = 0,
        mode: str = "auto",
        baseline: float | None = None,
        restore_best_weights: bool = False,
        start_from_epoch: int = 0,
    ) -> None:
        if patience < 0:
            raise ValueError(f"patience must be >= 0, got {patience}")
        if start_from_epoch < 0:
            raise ValueError(f"start_from_epoch must be >= 0, got {start_from_epoch}")
        if mode not in ("auto", "min", "max"):
            raise ValueError(f"mode must be 'auto', 'min' or 'max', got {mode!r}")
        if mode == "auto":
            name = monitor.removeprefix("val_")
            if name == "loss":
                mode = "min"
            elif name in ("accuracy", "acc") or name.endswith("_accuracy"):
                mode = "max"
            else:
                raise ValueError(
                    f"EarlyStopping cannot tell whether {monitor!r} should fall or rise; "
                    "pass mode='min' or mode='max'"
                )
        self.monitor = monitor
        self.patience = patience
        self.verbose = verbose
        self.mode = mode
        self.baseline = baseline
        self.restore_best_weights = restore_best_weights
        self.start_from_epoch = start_from_epoch
        # as Keras: min_delta is negated in min mode and the test is op(value - min_delta, best)
        self.min_delta = -abs(min_delta) if mode == "min" else abs(min_delta)
        self.op = "less" if mode == "min" else "greater"
        self.on_train_begin(None)

    def on_train_begin(self, model) -> None:
        super().on_train_begin(model)
        self.wait = 0
        self.stopped_epoch = 0
        self.best = None
        self.best_weights: list[np.ndarray] | None = None
        self.best_epoch = 0

    def _is_improvement(self, value, reference) -> bool:
        if reference is None:
            return True
        return _keras_compare(self.op, value - self.min_delta, reference)

    def on_epoch_end(self, epoch: int, logs: dict) -> bool:
        if self.monitor not in logs:
            raise KeyError(
                f"EarlyStopping monitors {self.monitor!r}, which the logs lack "
                f"(have: {', '.join(sorted(logs))}); pass validation data or a validation_split"
            )
        current = logs[self.monitor]
        if current is None or epoch < self.start_from_epoch:
            return False
        if self.restore_best_weights and self.best_weights is None:
            self.best_weights = [W.copy() for W in self.model.weights]
            self.best_epoch = epoch
        self.wait += 1
        if self._is_improvement(current, self.best):
            self.best = current
            self.best_epoch = epoch
            if self.restore_best_weights:
                self.best_weights = [W.copy() for W in self.model.weights]
            if self.baseline is None or self._is_improvement(current, self.baseline):
                self.wait = 0
            return False
        if self.wait >= self.patience and epoch > 0:
            self.stopped_epoch = epoch
            return True
        return False

    def on_train_end(self) -> None:
        if self.verbose > 0 and self.stopped_epoch > 0:
            print(f"Epoch {self.stopped_epoch + 1}: early stopping")
        if self.restore_best_weights and self.best_weights is not None:
            if self.verbose > 0:
                print(
                    f"Restoring model weights from the end of the best epoch: {self.best_epoch + 1}."
                )
            for W, best in zip(self.model.weights, self.best_weights, strict=True):
                W[...] = best
