"""The softmax output and its cross-entropy loss, value and gradient: written once, for every path.

For the logits Z_out (m, k) of m rows, targets Y (m, k) (one-hot, or rows that are distributions)
and labels y (m,) (argmax of each row of Y):

    S     = Z_out - max_j Z_out            shifted logits: the same softmax, exp(S) <= 1 cannot overflow
    r_i   = sum_j exp S_ij                 row sums
    z_i   = sum_j Y_ij S_ij                the label's shifted logit (S[i, y_i] for one-hot rows)
    L     = (1/m) sum_i (log r_i - z_i)    = -(1/m) sum_i sum_j Y_ij log softmax(Z_out)_ij
    A_out = exp(S) / r                     softmax(Z_out)
    delta_out = dL/dZ_out = (A_out - Y) / m
    correct   = #{i : argmax_j S_ij = y_i}  (the first maximum wins ties, as Keras counts)

Every function also works on a stack of K networks' logits (K, m, k) (`fit_many`): reductions run
over the last axis, the loss is then one value per network, summed over the rows in the same order
as for one network (so each network's loss is bit for bit the one `fit` computes).

The readable path (`MLP.loss`, `MLP.gradients`, evaluation, gradient checking) calls
`softmax_cross_entropy`, `softmax` and `delta_out`; the training steps run the same functions one
by one on preallocated buffers, as the named operations of `operations` (the profiler times them).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import numpy as np


class Operation(NamedTuple):
    """One NumPy call of a training step: what it computes, the call, and its kind (KINDS)."""

    label: str
    run: Callable[[], object]
    kind: str


# gather: the batch's rows; product: a matrix product; elementwise: activations and their
# derivatives; loss: softmax, cross-entropy value, its gradient and the accuracy count;
# check: stopping on a non-finite value; update: the optimizer.
KINDS = ("gather", "product", "elementwise", "loss", "check", "update")


def shifted_logits(Z: np.ndarray, out: np.ndarray | None = None, rowmax=None) -> np.ndarray:
    """S = Z - max_j Z (row by row); rowmax (..., m, 1) receives the maxima."""
    rowmax = np.maximum.reduce(Z, axis=-1, keepdims=True, out=rowmax)
    return np.subtract(Z, rowmax, out=out)


def count_correct(S: np.ndarray, labels: np.ndarray, predicted=None, hit=None):
    """How many rows have argmax_j S_ij == y_i (the first maximum winning ties); per network for
    a stack. predicted, hit: (..., m) scratch of intp and bool."""
    predicted = np.argmax(S, axis=-1, out=predicted)
    hit = np.equal(predicted, labels, out=hit)
    if hit.ndim == 1:  # one network: count_nonzero without an axis is one C call
        return np.count_nonzero(hit)
    return np.add.reduce(hit, axis=-1, dtype=np.intp)


def label_positions(labels: np.ndarray, k: int) -> np.ndarray:
    """i * k + y_i for each row i: where row i's label entry sits in the flattened (m, k) block."""
    return np.arange(labels.shape[0]) * k + labels


def label_logits_one_hot(S_flat: np.ndarray, positions: np.ndarray, out=None) -> np.ndarray:
    """z_i = S[i, y_i] for one-hot targets: S_flat is S with its last two axes flattened (m*k)."""
    return np.take(S_flat, positions, axis=-1, out=out)


def label_logits(S: np.ndarray, Y: np.ndarray, scratch=None, out=None) -> np.ndarray:
    """z_i = sum_j Y_ij S_ij, for any targets (equal to S[i, y_i] when Y is one-hot)."""
    return np.add.reduce(np.multiply(S, Y, out=scratch), axis=-1, out=out)


def exp_row_sums(S: np.ndarray, out=None, rowsum=None) -> np.ndarray:
    """exp(S) into `out` (S itself when out is S); returns r = its row sums (..., m, 1)."""
    np.exp(S, out=out)
    return np.add.reduce(S if out is None else out, axis=-1, keepdims=True, out=rowsum)


def batch_loss(rowsum: np.ndarray, z: np.ndarray):
    """L = (1/m) (sum_i log r_i - sum_i z_i): a number, or one per network (K,).

    The two sums are taken in the buffers' dtype, the rest in float64 (or wider: extended
    precision stays extended, as gradient checking needs).
    """
    m = z.shape[-1]
    if z.ndim == 1 and z.dtype.itemsize <= 8:  # one network: the same sums, fewer calls
        return (float(np.add.reduce(np.log(rowsum), axis=None)) - float(np.add.reduce(z))) / m
    wide = np.result_type(z.dtype, np.float64)
    log_sum = np.add.reduce(np.log(rowsum[..., 0]), axis=-1).astype(wide)
    return (log_sum - np.add.reduce(z, axis=-1).astype(wide)) / m


