"""`fit`: minibatch training with the Keras semantics the tutorial relies on.

* validation_split takes the **last** fraction of the rows, before any shuffling;
* the training rows are reshuffled every epoch (seeded), the last partial batch is kept;
* each epoch's logs hold the batch-size-weighted mean training loss and accuracy seen during the
  epoch, the validation loss and accuracy after it, and the epoch's wall time in seconds.
"""

from __future__ import annotations

import contextlib
import sys
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
from threadpoolctl import threadpool_limits

from numpy_mlp.io.progress import progress_bar
from numpy_mlp.model.loss import cross_entropy
from numpy_mlp.training.batches import PrefetchedBatches
from numpy_mlp.training.callbacks import Callback
from numpy_mlp.training.divergence import TrainingDivergedError, epoch_divergence
from numpy_mlp.training.fast import FastStep, NonFiniteLoss, ReferenceStep, is_one_hot
from numpy_mlp.training.flow import GradientFlow
from numpy_mlp.training.optimizers import SGD

if TYPE_CHECKING:  # an annotation only: the model calls fit, so training never imports it
    from numpy_mlp.model.mlp import MLP


@dataclass
class History:
    """What `fit` returns: `history[name]` is a list with one value per finished epoch.

    `diverged` is None, or the TrainingDivergedError that stopped this network (`fit_many` keeps
    training the others; `fit` raises it, with this History as its `history`).
    """

    history: dict[str, list[float]] = field(default_factory=dict)
    epoch: list[int] = field(default_factory=list)
    diverged: TrainingDivergedError | None = None

    def append(self, epoch: int, logs: dict[str, float]) -> None:
        self.epoch.append(epoch)
        for key, value in logs.items():
            self.history.setdefault(key, []).append(value)


def split_validation(X: np.ndarray, Y: np.ndarray, validation_split: float):
    """(X_train, Y_train, X_val, Y_val): the last `validation_split` fraction is for validation.

    The count is n - int(n * (1 - split)), as in Keras: 60,000 rows and 0.1 give 54,000 / 6,000.
    """
    if not 0.0 <= validation_split < 1.0:
        raise ValueError(f"validation_split must lie in [0, 1), got {validation_split}")
    n = X.shape[0]
    n_train = int(n * (1.0 - validation_split)) if validation_split else n
    return X[:n_train], Y[:n_train], X[n_train:], Y[n_train:]


