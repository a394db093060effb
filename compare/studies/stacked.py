"""Several networks of one shape, trained together on the same minibatches.

Cells of a sweep that differ only in their optimizer (learning rate, momentum, learning-rate decay,
weight decay) start from the same weights (same seed) and see the same batches in the same order
(same shuffling seed), so one pass over the data can train all K of them at once. At the tutorial's
size NumPy spends most of a step on per-call overhead and on thin matrix products; stacked, the
calls are shared by the K networks: every layer is one stacked product
(K, m, h+1) @ (K, h+1, d), every elementwise step one call for all K, and the optimizer update
four operations on a (K, T) buffer. (A wide first-layer product [W^(1) | ... | W^(K)] was tried:
at batch 64 OpenBLAS runs it no faster per network than K separate products.)

Each network's arithmetic is the same as `fit`'s (the same formulas, its own momentum, decay and
L2 in the optimizer update); only how the products are blocked differs, so each trained network
equals the one `fit` gives alone, to rounding (the tests check it). A network whose loss stops
being finite is marked diverged and left out from then on; the others carry on.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import numpy as np

from compare.config import Settings
from compare.data import MnistData


class StackedNetworks:
    """K networks of the same layer sizes, their parameters in one (K, T) buffer.

    Row k of the buffer is network k's parameters in numpy_mlp's own layout (every W^(l) after
    the other), so each matrix is a (K, m_l + 1, d_l) stack and the optimizer update is four
    operations for all K networks, with each network's hyperparameters as a (K, 1) column.
    Gradients and velocities have the same layout.
    """

    def __init__(self, mlps: Sequence, settings: Sequence[Settings], batch_size: int) -> None:
        self.K = K = len(mlps)
        self.sizes = sizes = mlps[0].layer_sizes
        dtype = self.dtype = mlps[0].dtype
        self.f = mlps[0].activation
        self.P = np.stack([mlp.params for mlp in mlps])  # (K, T), a copy
        self.G, self.V = np.zeros_like(self.P), np.zeros_like(self.P)
        self.W, self.dW = self._views(self.P), self._views(self.G)
        self._hyper(settings)
        B = batch_size
        self.Z = [np.empty((K, B, d), dtype) for d in sizes[1:]]  # Z of every layer
        self.A = [np.ones((K, B, u + 1), dtype) for u in sizes[1:-1]]  # [1 | f(Z_h)]
        self.delta = [np.empty((K, B, u), dtype) for u in sizes[1:-1]]
        self.f_prime = [np.empty((K, B, u), dtype) for u in sizes[1:-1]]
        self.iterations = 0
        self.alive = np.ones(K, bool)

    def _views(self, buf: np.ndarray) -> list[np.ndarray]:
        views, offset = [], 0
        for m, d in zip(self.sizes[:-1], self.sizes[1:], strict=True):
            n = (m + 1) * d
            views.append(buf[:, offset : offset + n].reshape(self.K, m + 1, d))
            offset += n
        return views

    def _hyper(self, settings: Sequence[Settings]) -> None:
        """Per-network hyperparameters as (K, 1) columns."""
        column = lambda values: np.asarray(values, dtype=self.dtype)[:, None]  # noqa: E731
        self.lr = [s.learning_rate for s in settings]
        self.decay = [s.decay for s in settings]
        self.mu = column([s.momentum for s in settings])
        self.nesterov = settings[0].nesterov
        wd = [s.weight_decay for s in settings]
        self.decay_mask = None
        if any(wd):  # weight_decay on connection weights, 0 on bias rows (as SGD.step_flat)
            self.decay_mask = np.zeros_like(self.P)
            for mask in self._views(self.decay_mask):
                mask[:, 1:, :] = np.asarray(wd, self.dtype)[:, None, None]

    def weights_of(self, k: int) -> list[np.ndarray]:
        return [W[k] for W in self.W]

    # -- one step -----------------------------------------------------------------------------------
    def step(self, A_in: np.ndarray, Y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """One SGD step of every network on the batch; returns (losses (K,), correct rows (K,))."""
        m = A_in.shape[0]
        losses, correct = self._forward(A_in, Y, m)
        self._backward(A_in, Y, m)
        self._update()
        return losses, correct

    def _forward(self, A_in, Y, m):
        A = A_in[None]  # [1 | X], shared by the K networks
        for l in range(len(self.W)):
            Z = self.Z[l][:, :m]
            np.matmul(A, self.W[l], out=Z)  # Z = [1 | A] W, per network
            if l < len(self.W) - 1:
                A = self.A[l][:, :m]
                self.f.f(Z, out=A[:, :, 1:])  # A_h = [1 | f(Z_h)]
        # Z: the logits (K, m, k); it becomes softmax(Z), then delta_out, in place
        correct = np.count_nonzero(Z.argmax(axis=2) == Y.argmax(axis=1)[None, :], axis=1)
        Z -= Z.max(axis=2, keepdims=True)
        z_label = (Z * Y[None]).sum(axis=2)
        np.exp(Z, out=Z)
        rowsum = Z.sum(axis=2, keepdims=True)
        losses = (np.log(rowsum).sum(axis=(1, 2)) - z_label.sum(axis=1)) / m
        Z /= rowsum  # A_out = softmax(Z_out)
        return losses, correct

    def _backward(self, A_in, Y, m):
        delta = self.Z[-1][:, :m]
        delta -= Y[None]
        delta /= m  # delta_out = (A_out - Y) / m
        for l in range(len(self.W) - 1, -1, -1):
            A = self.A[l - 1][:, :m] if l else A_in[None]
            np.matmul(A.transpose(0, 2, 1), delta, out=self.dW[l])  # dL/dW = [1 | A]^T delta
            if l:
                below = self.delta[l - 1][:, :m]
                np.matmul(delta, self.W[l][:, 1:, :].transpose(0, 2, 1), out=below)
                f_prime = self.f_prime[l - 1][:, :m]
                self.f.derivative(A[:, :, 1:], out=f_prime)
                below *= f_prime  # delta_h = (delta W[1:]^T) * f'(Z_h)
                delta = below

    def _update(self) -> None:
        """v <- mu v - eta_t g; W <- W + v (Nesterov: W + mu v - eta_t g), each network its own
        mu, eta_t = eta_0 / (1 + decay t) and L2: the arithmetic of SGD.step_flat."""
        t = self.iterations
        eta = np.array(
            [lr / (1.0 + d * t) for lr, d in zip(self.lr, self.decay, strict=True)], self.dtype
        )[:, None]
        P, G, V = self.P, self.G, self.V
        if self.decay_mask is not None:
            G += self.decay_mask * P
        V *= self.mu
        G *= eta
        V -= G
        if self.nesterov:
            P += self.mu * V - G
        else:
            P += V
        self.iterations += 1

    # -- evaluation ---------------------------------------------------------------------------------
    def logits(self, X: np.ndarray, chunk: int = 4096) -> np.ndarray:
        """Z_out of every network for the rows of X: (K, n, k), computed in chunks of rows.

        The same layers as MLP.logits (A W[1:] + W[0], no [1 | A] copy), all K networks at once.
        """
        out = np.empty((self.K, X.shape[0], self.sizes[-1]), self.dtype)
        for start in range(0, X.shape[0], chunk):
            A = X[None, start : start + chunk]
            for l, W in enumerate(self.W):
                Z = np.matmul(A, W[:, 1:, :]) + W[:, :1, :]
                A = Z if l == len(self.W) - 1 else self.f.f(Z)
            out[:, start : start + chunk] = A
        return out

    def evaluate(self, X: np.ndarray, Y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(mean loss, accuracy as a fraction) per network on X, Y, as numpy_mlp's evaluate."""
        from numpy_mlp.model.activations import cross_entropy

        Z = self.logits(X)
        labels = Y.argmax(axis=1)
        losses = np.array([cross_entropy(Z[k], Y) for k in range(self.K)])
        return losses, (Z.argmax(axis=2) == labels[None]).mean(axis=1)


