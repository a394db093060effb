"""Minibatch SGD with classical momentum and the old Keras learning-rate decay.

Two different things are both called "decay" in the tutorial's world; this module keeps them apart:

* `decay` (learning-rate decay): the step size shrinks with the number of updates t done so far,
      eta_t = eta_0 / (1 + decay * t)
  This is the old Keras `SGD(decay=...)`; Keras 3 spells it `InverseTimeDecay(eta_0, 1, decay)`.
* `weight_decay` (L2 regularisation): adds lambda * W to the gradient of every connection weight,
  i.e. minimises L + (lambda/2) * ||W||^2. Bias rows are left alone. Off by default.

The update, per matrix, with velocity v starting at zero (the same as Keras 3):
      v <- momentum * v - eta_t * g
      W <- W + v                                  (classical momentum)
      W <- W + momentum * v - eta_t * g           (nesterov=True, with the new v)
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


class SGD:
    """Stochastic gradient descent with momentum, learning-rate decay and optional L2 weight decay."""

    def __init__(
        self,
        learning_rate: float = 0.001,
        momentum: float = 0.9,
        decay: float = 1e-7,
        nesterov: bool = False,
        weight_decay: float = 0.0,
    ) -> None:
        for name, value in (
            ("learning_rate", learning_rate),
            ("decay", decay),
            ("weight_decay", weight_decay),
        ):
            if not np.isfinite(value) or value < 0:
                raise ValueError(f"{name} must be a finite number >= 0, got {value}")
        if learning_rate == 0:
            raise ValueError("learning_rate must be > 0")
        if not 0.0 <= momentum < 1.0:
            raise ValueError(f"momentum must lie in [0, 1), got {momentum}")
        self.learning_rate = float(learning_rate)
        self.momentum = float(momentum)
        self.decay = float(decay)
        self.nesterov = bool(nesterov)
        self.weight_decay = float(weight_decay)
        self.iterations = 0  # t: updates done so far
        self.velocities: list[np.ndarray] | None = None

    def get_config(self) -> dict:
        return {
            "learning_rate": self.learning_rate,
            "momentum": self.momentum,
            "decay": self.decay,
            "nesterov": self.nesterov,
            "weight_decay": self.weight_decay,
        }

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"SGD({args})"

    def current_learning_rate(self) -> float:
        """eta_t = eta_0 / (1 + decay * t), t = self.iterations."""
        return self.learning_rate / (1.0 + self.decay * self.iterations)

    def init_state(self, weights: Sequence[np.ndarray]) -> None:
        """Zero velocities shaped like `weights` (kept if they already match)."""
        if self.velocities is None or [v.shape for v in self.velocities] != [
            W.shape for W in weights
        ]:
            self.velocities = [np.zeros_like(W) for W in weights]

    def step(self, weights: Sequence[np.ndarray], grads: Sequence[np.ndarray]) -> None:
        """Apply one update in place to every W in `weights`, given dL/dW in `grads`."""
        self.init_state(weights)
        eta = self.current_learning_rate()
        mu = self.momentum
        for W, g, v in zip(weights, grads, self.velocities, strict=True):
            if self.weight_decay:
                g = g.copy()
                g[1:] += self.weight_decay * W[1:]  # L2 on connection weights, not the bias row
            v *= mu
            v -= eta * g  # v = mu v - eta_t g
            if self.nesterov:
                W += mu * v - eta * g
            else:
                W += v
        self.iterations += 1
