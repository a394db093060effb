"""Gradient flow: how large dL/dW^(l) is at each layer, and how far each update moves W^(l).

Backpropagation multiplies delta by W^T and by f'(Z) once per layer,

    delta_h = (delta_next W_next[1:]^T) * f'(Z_h),      dL/dW^(l) = A^(l)^T delta^(l+1),

so the norm ||dL/dW^(l)|| shows whether that product shrinks (vanishing gradient: f' <= 1/4 for
the logistic) or grows on its way down to the first layer. The update-to-weight ratio
||Delta W^(l)|| / ||W^(l)|| says how fast each layer actually learns (around 1e-3 per step is the
usual healthy range). Norms are Frobenius norms over the whole matrix, bias row included.

`gradient_norms` measures one batch at the current weights. `GradientFlow` records during `fit`:
on every `every`-th step it takes the norms from the gradient buffer the step has just filled and
the update from the weights before and after it, and reports per-epoch means. Off (the default),
it costs nothing; on, it costs one pass over the gradients and one copy of the weights per
recorded step (the benchmark suite measures it).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # an annotation only: the model calls fit, so training never imports it
    from numpy_mlp.model.mlp import MLP


def gradient_norms(mlp: MLP, X, Y) -> list[float]:
    """||dL/dW^(l)|| for every matrix, input layer first, for the batch (X, Y) at mlp's weights."""
    X = mlp.as_inputs(X)
    if X.shape[0] == 0:
        raise ValueError("gradient_norms needs at least one row: an empty batch has no gradient")
    return [float(np.linalg.norm(G)) for G in mlp.gradients(X, Y)]


def _segment_norms(flat: np.ndarray, bounds: Sequence[tuple[int, int]]) -> np.ndarray:
    """sqrt(sum of squares) of each segment flat[start:stop] (one BLAS dot product each)."""
    return np.sqrt([float(np.dot(flat[a:b], flat[a:b])) for a, b in bounds])


class GradientFlow:
    """Per-layer gradient norms and update-to-weight ratios, sampled every `every` steps.

    Pass it to `fit(..., gradient_flow=GradientFlow(every=10))`; each epoch's History then holds
    `grad_norm` and `update_ratio`: lists with one value per weight matrix (input layer first),
    the means over the recorded steps of that epoch.
    """

    def __init__(self, every: int = 10) -> None:
        if isinstance(every, bool) or not isinstance(every, int) or every < 1:
            raise ValueError(f"every must be a positive integer, got {every!r}")
        self.every = every
        self._bounds: list[tuple[int, int]] = []
        self._count = 0
        self._reset()

    def start(self, shapes: Sequence[tuple[int, int]]) -> None:
        """Called by fit with the weight matrices' shapes."""
        ends = np.cumsum([r * c for r, c in shapes]).tolist()
        self._bounds = list(zip([0, *ends[:-1]], ends, strict=True))
        self._count = 0
        self._reset()

    def _reset(self) -> None:
        self._grad_sum: np.ndarray | float = 0.0
        self._ratio_sum: np.ndarray | float = 0.0
        self._recorded = 0

    def due(self) -> bool:
        """True on every `every`-th step (counted over the whole of training)."""
        self._count += 1
        return self._count % self.every == 1 % self.every

    def record(self, grad: np.ndarray, params: np.ndarray, update: Callable[[], None]) -> None:
        """Norms of the flat gradient `grad`, then `update()`, then how far `params` moved.

        grad and params are flat buffers in the model's layout; the gradient is read before the
        update runs (the update may use its buffer as scratch).
        """
        self.note_gradient(grad)
        before = params.copy()
        update()
        self.note_update(before, params)

    def note_gradient(self, grad: np.ndarray) -> None:
        """The first half of `record`: per-matrix norms of the flat gradient, before the update."""
        self._grad_sum = self._grad_sum + _segment_norms(grad, self._bounds)

    def note_update(self, before: np.ndarray, after: np.ndarray) -> None:
        """The second half of `record`: ||W_after - W_before|| / ||W_before|| per matrix."""
        moved = _segment_norms(after - before, self._bounds)
        size = _segment_norms(before, self._bounds)
        self._ratio_sum = self._ratio_sum + moved / np.where(size > 0, size, 1.0)
        self._recorded += 1

    def end_epoch(self) -> dict[str, list[float]]:
        """The epoch's means (empty lists if no step was recorded), and a fresh start."""
        n = self._recorded
        summary = {
            "grad_norm": (np.asarray(self._grad_sum) / n).tolist() if n else [],
            "update_ratio": (np.asarray(self._ratio_sum) / n).tolist() if n else [],
            "flow_steps": n,
        }
        self._reset()
        return summary
