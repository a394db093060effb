"""`fit_many`: K networks of one shape trained together on the same minibatches.

Networks that differ only in their optimizer (learning rate, momentum, learning-rate decay, L2,
Nesterov) and start from their own weights can share one pass over the data: each step gathers one
batch for all of them. At the tutorial's size NumPy spends most of a step on per-call overhead and
thin matrix products; stacked, the K networks share the calls:

* the parameters of network k are row k of one (K, T) buffer P, in the model's own layout, so each
  W^(l) is a (K, m_l + 1, d_l) stack (`flat_views`), as are the gradients G and the velocities V;
* every layer is one stacked product (K, m, h + 1) @ (K, h + 1, d), every elementwise step one call;
* the update is `momentum_update` once on (K, T), each network's eta_t and momentum a (K, 1) column.

The forward pass, loss and backpropagation are the fast step's own operations
(`numpy_mlp.training.fast.layer_operations`, with `numpy_mlp.model.loss`), built on buffers with a
leading stack axis and `np.matmul` for the products: nothing of the arithmetic is written twice.
Sharing costs nothing measurable: against the hand-written stacked pass it replaced, a K = 4
step of the tutorial network took 711 us against 725 us (fastest of 20 alternating rounds, one
BLAS thread, float32, on the 2-core machine under load), and the single-network step 221 us
against 219 us.

Each network's arithmetic is `fit`'s: the same formulas, the same batches in the same order (same
`seed`), its own optimizer; only how the products are blocked differs, so in float64 every network
ends where `fit` alone takes it, to the last bit (the tests check it). A network that diverges (the
rule of `numpy_mlp.training.divergence`) or whose callbacks stop it leaves the stack with the
weights the same event leaves in `fit`; the others carry on.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence

import numpy as np

from numpy_mlp.model.loss import LossResult, Operation
from numpy_mlp.model.mlp import MLP
from numpy_mlp.model.parameters import flat_views
from numpy_mlp.training.callbacks import Callback
from numpy_mlp.training.divergence import TrainingDivergedError, epoch_divergence
from numpy_mlp.training.fast import (
    LayerBuffers,
    StepInputs,
    all_finite,
    is_one_hot,
    layer_operations,
)
from numpy_mlp.training.flow import GradientFlow
from numpy_mlp.training.loop import (
    History,
    callbacks_stop,
    check_positive,
    evaluate,
    prepare_data,
    training_scope,
)
from numpy_mlp.training.optimizers import SGD, momentum_update


class StackedStep:
    """One SGD step of K networks on one batch, in place on their stacked (K, T) parameters.

    mlps, optimizers: the networks (same layer sizes, dtype and activation) and their SGDs;
    batch_size: the largest batch that will be passed. The networks' own buffers are not touched
    until `write_back`.
    """

    def __init__(
        self,
        mlps: Sequence[MLP],
        optimizers: Sequence[SGD],
        batch_size: int,
        *,
        one_hot: bool = False,
    ) -> None:
        self.one_hot = one_hot  # targets one-hot: each label logit is picked, not summed
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
        self._ones = np.ones(self.G.size, self.dtype)  # the finiteness check's dot product
        self.capacity = batch_size
        self.buffers = LayerBuffers(self.shapes, dtype, batch_size, lead=(K,))
        self.inputs, self.result = StepInputs(), LossResult()
        self._runs: dict[int, list] = {}

    def operations(self, m: int) -> list[Operation]:
        """Forward pass, loss and backpropagation of every network on m rows (the per-layer
        operations of `numpy_mlp.training.fast`, on (K, m, ...) stacks with np.matmul)."""
        return layer_operations(
            self.buffers.rows(m), self.W, self.dW, self.f, self.inputs, self.result,
            product=np.matmul, one_hot=self.one_hot,
        )  # fmt: skip

    def gradients(self, A_in, Y, labels, positions) -> tuple[np.ndarray, np.ndarray]:
        """Forward and backward pass of every network on one batch: A_in = [1 | X_batch]
        (m, d_in + 1), Y (m, k), labels (m,), positions (m,) (`model.loss.label_positions`).

        Fills G (and its views dW) with every network's dL/dW; returns (batch loss per network
        (K,), correct rows per network (K,)).
        """
        m = A_in.shape[0]
        runs = self._runs.get(m)
        if runs is None:
            runs = self._runs[m] = [op.run for op in self.operations(m)]
        inputs = self.inputs
        inputs.A_in, inputs.Y, inputs.labels, inputs.positions = A_in[None], Y, labels, positions
        for run in runs:
            run()
        return self.result.loss, self.result.correct

    def gradient_finite(self) -> np.ndarray:
        """(K,) True where every entry of that network's gradient is finite (`all_finite`: one
        dot product over the whole stack when all are, network by network only when not)."""
        if all_finite(self.G.reshape(-1), self._ones):
            return np.ones(self.G.shape[0], bool)
        return np.array([all_finite(G_k) for G_k in self.G])

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

    stack = StackedStep(mlps, optimizers, B, one_hot=is_one_hot(Y_train))
    run = _StackedRun(stack, callbacks, flows, (X_val, Y_val))
    rng = np.random.default_rng(seed)
    with training_scope(blas_threads, X_train, Y_train, B) as (scope, batches):
        # However training ends (a callback raising, Ctrl-C mid-epoch): every network's
        # on_train_end runs (each even if another raises), after the stack's weights and
        # velocities are written back, so they match the iteration counts, as in fit.
        for cb in reversed([c for cbs in callbacks for c in cbs]):
            scope.callback(cb.on_train_end)
        scope.callback(lambda: stack.write_back() if run.alive() else None)
        for epoch in range(epochs):
            if not run.alive():
                break
            started = time.perf_counter()
            order = rng.permutation(n) if shuffle else np.arange(n)
            sums = run.train_epoch(batches.epoch(order), epoch)
            if not run.alive():
                break
            stopping, reasons = run.close_epoch(epoch, sums, n, time.perf_counter() - started)
            if verbose:
                print(_epoch_line(epoch, epochs, run.histories, run.ids), flush=True)
            if stopping:
                run.leave(np.array(stopping), reasons)
    return run.histories


class _StackedRun:
    """The networks of one `fit_many` call while they train: which row of the stack each one is
    (`ids`), their Histories, callbacks and gradient-flow records."""

    def __init__(self, stack: StackedStep, callbacks, flows, validation) -> None:
        self.stack, self.callbacks, self.flows = stack, callbacks, flows
        self.mlps, self.optimizers = list(stack.mlps), list(stack.optimizers)
        self.X_val, self.Y_val = validation
        self.ids = np.arange(len(self.mlps))  # which network each row of the stack is
        self.histories = [History() for _ in self.mlps]
        self.n_classes = self.mlps[0].n_classes

    def alive(self) -> bool:
        return bool(self.ids.shape[0])

    def leave(self, rows: np.ndarray, reasons: list[TrainingDivergedError | None]) -> None:
        """Networks at `rows` of the stack stop here: their state goes back, the stack shrinks."""
        self.stack.write_back(rows.tolist())
        for row, exc in zip(rows, reasons, strict=True):
            if exc is not None:
                exc.history = self.histories[self.ids[row]]
                self.histories[self.ids[row]].diverged = exc
        alive = np.setdiff1d(np.arange(self.ids.shape[0]), rows)
        self.ids = self.ids[alive]
        if self.alive():
            self.stack.keep(alive)

    def train_epoch(self, batches, epoch: int) -> tuple[np.ndarray, np.ndarray]:
        """One epoch of steps; (sum of batch loss x rows, correct rows) per network still in."""
        stack = self.stack
        loss_sum = np.zeros(self.ids.shape[0])
        hits = np.zeros(self.ids.shape[0], np.int64)
        for s, batch in enumerate(batches):
            losses, correct = stack.gradients(*batch)
            bad = ~np.isfinite(losses) | ~stack.gradient_finite()
            if bad.any():  # as fit: stop before this step's update, weights as they were
                rows = np.flatnonzero(bad)
                errors = [_step_error(epoch, s, losses[r], stack, r) for r in rows]
                kept = ~bad
                loss_sum, hits, losses, correct = (
                    loss_sum[kept], hits[kept], losses[kept], correct[kept]
                )  # fmt: skip
                self.leave(rows, errors)
                if not self.alive():
                    break
            self.update()
            loss_sum += losses * batch[0].shape[0]
            hits += correct
        return loss_sum, hits

    def update(self) -> None:
        """The stack's update, with the gradient-flow records when they are due."""
        stack, flows = self.stack, self.flows
        if flows is not None and all([flows[i].due() for i in self.ids]):
            for row, i in enumerate(self.ids):
                flows[i].note_gradient(stack.G[row])
            before = stack.P.copy()
            stack.update()
            for row, i in enumerate(self.ids):
                flows[i].note_update(before[row], stack.P[row])
        else:
            stack.update()

    def close_epoch(self, epoch: int, sums, n: int, seconds: float):
        """Every network's logs for the epoch into its History; returns (rows that stop here,
        the TrainingDivergedError of each, or None where its callbacks stopped it)."""
        loss_sum, hits = sums
        self.stack.write_back()
        stopping, reasons = [], []
        for row, i in enumerate(self.ids):
            logs = {"loss": float(loss_sum[row]) / n, "accuracy": int(hits[row]) / n}
            if self.X_val.shape[0]:
                logs["val_loss"], logs["val_accuracy"] = evaluate(
                    self.mlps[i], self.X_val, self.Y_val
                )
            logs["seconds"] = seconds
            if self.flows is not None:
                logs.update(self.flows[i].end_epoch())
            self.histories[i].append(epoch, logs)
            verdict = epoch_divergence(logs, self.n_classes)
            if verdict is not None:
                what, value = verdict
                lr = self.optimizers[i].learning_rate
                stopping.append(row)
                reasons.append(
                    TrainingDivergedError(
                        epoch + 1, None, value, lr, what, n_classes=self.n_classes
                    )
                )
            elif callbacks_stop(self.callbacks[i], epoch, logs):
                stopping.append(row)
                reasons.append(None)
        return stopping, reasons


def _step_error(epoch: int, s: int, loss: float, stack: StackedStep, row: int):
    """The TrainingDivergedError fit raises for a non-finite loss or gradient at this step."""
    what = "loss" if not math.isfinite(loss) else "gradient"
    value = loss if what == "loss" else float(np.add.reduce(stack.G[row]))
    lr = stack.optimizers[row].learning_rate
    return TrainingDivergedError(epoch + 1, s + 1, value, lr, what)


def _epoch_line(epoch: int, epochs: int, histories: list[History], ids: np.ndarray) -> str:
    losses = ", ".join(f"{histories[i].history['loss'][-1]:.4f}" for i in ids)
    return f"Epoch {epoch + 1}/{epochs} - {len(ids)} networks - loss: {losses}"
