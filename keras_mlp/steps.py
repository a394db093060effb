"""Compiled functions for one forward pass, one backward pass, one training step and one epoch.

These are what a fair benchmark times: each is compiled once (call it once before timing), taking
tensors already on the device, so the timed rounds measure the backend's execution and not
Python-to-tensor conversion, graph tracing or compilation. `forward_fn`, `gradient_fn` and
`train_step_fn` are TensorFlow's `tf.function`s; `epoch_fn` runs a whole epoch of train steps on
any backend (TensorFlow, JAX, PyTorch), compiled as that backend allows.
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


# How a whole epoch of train steps can be compiled, per backend: the first setting is the plain
# compiled (or, for PyTorch, eager) step called from Python once per batch; the second compiles
# more (XLA for TensorFlow, the whole epoch as one program for JAX, torch.compile for PyTorch).
EPOCH_SETTINGS = {
    "tensorflow": ("tf.function", "tf.function + XLA"),
    "jax": ("jax.jit step", "jax.jit epoch (lax.scan)"),
    "torch": ("eager", "torch.compile"),
}


def epoch_fn(model, Xb, Yb, setting: str):
    """One epoch of the model's train steps (its loss, its optimizer) over prepared batches, as a
    function that runs it and returns once the last update is computed.

    Xb: (steps, batch, d_in), Yb: (steps, batch, k) NumPy arrays, put on the backend's device
    here, once (the input pipeline is not what is timed). After each call the model holds the
    trained weights, whichever the setting. `setting`: one of the backend's
    EPOCH_SETTINGS. Call it once before timing: the first call traces and compiles.
    """
    from keras_mlp.backend import backend_name

    backend = backend_name()
    if setting not in EPOCH_SETTINGS[backend]:
        raise ValueError(f"{setting!r} is not a {backend} setting: {EPOCH_SETTINGS[backend]}")
    from keras_mlp.model import floatx_of

    build = {"tensorflow": _tf_epoch, "jax": _jax_epoch, "torch": _torch_epoch}[backend]
    with floatx_of(model):  # a float64 model's optimizer constants in float64 (see build_model)
        inner = build(model, Xb, Yb, setting)

    def run() -> None:
        with floatx_of(model):
            inner()

    return run


def _tf_epoch(model, Xb, Yb, setting):
    tf = tensorflow()
    step = train_step_fn(model, jit_compile=setting.endswith("XLA"))
    batches = [(tf.constant(X), tf.constant(Y)) for X, Y in zip(Xb, Yb, strict=True)]

    def run() -> None:
        loss = None
        for X, Y in batches:
            loss = step(X, Y)
        float(loss)  # wait for the last step

    return run


def _jax_epoch(model, Xb, Yb, setting):
    import jax

    optimizer = model.optimizer
    optimizer.build(model.trainable_variables)

    def loss_of(trainable, non_trainable, X, Y):
        P, non_trainable = model.stateless_call(trainable, non_trainable, X, training=True)
        return model.loss(Y, P), non_trainable

    gradient = jax.value_and_grad(loss_of, has_aux=True)

    def step(state, X, Y):
        trainable, non_trainable, slots = state
        (loss, non_trainable), grads = gradient(trainable, non_trainable, X, Y)
        trainable, slots = optimizer.stateless_apply(slots, grads, trainable)
        return (trainable, non_trainable, slots), loss

    state = [
        [v.value for v in model.trainable_variables],
        [v.value for v in model.non_trainable_variables],
        [v.value for v in optimizer.variables],
    ]

    def keep(current) -> None:
        """The new state for the next epoch, and the weights written back into the model."""
        state[:] = list(current)
        for variable, value in zip(model.trainable_variables, current[0], strict=True):
            variable.assign(value)

    if setting == "jax.jit step":
        compiled = jax.jit(step)
        batches = [(jax.device_put(X), jax.device_put(Y)) for X, Y in zip(Xb, Yb, strict=True)]

        def run() -> None:
            current, loss = tuple(state), None
            for X, Y in batches:
                current, loss = compiled(current, X, Y)
            loss.block_until_ready()
            keep(current)

        return run

    def epoch(current, Xs, Ys):
        return jax.lax.scan(lambda s, batch: step(s, *batch), current, (Xs, Ys))

    compiled_epoch = jax.jit(epoch)
    Xs, Ys = jax.device_put(Xb), jax.device_put(Yb)

    def run_program() -> None:
        current, losses = compiled_epoch(tuple(state), Xs, Ys)
        losses.block_until_ready()
        keep(current)

    return run_program


def _torch_epoch(model, Xb, Yb, setting):
    import torch

    from keras_mlp.backend import keras

    k = keras()
    variables = model.trainable_variables
    optimizer = model.optimizer
    optimizer.build(variables)
    values = [v.value for v in variables]

    def gradients(X, Y):
        loss = model.loss(Y, model(X, training=True))
        return loss, torch.autograd.grad(loss, values)

    if setting == "torch.compile":
        gradients = torch.compile(gradients)
    batches = [
        (k.ops.convert_to_tensor(X), k.ops.convert_to_tensor(Y))
        for X, Y in zip(Xb, Yb, strict=True)
    ]

    def run() -> None:
        loss = None
        for X, Y in batches:
            loss, grads = gradients(X, Y)
            optimizer.apply(grads, variables)
        float(loss.detach())  # wait for the last step

    return run
