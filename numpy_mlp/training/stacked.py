"""`fit_many`: K networks of one shape trained together on the same minibatches.

Networks that differ only in their optimizer (learning rate, momentum, learning-rate decay, L2,
Nesterov) and start from their own weights can share one pass over the data: each step gathers one
batch for all of them. At the tutorial's size NumPy spends most of a step on per-call overhead and
thin matrix products; stacked, the K networks share the calls:

* the parameters of network k are row k of one (K, T) buffer P, in the model's own layout, so each
  W^(l) is a (K, m_l + 1, d_l) stack (`flat_views`), as are the gradients G and the velocities V;
* every layer is one stacked product (K, m, h + 1) @ (K, h + 1, d), every elementwise step one call;
* the update is `momentum_update` once on (K, T), each network's eta_t and momentum a (K, 1) column.

Each network's arithmetic is `fit`'s: the same formulas, the same batches in the same order (same
`seed`), its own optimizer; only how the products are blocked differs, so in float64 every network
ends where `fit` alone takes it, to the last bit (the tests check it). A network that diverges (the
rule of `numpy_mlp.training.divergence`) or whose callbacks stop it leaves the stack with the
weights the same event leaves in `fit`; the others carry on.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Sequence

import numpy as np
from threadpoolctl import threadpool_limits

from numpy_mlp.model.mlp import MLP
from numpy_mlp.model.parameters import flat_views
from numpy_mlp.training.batches import PrefetchedBatches
from numpy_mlp.training.callbacks import Callback
from numpy_mlp.training.divergence import TrainingDivergedError, epoch_divergence
from numpy_mlp.training.flow import GradientFlow
from numpy_mlp.training.loop import (
    History,
    callbacks_stop,
    check_positive,
    evaluate,
    prepare_data,
)
from numpy_mlp.training.optimizers import SGD, momentum_update


class StackedStep:
    """One SGD step of K networks on one batch, in place on their stacked (K, T) parameters.

    mlps, optimizers: the networks (same layer sizes, dtype and activation) and their SGDs;
    batch_size: the largest batch that will be passed. The networks' own buffers are not touched
    until `write_back`.
    """

    def __init__(self, mlps: Sequence[MLP], optimizers: Sequence[SGD], batch_size: int) -> None:
        for mlp, opt in zip(mlps, optimizers, strict=True):
            opt.init_state(mlp.weights)
        self.mlps, self.optimizers = list(mlps), list(optimizers)
        self.shapes = [W.shape for W in mlps[0].weights]
        self.f, self.dtype = mlps[0].activation, mlps[0].dtype
        self.P = np.stack([mlp.params for mlp in mlps])  # (K, T), copies
        self.V = np.stack([opt.velocity for opt in optimizers])
        self.G = np.zeros_like(self.P)
        self._bind(batch_size)

    def _bind(self, batch_size: int) -> None:
        """Views, hyperparameter columns and batch buffers for the networks now in the stack."""
        K, dtype, opts = self.P.shape[0], self.dtype, self.optimizers
        self.W, self.dW = flat_views(self.P, self.shapes), flat_views(self.G, self.shapes)
        self.mu = np.array([o.momentum for o in opts], dtype)[:, None]
        flags = {o.nesterov for o in opts}
        self.nesterov = flags.pop() if len(flags) == 1 else np.array([[o.nesterov] for o in opts])
        self.l2 = None
        if any(o.weight_decay for o in opts):  # 0 rows for the networks without L2
            self.l2 = np.stack(
                [o.l2 if o.l2 is not None else np.zeros_like(self.P[0]) for o in opts]
            )
        sizes, B = [r - 1 for r, _ in self.shapes] + [self.shapes[-1][1]], batch_size
        self.capacity = B
        self.Z = [np.empty((K, B, d), dtype) for d in sizes[1:]]  # Z of every layer
        self.A = [np.ones((K, B, u + 1), dtype) for u in sizes[1:-1]]  # [1 | f(Z_h)]
        self.delta = [np.empty((K, B, u), dtype) for u in sizes[1:-1]]
        self.f_prime = [np.empty((K, B, u), dtype) for u in sizes[1:-1]]

    def forward(self, A_in: np.ndarray, Y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Forward pass of every network on A_in = [1 | X_batch] (m, d_in + 1), one-hot Y (m, k).

        Returns (batch loss per network (K,), correct rows per network (K,)); leaves
        A_out = softmax(Z_out) in self.Z[-1].
        """
        m = A_in.shape[0]
        A = A_in[None]  # shared by the K networks
        for l, W in enumerate(self.W):
            Z = self.Z[l][:, :m]
            np.matmul(A, W, out=Z)  # Z = [1 | A] W, per network
            if l < len(self.W) - 1:
                A = self.A[l][:, :m]
                self.f.f(Z, out=A[:, :, 1:])  # A_h = [1 | f(Z_h)]
        # correct: argmax Z_out = argmax Y, the first maximum winning ties (as fit counts)
        correct = np.count_nonzero(Z.argmax(axis=2) == Y.argmax(axis=1)[None, :], axis=1)
        Z -= Z.max(axis=2, keepdims=True)  # shifted logits: softmax unchanged, exp cannot overflow
        z_label = (Z * Y[None]).sum(axis=2)
        np.exp(Z, out=Z)
        rowsum = Z.sum(axis=2, keepdims=True)
        losses = (np.log(rowsum).sum(axis=(1, 2)) - z_label.sum(axis=1)) / m
        Z /= rowsum  # A_out = softmax(Z_out)
        return losses, correct

    def backward(self, A_in: np.ndarray, Y: np.ndarray) -> None:
        """Backpropagation after `forward`: fills G (and its views dW) with every network's dL/dW."""
        m = A_in.shape[0]
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

    def gradient_finite(self) -> np.ndarray:
        """(K,) True where every entry of that network's gradient is finite (one reduction)."""
        return np.isfinite(np.add.reduce(self.G, axis=1))

    def update(self) -> None:
        """`momentum_update` on (K, T): each network its own eta_t, momentum, Nesterov and L2."""
        eta = np.array([o.current_learning_rate() for o in self.optimizers], self.dtype)[:, None]
        momentum_update(self.P, self.G, self.V, eta, self.mu, self.nesterov, self.l2)
        for o in self.optimizers:
            o.iterations += 1

    def write_back(self, rows: Sequence[int] | None = None) -> None:
        """Copy the stacked parameters and velocities of `rows` (default all) into the networks."""
        for k in range(len(self.mlps)) if rows is None else rows:
            self.mlps[k].params[...] = self.P[k]
            self.optimizers[k].velocity[...] = self.V[k]

    def keep(self, rows: np.ndarray) -> None:
        """Keep only the networks at `rows` (indices into the current stack), dropping the rest."""
        self.mlps = [self.mlps[k] for k in rows]
        self.optimizers = [self.optimizers[k] for k in rows]
        self.P, self.V, self.G = self.P[rows], self.V[rows], self.G[rows]
        self._bind(self.capacity)


