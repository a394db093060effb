"""The fast training step: the same arithmetic as `MLP.gradients` + `SGD.step`, with no allocation.

`MLP.gradients` is the readable reference: it builds [1 | A] matrices and new arrays at every line.
This module computes the same numbers for one minibatch step, but

* every buffer (activations, deltas, gradients) is allocated once for the largest batch, and
  each operation writes into it with `out=`;
* the bias unit is folded in without copying: [1 | A] W = A W[1:] + W[0], using row views of W;
  the bias row of a gradient is the column sum of delta;
* the batch is gathered straight into a preallocated buffer with `np.take(..., out=)`;
* the momentum update is done in place, reusing the gradient buffers as scratch.

The tests check it against the reference step by step.
"""

from __future__ import annotations

import numpy as np

from numpy_mlp.optimizers import SGD


class NonFiniteLoss(FloatingPointError):
    """Raised by a step before it updates anything, when the batch loss is not finite."""

    def __init__(self, loss: float) -> None:
        super().__init__(f"loss is {loss}")
        self.loss = loss


class _Buffers:
    """Views of the preallocated buffers for one batch size m <= capacity."""

    def __init__(self, full: dict[str, list[np.ndarray]], m: int) -> None:
        self.X = full["X"][0][:m]
        self.Y = full["Y"][0][:m]
        self.H = [H[:m] for H in full["H"]]  # tanh(Z_h) for every hidden layer, (m, units)
        self.T = [T[:m] for T in full["T"]]  # scratch for 1 - A_h^2
        self.D = [D[:m] for D in full["D"]]  # delta^(l+1) for every matrix l, (m, units)
        self.rowmax = full["rowmax"][0][:m]
        self.rowsum = full["rowsum"][0][:m]


class FastStep:
    """One SGD step on a minibatch, in place: forward, loss, backward, update.

    weights: the model's matrices (updated in place); optimizer: an SGD; batch_size: the largest batch
    that will be passed. `__call__(X, Y, idx)` gathers rows `idx` of X (n, d_in) and Y (n, k) and
    returns (batch loss, number of rows whose argmax prediction matched argmax Y).
    """

    def __init__(self, weights: list[np.ndarray], optimizer: SGD, batch_size: int) -> None:
        self.weights = weights
        self.optimizer = optimizer
        dtype = weights[0].dtype
        units = [W.shape[1] for W in weights]
        B = batch_size
        full = {
            "X": [np.empty((B, weights[0].shape[0] - 1), dtype)],
            "Y": [np.empty((B, units[-1]), dtype)],
            "H": [np.empty((B, u), dtype) for u in units[:-1]],
            "T": [np.empty((B, u), dtype) for u in units[:-1]],
            "D": [np.empty((B, u), dtype) for u in units],
            "rowmax": [np.empty((B, 1), dtype)],
            "rowsum": [np.empty((B, 1), dtype)],
        }
        self._full = full
        self._views: dict[int, _Buffers] = {}
        self.capacity = B
        self.grads = [np.empty_like(W) for W in weights]
        # Row views that fold the bias unit in: [1 | A] W = A W[1:] + W[0].
        self._kernels = [W[1:] for W in weights]
        self._biases = [W[0] for W in weights]
        self._gkernels = [g[1:] for g in self.grads]
        self._gbiases = [g[0] for g in self.grads]
        self._kernels_T = [K.T for K in self._kernels]
        optimizer.init_state(weights)

    def _buffers(self, m: int) -> _Buffers:
        views = self._views.get(m)
        if views is None:
            if m > self.capacity:
                raise ValueError(f"batch of {m} rows exceeds the step's capacity {self.capacity}")
            views = self._views[m] = _Buffers(self._full, m)
        return views

    def __call__(self, X: np.ndarray, Y: np.ndarray, idx: np.ndarray) -> tuple[float, int]:
        m = idx.shape[0]
        buf = self._buffers(m)
        np.take(X, idx, axis=0, out=buf.X)
        np.take(Y, idx, axis=0, out=buf.Y)
        loss, correct = self.forward_backward(buf, m)
        if not np.isfinite(loss):
            raise NonFiniteLoss(loss)
        self.optimizer.step_inplace(self.weights, self.grads)
        return loss, correct

    def forward_backward(self, buf: _Buffers, m: int) -> tuple[float, int]:
        """Fill self.grads with dL/dW for the batch in buf; return (batch loss, correct rows)."""
        kernels, biases, H, D = self._kernels, self._biases, buf.H, buf.D
        n_hidden = len(H)
        # forward: A_h = tanh(A_prev W[1:] + W[0])
        A = buf.X
        for l in range(n_hidden):
            np.matmul(A, kernels[l], out=H[l])
            H[l] += biases[l]
            np.tanh(H[l], out=H[l])
            A = H[l]
        Z = D[-1]  # Z_out, then A_out, then delta_out
        np.matmul(A, kernels[-1], out=Z)
        Z += biases[-1]
        np.max(Z, axis=1, keepdims=True, out=buf.rowmax)
        Z -= buf.rowmax  # shifted logits (softmax is unchanged)
        correct = int(np.count_nonzero(Z.argmax(axis=1) == buf.Y.argmax(axis=1)))
        # loss = -(1/m) sum_i sum_k Y_ik (Z_ik - log sum_j exp Z_ij), rows of Y summing to 1
        y_dot_z = float(np.vdot(buf.Y, Z))
        np.exp(Z, out=Z)
        np.sum(Z, axis=1, keepdims=True, out=buf.rowsum)
        loss = (float(np.log(buf.rowsum).sum()) - y_dot_z) / m
        Z /= buf.rowsum  # A_out = softmax(Z_out)
        # backward: delta_out = (A_out - Y) / m
        Z -= buf.Y
        Z /= m
        gk, gb, kT, T = self._gkernels, self._gbiases, self._kernels_T, buf.T
        for l in range(n_hidden, -1, -1):
            A_prev = buf.X if l == 0 else H[l - 1]
            np.matmul(A_prev.T, D[l], out=gk[l])  # dL/dW[1:] = A^T delta
            np.sum(D[l], axis=0, out=gb[l])  # dL/dW[0]  = column sums of delta
            if l > 0:
                np.matmul(D[l], kT[l], out=D[l - 1])  # delta W[1:]^T
                np.multiply(H[l - 1], H[l - 1], out=T[l - 1])
                np.subtract(1.0, T[l - 1], out=T[l - 1])  # 1 - A_h^2
                D[l - 1] *= T[l - 1]
        return loss, correct


class ReferenceStep:
    """The same step written with the readable pieces: `MLP.gradients` then `SGD.step`."""

    def __init__(self, mlp, optimizer: SGD) -> None:
        self.mlp = mlp
        self.optimizer = optimizer
        optimizer.init_state(mlp.weights)

    def __call__(self, X: np.ndarray, Y: np.ndarray, idx: np.ndarray) -> tuple[float, int]:
        Xb, Yb = X[idx], Y[idx]
        loss = self.mlp.loss(Xb, Yb)
        if not np.isfinite(loss):
            raise NonFiniteLoss(loss)
        grads = self.mlp.gradients(Xb, Yb)
        correct = int(np.count_nonzero(self.mlp.predict_classes(Xb) == Yb.argmax(axis=1)))
        self.optimizer.step(self.mlp.weights, grads)
        return loss, correct
