"""The fast training step: the same arithmetic as `MLP.gradients` + `SGD.step`, with no allocation.

`MLP.gradients` is the readable reference: it builds [1 | A] matrices and new arrays at every line.
This module computes the same numbers for one minibatch step, but

* every buffer (activations, deltas, gradients) is allocated once for the largest batch, and each
  operation writes into it with `out=`; a partial last batch uses the first rows of each buffer;
* the bias unit costs nothing: each activation buffer keeps a column of ones in column 0, the batch
  is gathered straight into the columns after it (`np.take(..., out=)`) and tanh writes there too,
  so [1 | A] W is one matrix product and its gradient A^T delta includes the bias row;
* all weight matrices live in one contiguous buffer (as do their gradients and velocities), so the
  momentum update is four in-place operations for the whole network instead of four per matrix;
* NumPy's per-call overhead is what dominates at this size (~90 us of a ~330 us step for
  784-50-50-10, batch 64), so the step makes as few calls as it can: ufunc reductions rather than
  their Python wrappers, no per-step list building or shape checks, and `np.dot` rather than
  `np.matmul` for the products (the same BLAS call with less dispatch: ~5-10% of an epoch).

Because of the shared buffer, `FastStep` replaces the arrays in the `weights` list it is given by
views of that buffer (same values): hold on to `mlp.weights`, not to one matrix, across `fit`.
The tests check this path against the reference step by step.
"""

from __future__ import annotations

import math

import numpy as np

from numpy_mlp.mlp import add_bias_unit
from numpy_mlp.optimizers import SGD


class NonFiniteLoss(FloatingPointError):
    """Raised by a step before it updates anything, when the batch loss is not finite."""

    def __init__(self, loss: float) -> None:
        super().__init__(f"loss is {loss}")
        self.loss = loss


def _flat_views(flat: np.ndarray, shapes: list[tuple[int, int]]) -> list[np.ndarray]:
    views, offset = [], 0
    for rows, cols in shapes:
        views.append(flat[offset : offset + rows * cols].reshape(rows, cols))
        offset += rows * cols
    return views


class _Buffers:
    """The first m rows of every preallocated buffer (views, made once per batch size)."""

    def __init__(self, step: FastStep, m: int) -> None:
        self.A_in = step._A_in[:m]  # [1 | X_batch], (m, d_in + 1)
        self.X = self.A_in[:, 1:]  # where the batch is gathered
        self.A_h = [A[:m] for A in step._A_h]  # [1 | tanh(Z_h)] per hidden layer
        self.tanh_out = [A[:, 1:] for A in self.A_h]
        self.Z_h = [Z[:m] for Z in step._Z_h]
        self.T = [T[:m] for T in step._T]  # scratch for 1 - A_h^2
        self.D = [D[:m] for D in step._D]  # delta^(l+1) for every matrix l; D[-1] holds Z_out
        self.Y = step._Y[:m]
        self.YZ = step._YZ[:m]
        self.rowmax = step._rowmax[:m]
        self.rowsum = step._rowsum[:m]
        self.zy = step._zy[:m]


