"""Gradients by the backend's own automatic differentiation, in numpy_mlp's bias-row layout.

One Keras model, three ways to differentiate it: tf.GradientTape around the model's call
(TensorFlow), jax.value_and_grad over the model's stateless call (JAX), torch.autograd.grad through
the graph the call recorded (PyTorch). The loss each differentiates is the same: the model's own
loss object (built with the model's dtype by `build_model`) plus any regularization terms.
"""

from __future__ import annotations

import numpy as np

from keras_mlp.backend import keras, to_numpy
from keras_mlp.convert import dense_layers, to_bias_rows
from numpy_mlp.model.targets import as_targets


def loss_and_gradients(model, X, Y) -> tuple[float, list[np.ndarray]]:
    """(L, [dL/dW for every Dense layer]) for the batch, L the batch-mean loss the model trains on.

    X: (n, d_in); Y: one-hot (n, k) or labels (n,). (`model.compute_loss` would give the same
    gradients, but it rounds the loss *value* to float32 even in a float64 model.)
    """
    k = keras()
    layers = dense_layers(model)
    dtype = k.backend.standardize_dtype(layers[0].kernel.dtype)
    X = np.asarray(X, dtype=dtype)
    Y = as_targets(Y, layers[-1].kernel.shape[1], dtype, X.shape[0])
    differentiate = {"tensorflow": _tensorflow, "jax": _jax, "torch": _torch}[k.backend.backend()]
    loss, grads = differentiate(model, k.ops.convert_to_tensor(X), k.ops.convert_to_tensor(Y))
    by_path = {v.path: to_numpy(g) for v, g in zip(model.trainable_variables, grads, strict=True)}
    return float(to_numpy(loss)), [
        to_bias_rows(by_path[layer.kernel.path], by_path[layer.bias.path]) for layer in layers
    ]


def gradients(model, X, Y) -> list[np.ndarray]:
    """dL/dW for every Dense layer, in the bias-row layout; see `loss_and_gradients`."""
    return loss_and_gradients(model, X, Y)[1]


def _loss(model, Y, P, extra_losses):
    loss = model.loss(Y, P)
    for extra in extra_losses:  # L2 penalties, if the model has them
        loss = loss + extra
    return loss


def _tensorflow(model, X, Y):
    import tensorflow as tf

    with tf.GradientTape() as tape:
        loss = _loss(model, Y, model(X, training=True), model.losses)
    return loss, tape.gradient(loss, model.trainable_variables)


def _jax(model, X, Y):
    import jax

    non_trainable = [v.value for v in model.non_trainable_variables]

    def loss_of(trainable):
        P, _, extra = model.stateless_call(
            trainable, non_trainable, X, training=True, return_losses=True
        )
        return _loss(model, Y, P, extra)

    return jax.value_and_grad(loss_of)([v.value for v in model.trainable_variables])


def _torch(model, X, Y):
    import torch

    variables = [v.value for v in model.trainable_variables]
    loss = _loss(model, Y, model(X, training=True), model.losses)
    return loss.detach(), torch.autograd.grad(loss, variables)
