"""One FastStep training step as its list of named operations, for timing each one.

`step_operations(step, X, Y, idx)` is the batch gather (what `fit`'s background thread does) followed by
`step.operations(m)`: the very list of operations the step runs, so the profiler times what trains and
holds no arithmetic of its own. Each entry is an `Operation(label, run, kind)`: `run()` performs that one
call on the step's own buffers, so running them all in order is one training step (the tests check it
changes the parameters bit for bit as `step(X, Y, idx)` does). Gradient-flow recording is not part of a
profiled step.
"""

from __future__ import annotations

import numpy as np

from numpy_mlp.training.fast import KINDS, FastStep, Operation

__all__ = ["KINDS", "Operation", "run_operations", "step_operations"]


def step_operations(
    step: FastStep, X: np.ndarray, Y: np.ndarray, idx: np.ndarray
) -> list[Operation]:
    """The calls of `step(X, Y, idx)` in order: X (n, d_in), one-hot Y (n, k), idx (m,) rows.

    Products are labelled with their shapes, (m x n) @ (n x p). The loss operation leaves the
    batch loss in `step.result.loss`; the check after it raises NonFiniteLoss when it is not
    finite, as the step does; the gradient check raises when dL/dW is not finite.
    """
    if step.flow is not None:
        raise ValueError("profile a step without gradient-flow recording (step.flow is set)")
    return [*step.gather_operations(X, Y, idx), *step.operations(idx.shape[0])]


def run_operations(ops: list[Operation]) -> None:
    """Run every operation once, in order: one training step."""
    for op in ops:
        op.run()
