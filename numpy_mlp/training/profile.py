"""One FastStep training step, spelled out operation by operation, for timing each one.

`step_operations(step, X, Y, idx)` lists every NumPy call that `step(X, Y, idx)` makes, in order:
the batch gather, each matrix product, each elementwise and reduction call of the forward pass,
the loss, backpropagation, the gradient's finiteness check and the optimizer's update. Each entry
is an `Operation(label, run, kind)`: `run()` performs that one call on the step's own buffers, so
calling them all in order is one training step (the tests check it changes the parameters bit for
bit as `step(X, Y, idx)` does). A profiler times each `run` and learns where a step's time goes.

Built from FastStep's public API only (`buffers`, `weights`, `grads`, `mlp`, `update`); the
update is `step.update()` itself. Written for the hidden activation f of `step.mlp` and the
softmax/cross-entropy output, as in `numpy_mlp.training.fast`. Gradient-flow recording is not
part of a profiled step.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import NamedTuple

import numpy as np

from numpy_mlp.training.fast import FastStep, NonFiniteLoss, check_gradient

KINDS = ("gather", "product", "elementwise", "reduction", "update")


class Operation(NamedTuple):
    """One NumPy call of a training step: what it computes, the call, and its kind (KINDS)."""

    label: str
    run: Callable[[], object]
    kind: str


def _shape(a: np.ndarray) -> str:
    return "x".join(map(str, a.shape))


def step_operations(
    step: FastStep, X: np.ndarray, Y: np.ndarray, idx: np.ndarray
) -> list[Operation]:
    """The calls of `step(X, Y, idx)` in order: X (n, d_in), one-hot Y (n, k), idx (m,) rows.

    Products are labelled with their shapes, (m x n) @ (n x p). The loss operation returns the
    batch loss L = -(1/m) sum_i (z_label,i - log sum_j exp z_ij) and raises NonFiniteLoss when it
    is not finite, as the step does; the gradient check raises when dL/dW is not finite.
    """
    if step.flow is not None:
        raise ValueError("profile a step without gradient-flow recording (step.flow is set)")
    m = idx.shape[0]
    buf = step.buffers(m)
    W, G, f = step.weights, step.grads, step.mlp.activation
    W_T = [w[1:].T for w in W]  # W^(l) without its bias row, transposed: delta W[1:]^T
    flat_G = step.flat_grad  # every dL/dW^(l) is a view into it
    hidden = len(buf.A_h)
    ops: list[Operation] = [
        Operation(
            f"gather X rows ({m}x{X.shape[1]})",
            lambda: np.take(X, idx, axis=0, out=buf.X),
            "gather",
        ),
        Operation(
            f"gather Y rows ({m}x{Y.shape[1]})",
            lambda: np.take(Y, idx, axis=0, out=buf.Y),
            "gather",
        ),
    ]

    def product(label: str, A: np.ndarray, B: np.ndarray, out: np.ndarray) -> Operation:
        return Operation(
            f"{label}  ({_shape(A)} @ {_shape(B)})", lambda: np.dot(A, B, out=out), "product"
        )

    # forward: Z_h = [1 | A] W_h, A_h = [1 | f(Z_h)] per hidden layer, then Z_out = [1 | A_h] W_out
    A = buf.A_in
    for l in range(hidden):
        ops.append(product(f"Z_h{l + 1} = [1|A] W^({l})", A, W[l], buf.Z_h[l]))
        ops.append(
            Operation(
                f"A_h{l + 1} = {f.name}(Z_h{l + 1})",
                lambda l=l: f.f(buf.Z_h[l], out=buf.f_out[l]),
                "elementwise",
            )
        )
        A = buf.A_h[l]
    Z = buf.delta[-1]  # holds Z_out, then the shifted logits, exp, A_out, delta_out
    Y_b = buf.Y
    state: dict[str, float] = {}

    def loss() -> float:
        value = (float(np.log(buf.rowsum).sum()) - float(buf.z_label.sum())) / m
        if not math.isfinite(value):
            raise NonFiniteLoss(value)
        state["loss"] = value
        return value

    ops += [
        product(f"Z_out = [1|A_h{hidden}] W^({hidden})", A, W[-1], Z),
        Operation(
            "row max of Z_out",
            lambda: np.maximum.reduce(Z, axis=1, keepdims=True, out=buf.rowmax),
            "reduction",
        ),
        Operation("Z_out -= row max", lambda: np.subtract(Z, buf.rowmax, out=Z), "elementwise"),
        Operation(
            "argmax Z_out (predicted)",
            lambda: np.argmax(Z, axis=1, out=buf.predicted),
            "reduction",
        ),
        Operation("argmax Y (label)", lambda: np.argmax(Y_b, axis=1, out=buf.label), "reduction"),
        Operation(
            "count predicted == label",
            lambda: int(np.count_nonzero(np.equal(buf.predicted, buf.label, out=buf.hit))),
            "reduction",
        ),
        Operation("Y * shifted Z_out", lambda: np.multiply(Z, Y_b, out=buf.Y_z), "elementwise"),
        Operation(
            "row sum: label logit",
            lambda: np.add.reduce(buf.Y_z, axis=1, out=buf.z_label),
            "reduction",
        ),
        Operation("exp(shifted Z_out)", lambda: np.exp(Z, out=Z), "elementwise"),
        Operation(
            "row sum of exp",
            lambda: np.add.reduce(Z, axis=1, keepdims=True, out=buf.rowsum),
            "reduction",
        ),
        Operation("loss: sum log(row sum) - sum label logit", loss, "reduction"),
        Operation("A_out = exp / row sum", lambda: np.divide(Z, buf.rowsum, out=Z), "elementwise"),
        # backward: delta_out = (A_out - Y) / m, then per matrix dL/dW and delta of the layer below
        Operation("delta_out = A_out - Y", lambda: np.subtract(Z, Y_b, out=Z), "elementwise"),
        Operation(f"delta_out /= {m}", lambda: np.divide(Z, m, out=Z), "elementwise"),
    ]
    for l in range(hidden, -1, -1):
        A = buf.A_in if l == 0 else buf.A_h[l - 1]
        below = "A_in" if l == 0 else f"A_h{l}"
        ops.append(product(f"dL/dW^({l}) = [1|{below}]^T delta", A.T, buf.delta[l], G[l]))
        if l:
            ops += [
                product(
                    f"delta_h{l} = delta W^({l})[1:]^T", buf.delta[l], W_T[l], buf.delta[l - 1]
                ),
                Operation(
                    f"f'(Z_h{l}) from A_h{l}",
                    lambda l=l: f.derivative(buf.f_out[l - 1], out=buf.f_prime[l - 1]),
                    "elementwise",
                ),
                Operation(
                    f"delta_h{l} *= f'(Z_h{l})",
                    lambda l=l: np.multiply(
                        buf.delta[l - 1], buf.f_prime[l - 1], out=buf.delta[l - 1]
                    ),
                    "elementwise",
                ),
            ]
    ops += [
        Operation("check dL/dW is finite (one sum)", lambda: check_gradient(flat_G), "reduction"),
        Operation("update: momentum SGD on all parameters", step.update, "update"),
    ]
    return ops


def run_operations(ops: list[Operation]) -> None:
    """Run every operation once, in order: one training step."""
    for op in ops:
        op.run()