def _check_networks(mlps: Sequence[MLP], optimizers: Sequence[SGD]) -> None:
    if not mlps:
        raise ValueError("fit_many needs at least one network")
    if len(optimizers) != len(mlps):
        raise ValueError(f"{len(mlps)} networks but {len(optimizers)} optimizers; give one each")
    first = mlps[0]
    for k, mlp in enumerate(mlps):
        if not isinstance(mlp, MLP) or not isinstance(optimizers[k], SGD):
            raise TypeError(f"network {k}: expected an MLP and an SGD")
        same = (mlp.layer_sizes, mlp.dtype, mlp.activation.name) == (
            first.layer_sizes, first.dtype, first.activation.name,
        )  # fmt: skip
        if not same:
            raise ValueError(
                f"network {k} is {mlp.layer_sizes} {mlp.dtype} {mlp.activation.name}, network 0 "
                f"{first.layer_sizes} {first.dtype} {first.activation.name}: fit_many trains "
                "networks of one shape, dtype and activation"
            )
    if len({id(m) for m in mlps}) < len(mlps) or len({id(o) for o in optimizers}) < len(mlps):
        raise ValueError("each network needs its own MLP and its own SGD (one was given twice)")


def fit_many(
    mlps: Sequence[MLP],
    optimizers: Sequence[SGD],
    X,
    Y,
    *,
    epochs: int = 50,
    batch_size: int = 64,
    validation_split: float = 0.1,
    validation_data: tuple | None = None,
    shuffle: bool = True,
    seed: int | None = None,
    verbose: int = 0,
    callbacks: Sequence[Sequence[Callback]] | None = None,
    blas_threads: int | None = 1,
    gradient_flow: GradientFlow | None = None,
) -> list[History]:
    """Train every mlps[k] with optimizers[k], all on the same batches; one History each.

    The networks must share layer sizes, dtype and activation; each keeps its own weights and
    optimizer settings. The arguments mean what they mean in `fit` (same validation split, same
    shuffling from `seed`), and each network ends as `fit(mlps[k], ..., optimizer=optimizers[k])`
    would leave it. callbacks: one list per network. gradient_flow: recorded for every network
    with its `every` (each History gets `grad_norm` and `update_ratio`). verbose: 0 silent, 1 or 2
    a line per epoch.

    A network that diverges (the rule `fit` applies) is not raised: its History ends at its last
    epoch and its `diverged` holds the TrainingDivergedError `fit` would have raised; its weights
    are what `fit` would have left. Returns the Histories in the order of `mlps`.
    """
    epochs = check_positive("epochs", epochs)
    batch_size = check_positive("batch_size", batch_size)
    if verbose not in (0, 1, 2):
        raise ValueError(f"verbose must be 0, 1 or 2, got {verbose!r}")
    _check_networks(mlps, optimizers)
    K = len(mlps)
    callbacks = [list(c) for c in callbacks] if callbacks is not None else [[] for _ in mlps]
    if len(callbacks) != K:
        raise ValueError(f"callbacks: give one list per network ({K}), got {len(callbacks)}")
    X_train, Y_train, X_val, Y_val = prepare_data(mlps[0], X, Y, validation_split, validation_data)
    n, B = X_train.shape[0], min(batch_size, X_train.shape[0])
    for mlp, opt in zip(mlps, optimizers, strict=True):
        mlp.optimizer = opt
    flows = None
    if gradient_flow is not None:
        flows = [GradientFlow(every=gradient_flow.every) for _ in mlps]
        for flow in flows:
            flow.start([W.shape for W in mlps[0].weights])
    for mlp, cbs in zip(mlps, callbacks, strict=True):
        for callback in cbs:
            callback.on_train_begin(mlp)

    stack = StackedStep(mlps, optimizers, B)
    ids = np.arange(K)  # which network each row of the stack is
    histories = [History() for _ in mlps]
    n_classes = mlps[0].n_classes
    rng = np.random.default_rng(seed)

    def leave(rows: np.ndarray, reason: list[TrainingDivergedError | None]) -> None:
        """Networks at `rows` of the stack stop here: their state goes back, the stack shrinks."""
        nonlocal ids
        stack.write_back(rows.tolist())
        for row, exc in zip(rows, reason, strict=True):
            if exc is not None:
                exc.history = histories[ids[row]]
                histories[ids[row]].diverged = exc
        alive = np.setdiff1d(np.arange(ids.shape[0]), rows)
        ids = ids[alive]
        if ids.shape[0]:
            stack.keep(alive)

    with contextlib.ExitStack() as scope:
        if blas_threads is not None:
            scope.enter_context(threadpool_limits(limits=blas_threads, user_api="blas"))
        scope.enter_context(np.errstate(over="ignore", invalid="ignore", divide="ignore"))
        batches = scope.enter_context(PrefetchedBatches(X_train, Y_train, B))
        # However training ends (a callback raising, Ctrl-C mid-epoch): every network's
        # on_train_end runs (each even if another raises), after the stack's weights and
        # velocities are written back, so they match the iteration counts, as in fit.
        for cb in reversed([c for cbs in callbacks for c in cbs]):
            scope.callback(cb.on_train_end)
        scope.callback(lambda: stack.write_back() if ids.shape[0] else None)
        for epoch in range(epochs):
            if not ids.shape[0]:
                break
            started = time.perf_counter()
            order = rng.permutation(n) if shuffle else np.arange(n)
            loss_sum = np.zeros(ids.shape[0])
            hits = np.zeros(ids.shape[0], np.int64)
            for s, (A_in, Yb) in enumerate(batches.epoch(order)):
                losses, correct = stack.forward(A_in, Yb)
                stack.backward(A_in, Yb)
                bad = ~np.isfinite(losses) | ~stack.gradient_finite()
                if bad.any():  # as fit: stop before this step's update, weights as they were
                    rows = np.flatnonzero(bad)
                    errors = [
                        _step_error(epoch, s, losses[r], stack, r) for r in rows
                    ]  # fmt: skip
                    kept = ~bad
                    loss_sum, hits, losses, correct = (
                        loss_sum[kept], hits[kept], losses[kept], correct[kept]
                    )  # fmt: skip
                    leave(rows, errors)
                    if not ids.shape[0]:
                        break
                if flows is not None and all([flows[i].due() for i in ids]):
                    for row, i in enumerate(ids):
                        flows[i].note_gradient(stack.G[row])
                    before = stack.P.copy()
                    stack.update()
                    for row, i in enumerate(ids):
                        flows[i].note_update(before[row], stack.P[row])
                else:
                    stack.update()
                loss_sum += losses * A_in.shape[0]
                hits += correct
            if not ids.shape[0]:
                break
            stack.write_back()
            seconds = time.perf_counter() - started
            stopping, reasons = [], []
            for row, i in enumerate(ids):
                logs = {"loss": float(loss_sum[row]) / n, "accuracy": int(hits[row]) / n}
                if X_val.shape[0]:
                    logs["val_loss"], logs["val_accuracy"] = evaluate(mlps[i], X_val, Y_val)
                logs["seconds"] = seconds
                if flows is not None:
                    logs.update(flows[i].end_epoch())
                histories[i].append(epoch, logs)
                verdict = epoch_divergence(logs, n_classes)
                if verdict is not None:
                    what, value = verdict
                    lr = optimizers[i].learning_rate
                    stopping.append(row)
                    reasons.append(
                        TrainingDivergedError(epoch + 1, None, value, lr, what, n_classes=n_classes)
                    )
                elif callbacks_stop(callbacks[i], epoch, logs):
                    stopping.append(row)
                    reasons.append(None)
            if verbose:
                print(_epoch_line(epoch, epochs, histories, ids), flush=True)
            if stopping:
                leave(np.array(stopping), reasons)
    return histories


def _step_error(epoch: int, s: int, loss: float, stack: StackedStep, row: int):
    """The TrainingDivergedError fit raises for a non-finite loss or gradient at this step."""
    what = "loss" if not math.isfinite(loss) else "gradient"
    value = loss if what == "loss" else float(np.add.reduce(stack.G[row]))
    lr = stack.optimizers[row].learning_rate
    return TrainingDivergedError(epoch + 1, s + 1, value, lr, what)


def _epoch_line(epoch: int, epochs: int, histories: list[History], ids: np.ndarray) -> str:
    losses = ", ".join(f"{histories[i].history['loss'][-1]:.4f}" for i in ids)
    return f"Epoch {epoch + 1}/{epochs} - {len(ids)} networks - loss: {losses}"