class FastStep:
    """One SGD step on a minibatch, in place: gather, forward, loss, backward, update.

    weights: the model's list of matrices (its entries are replaced by views of one buffer);
    optimizer: an SGD; batch_size: the largest batch that will be passed.
    `step(X, Y, idx)` trains on rows `idx` of X (n, d_in) and one-hot Y (n, k) and returns
    (batch loss, number of rows whose predicted class is the label).
    """

    def __init__(self, weights: list[np.ndarray], optimizer: SGD, batch_size: int) -> None:
        dtype = weights[0].dtype
        shapes = [W.shape for W in weights]
        size = sum(r * c for r, c in shapes)
        self._flat_W = np.empty(size, dtype)
        self._flat_G = np.empty(size, dtype)
        self._flat_V = np.zeros(size, dtype)
        self.weights = weights
        views = _flat_views(self._flat_W, shapes)
        for i, (W, view) in enumerate(zip(weights, views, strict=True)):
            view[...] = W
            weights[i] = view
        self.grads = _flat_views(self._flat_G, shapes)
        velocities = _flat_views(self._flat_V, shapes)
        if optimizer.velocities is not None:  # resume with the optimizer's momentum
            for mine, theirs in zip(velocities, optimizer.velocities, strict=True):
                mine[...] = theirs
        optimizer.velocities = velocities
        self.optimizer = optimizer
        self._plain_sgd = not (optimizer.weight_decay or optimizer.nesterov)

        B, units = batch_size, [c for _, c in shapes]
        self.capacity = B
        self._A_in = np.ones((B, shapes[0][0]), dtype)
        self._A_h = [np.ones((B, u + 1), dtype) for u in units[:-1]]
        self._Z_h = [np.empty((B, u), dtype) for u in units[:-1]]
        self._T = [np.empty((B, u), dtype) for u in units[:-1]]
        self._D = [np.empty((B, u), dtype) for u in units]
        self._Y = np.empty((B, units[-1]), dtype)
        self._YZ = np.empty((B, units[-1]), dtype)
        self._rowmax = np.empty((B, 1), dtype)
        self._rowsum = np.empty((B, 1), dtype)
        self._zy = np.empty(B, dtype)
        self._kernels_T = [W[1:].T for W in weights]  # W[1:]^T, for delta W[1:]^T
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
        self.update()
        return loss, correct

    def forward(self, buf: _Buffers, A_in: np.ndarray, Y: np.ndarray) -> tuple[float, int]:
        """Forward pass for the m rows of A_in = [1 | X]; returns (batch loss, correct rows).

        Leaves [1 | tanh(Z_h)] in buf.A_h and A_out = softmax(Z_out) in buf.D[-1].
        """
        W, A_h, D = self.weights, buf.A_h, buf.D
        m = A_in.shape[0]
        A = A_in
        for l in range(len(A_h)):
            np.dot(A, W[l], out=buf.Z_h[l])  # Z_h = [1 | A] W_h
            np.tanh(buf.Z_h[l], out=buf.tanh_out[l])  # A_h = [1 | tanh(Z_h)]
            A = A_h[l]
        Z = D[-1]
        np.dot(A, W[-1], out=Z)  # Z_out = [1 | A_h] W_out
        np.maximum.reduce(Z, axis=1, keepdims=True, out=buf.rowmax)
        Z -= buf.rowmax  # shifted logits: softmax unchanged, exp cannot overflow
        # z_y = the label's shifted logit per row: 0 exactly when the label has the largest score
        np.multiply(Z, Y, out=buf.YZ)
        zy = np.add.reduce(buf.YZ, axis=1, out=buf.zy)
        correct = int(np.count_nonzero(zy == 0))
        np.exp(Z, out=Z)
        np.add.reduce(Z, axis=1, keepdims=True, out=buf.rowsum)
        # L = -(1/m) sum_i (z_y,i - log sum_j exp z_ij), for one-hot rows of Y
        loss = (float(np.log(buf.rowsum).sum()) - float(zy.sum())) / m
        Z /= buf.rowsum  # A_out = softmax(Z_out)
        return loss, correct

    def backward(self, buf: _Buffers, A_in: np.ndarray, Y: np.ndarray) -> None:
        """Backpropagation after `forward`: fills self.grads with dL/dW, bias rows included."""
        A_h, D, G, T = buf.A_h, buf.D, self.grads, buf.T
        D[-1] -= Y
        D[-1] /= A_in.shape[0]  # delta_out = (A_out - Y) / m
        for l in range(len(A_h), -1, -1):
            A = A_in if l == 0 else A_h[l - 1]
            np.dot(A.T, D[l], out=G[l])  # dL/dW^(l) = [1 | A]^T delta
            if l:
                np.dot(D[l], self._kernels_T[l], out=D[l - 1])  # delta W[1:]^T
                tanh_out = buf.tanh_out[l - 1]
                np.multiply(tanh_out, tanh_out, out=T[l - 1])
                np.subtract(1.0, T[l - 1], out=T[l - 1])  # 1 - A_h^2
                D[l - 1] *= T[l - 1]

    def update(self) -> None:
        """v <- mu v - eta_t g; W <- W + v, on the whole network at once (same arithmetic as SGD)."""
        opt = self.optimizer
        if not self._plain_sgd:
            opt.step(self.weights, self.grads)  # L2 or Nesterov: the readable update
            return
        eta = opt.current_learning_rate()
        self._flat_V *= opt.momentum
        self._flat_G *= eta
        self._flat_V -= self._flat_G
        self._flat_W += self._flat_V
        opt.iterations += 1


class ReferenceStep:
    """The same step written with the readable pieces: `MLP.gradients` then `SGD.step`."""

    def __init__(self, mlp, optimizer: SGD) -> None:
        self.mlp = mlp
        self.optimizer = optimizer
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
        correct = int(np.count_nonzero(self.mlp.predict_classes(Xb) == Yb.argmax(axis=1)))
        self.optimizer.step(self.mlp.weights, grads)
        return loss, correct