def check_positive(name: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def evaluate(mlp: MLP, X: np.ndarray, Y: np.ndarray) -> tuple[float, float]:
    """(mean loss, accuracy as a fraction) on X, Y in chunks."""
    loss_sum, correct = 0.0, 0
    for start in range(0, X.shape[0], 4096):
        Xc, Yc = X[start : start + 4096], Y[start : start + 4096]
        Z_out = mlp.logits(Xc)
        loss_sum += float(cross_entropy(Z_out, Yc)) * Xc.shape[0]
        correct += int(np.count_nonzero(Z_out.argmax(axis=1) == Yc.argmax(axis=1)))
    return loss_sum / X.shape[0], correct / X.shape[0]


def epoch_line(epoch: int, epochs: int, logs: dict[str, float]) -> str:
    parts = [f"Epoch {epoch + 1}/{epochs}", f"{logs['seconds']:.2f}s"]
    parts += [f"{k}: {v:.4f}" for k, v in logs.items() if k != "seconds" and isinstance(v, float)]
    return " - ".join(parts)


def _finite(name: str, X: np.ndarray, chunk_rows: int = 4096) -> np.ndarray:
    """X, or ValueError naming the first non-finite entry (training on it cannot work).

    Checked a chunk of rows at a time, so the check adds no more than a chunk's worth of memory.
    """
    for start in range(0, X.shape[0], chunk_rows):
        block = X[start : start + chunk_rows]
        if not np.isfinite(block).all():
            row, col = np.argwhere(~np.isfinite(block))[0]
            raise ValueError(
                f"{name} holds a non-finite value ({block[row, col]}) at row {start + row}, "
                f"column {col}; clean the inputs before training"
            )
    return X


def prepare_data(mlp: MLP, X, Y, validation_split: float, validation_data):
    """(X_train, Y_train, X_val, Y_val) in the model's dtype, the training rows contiguous."""
    X = _finite("X", mlp.as_inputs(X))
    Y = mlp.as_targets(Y, X.shape[0])
    if validation_data is not None:
        if not isinstance(validation_data, tuple | list) or len(validation_data) != 2:
            raise ValueError("validation_data must be a pair (X_val, Y_val)")
        X_train, Y_train = X, Y
        X_val = _finite("validation X", mlp.as_inputs(validation_data[0]))
        Y_val = mlp.as_targets(validation_data[1], X_val.shape[0])
    else:
        X_train, Y_train, X_val, Y_val = split_validation(X, Y, validation_split)
    if X_train.shape[0] == 0:
        raise ValueError("no training rows left after the validation split")
    return np.ascontiguousarray(X_train), np.ascontiguousarray(Y_train), X_val, Y_val


def fit(
    mlp: MLP,
    X,
    Y,
    *,
    epochs: int = 50,
    batch_size: int = 64,
    optimizer: SGD | None = None,
    validation_split: float = 0.1,
    validation_data: tuple | None = None,
    shuffle: bool = True,
    seed: int | None = None,
    verbose: int = 1,
    callbacks: list[Callback] | None = None,
    engine: str = "fast",
    blas_threads: int | None = 1,
    gradient_flow: GradientFlow | None = None,
) -> History:
    """Train `mlp` in place with minibatch SGD and return the History.

    X: (n, d_in). Y: one-hot (n, k) or integer labels (n,). optimizer: an SGD (default: the
    tutorial's lr 0.001, momentum 0.9, decay 1e-7); it is kept on the model and resumes when fit is
    called again. validation_data=(X_val, Y_val) overrides validation_split. verbose: 0 silent,
    1 a progress bar per epoch (only on a terminal) and a line per epoch, 2 a line per epoch.
    engine: "fast" (preallocated, in-place; the default) or "reference" (the readable code path);
    both compute the same numbers. blas_threads: BLAS threads during training (None leaves the
    setting alone). One is the default: for minibatch-sized products a second BLAS thread spins
    while the step does its many small elementwise operations, and costs more than it gives
    (`mlp-compare bench` measures both). gradient_flow: a GradientFlow to record per-layer
    gradient norms and update ratios into the History (`grad_norm`, `update_ratio` per epoch).

    Raises TrainingDivergedError (with the History so far as its `history`) when training
    diverges by the rule of `numpy_mlp.training.divergence`: a non-finite batch loss or gradient
    (the weights are left as before that step), or after an epoch whose mean training loss is not
    finite or exceeds 2 ln k, or whose validation loss is not finite.
    """
    epochs = check_positive("epochs", epochs)
    batch_size = check_positive("batch_size", batch_size)
    if engine not in ("fast", "reference"):
        raise ValueError(f"engine must be 'fast' or 'reference', got {engine!r}")
    if verbose not in (0, 1, 2):
        raise ValueError(f"verbose must be 0, 1 or 2, got {verbose!r}")
    X_train, Y_train, X_val, Y_val = prepare_data(mlp, X, Y, validation_split, validation_data)
    n, B = X_train.shape[0], min(batch_size, X_train.shape[0])
    if optimizer is None:
        optimizer = mlp.optimizer if mlp.optimizer is not None else SGD()
    mlp.optimizer = optimizer
    if engine == "fast":
        step = FastStep(mlp, optimizer, B, one_hot=is_one_hot(Y_train))
    else:
        step = ReferenceStep(mlp, optimizer)
    if gradient_flow is not None:
        gradient_flow.start([W.shape for W in mlp.weights])
        step.flow = gradient_flow
    callbacks = list(callbacks or [])
    for callback in callbacks:
        callback.on_train_begin(mlp)

    rng = np.random.default_rng(seed)
    history = History()
    show_bar = verbose == 1 and sys.stderr.isatty()
    with training_scope(blas_threads, X_train, Y_train, B) as (stack, batches):
        for callback in callbacks:  # on_train_end runs however training ends
            stack.callback(callback.on_train_end)
        for epoch in range(epochs):
            started = time.perf_counter()
            order = rng.permutation(n) if shuffle else np.arange(n)
            bar = None
            if show_bar:
                bar = progress_bar(
                    total=-(-n // batch_size), desc=f"Epoch {epoch + 1}/{epochs}", unit="step"
                )
            try:
                sums = _train_epoch(step, batches.epoch(order), epoch, bar)
            except TrainingDivergedError as exc:
                exc.history = history
                raise
            logs = _epoch_logs(mlp, sums, n, (X_val, Y_val), gradient_flow, started)
            history.append(epoch, logs)
            if verbose:
                print(epoch_line(epoch, epochs, logs), flush=True)
            _raise_if_diverged(logs, epoch, mlp, optimizer, history)
            if callbacks_stop(callbacks, epoch, logs):
                break
    return history


@contextlib.contextmanager
def training_scope(blas_threads: int | None, X_train, Y_train, batch_size: int):
    """What a training run holds while it runs: the BLAS thread limit, floating-point errors
    silenced (a diverging run overflows before its loss turns non-finite; the divergence rule
    says so plainly) and the background batch gatherer with the labels taken once. Yields
    (ExitStack, PrefetchedBatches); the ExitStack takes callbacks to run on the way out."""
    with contextlib.ExitStack() as stack:
        if blas_threads is not None:
            stack.enter_context(threadpool_limits(limits=blas_threads, user_api="blas"))
        stack.enter_context(np.errstate(over="ignore", invalid="ignore", divide="ignore"))
        labels = np.argmax(Y_train, axis=1)  # the labels as integers, once
        batches = PrefetchedBatches(X_train, Y_train, batch_size, labels=labels)
        yield stack, stack.enter_context(batches)


def _epoch_logs(mlp: MLP, sums, n: int, validation, gradient_flow, started: float) -> dict:
    """An epoch's logs: mean training loss and accuracy, validation loss and accuracy (when
    there are validation rows), seconds since `started`, gradient flow (when recorded)."""
    (loss_sum, correct), (X_val, Y_val) = sums, validation
    logs = {"loss": loss_sum / n, "accuracy": correct / n}
    if X_val.shape[0]:
        logs["val_loss"], logs["val_accuracy"] = evaluate(mlp, X_val, Y_val)
    logs["seconds"] = time.perf_counter() - started
    if gradient_flow is not None:
        logs.update(gradient_flow.end_epoch())
    return logs


def _raise_if_diverged(logs: dict, epoch: int, mlp: MLP, optimizer: SGD, history: History):
    """TrainingDivergedError (with the History) when this epoch's logs break the divergence rule."""
    verdict = epoch_divergence(logs, mlp.n_classes)
    if verdict is not None:
        what, value = verdict
        exc = TrainingDivergedError(
            epoch + 1, None, value, optimizer.learning_rate, what, n_classes=mlp.n_classes
        )
        exc.history = history
        raise exc


def callbacks_stop(callbacks: list[Callback], epoch: int, logs: dict[str, float]) -> bool:
    """Every callback sees the epoch's logs; True if any asks to stop."""
    stop = False
    for callback in callbacks:
        stop = callback.on_epoch_end(epoch, logs) or stop
    return stop


def _train_epoch(step, batches, epoch: int, bar) -> tuple[float, int]:
    """One epoch of SGD steps over `batches`; returns (sum of batch loss x rows, correct rows)."""
    loss_sum, correct, rows = 0.0, 0, 0
    try:
        for s, batch in enumerate(batches):
            A_in = batch[0]
            try:
                loss, hits = step.train_batch(*batch)
            except NonFiniteLoss as exc:
                raise TrainingDivergedError(
                    epoch + 1, s + 1, exc.loss, step.optimizer.learning_rate, exc.what
                ) from None
            loss_sum += loss * A_in.shape[0]
            correct += hits
            rows += A_in.shape[0]
            if bar is not None and s % 25 == 24:
                bar.update(s + 1 - bar.n)
                bar.set_postfix(loss=f"{loss_sum / rows:.4f}", refresh=False)
    finally:
        if bar is not None:
            bar.close()
    return loss_sum, correct
