"""Deliberately broken copies of backpropagation, for seeing what a gradient check catches.

Each takes (mlp, X, Y) like `MLP.gradients` and returns [dL/dW], wrong in one classic way:

    missing-1/n       delta_out = A_out - Y: the mean's 1/n forgotten (every matrix n times too big)
    wrong-derivative  f'(Z_h) off by a factor 1.001 (every matrix below W_out, slightly)
    bias-row          the bias row of dL/dW as the mean of delta instead of its column sum
    transposed        delta_h computed, transposed and reshaped back to (n, h): numbers scrambled,
                      shapes still fit (for the first hidden delta; W_out's gradient stays right)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from numpy_mlp.model.mlp import MLP, forward_pass


def _backprop(mlp: MLP, X, Y, bug: str) -> list[np.ndarray]:
    X = mlp.as_inputs(X)
    Y = mlp.as_targets(Y, X.shape[0])
    weights, f = mlp.weights, mlp.activation
    activations = forward_pass(weights, X, f)
    n = X.shape[0]
    delta = activations[-1] - Y
    if bug != "missing-1/n":
        delta = delta / n
    grads: list[np.ndarray] = [np.empty(0)] * len(weights)
    for l in reversed(range(len(weights))):
        A = activations[l]
        grads[l] = A.T @ delta
        if bug == "bias-row":
            grads[l][0] = delta.mean(axis=0)
        if l > 0:
            slope = f.derivative(A[:, 1:]) * (1.001 if bug == "wrong-derivative" else 1.0)
            delta = (delta @ weights[l][1:].T) * slope
            if bug == "transposed" and l == len(weights) - 1:
                delta = np.ascontiguousarray(delta.T).reshape(delta.shape)
    return grads


BUGS: dict[str, Callable[[MLP, np.ndarray, np.ndarray], list[np.ndarray]]] = {
    name: (lambda mlp, X, Y, bug=name: _backprop(mlp, X, Y, bug))
    for name in ("missing-1/n", "wrong-derivative", "bias-row", "transposed")
}


@dataclass(frozen=True)
class BugNote:
    """What a bug does (`does`, one line), where it must show (`reaches`) and why (`why`)."""

    does: str
    reaches: str  # "all" (every matrix) or "hidden" (every matrix below W_out)
    why: str
    vanishes_with_one_row: bool  # with n = 1 the broken formula equals the right one

    def reached(self, n_matrices: int) -> list[int]:
        """Indices of the weight matrices whose gradient the bug changes."""
        return list(range(n_matrices if self.reaches == "all" else n_matrices - 1))


NOTES: dict[str, BugNote] = {
    "missing-1/n": BugNote(
        "delta_out = A_out - Y instead of (A_out - Y) / n: the mean's 1/n forgotten",
        "all",
        "every gradient is built from delta_out (directly, or through the deltas below it), so "
        "every matrix's gradient is n times too big",
        True,
    ),
    "wrong-derivative": BugNote(
        "f'(Z_h) multiplied by 1.001, as if the derivative were slightly off",
        "hidden",
        "f' enters every delta_h, from which the gradients of all matrices below W_out are "
        "made; dL/dW_out = A_h^T delta_out uses no f' and stays right",
        False,
    ),
    "bias-row": BugNote(
        "each dL/dW's bias row is the mean of delta over the rows, not its column sum",
        "all",
        "every matrix has a bias row, and each one is now 1/n of what it should be (the other "
        "rows, A^T delta, stay right)",
        True,
    ),
    "transposed": BugNote(
        "top hidden delta transposed, reshaped back to (n, units): scrambled, shapes fit",
        "hidden",
        "that delta makes the gradient of the matrix below it, and every delta further down is "
        "made from it; W_out's gradient comes from delta_out and stays right",
        True,
    ),
}
