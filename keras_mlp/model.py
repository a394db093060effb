"""The tutorial's network in Keras 3, for today's Keras.

What changed since the tutorial: `SGD(decay=...)` is gone (the same schedule is now
`InverseTimeDecay(eta_0, decay_steps=1, decay_rate=decay)`), `predict_classes` is gone (argmax of
`predict`), and hyperparameters are passed as NumPy float64 scalars because Keras turns a Python float
into a float32 tensor first: in a float64 model momentum=0.9 would act as 0.89999997615814. For
the same reason the loss is given the model's dtype explicitly. The hyperparameters' defaults are
numpy_mlp.SGD's, so both sides default to the same optimizer.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence

import numpy as np

from keras_mlp.tf import keras
from numpy_mlp.model.activations import get_activation
from numpy_mlp.model.initializers import get_initializer
from numpy_mlp.model.mlp import check_dtype, check_layer_sizes
from numpy_mlp.training.optimizers import DECAY, LEARNING_RATE, MOMENTUM, SGD


def make_optimizer(
    *,
    learning_rate: float = LEARNING_RATE,
    momentum: float = MOMENTUM,
    decay: float = DECAY,
    nesterov: bool = False,
):
    """Keras SGD with classical momentum and eta_t = eta_0 / (1 + decay * t).

    The values are checked as numpy_mlp.SGD checks them (ValueError), before Keras sees them.
    """
    SGD(learning_rate=learning_rate, momentum=momentum, decay=decay, nesterov=nesterov)
    k = keras()
    schedule = k.optimizers.schedules.InverseTimeDecay(
        np.float64(learning_rate), decay_steps=1, decay_rate=np.float64(decay)
    )
    return k.optimizers.SGD(
        learning_rate=schedule, momentum=np.float64(momentum), nesterov=nesterov
    )


def l2_penalty(strength: float):
    """A Keras regularizer strength * sum(kernel^2), with the factor in the kernel's own dtype.

    keras.regularizers.L2 casts its Python-float factor through float32 first, which puts a
    float64 model's gradients off by ~1e-8 relative; this one builds the factor in the kernel's
    dtype directly.
    """
    k = keras()

    class ExactL2(k.regularizers.Regularizer):
        def __init__(self, l2: float) -> None:
            self.l2 = float(l2)

        def __call__(self, x):
            factor = np.asarray(self.l2, dtype=np.dtype(k.backend.standardize_dtype(x.dtype)))
            return k.ops.convert_to_tensor(factor) * k.ops.sum(k.ops.square(x))

        def get_config(self) -> dict:
            return {"l2": self.l2}

    return ExactL2(strength)


def build_model(
    layer_sizes: Sequence[int],
    *,
    seed: int = 123,
    learning_rate: float = LEARNING_RATE,
    momentum: float = MOMENTUM,
    decay: float = DECAY,
    dtype: str = "float32",
    nesterov: bool = False,
    weight_decay: float = 0.0,
    steps_per_execution: int = 1,
    jit_compile: bool | str = False,
    activation: str = "tanh",
    init: str = "glorot_uniform",
):
    """A compiled keras.Sequential: Dense hidden layers with `activation`, a Dense softmax output.

    activation: numpy_mlp's name ("tanh", "logistic" = Keras's "sigmoid", "relu"); init:
    "glorot_uniform", "he_uniform" or "random_normal" (seeded per layer); zero biases; SGD with
    momentum and the old Keras learning-rate decay, categorical cross-entropy, accuracy. `dtype`
    is set on every layer (no global policy change). weight_decay adds an L2 penalty
    (weight_decay / 2) * ||kernel||^2, whose gradient weight_decay * kernel is what numpy_mlp's
    SGD(weight_decay=...) adds; biases are free.
    jit_compile defaults to False so that the arithmetic is the plain TensorFlow kernels'.
    """
    k = keras()
    sizes = check_layer_sizes(layer_sizes)
    dtype = check_dtype(dtype).name
    hidden = get_activation(activation).keras_name
    get_initializer(init)  # the same names and errors as numpy_mlp
    regularizer = l2_penalty(weight_decay / 2.0) if weight_decay else None
    layers = [k.Input(shape=(sizes[0],), dtype=dtype)]
    for i, units in enumerate(sizes[1:]):
        last = i == len(sizes) - 2
        layers.append(
            k.layers.Dense(
                units,
                activation="softmax" if last else hidden,
                kernel_initializer=_keras_initializer(init, seed + i),
                bias_initializer="zeros",
                kernel_regularizer=regularizer,
                dtype=dtype,
                name="out" if last else f"h{i + 1}",
            )
        )
    model = k.Sequential(layers, name="mlp_" + "_".join(map(str, sizes)))
    # compile() builds its loss wrapper with floatx as its dtype; make that the model's dtype, or a
    # float64 model reports a float32 loss (and cannot add its float64 L2 penalty to it).
    with floatx(dtype):
        model.compile(
            optimizer=make_optimizer(
                learning_rate=learning_rate, momentum=momentum, decay=decay, nesterov=nesterov
            ),
            # The loss gets the model's dtype: by default Keras computes losses in floatx (float32),
            # which would silently round a float64 model's loss and gradients to float32.
            loss=k.losses.CategoricalCrossentropy(dtype=dtype),
            metrics=["accuracy"],
            steps_per_execution=steps_per_execution,
            jit_compile=jit_compile,
        )
    return model


def _keras_initializer(init: str, seed: int):
    k = keras()
    if init == "random_normal":
        return k.initializers.RandomNormal(mean=0.0, stddev=0.05, seed=seed)
    if init == "glorot_uniform_x4":  # Glorot's limit times 4: variance scale 4^2
        return k.initializers.VarianceScaling(16.0, "fan_avg", "uniform", seed=seed)
    if init == "lecun_uniform":
        return k.initializers.LecunUniform(seed=seed)
    return {"glorot_uniform": k.initializers.GlorotUniform, "he_uniform": k.initializers.HeUniform}[
        init
    ](seed=seed)


def model_dtype(model) -> str:
    """'float32' or 'float64': the dtype of the model's first kernel."""
    first = next(layer for layer in model.layers if layer.weights)
    return keras().backend.standardize_dtype(first.kernel.dtype)


