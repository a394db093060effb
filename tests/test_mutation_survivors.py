"""Tests for mutants that survived `tools/mutate.py` in training/ (each at the boundary it moved),
through public functions."""

from __future__ import annotations

import math


def test_divergence_starts_above_twice_the_uniform_loss_not_at_it():
    from numpy_mlp.training.divergence import diverged, epoch_divergence, loss_bound

    bound = loss_bound(3)
    assert bound == 2 * math.log(3)
    assert not diverged(bound, 3) and diverged(math.nextafter(bound, math.inf), 3)
    assert diverged(float("nan"), 3) and diverged(float("inf"), 3)
    assert epoch_divergence({"loss": bound, "val_loss": 1.0}, 3) is None
    assert epoch_divergence({"loss": 1.0, "val_loss": float("nan")}, 3)[0] == "validation loss"
