"""One trained network of a study: its settings in, a JSON-ready record out.

A record holds the status ("complete", or "diverged": numpy_mlp's rule, see
`numpy_mlp.training.divergence`; a diverged record keeps the epochs before it and says when), the
accuracies in percent (training rows, the last epoch's validation rows, the test set), the epoch
with the best validation accuracy, the seconds it took and the per-epoch history. Non-finite
numbers are stored as null, so every file is strict JSON.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Sequence

import numpy as np

from compare.config import Settings
from compare.data import MnistData, load_data
from compare.jsonio import json_safe


@functools.lru_cache(maxsize=4)
def cached_data(data_dir: str | None, dtype: str, limit: int | None) -> MnistData:
    """MNIST as load_data gives it, loaded once per process (study workers reuse it)."""
    return load_data(data_dir, dtype=dtype, limit=limit)


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
    from numpy_mlp import GradientFlow, TrainingDivergedError

    mlp = mlp if mlp is not None else build(settings)
    flow = GradientFlow(every=gradient_flow_every) if gradient_flow_every else None
    started = time.perf_counter()
    try:
        history = fit_numpy(mlp, data, settings, verbose=0, gradient_flow=flow, callbacks=callbacks)
    except TrainingDivergedError as exc:
        return diverged_record(exc, data, time.perf_counter() - started)
    return complete_record(mlp, history, data, time.perf_counter() - started)


def train_group(settings: Sequence[Settings], data: MnistData) -> list[dict]:
    """Train networks whose settings differ only in their optimizer together (`fit_many`: the
    same batches, one pass over the data); one record each, equal to what `train_cell` gives."""
    from numpy_mlp import SGD, fit_many

    s0 = settings[0]
    mlps = [build(s) for s in settings]
    started = time.perf_counter()
    histories = fit_many(
        mlps,
        [SGD(**s.optimizer_kwargs()) for s in settings],
        data.X_train,
        data.y_train,
        epochs=s0.epochs,
        batch_size=s0.batch_size,
        validation_split=s0.validation_split,
        seed=s0.seed,
        blas_threads=s0.numpy_threads,
    )
    seconds = (time.perf_counter() - started) / len(settings)  # the group's time, shared
    records = []
    for mlp, history in zip(mlps, histories, strict=True):
        if history.diverged is not None:
            records.append(diverged_record(history.diverged, data, seconds))
        else:
            records.append(complete_record(mlp, history.history, data, seconds))
    return records


def complete_record(mlp, history: dict, data: MnistData, seconds: float) -> dict:
    """The record of a network that finished training: its predictions on data decide the
    accuracies."""
    predicted = (mlp.predict_classes(data.X_train), mlp.predict_classes(data.X_test))
    return finish_record(history, data, seconds, "complete", predicted=predicted)


def diverged_record(exc, data: MnistData, seconds: float) -> dict:
    """The record of a network whose training diverged: its epochs until then, and why."""
    history = exc.history.history if exc.history is not None else {}
    record = finish_record(history, data, seconds, "diverged", str(exc))
    record["diverged_epoch"] = exc.epoch
    return record


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
    answers = np.bincount(test_pred)  # how often the network gives each class on the test set
    record.update(
        train_accuracy=_percent(train_pred, data.y_train),
        val_accuracy=100 * val[-1] if val else None,
        test_accuracy=_percent(test_pred, data.y_test),
        best_epoch=int(np.argmax(val)) + 1 if val else None,
        # the answer given most often on the test set, and to what share of it (a network at
        # chance often answers one class for every image)
        test_top_class=int(answers.argmax()),
        test_top_class_percent=float(answers.max() / len(test_pred) * 100.0),
        epochs_run=len(history.get("loss", [])),
    )
    return json_safe(record)


def _percent(predicted: np.ndarray, labels: np.ndarray) -> float:
    return float(np.mean(predicted == labels) * 100.0)


def val_accuracy(record: dict) -> float | None:
    """The final validation accuracy of a finished run in percent, None for a diverged one (or
    one without validation rows): the accuracy the study chooses rates on, so the test set only
    reports."""
    values = (record.get("history") or {}).get("val_accuracy") or []
    return 100.0 * values[-1] if record["status"] == "complete" and values else None
