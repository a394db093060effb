"""Compiled TensorFlow functions for one forward pass, one backward pass and one training step.

These are what a fair benchmark times: each is a `tf.function`, traced once (call it once before
timing), taking tensors already on the device, so the timed rounds measure TensorFlow's execution
and not Python-to-tensor conversion or graph tracing.
"""

from __future__ import annotations

from keras_mlp.tf import tensorflow


def forward_fn(model, *, jit_compile: bool = False):
    """X -> softmax probabilities, compiled."""
    tf = tensorflow()

    @tf.function(jit_compile=jit_compile)
    def forward(X):
        return model(X, training=False)

    return forward


def gradient_fn(model, *, jit_compile: bool = False):
    """(X, Y) -> (loss, gradients of every trainable variable), compiled; no update."""
    tf = tensorflow()
    variables = model.trainable_variables

    @tf.function(jit_compile=jit_compile)
    def backward(X, Y):
        with tf.GradientTape() as tape:
            loss = model.loss(Y, model(X, training=True))
        return loss, tape.gradient(loss, variables)

    return backward


def train_step_fn(model, *, jit_compile: bool = False):
    """(X, Y) -> loss, after one update by the model's optimizer; compiled."""
    tf = tensorflow()
    variables = model.trainable_variables
    optimizer = model.optimizer

    @tf.function(jit_compile=jit_compile)
    def train_step(X, Y):
        with tf.GradientTape() as tape:
            loss = model.loss(Y, model(X, training=True))
        optimizer.apply(tape.gradient(loss, variables), variables)
        return loss

    return train_step
