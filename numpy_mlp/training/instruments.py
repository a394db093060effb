"""Per-layer instruments: what the forward signal and the backpropagated error look like, layer by
layer, on one fixed batch of rows (the probe).

Backpropagation (see `numpy_mlp.model.mlp`) writes every weight gradient as the product of a
forward part and a backward part,

    delta^(l) = dL/dZ^(l)                                   (n, units of layer l)
    dL/dW^(l-1) = [1 | A^(l-1)]^T delta^(l)                 the activations below times the error,

so a weight-gradient norm that shrinks from layer to layer can come from either: the error delta
shrinking on its way down (the backward pass) or the activations it multiplies shrinking (the
forward pass). The instruments measure both sides apart.

Forward, per hidden layer l (A^(l) without its bias unit, (n, units)):
    mean_activation[l]  mean of A^(l) over rows and units
    unit_spread[l]      mean over units of each unit's standard deviation over the rows
                        (ddof 0): how much a unit's output depends on which image it sees; a
                        spread near 0 means the layer passes (nearly) the same vector for every row
    saturation[l]       tanh: the share of entries with |a| > 0.97 (f' < 0.06);
                        logistic: the share of entries outside [0.03, 0.97] (f' < 0.03);
                        relu: the share of dead units, 0 for every row of the probe (f' = 0 there)
    logit_spread        the same spread for Z_out: near 0, the output ignores the input
Backward, per layer (hidden layers, then the output layer):
    delta_norm[l]       ||delta^(l)|| = ||dL/dZ^(l)||, Frobenius norm over rows and units
Per weight matrix (input layer first):
    grad_norm[l]        ||dL/dW^(l)||, bias row included (what `gradient_norms` gives)
    weight_norm[l]      ||W^(l)||
    update_ratio[l]     ||Delta W^(l)|| / ||W^(l)|| for the update the optimizer would make next
                        with the probe's gradient (its current rate eta_t, momentum and velocity,
                        as `SGD.step` computes it); None without an optimizer

L is the probe's mean cross-entropy, so delta carries the 1/n of the mean. Everything is computed
by the readable path (`forward_pass`, `backward_pass`) in the model's dtype; measuring changes
nothing in the model or the optimizer.

`layer_stats(mlp, X, Y)` measures once. `LayerProbe(X, Y)` is a callback that measures at the start
of training and after every epoch, for `fit` and for each network of `fit_many` (give every network
its own probe).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from numpy_mlp.model.loss import cross_entropy
from numpy_mlp.model.mlp import MLP, backward_pass, forward_pass
from numpy_mlp.training.callbacks import Callback
from numpy_mlp.training.optimizers import SGD

# The saturation rules: tanh |a| > TANH_SATURATED, logistic a outside
# [LOGISTIC_SATURATED, 1 - LOGISTIC_SATURATED], relu a unit that is 0 on every probe row.
TANH_SATURATED = 0.97
LOGISTIC_SATURATED = 0.03


def saturation(activation: str, A: np.ndarray) -> float:
    """The saturated share of a hidden layer's activations A (n, units), by the rule of `activation`
    (see the module docstring): entries for tanh and logistic, units for relu."""
    if activation == "tanh":
        return float(np.mean(np.abs(A) > TANH_SATURATED))
    if activation == "logistic":
        return float(np.mean((A < LOGISTIC_SATURATED) | (A > 1.0 - LOGISTIC_SATURATED)))
    if activation == "relu":
        return float(np.mean(np.all(A <= 0.0, axis=0)))
    raise ValueError(f"no saturation rule for activation {activation!r}")


def unit_spread(A: np.ndarray) -> float:
    """Mean over units (columns) of each unit's standard deviation over the rows (ddof 0)."""
    return float(np.mean(np.std(A, axis=0)))


