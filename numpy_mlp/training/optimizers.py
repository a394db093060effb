"""Minibatch SGD with classical momentum and the old Keras learning-rate decay.

Two different things are both called "decay" in the tutorial's world; this module keeps them apart:

* `decay` (learning-rate decay): the step size shrinks with the number of updates t done so far,
      eta_t = eta_0 / (1 + decay * t)
  This is the old Keras `SGD(decay=...)`; Keras 3 spells it `InverseTimeDecay(eta_0, 1, decay)`.
* `weight_decay` (L2 regularisation): adds lambda * W to the gradient of every connection weight,
  i.e. minimises L + (lambda/2) * ||W||^2. Bias rows are left alone. Off by default.

The update, per matrix, with velocity v starting at zero (the same as Keras 3):
      g <- g + lambda * W                         (connection weights only; weight_decay)
      v <- momentum * v - eta_t * g
      W <- W + v                                  (classical momentum)
      W <- W + momentum * v - eta_t * g           (nesterov=True, with the new v)

`momentum_update` is that update, written once: `SGD.step` applies it matrix by matrix, the fast
step to the model's whole flat parameter buffer, the K-network trainer to a (K, T) stack of them.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np

from numpy_mlp.model.parameters import allocate, flat_views, l2_mask

# Defaults: the tutorial's optimizer (keras_mlp.build_model takes the same ones).
LEARNING_RATE = 0.001
MOMENTUM = 0.9
DECAY = 1e-7
CONFIG_KEYS = ("learning_rate", "momentum", "decay", "nesterov", "weight_decay")

# The valid values of each numeric setting, defined here once: (test, the rule in words). The
# command line's flag types and the sweep's values check against the same table.
SETTING_RULES: dict[str, tuple[Callable[[float], bool], str]] = {
    "learning_rate": (lambda v: math.isfinite(v) and v > 0, "a finite number > 0"),
    "momentum": (lambda v: 0.0 <= v < 1.0, "a number in [0, 1)"),
    "decay": (lambda v: math.isfinite(v) and v >= 0, "a finite number >= 0"),
    "weight_decay": (lambda v: math.isfinite(v) and v >= 0, "a finite number >= 0"),
}


def check_setting(name: str, value) -> float:
    """`value` as a float if it is valid for the optimizer setting `name`, else ValueError."""
    test, rule = SETTING_RULES[name]
    try:
        number = float(value)
    except (TypeError, ValueError, OverflowError):  # OverflowError: an int past float's range
        raise ValueError(f"{name} must be {rule}, got {str(value)[:40]}") from None
    if isinstance(value, bool) or not test(number):
        raise ValueError(f"{name} must be {rule}, got {value!r}")
    return number


def momentum_update(W, g, v, eta, mu, nesterov, l2=None) -> None:
    """One momentum-SGD update, in place on W and v; g is used as scratch (overwritten).

    W, g, v: arrays of one shape: a matrix, the flat (T,) buffer of a network, or a (K, T) stack
    of K networks. eta (eta_t) and mu: scalars, or (K, 1) columns, one value per network.
    nesterov: a bool, or a (K, 1) boolean column. l2: None, or the L2 mask (`l2_mask`: lambda at
    connection weights, 0 at bias rows) shaped like W.
    """
    if l2 is not None:
        g += l2 * W  # g + lambda W
    g *= eta  # eta_t g
    v *= mu
    v -= g  # v = mu v - eta_t g
    if nesterov is True:
        W += mu * v - g
    elif nesterov is False:
        W += v
    else:  # one choice per network
        W += np.where(nesterov, mu * v - g, v)


class SGD:
    """Stochastic gradient descent with momentum, learning-rate decay and optional L2 weight decay.

    State: `iterations` (t, updates done so far) and `velocity`, one flat buffer laid out like the
    model's `params`, with `velocities` its per-matrix views.
    """

    def __init__(
        self,
        learning_rate: float = LEARNING_RATE,
        momentum: float = MOMENTUM,
        decay: float = DECAY,
        nesterov: bool = False,
        weight_decay: float = 0.0,
    ) -> None:
        self.learning_rate = check_setting("learning_rate", learning_rate)
        self.momentum = check_setting("momentum", momentum)
        self.decay = check_setting("decay", decay)
        self.weight_decay = check_setting("weight_decay", weight_decay)
        self.nesterov = bool(nesterov)
        self.iterations = 0
        self.velocity: np.ndarray | None = None
        self.velocities: tuple[np.ndarray, ...] | None = None
        self.l2: np.ndarray | None = None  # the flat L2 mask (None when weight_decay is 0)
        self.l2s: tuple[np.ndarray | None, ...] = ()  # its per-matrix views

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
        """Zero velocities shaped like `weights` (kept if they already match) and the L2 mask."""
        shapes = [W.shape for W in weights]
        if self.velocities is None or [v.shape for v in self.velocities] != shapes:
            dtype = weights[0].dtype
            self.velocity, self.velocities = allocate(shapes, dtype)
            self.l2 = l2_mask(shapes, self.weight_decay, dtype) if self.weight_decay else None
            self.l2s = flat_views(self.l2, shapes) if self.l2 is not None else (None,) * len(shapes)

    def set_velocities(self, velocities: Sequence[np.ndarray]) -> None:
        """Resume from saved velocities (copied into the flat buffer)."""
        self.init_state(velocities)
        for mine, theirs in zip(self.velocities, velocities, strict=True):
            mine[...] = theirs

    def step(self, weights: Sequence[np.ndarray], grads: Sequence[np.ndarray]) -> None:
        """One update of every W in `weights`, in place, given dL/dW in `grads` (left unchanged)."""
        self.init_state(weights)
        eta, mu = self.current_learning_rate(), self.momentum
        for W, g, v, l2 in zip(weights, grads, self.velocities, self.l2s, strict=True):
            momentum_update(W, g.copy(), v, eta, mu, self.nesterov, l2)
        self.iterations += 1
