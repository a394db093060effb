"""The multilayer perceptron, in the tutorial's notation.

Every non-output layer carries a bias unit a_0 = 1, so each weight matrix has one extra row:

    W^(l)  shape (m, d): m = (units of layer l) + 1 (the bias unit), d = units of layer l+1.
           Row 0 holds the bias weights; rows 1..m-1 the connection weights.

For 784-50-50-10: W_h[0] is 785x50, W_h[1] is 51x50 and W_out is 51x10.

Forward pass (n rows at a time):
    A_in  = [1 | X]                        (n, 785)
    Z_h   = A_in W_h                       (n, 50)
    A_h   = [1 | f(Z_h)]                   (n, 51)     ... once per hidden layer
    Z_out = A_h W_out                      (n, 10)
    A_out = softmax(Z_out)                 (n, 10)

Backward pass (delta = dL/dZ, L the batch-mean cross-entropy):
    delta_out = (A_out - Y) / n                                     (n, 10)
    dL/dW^(l) = A^(l)^T delta^(l+1)                                 (m, d), bias row = column sum
    delta_h   = (delta_next W_next[1:]^T) * f'(Z_h)                 bias row dropped: no input

f is the hidden activation: tanh (the tutorial's, f'(Z_h) = 1 - A_h^2), logistic
(f' = A_h (1 - A_h)) or relu (f' = 1 where A_h > 0); see `activations.py`. Each f' is written in
terms of A_h, which the forward pass has already computed.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from numpy_mlp.model.activations import ACTIVATIONS, Activation, get_activation
from numpy_mlp.model.initializers import get_initializer
from numpy_mlp.model.loss import cross_entropy, delta_out, softmax
from numpy_mlp.model.parameters import (
    add_bias_unit,
    allocate,
    check_dtype,
    check_layer_sizes,
    weight_shapes,
)
from numpy_mlp.model.targets import as_inputs, as_targets

if TYPE_CHECKING:  # for annotations only: the model does not import training at run time
    from numpy_mlp.training.callbacks import Callback
    from numpy_mlp.training.flow import GradientFlow
    from numpy_mlp.training.loop import History
    from numpy_mlp.training.optimizers import SGD

TANH = ACTIVATIONS["tanh"]


def forward_pass(
    weights: Sequence[np.ndarray],
    X: np.ndarray,
    f: Activation = TANH,
    Z: list | None = None,
) -> list[np.ndarray]:
    """[A_in, A_h1, ..., A_out] for input rows X (n, d_in), bias-row matrices `weights` and the
    hidden activation f.

    Every entry but the last carries its bias unit in column 0; A_out = softmax(Z_out) is (n, k).
    Z: a list to receive every layer's Z (Z_h1, ..., Z_out), for showing them (`explain`).
    """
    A = add_bias_unit(X)  # A_in = [1 | X]
    activations = [A]
    for W_h in weights[:-1]:
        Z_h = A @ W_h  # Z_h = A W_h
        A = add_bias_unit(f.f(Z_h))  # A_h = [1 | f(Z_h)]
        activations.append(A)
        if Z is not None:
            Z.append(Z_h)
    Z_out = A @ weights[-1]  # Z_out = A_h W_out
    activations.append(softmax(Z_out))  # A_out = softmax(Z_out)
    if Z is not None:
        Z.append(Z_out)
    return activations


def backward_pass(
    weights: Sequence[np.ndarray],
    activations: Sequence[np.ndarray],
    Y: np.ndarray,
    f: Activation = TANH,
    trace: dict | None = None,
) -> list[np.ndarray]:
    """dL/dW for every matrix, given the activations of `forward_pass` and one-hot Y (n, k).

    trace: a dict to receive, per matrix index l, delta^(l+1) (`trace["delta"][l]`) and, for the
    hidden layers, f'(Z^(l)) (`trace["f_prime"][l]`), for showing them (`explain`).
    """
    grads: list[np.ndarray] = [np.empty(0)] * len(weights)
    delta = delta_out(activations[-1], Y)  # delta_out = (A_out - Y) / n
    for l in reversed(range(len(weights))):
        A = activations[l]  # A^(l), bias unit in column 0
        grads[l] = A.T @ delta  # dL/dW^(l) = A^(l)^T delta^(l+1)
        if trace is not None:
            trace.setdefault("delta", {})[l] = delta
        if l > 0:
            # delta^(l) = (delta^(l+1) W^(l)[1:]^T) * f'(Z^(l)), bias unit dropped
            f_prime = f.derivative(A[:, 1:])
            delta = (delta @ weights[l][1:].T) * f_prime
            if trace is not None:
                trace.setdefault("f_prime", {})[l] = f_prime
    return grads


class MLP:
    """A fully connected network: hidden layers with activation f, softmax output, cross-entropy.

    MLP((784, 50, 50, 10), seed=123) builds the tutorial's network (tanh, Glorot uniform).
    activation: "tanh", "logistic" or "relu", for every hidden layer; init: "glorot_uniform",
    "he_uniform" or "random_normal" (Keras's formulas; bias rows zero). `weights` lists the matrices
    from input to output in the bias-row layout; `W_h` and `W_out` are the same arrays by the
    tutorial's names. All of them are views into one contiguous buffer, `params`, which the fast
    training step updates in place: change a matrix's values (W[...] = ...), not the list.
    """

    def __init__(
        self,
        layer_sizes: Sequence[int],
        *,
        activation: str = "tanh",
        init: str = "glorot_uniform",
        seed: int | None = None,
        dtype=np.float32,
    ) -> None:
        self.layer_sizes = check_layer_sizes(layer_sizes)
        self.dtype = check_dtype(dtype)
        self.activation: Activation = get_activation(activation)
        self.init = init
        draw = get_initializer(init)
        self.params, self.weights = allocate(weight_shapes(self.layer_sizes), self.dtype)
        rng = np.random.default_rng(seed)
        for W, fan_in, fan_out in zip(
            self.weights, self.layer_sizes[:-1], self.layer_sizes[1:], strict=True
        ):
            W[...] = draw(rng, fan_in, fan_out, self.dtype)
        self.optimizer: SGD | None = None  # set by fit(); saved with the model

    # -- the tutorial's names ------------------------------------------------------------------
    @property
    def W_h(self) -> tuple[np.ndarray, ...]:
        """The hidden-layer matrices W^(h1), W^(h2), ... (the same arrays as weights[:-1])."""
        return self.weights[:-1]

    @property
    def W_out(self) -> np.ndarray:
        """W^(out), shape (units of the last hidden layer + 1, classes)."""
        return self.weights[-1]

    @property
    def n_classes(self) -> int:
        return self.layer_sizes[-1]

    def __repr__(self) -> str:
        sizes = "-".join(map(str, self.layer_sizes))
        return f"MLP({sizes}, activation={self.activation.name}, dtype={self.dtype.name})"

    def set_weights(self, weights: Sequence[np.ndarray]) -> None:
        """Copy bias-row matrices into the model; every shape is checked before anything changes."""
        if len(weights) != len(self.weights):
            raise ValueError(f"expected {len(self.weights)} matrices, got {len(weights)}")
        for i, (W, mine) in enumerate(zip(weights, self.weights, strict=True)):
            if np.shape(W) != mine.shape:
                raise ValueError(f"matrix {i} has shape {np.shape(W)}, expected {mine.shape}")
        for W, mine in zip(weights, self.weights, strict=True):
            mine[...] = W

    # -- inputs ------------------------------------------------------------------------------------
    def as_inputs(self, X) -> np.ndarray:
        """X as an (n, d_in) array of the model's dtype, or ValueError."""
        return as_inputs(X, self.layer_sizes[0], self.dtype)

    def as_targets(self, Y, n: int | None = None) -> np.ndarray:
        """One-hot (n, k) targets of the model's dtype; integer labels (n,) are converted."""
        return as_targets(Y, self.n_classes, self.dtype, n)

    # -- forward -----------------------------------------------------------------------------------
    def forward(self, X) -> list[np.ndarray]:
        """All activations of one forward pass: [A_in, A_h1, ..., A_out] (see `forward_pass`).

        X: (n, d_in). A_in is (n, d_in + 1) with its bias unit; A_out is (n, k), rows sum to 1.
        """
        return forward_pass(self.weights, self.as_inputs(X), self.activation)

    def predict_proba(self, X, *, batch_size: int = 4096) -> np.ndarray:
        """Class probabilities A_out = softmax(Z_out), shape (n, k), in chunks of `batch_size` rows."""
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
        X = self.as_inputs(X)
        return (
            np.concatenate(
                [
                    softmax(self.logits(X[i : i + batch_size]))
                    for i in range(0, X.shape[0], batch_size)
                ]
            )
            if X.shape[0]
            else np.empty((0, self.n_classes), self.dtype)
        )

    def predict_classes(self, X) -> np.ndarray:
        """argmax_k A_out[i, k] for each row: integer labels, shape (n,)."""
        return np.argmax(self.predict_proba(X), axis=1)

    def accuracy(self, X, y) -> float:
        """The fraction of rows whose predicted class is the label (y: labels or one-hot), as
        Keras reports accuracy and as `fit`'s History holds it (the CLI prints percent)."""
        y = np.asarray(y)
        labels = np.argmax(y, axis=1) if y.ndim == 2 else y
        predicted = self.predict_classes(X)
        if predicted.shape[0] == 0 or labels.shape[0] != predicted.shape[0]:
            raise ValueError(
                f"accuracy needs as many labels as rows, at least one: {predicted.shape[0]} rows, "
                f"{labels.shape[0]} labels"
            )
        return float(np.mean(predicted == labels))

    def logits(self, X) -> np.ndarray:
        """Z_out, shape (n, k): the output layer before softmax.

        Computes the same layers as `forward`, writing [1 | A] W as A W[1:] + W[0] so that no
        [1 | A] copy is made (this is what prediction and evaluation use).
        """
        A = self.as_inputs(X)
        for W in self.W_h:
            A = self.activation.f(A @ W[1:] + W[0])
        return A @ self.W_out[1:] + self.W_out[0]

    def loss(self, X, Y) -> float:
        """L = -(1/n) sum_i sum_k Y_ik log A_out_ik (computed from Z_out: `model.loss`)."""
        X = self.as_inputs(X)
        return float(cross_entropy(self.logits(X), self.as_targets(Y, X.shape[0])))

    # -- backward ----------------------------------------------------------------------------------
    def gradients(self, X, Y) -> list[np.ndarray]:
        """dL/dW for every matrix, by backpropagation: a list shaped like `weights`.

        X: (n, d_in); Y: one-hot (n, k) or labels (n,). L is the batch-mean cross-entropy.
        """
        X = self.as_inputs(X)
        Y = self.as_targets(Y, X.shape[0])
        activations = forward_pass(self.weights, X, self.activation)
        return backward_pass(self.weights, activations, Y, self.activation)

    # -- entry points into training and saving ----------------------------------------------------
    # Conveniences that call up into numpy_mlp.training.loop and numpy_mlp.saving when called (never
    # at import time). Neither imports this module back, even inside a function: training uses the
    # model only through its methods (this class is an annotation there), and `load_mlp` is handed
    # the class to build. tests/test_layout.py checks that the import graph has no circle.
    def fit(
        self,
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
        """Train with minibatch SGD and return the History; see `numpy_mlp.training.loop.fit`."""
        from numpy_mlp.training.loop import fit

        return fit(
            self,
            X,
            Y,
            epochs=epochs,
            batch_size=batch_size,
            optimizer=optimizer,
            validation_split=validation_split,
            validation_data=validation_data,
            shuffle=shuffle,
            seed=seed,
            verbose=verbose,
            callbacks=callbacks,
            engine=engine,
            blas_threads=blas_threads,
            gradient_flow=gradient_flow,
        )

    def save(self, path: str | os.PathLike) -> None:
        """Write weights, sizes, dtype and optimizer state to one `.npz` (atomically)."""
        from numpy_mlp.saving.model_file import save_mlp

        save_mlp(self, path)

    @classmethod
    def load(cls, path: str | os.PathLike) -> MLP:
        """Read a model written by `save`; raises ModelFileError on a bad file."""
        from numpy_mlp.saving.model_file import load_mlp

        return load_mlp(path, cls)

    def copy(self) -> MLP:
        """An independent copy of the model (weights copied, no optimizer)."""
        clone = MLP(
            self.layer_sizes,
            activation=self.activation.name,
            init=self.init,
            seed=0,
            dtype=self.dtype,
        )
        clone.params[...] = self.params
        return clone