@dataclass(frozen=True)
class LayerStats:
    """One measurement on the probe (see the module docstring for each field).

    Hidden-layer lists have one entry per hidden layer; delta_norm one per layer after the input
    (hidden layers, then the output); grad_norm, weight_norm and update_ratio one per matrix.
    """

    loss: float
    mean_activation: list[float]
    unit_spread: list[float]
    saturation: list[float]
    logit_spread: float
    delta_norm: list[float]
    grad_norm: list[float]
    weight_norm: list[float]
    update_ratio: list[float] | None

    def to_dict(self) -> dict:
        return asdict(self)


def next_update(weights, grads, optimizer: SGD) -> list[np.ndarray]:
    """Delta W per matrix for the update `optimizer` would make next with `grads`: `SGD.step` run
    by a twin (same settings, iterations and velocity; a velocity not yet allocated counts as zero)
    on copies of the weights. Nothing is changed."""
    twin = SGD(**optimizer.get_config())
    twin.iterations = optimizer.iterations
    mine = optimizer.velocities
    if mine is not None and [v.shape for v in mine] == [W.shape for W in weights]:
        twin.set_velocities(mine)
    after = [W.copy() for W in weights]
    twin.step(after, grads)
    return [moved - W for moved, W in zip(after, weights, strict=True)]


def layer_stats(mlp: MLP, X, Y, optimizer: SGD | None = None) -> LayerStats:
    """Measure the instruments on rows X (n, d_in) with targets Y (one-hot or labels) at mlp's
    current weights. optimizer: for update_ratio (default: mlp.optimizer; None leaves it out)."""
    X = mlp.as_inputs(X)
    if X.shape[0] == 0:
        raise ValueError("layer_stats needs at least one row")
    Y = mlp.as_targets(Y, X.shape[0])
    f = mlp.activation
    Z: list[np.ndarray] = []
    activations = forward_pass(mlp.weights, X, f, Z=Z)
    trace: dict = {}
    grads = backward_pass(mlp.weights, activations, Y, f, trace=trace)
    hidden = [A[:, 1:] for A in activations[1:-1]]  # A_h1 ... A_hd without the bias unit
    optimizer = optimizer if optimizer is not None else mlp.optimizer
    weight_norm = [float(np.linalg.norm(W)) for W in mlp.weights]
    update_ratio = None
    if optimizer is not None:
        moves = next_update(mlp.weights, grads, optimizer)
        update_ratio = [
            float(np.linalg.norm(D)) / w if w > 0 else float("nan")
            for D, w in zip(moves, weight_norm, strict=True)
        ]
    return LayerStats(
        loss=float(cross_entropy(Z[-1], Y)),
        mean_activation=[float(np.mean(A)) for A in hidden],
        unit_spread=[unit_spread(A) for A in hidden],
        saturation=[saturation(f.name, A) for A in hidden],
        logit_spread=unit_spread(Z[-1]),
        # trace["delta"][l] is delta^(l+1), the error at the layer matrix l feeds
        delta_norm=[float(np.linalg.norm(trace["delta"][l])) for l in range(len(mlp.weights))],
        grad_norm=[float(np.linalg.norm(G)) for G in grads],
        weight_norm=weight_norm,
        update_ratio=update_ratio,
    )


class LayerProbe(Callback):
    """Records `layer_stats` on a fixed probe batch (X, Y): once when training begins (`at_start`:
    at initialization for a fresh network) and after every epoch (`epochs`, one per finished
    epoch). Pass it in `fit(..., callbacks=[probe])`, or in `fit_many`'s per-network lists (one
    probe per network). It reads the weights between epochs, so the training step is untouched.
    """

    def __init__(self, X, Y) -> None:
        self.X, self.Y = X, Y
        self.at_start: LayerStats | None = None
        self.epochs: list[LayerStats] = []

    def on_train_begin(self, model) -> None:
        super().on_train_begin(model)
        self.at_start = layer_stats(model, self.X, self.Y)
        self.epochs = []

    def on_epoch_end(self, epoch: int, logs: dict) -> bool:
        self.epochs.append(layer_stats(self.model, self.X, self.Y))
        return False
