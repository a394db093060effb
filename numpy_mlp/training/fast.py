"""The fast training step: the same arithmetic as `MLP.gradients` + `SGD.step`, with no allocation.

`MLP.gradients` is the readable reference: it builds [1 | A] matrices and new arrays at every line.
This module computes the same numbers for one minibatch step, but

* every buffer (activations, deltas, gradients) is allocated once for the largest batch, and each
  operation writes into it with `out=`; a partial last batch uses the first rows of each buffer;
* the bias unit costs nothing: each activation buffer keeps a column of ones in column 0, the batch
  is gathered straight into the columns after it (`np.take(..., out=)`) and the activation writes there too,
  so [1 | A] W is one matrix product and its gradient A^T delta includes the bias row;
* all weight matrices live in one contiguous buffer (the model's `params`), as do their gradients
  and the optimizer's velocities, so the momentum update (`momentum_update`) is four in-place
  operations for the whole network instead of four per matrix;
* NumPy's per-call overhead is what dominates at this size, so the step makes as few calls as it
  can: ufunc reductions rather than their Python wrappers, no per-step list building or shape
  checks, and `np.dot` rather than `np.matmul` for the products (the same BLAS call with less
  dispatch).

The tests check this path against the reference step by step.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from numpy_mlp.model.parameters import add_bias_unit, allocate
from numpy_mlp.training.optimizers import SGD, momentum_update

if TYPE_CHECKING:  # an annotation only: the model calls fit, so training never imports it
    from numpy_mlp.model.mlp import MLP


class NonFiniteLoss(FloatingPointError):
    """Raised by a step before it updates anything, when the batch loss (what="loss") or the
    gradient (what="gradient") is not finite."""

    def __init__(self, loss: float, what: str = "loss") -> None:
        super().__init__(f"{what} is {loss}")
        self.loss, self.what = loss, what


def check_gradient(flat_grad: np.ndarray) -> None:
    """NonFiniteLoss unless every gradient entry is finite (their sum is: one reduction)."""
    total = float(np.add.reduce(flat_grad))
    if not math.isfinite(total):
        raise NonFiniteLoss(total, "gradient")


class _Buffers:
    """The first m rows of every preallocated buffer (views, made once per batch size)."""

    def __init__(self, step: FastStep, m: int) -> None:
        self.A_in = step._A_in[:m]  # [1 | X_batch], (m, d_in + 1)
        self.X = self.A_in[:, 1:]  # where the batch is gathered
        self.A_h = [A[:m] for A in step._A_h]  # [1 | f(Z_h)] per hidden layer
        self.f_out = [A[:, 1:] for A in self.A_h]  # where f(Z_h) is written
        self.Z_h = [Z[:m] for Z in step._Z_h]
        self.f_prime = [T[:m] for T in step._f_prime]  # f'(Z_h), from A_h, per hidden layer
        # delta^(l+1) for every matrix l. The output one, delta_out, is built in place: it holds
        # Z_out, then the shifted logits, then exp, then A_out = softmax(Z_out), then (A_out - Y)/m.
        self.delta = [D[:m] for D in step._delta]
        self.Y = step._Y[:m]
        self.Y_z = step._Y_z[:m]  # Y * shifted logits, to pick each row's label logit
        self.rowmax = step._rowmax[:m]
        self.rowsum = step._rowsum[:m]
        self.z_label = step._z_label[:m]
        self.predicted = step._predicted[:m]  # argmax of Z_out per row
        self.label = step._label[:m]  # argmax of Y per row
        self.hit = step._hit[:m]


class FastStep:
    """One SGD step on a minibatch, in place: gather, forward, loss, backward, update.

    mlp: the model (its `params` buffer is updated in place); optimizer: an SGD; batch_size: the
    largest batch that will be passed. `step(X, Y, idx)` trains on rows `idx` of X (n, d_in) and
    one-hot Y (n, k) and returns (batch loss, number of rows whose predicted class is the label).
    """

    def __init__(self, mlp: MLP, optimizer: SGD, batch_size: int) -> None:
        dtype = mlp.dtype
        shapes = [W.shape for W in mlp.weights]
        self.mlp, self.weights, self.f = mlp, mlp.weights, mlp.activation
        self.flat_grad, self.grads = allocate(shapes, dtype)  # dL/dW, flat and per matrix
        optimizer.init_state(mlp.weights)  # keeps the optimizer's momentum when resuming
        self.optimizer = optimizer
        self.flow = None  # a GradientFlow, when fit records gradient flow

        B, units = batch_size, [c for _, c in shapes]
        self.capacity = B
        self._A_in = np.ones((B, shapes[0][0]), dtype)
        self._A_h = [np.ones((B, u + 1), dtype) for u in units[:-1]]
        self._Z_h = [np.empty((B, u), dtype) for u in units[:-1]]
        self._f_prime = [np.empty((B, u), dtype) for u in units[:-1]]
        self._delta = [np.empty((B, u), dtype) for u in units]
        self._Y = np.empty((B, units[-1]), dtype)
        self._Y_z = np.empty((B, units[-1]), dtype)
        self._rowmax = np.empty((B, 1), dtype)
        self._rowsum = np.empty((B, 1), dtype)
        self._z_label = np.empty(B, dtype)
        self._predicted = np.empty(B, np.intp)
        self._label = np.empty(B, np.intp)
        self._hit = np.empty(B, bool)
        self._kernels_T = [W[1:].T for W in self.weights]  # W[1:]^T, for delta W[1:]^T
        self._views: dict[int, _Buffers] = {}

    def buffers(self, m: int) -> _Buffers:
        views = self._views.get(m)
        if views is None:
            if m > self.capacity:
                raise ValueError(f"batch of {m} rows exceeds the step's capacity {self.capacity}")
            views = self._views[m] = _Buffers(self, m)
        return views

    def __call__(self, X: np.ndarray, Y: np.ndarray, idx: np.ndarray) -> tuple[float, int]:
        buf = self.buffers(idx.shape[0])
        np.take(X, idx, axis=0, out=buf.X)
        np.take(Y, idx, axis=0, out=buf.Y)
        return self.train_batch(buf.A_in, buf.Y)

    def train_batch(self, A_in: np.ndarray, Y: np.ndarray) -> tuple[float, int]:
        """One step on a batch already gathered: A_in = [1 | X_batch] (m, d_in + 1), Y (m, k)."""
        m = A_in.shape[0]
        buf = self.buffers(m)
        loss, correct = self.forward(buf, A_in, Y)
        if not math.isfinite(loss):
            raise NonFiniteLoss(loss)
        self.backward(buf, A_in, Y)
        # a saturated tanh can keep the loss finite while an overflowing input or weight makes
        # the gradient inf or NaN: stop before such an update touches the weights
        check_gradient(self.flat_grad)
        if self.flow is not None and self.flow.due():
            self.flow.record(self.flat_grad, self.mlp.params, self.update)
        else:
            self.update()
        return loss, correct

    def forward(self, buf: _Buffers, A_in: np.ndarray, Y: np.ndarray) -> tuple[float, int]:
        """Forward pass for the m rows of A_in = [1 | X]; returns (batch loss, correct rows).

        Leaves [1 | f(Z_h)] in buf.A_h and A_out = softmax(Z_out) in buf.delta[-1].
        """
        W, A_h = self.weights, buf.A_h
        m = A_in.shape[0]
        A = A_in
        for l in range(len(A_h)):
            np.dot(A, W[l], out=buf.Z_h[l])  # Z_h = [1 | A] W_h
            self.f.f(buf.Z_h[l], out=buf.f_out[l])  # A_h = [1 | f(Z_h)]
            A = A_h[l]
        Z = buf.delta[-1]
        np.dot(A, W[-1], out=Z)  # Z_out = [1 | A_h] W_out
        np.maximum.reduce(Z, axis=1, keepdims=True, out=buf.rowmax)
        Z -= buf.rowmax  # shifted logits: softmax unchanged, exp cannot overflow
        # correct: argmax Z_out = argmax Y, the first maximum winning ties, as Keras counts it
        np.argmax(Z, axis=1, out=buf.predicted)
        np.argmax(Y, axis=1, out=buf.label)
        correct = int(np.count_nonzero(np.equal(buf.predicted, buf.label, out=buf.hit)))
        np.multiply(Z, Y, out=buf.Y_z)  # z_label = the label's shifted logit, per row
        z_label = np.add.reduce(buf.Y_z, axis=1, out=buf.z_label)
        np.exp(Z, out=Z)
        np.add.reduce(Z, axis=1, keepdims=True, out=buf.rowsum)
        # L = -(1/m) sum_i (z_label,i - log sum_j exp z_ij), for one-hot rows of Y
        loss = (float(np.log(buf.rowsum).sum()) - float(z_label.sum())) / m
        Z /= buf.rowsum  # A_out = softmax(Z_out)
        return loss, correct

    def backward(self, buf: _Buffers, A_in: np.ndarray, Y: np.ndarray) -> None:
        """Backpropagation after `forward`: fills self.grads with dL/dW, bias rows included."""
        A_h, delta, G = buf.A_h, buf.delta, self.grads
        delta[-1] -= Y
        delta[-1] /= A_in.shape[0]  # delta_out = (A_out - Y) / m
        for l in range(len(A_h), -1, -1):
            A = A_in if l == 0 else A_h[l - 1]
            np.dot(A.T, delta[l], out=G[l])  # dL/dW^(l) = [1 | A]^T delta^(l+1)
            if l:
                np.dot(delta[l], self._kernels_T[l], out=delta[l - 1])  # delta W[1:]^T
                self.f.derivative(buf.f_out[l - 1], out=buf.f_prime[l - 1])  # f'(Z_h)
                delta[l - 1] *= buf.f_prime[l - 1]

    def update(self) -> None:
        """`momentum_update` on the whole network at once: the flat parameters, gradient (used as
        scratch) and velocity, with the optimizer's eta_t, momentum, Nesterov choice and L2 mask."""
        opt = self.optimizer
        eta = opt.current_learning_rate()
        momentum_update(
            self.mlp.params, self.flat_grad, opt.velocity, eta, opt.momentum, opt.nesterov, opt.l2
        )
        opt.iterations += 1


