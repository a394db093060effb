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

from numpy_mlp.model.parameters import allocate

# Defaults: the tutorial's optimizer (keras_mlp.build_model takes the same ones).
LEARNING_RATE = 0.001
MOMENTUM = 0.9
DECAY = 1e-7
CONFIG_KEYS = ("learning_rate", "momentum", "decay", "nesterov", "weight_decay")


class SGD:
    """Stochastic gradient descent with momentum, learning-rate decay and optional L2 weight decay."""

    def __init__(
        self,
        learning_rate: float = LEARNING_RATE,
        momentum: float = MOMENTUM,
        decay: float = DECAY,
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
        self.velocity: np.ndarray | None = None  # every matrix's velocity, one flat buffer
        self.velocities: tuple[np.ndarray, ...] | None = None  # views into it, one per matrix

    def get_config(self) -> dict:
        """The constructor's arguments, as a dict (what `save` stores)."""
        return {name: getattr(self, name) for name in CONFIG_KEYS}

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"SGD({args})"

    def current_learning_rate(self) -> float:
        """eta_t = eta_0 / (1 + decay * t), t = self.iterations."""
        return self.learning_rate / (1.0 + self.decay * self.iterations)

    def init_state(self, weights: Sequence[np.ndarray]) -> None:
        """Zero velocities shaped like `weights` (kept if they already match).

        The velocities are views into one flat buffer, `velocity`, laid out like the model's
        `params`, so that `step_flat` can update the whole network at once.
        """
        shapes = [W.shape for W in weights]
        if self.velocities is None or [v.shape for v in self.velocities] != shapes:
            self.velocity, self.velocities = allocate(shapes, weights[0].dtype)

    def set_velocities(self, velocities: Sequence[np.ndarray]) -> None:
        """Resume from saved velocities (copied into the flat buffer)."""
        self.init_state(velocities)
        for mine, theirs in zip(self.velocities, velocities, strict=True):
            mine[...] = theirs

    def step(self, weights: Sequence[np.ndarray], grads: Sequence[np.ndarray]) -> None:
        """Apply one update in place to every W in `weights`, given dL/dW in `grads`."""
        self.init_state(weights)
        eta = self.current_learning_rate()
        for W, g, v in zip(weights, grads, self.velocities, strict=True):
            if self.weight_decay:
                g = g.copy()
                g[1:] += self.weight_decay * W[1:]  # L2 on connection weights, not the bias row
            self._update(W, g, v, eta)
        self.iterations += 1

    def step_flat(
        self, params: np.ndarray, grad: np.ndarray, decay_mask: np.ndarray | None
    ) -> None:
        """The same update on the whole network at once: `params` and `grad` are flat buffers
        laid out like `velocity`; `grad` is used as scratch (overwritten).

        decay_mask: weight_decay at connection weights and 0 at bias rows, flat (needed only when
        weight_decay is on): g + decay_mask * W adds exactly weight_decay * W to the connection
        weights and exactly 0 to the bias rows, as `step` does.
        """
        if self.weight_decay:
            grad += decay_mask * params
        self._update(params, grad, self.velocity, self.current_learning_rate(), scratch=True)
        self.iterations += 1

    def _update(
        self, W: np.ndarray, g: np.ndarray, v: np.ndarray, eta: float, scratch: bool = False
    ) -> None:
        """v <- mu v - eta_t g; W <- W + v (or W + mu v - eta_t g with Nesterov), in place.

        scratch=True lets the update scale g in place instead of allocating eta_t g.
        """
        mu = self.momentum
        v *= mu
        if scratch:
            g *= eta
            eta_g = g
        else:
            eta_g = eta * g
        v -= eta_g  # v = mu v - eta_t g
        if self.nesterov:
            W += mu * v - eta_g
        else:
            W += v
