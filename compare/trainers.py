"""Training either implementation on MNIST with the same settings, returning the same record.

`train_numpy` and `train_keras` take a `Settings` and the prepared `MnistData` and return a
`TrainResult`: the per-epoch history (Keras key names, accuracy as a fraction), the time of each
epoch, accuracies in percent on all training rows and on the test set, the test predictions, the
first-layer weights (bias-row layout) and a way to save the model.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from compare.config import Settings
from compare.data import MnistData


@dataclass
class TrainResult:
    impl: str
    history: dict[str, list[float]]
    epoch_seconds: list[float]
    train_accuracy: float  # percent, all training rows (validation rows included, as the tutorial)
    test_accuracy: float  # percent
    train_loss: float  # last epoch, as logged during training
    val_loss: float | None
    val_accuracy: float | None  # percent
    test_pred: np.ndarray
    test_proba: np.ndarray  # (n_test, k) predicted probabilities
    first_predictions: list[int]  # first three predicted training labels (the tutorial prints them)
    first_layer: np.ndarray  # W_h1 in the bias-row layout
    initial_first_layer: np.ndarray  # W_h1 before training
    predict_seconds: float  # predicting the whole test set once, after warm-up
    save: Callable[[str], None] = field(repr=False)
    extra: dict = field(default_factory=dict)

    def summary(self) -> dict:
        """JSON-ready numbers (no arrays)."""
        return {
            "train_accuracy": self.train_accuracy,
            "test_accuracy": self.test_accuracy,
            "val_accuracy": self.val_accuracy,
            "train_loss": self.train_loss,
            "val_loss": self.val_loss,
            "epochs_run": len(self.epoch_seconds),
            "epoch_seconds": self.epoch_seconds,
            "predict_seconds": self.predict_seconds,
            "history": self.history,
            **self.extra,
        }


def _last(history: dict, key: str, scale: float = 1.0) -> float | None:
    values = history.get(key) or []
    return float(values[-1]) * scale if values else None


def _result(
    impl: str,
    history: dict,
    data: MnistData,
    predict_proba: Callable[[np.ndarray], np.ndarray],
    first_layer: np.ndarray,
    initial_first_layer: np.ndarray,
    save: Callable[[str], None],
    extra: dict | None = None,
) -> TrainResult:
    """The TrainResult of a trained model, given its history and its probabilities function."""
    h = {key: [float(x) for x in values] for key, values in history.items()}
    predict_proba(data.X_test)  # warm-up (first-call costs such as graph tracing are not timed)
    started = time.perf_counter()
    test_proba = predict_proba(data.X_test)
    test_pred = np.argmax(test_proba, axis=1)
    predict_seconds = time.perf_counter() - started
    train_pred = np.argmax(predict_proba(data.X_train), axis=1)
    return TrainResult(
        impl=impl,
        history=h,
        epoch_seconds=h["seconds"],
        train_accuracy=float(np.mean(train_pred == data.y_train) * 100),
        test_accuracy=float(np.mean(test_pred == data.y_test) * 100),
        train_loss=float(h["loss"][-1]),
        val_loss=_last(h, "val_loss"),
        val_accuracy=_last(h, "val_accuracy", 100.0),
        test_pred=test_pred,
        test_proba=test_proba,
        first_predictions=train_pred[:3].tolist(),
        first_layer=first_layer,
        initial_first_layer=initial_first_layer,
        predict_seconds=predict_seconds,
        save=save,
        extra=extra or {},
    )


def build_numpy(settings: Settings):
    """numpy_mlp.MLP for `settings` (layers, activation, init, seed, dtype)."""
    from numpy_mlp import MLP

    return MLP(
        settings.layers, seed=settings.seed, dtype=settings.dtype, **settings.network_kwargs()
    )


def fit_numpy(mlp, data: MnistData, settings: Settings, **options) -> dict:
    """mlp.fit on data's training rows with `settings` (epochs, batch, optimizer, validation
    split, seed, early stopping); `options` go to fit as they are. Returns the history dict."""
    from numpy_mlp import SGD, EarlyStopping

    callbacks = list(options.pop("callbacks", None) or [])
    if settings.early_stopping and not any(isinstance(c, EarlyStopping) for c in callbacks):
        callbacks.append(early_stopper(settings))
    options.setdefault("blas_threads", settings.numpy_threads)
    return mlp.fit(
        data.X_train,
        data.y_train,
        epochs=settings.epochs,
        batch_size=settings.batch_size,
        optimizer=SGD(**settings.optimizer_kwargs()),
        validation_split=settings.validation_split,
        seed=settings.seed,
        callbacks=callbacks,
        **options,
    ).history


def early_stopper(settings: Settings, keras=None):
    """`--early-stopping N` on either side: EarlyStopping(monitor="val_loss", patience=N,
    restore_best_weights=True), numpy_mlp's or (given the keras module) Keras's; the two follow
    the same rule (numpy_mlp's is Keras's, rule for rule)."""
    if keras is None:
        from numpy_mlp import EarlyStopping
    else:
        EarlyStopping = keras.callbacks.EarlyStopping  # noqa: N806 - the class, by its name
    return EarlyStopping(
        monitor="val_loss", patience=settings.early_stopping, restore_best_weights=True
    )


def stopping_record(stopper, epochs_run: int) -> dict:
    """What an early stopper did, epochs counted from 1: {"patience", "stopped_epoch" (None
    if it did not stop), "best_epoch", "epochs_run"}."""
    return {
        "patience": stopper.patience,
        "stopped_epoch": stopper.stopped_epoch + 1 if stopper.stopped_epoch > 0 else None,
        "best_epoch": stopper.best_epoch + 1,
        "epochs_run": epochs_run,
    }


def train_numpy(data: MnistData, settings: Settings, *, verbose: int = 1) -> TrainResult:
    """Train numpy_mlp.MLP with `settings`; returns the TrainResult."""
    mlp = build_numpy(settings)
    initial = mlp.weights[0].copy()
    stopper = early_stopper(settings) if settings.early_stopping else None
    history = fit_numpy(
        mlp, data, settings, verbose=verbose, callbacks=[stopper] if stopper else []
    )
    extra = {"early_stopping": stopping_record(stopper, len(history["loss"]))} if stopper else {}
    return _result(
        "numpy", history, data, mlp.predict_proba, mlp.weights[0], initial, mlp.save, extra
    )


def train_keras(
    data: MnistData,
    settings: Settings,
    *,
    verbose: int = 1,
    steps_per_execution: int = 1,
    jit_compile: bool | str = "auto",
) -> TrainResult:
    """Train keras_mlp.build_model with `settings` via `model.fit`; returns the TrainResult.

    steps_per_execution and jit_compile default to Keras's own defaults, so that the timing is
    that of Keras as a user gets it (`mlp-compare bench` tries faster settings).
    """
    from compare.environment import keras_device
    from keras_mlp import (
        build_model,
        floatx_of,
        get_numpy_weights,
        predict_proba,
        save_model,
        set_numpy_weights,
    )
    from keras_mlp.backend import keras
    from keras_mlp.callbacks import divergence_guard, epoch_timer

    k = keras()
    k.utils.set_random_seed(settings.seed)  # fit's shuffling, like the tutorial's seeding
    model = build_model(
        settings.layers,
        seed=settings.seed,
        dtype=settings.dtype,
        steps_per_execution=steps_per_execution,
        jit_compile=jit_compile,
        **settings.optimizer_kwargs(),
        **settings.network_kwargs(),
    )
    if settings.keras_init == "numpy":  # the NumPy model's initial weights, same seed
        set_numpy_weights(model, build_numpy(settings).weights)
    initial = get_numpy_weights(model)[0]
    timer = epoch_timer()
    guard = divergence_guard(settings.layers[-1], settings.learning_rate)  # numpy_mlp's rule
    callbacks = [timer, k.callbacks.TerminateOnNaN(), guard]
    stopper = early_stopper(settings, k) if settings.early_stopping else None
    if stopper is not None:
        callbacks.append(stopper)
    with floatx_of(model):  # keep float64 inputs float64 (fit casts inputs to floatx)
        fit = model.fit(
            data.X_train,
            data.Y_train,
            batch_size=settings.batch_size,
            epochs=settings.epochs,
            verbose=verbose,
            validation_split=settings.validation_split,
            callbacks=callbacks,
        )
    if guard.error is not None:
        raise guard.error
    losses = fit.history.get("loss", [])
    if not np.all(np.isfinite(losses)):
        epoch = int(np.argmax(~np.isfinite(losses))) + 1
        raise FloatingPointError(
            f"Keras loss became non-finite in epoch {epoch} (after "
            f"{int(k.ops.convert_to_numpy(model.optimizer.iterations))} updates; TerminateOnNaN "
            "stopped it). "
            f"Try a smaller learning rate (it was {settings.learning_rate:g})."
        )
    return _result(
        "keras",
        {**fit.history, "seconds": timer.seconds},
        data,
        lambda X: predict_proba(model, X),
        get_numpy_weights(model)[0],
        initial,
        lambda path: save_model(model, path),
        extra={
            "backend": k.backend.backend(),
            "device": keras_device(),
            "steps_per_execution": steps_per_execution,
            "jit_compile": jit_compile,
            "initial_weights": "the NumPy model's"
            if settings.keras_init == "numpy"
            else "Keras's own initializers",
            **(
                {"early_stopping": stopping_record(stopper, len(fit.history.get("loss", [])))}
                if stopper is not None
                else {}
            ),
        },
    )
