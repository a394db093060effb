"""Checks of the math: backpropagation against finite differences."""
