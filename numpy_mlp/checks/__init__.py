"""Checks of the math: any gradient (check_grad, assert_grad) and the MLP's backpropagation
(gradcheck.check_gradients) against finite differences; bugs.py holds broken backprops to catch."""

from numpy_mlp.checks.grad import GradCheck, assert_grad, check_grad

__all__ = ["GradCheck", "assert_grad", "check_grad"]