@contextlib.contextmanager
def floatx(dtype: str) -> Iterator[None]:
    """Temporarily set Keras's floatx to `dtype`; restored on exit."""
    k = keras()
    saved = k.config.floatx()
    k.config.set_floatx(dtype)
    try:
        yield
    finally:
        k.config.set_floatx(saved)


def floatx_of(model):
    """Temporarily set Keras's floatx to the model's dtype (a context manager).

    `fit`, `predict` and `evaluate` cast float NumPy inputs to floatx (float32 by default) before
    the model sees them, which would round a float64 model's inputs to float32. Wrapping those calls
    in this scope keeps them in float64; nothing outside the scope sees the change.
    """
    return floatx(model_dtype(model))


def predict_proba(model, X, *, batch_size: int = 4096) -> np.ndarray:
    """The model's class probabilities, (n, d) -> (n, k), computed in the model's own dtype."""
    with floatx_of(model):
        return model.predict(X, batch_size=batch_size, verbose=0)


def predict_classes(model, X, *, batch_size: int = 4096) -> np.ndarray:
    """argmax over the predicted probabilities (the method Keras removed). X (n, d) -> (n,)."""
    return np.argmax(predict_proba(model, X, batch_size=batch_size), axis=1)


def save_model(model, path) -> None:
    """model.save(path), atomically: Keras writes in place, so it writes a temporary sibling
    (`.NAME.part.keras`) that is renamed onto `path` only once complete; removed on any failure,
    Ctrl-C included."""
    import os
    from pathlib import Path

    path = Path(path)
    tmp = path.with_name(f".{path.stem}.part{path.suffix or '.keras'}")
    try:
        model.save(tmp)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