class ReferenceStep:
    """The same step written with the readable pieces: `MLP.gradients` then `SGD.step`."""

    def __init__(self, mlp: MLP, optimizer: SGD) -> None:
        self.mlp = mlp
        self.optimizer = optimizer
        self.flow = None
        optimizer.init_state(mlp.weights)

    def __call__(self, X: np.ndarray, Y: np.ndarray, idx: np.ndarray) -> tuple[float, int]:
        return self.train_batch(add_bias_unit(X[idx]), Y[idx])

    def train_batch(self, A_in: np.ndarray, Yb: np.ndarray) -> tuple[float, int]:
        """One step on a gathered batch A_in = [1 | X_batch], Yb (m, k)."""
        Xb = A_in[:, 1:]
        loss = self.mlp.loss(Xb, Yb)
        if not np.isfinite(loss):
            raise NonFiniteLoss(loss)
        grads = self.mlp.gradients(Xb, Yb)
        check_gradient(np.concatenate([G.ravel() for G in grads]))
        correct = int(np.count_nonzero(self.mlp.predict_classes(Xb) == Yb.argmax(axis=1)))
        update = lambda: self.optimizer.step(self.mlp.weights, grads)  # noqa: E731
        if self.flow is not None and self.flow.due():
            flat = np.concatenate([G.ravel() for G in grads])
            self.flow.record(flat, self.mlp.params, update)
        else:
            update()
        return loss, correct


def fast_gradients(mlp: MLP, X, Y) -> list[np.ndarray]:
    """dL/dW for every matrix as the fast step computes it (forward and backward, no update).

    For checking the fast path the way `MLP.gradients` is checked; X (n, d_in), Y one-hot or
    labels.
    """
    X = mlp.as_inputs(X)
    Y = mlp.as_targets(Y, X.shape[0])
    step = FastStep(mlp, SGD(), X.shape[0])
    buf = step.buffers(X.shape[0])
    buf.X[...] = X
    buf.Y[...] = Y
    step.forward(buf, buf.A_in, buf.Y)
    step.backward(buf, buf.A_in, buf.Y)
    return [G.copy() for G in step.grads]