def train_stacked(settings: Sequence[Settings], data: MnistData) -> list[dict]:
    """Train the networks of `settings` (one stackable group) together; one record each.

    The records are those `compare.studies.cells.train_cell` gives for each setting alone.
    """
    from threadpoolctl import threadpool_limits

    from compare.studies.cells import build, diverged, divergence_message, finish_record
    from numpy_mlp.training.batches import PrefetchedBatches
    from numpy_mlp.training.loop import prepare_data

    s0 = settings[0]
    mlps = [build(s) for s in settings]
    X, Y, X_val, Y_val = prepare_data(
        mlps[0], data.X_train, data.y_train, s0.validation_split, None
    )
    n, B = X.shape[0], min(s0.batch_size, X.shape[0])
    stack = StackedNetworks(mlps, settings, B)
    histories: list[dict] = [{} for _ in settings]
    errors: list[str | None] = [None] * len(settings)
    rng = np.random.default_rng(s0.seed)
    started = time.perf_counter()
    with (
        threadpool_limits(limits=1, user_api="blas"),
        np.errstate(over="ignore", invalid="ignore", divide="ignore"),
        PrefetchedBatches(X, Y, B) as batches,
    ):
        for epoch in range(s0.epochs):
            began = time.perf_counter()
            loss_sum, hits = np.zeros(len(settings)), np.zeros(len(settings), np.int64)
            for step, (A_in, Yb) in enumerate(batches.epoch(rng.permutation(n))):
                losses, correct = stack.step(A_in, Yb)
                for k in np.flatnonzero(stack.alive & ~np.isfinite(losses)):
                    stack.alive[k] = False
                    errors[k] = f"loss became {losses[k]} at epoch {epoch + 1}, step {step + 1}"
                loss_sum += losses * A_in.shape[0]
                hits += correct
            if not stack.alive.any():
                break
            if X_val.shape[0]:
                val_loss, val_accuracy = stack.evaluate(X_val, Y_val)
            for k in np.flatnonzero(stack.alive):
                logs = {"loss": float(loss_sum[k]) / n, "accuracy": int(hits[k]) / n}
                if diverged(logs["loss"], stack.sizes[-1]):  # as train_cell's guard stops it
                    stack.alive[k] = False
                    errors[k] = divergence_message(epoch + 1, logs["loss"], stack.sizes[-1])
                    continue
                if X_val.shape[0]:
                    logs["val_loss"], logs["val_accuracy"] = val_loss[k], float(val_accuracy[k])
                logs["seconds"] = time.perf_counter() - began
                for key, value in logs.items():
                    histories[k].setdefault(key, []).append(value)
    train_pred = stack.logits(data.X_train).argmax(axis=2)
    test_pred = stack.logits(data.X_test).argmax(axis=2)
    seconds = (time.perf_counter() - started) / len(settings)  # the group's time, shared
    return [
        finish_record(
            histories[k] if stack.alive[k] else {},
            data,
            seconds,
            "complete" if stack.alive[k] else "diverged",
            errors[k],
            predicted=(train_pred[k], test_pred[k]),
        )
        for k in range(len(settings))
    ]
