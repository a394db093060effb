"""One trained network of a study: its settings in, a JSON-ready record out.

A record holds the status ("complete", or "diverged": see `diverged`), the
accuracies in percent (training rows, the last epoch's validation rows, the test set), the epoch
with the best validation accuracy, the seconds it took and the per-epoch history. Non-finite
numbers are stored as null, so every file is strict JSON.
"""

from __future__ import annotations

import functools
import math
import time
from collections.abc import Callable

import numpy as np

from compare.config import Settings
from compare.data import MnistData, load_data
from compare.jsonio import json_safe


@functools.lru_cache(maxsize=4)
def cached_data(data_dir: str | None, dtype: str, limit: int | None) -> MnistData:
    """MNIST as load_data gives it, loaded once per process (study workers reuse it)."""
    return load_data(data_dir, dtype=dtype, limit=limit)


def loss_bound(n_classes: int) -> float:
    """2 ln k: twice the loss of guessing every class with probability 1/k."""
    return 2.0 * math.log(n_classes)


def diverged(epoch_loss: float, n_classes: int) -> bool:
    """A cell has diverged when an epoch's mean training loss is not finite or exceeds 2 ln k.

    Training that made the network twice as wrong as a uniform guess has run away: with a
    saturating activation the loss can grow for ever without becoming infinite (a learning rate of
    10 on the tutorial's network reaches ~50 within two epochs), so "not finite" alone misses it.
    """
    return not math.isfinite(epoch_loss) or epoch_loss > loss_bound(n_classes)


def divergence_message(epoch: int, epoch_loss: float, n_classes: int) -> str:
    return (
        f"mean training loss {epoch_loss:.4g} in epoch {epoch}, above 2 ln {n_classes} = "
        f"{loss_bound(n_classes):.2f} (worse than guessing); training stopped"
    )


def build(settings: Settings):
    """The MLP for `settings` (layers, activation, init, seed, dtype)."""
    from compare.trainers import build_numpy

    return build_numpy(settings)


def train_cell(
    settings: Settings,
    data: MnistData,
    *,
    gradient_flow_every: int = 0,
    callbacks: list | None = None,
    mlp=None,
) -> dict:
    """Train one network with `settings` on `data`; return its record (see the module docstring).

    gradient_flow_every > 0 also records per-layer gradient norms and update ratios (every that
    many steps). `mlp` may be given to train a network built (and inspected) beforehand.
    """
    from compare.trainers import fit_numpy
    from numpy_mlp import GradientFlow
    from numpy_mlp.training.loop import TrainingDivergedError

    mlp = mlp if mlp is not None else build(settings)
    flow = GradientFlow(every=gradient_flow_every) if gradient_flow_every else None
    guard = epoch_probe(lambda: None, stop_if=lambda logs: diverged(logs["loss"], mlp.n_classes))
    started = time.perf_counter()
    status, error = "complete", None
    try:
        history = fit_numpy(
            mlp,
            data,
            settings,
            verbose=0,
            gradient_flow=flow,
            callbacks=[*(callbacks or []), guard],
        )
    except TrainingDivergedError as exc:
        status, error, history = "diverged", str(exc), {}
    else:
        losses = history["loss"]
        if diverged(losses[-1], mlp.n_classes):
            status = "diverged"
            error = divergence_message(len(losses), losses[-1], mlp.n_classes)
    seconds = time.perf_counter() - started
    if status != "complete":
        return finish_record(history, data, seconds, status, error)
    predicted = (mlp.predict_classes(data.X_train), mlp.predict_classes(data.X_test))
    return finish_record(history, data, seconds, status, error, predicted=predicted)


def finish_record(
    history: dict,
    data: MnistData,
    seconds: float,
    status: str,
    error: str | None = None,
    *,
    predicted: tuple[np.ndarray, np.ndarray] | None = None,
) -> dict:
    """The JSON-ready record of a trained network (see the module docstring).

    predicted: the network's classes for data's training and test rows (when complete).
    """
    record = {"status": status, "seconds": seconds, "history": history}
    if status != "complete":
        return json_safe({**record, "error": error})
    val = history.get("val_accuracy") or []
    train_pred, test_pred = predicted
    record.update(
        train_accuracy=_percent(train_pred, data.y_train),
        val_accuracy=100 * val[-1] if val else None,
        test_accuracy=_percent(test_pred, data.y_test),
        best_epoch=int(np.argmax(val)) + 1 if val else None,
        epochs_run=len(history.get("loss", [])),
    )
    return json_safe(record)


def _percent(predicted: np.ndarray, labels: np.ndarray) -> float:
    return float(np.mean(predicted == labels) * 100.0)


def epoch_probe(probe: Callable[[], object], stop_if: Callable[[dict], bool] | None = None):
    """A fit callback calling `probe()` after every epoch (results in `.values`); it stops
    training when `stop_if(logs)` is true."""
    from numpy_mlp import Callback

    class Probe(Callback):
        def __init__(self) -> None:
            self.values: list = []

        def on_epoch_end(self, epoch: int, logs: dict) -> bool:
            self.values.append(probe())
            return bool(stop_if and stop_if(logs))

    return Probe()
