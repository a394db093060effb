"""Gradients by TensorFlow's automatic differentiation, in numpy_mlp's bias-row layout."""

from __future__ import annotations

import numpy as np

from keras_mlp.convert import dense_layers, to_bias_rows
from keras_mlp.tf import tensorflow
from numpy_mlp.model.targets import as_targets


def loss_and_gradients(model, X, Y) -> tuple[float, list[np.ndarray]]:
    """(L, [dL/dW for every Dense layer]) for the batch, L the batch-mean loss the model trains on.

    X: (n, d_in); Y: one-hot (n, k) or labels (n,). The loss is the model's own loss object (built
    with the model's dtype by `build_model`) plus any regularization terms, differentiated by
    tf.GradientTape. (`model.compute_loss` would give the same gradients, but it rounds the loss
    *value* to float32 even in a float64 model.)
    """
    tf = tensorflow()
    layers = dense_layers(model)
    dtype = layers[0].kernel.dtype
    X = tf.convert_to_tensor(np.asarray(X, dtype=dtype))
    Y = tf.convert_to_tensor(as_targets(Y, layers[-1].kernel.shape[1], dtype, X.shape[0]))
    variables = [v for layer in layers for v in (layer.kernel, layer.bias)]
    with tf.GradientTape() as tape:
        P = model(X, training=True)
        loss = model.loss(Y, P)
        for extra in model.losses:  # L2 penalties, if the model has them
            loss = loss + extra
    grads = tape.gradient(loss, variables)
    return float(loss), [
        to_bias_rows(grads[2 * i].numpy(), grads[2 * i + 1].numpy()) for i in range(len(layers))
    ]


def gradients(model, X, Y) -> list[np.ndarray]:
    """dL/dW for every Dense layer, in the bias-row layout; see `loss_and_gradients`."""
    return loss_and_gradients(model, X, Y)[1]