def delta_out(A_out: np.ndarray, Y: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """delta_out = dL/dZ_out = (A_out - Y) / m: softmax and cross-entropy differentiated together."""
    out = np.subtract(A_out, Y, out=out)
    return np.divide(out, A_out.shape[-2], out=out)


def softmax(Z: np.ndarray) -> np.ndarray:
    """A_out = exp(S) / r, row by row (a new array)."""
    E = shifted_logits(Z)
    return np.divide(E, exp_row_sums(E, out=E), out=E)


def softmax_cross_entropy(Z: np.ndarray, Y: np.ndarray) -> tuple[float, int, np.ndarray]:
    """(L, correct rows, A_out) for logits Z (m, k) and targets Y (m, k); Z is left unchanged."""
    S = shifted_logits(Z)
    correct = int(count_correct(S, np.argmax(Y, axis=-1)))
    z = label_logits(S, Y)
    rowsum = exp_row_sums(S, out=S)
    loss = float(batch_loss(rowsum, z))
    return loss, correct, np.divide(S, rowsum, out=S)


def cross_entropy(Z: np.ndarray, Y: np.ndarray):
    """The batch-mean loss L of logits Z (m, k) against targets Y (m, k), a NumPy scalar of
    float64 (or of Z's dtype, when that is wider)."""
    S = shifted_logits(Z)
    z = label_logits(S, Y)
    return batch_loss(exp_row_sums(S, out=S), z)


class LossBuffers:
    """Scratch for the loss of up to `capacity` rows (a leading stack axis `lead` for K networks)."""

    def __init__(self, lead: tuple[int, ...], capacity: int, k: int, dtype) -> None:
        self.rowmax = np.empty((*lead, capacity, 1), dtype)
        self.rowsum = np.empty((*lead, capacity, 1), dtype)
        self.z = np.empty((*lead, capacity), dtype)
        self.Y_S = np.empty((*lead, capacity, k), dtype)
        self.predicted = np.empty((*lead, capacity), np.intp)
        self.hit = np.empty((*lead, capacity), bool)


class LossResult:
    """What the loss operations leave: `loss` and `correct` (numbers, or (K,) arrays)."""

    __slots__ = ("loss", "correct")


def operations(
    Z: np.ndarray, buffers: LossBuffers, inputs, result: LossResult, *, one_hot: bool
) -> list[Operation]:
    """The loss and its gradient as named operations on the logits buffer Z (..., m, k), in place.

    Z holds Z_out, then S, then exp(S), then A_out, then delta_out. `inputs` is read when each
    operation runs: its Y (m, k), labels (m,) and, for one-hot targets, positions (m,) (see
    `label_positions`). `result` receives the loss and the correct count.
    """
    m, k = Z.shape[-2], Z.shape[-1]
    lead = Z.shape[:-2]
    rowmax, rowsum = buffers.rowmax[..., :m, :], buffers.rowsum[..., :m, :]
    z, Y_S = buffers.z[..., :m], buffers.Y_S[..., :m, :]
    predicted, hit = buffers.predicted[..., :m], buffers.hit[..., :m]

    def correct() -> None:
        result.correct = count_correct(Z, inputs.labels, predicted, hit)

    if one_hot:
        Z_flat = Z.reshape(*lead, m * k)
        if not np.shares_memory(Z_flat, Z):  # a copy would go stale: the buffers must allow a view
            raise ValueError("the logits buffer must hold each (m, k) block contiguously")
        label = Operation(
            "z = S[i, label] (gather)",
            lambda: label_logits_one_hot(Z_flat, inputs.positions, out=z),
            "loss",
        )
    else:
        label = Operation(
            "z = sum_j Y S (row sums)", lambda: label_logits(Z, inputs.Y, Y_S, out=z), "loss"
        )

    def loss() -> None:
        result.loss = batch_loss(rowsum, z)

    return [
        Operation("S = Z_out - row max", lambda: shifted_logits(Z, Z, rowmax), "loss"),
        Operation("correct: argmax S == label", correct, "loss"),
        label,
        Operation("exp(S) and its row sums r", lambda: exp_row_sums(Z, Z, rowsum), "loss"),
        Operation("L = mean(log r - z)", loss, "loss"),
        Operation("A_out = exp(S) / r", lambda: np.divide(Z, rowsum, out=Z), "loss"),
        Operation(f"delta_out = (A_out - Y) / {m}", lambda: delta_out(Z, inputs.Y, Z), "loss"),
    ]
