"""All weight matrices of a network in one contiguous buffer, each matrix a view into it.

One buffer lets the training step update the whole network with a handful of array operations
(see `numpy_mlp.training.fast`), while every W^(l) stays an ordinary (m, d) array to read and index.
The same layout serves the gradients and the optimizer's velocities.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

Shape = tuple[int, int]


def weight_shapes(layer_sizes: Sequence[int]) -> list[Shape]:
    """(units of layer l + 1 for the bias unit, units of layer l+1) for every matrix W^(l)."""
    return [(m + 1, d) for m, d in zip(layer_sizes[:-1], layer_sizes[1:], strict=False)]


def flat_views(flat: np.ndarray, shapes: Sequence[Shape]) -> tuple[np.ndarray, ...]:
    """Consecutive (rows, cols) views into the 1-D buffer `flat`, row-major, first to last."""
    views, offset = [], 0
    for rows, cols in shapes:
        views.append(flat[offset : offset + rows * cols].reshape(rows, cols))
        offset += rows * cols
    if offset != flat.shape[0]:
        raise ValueError(f"a buffer of {flat.shape[0]} values does not hold shapes {list(shapes)}")
    return tuple(views)


def allocate(shapes: Sequence[Shape], dtype) -> tuple[np.ndarray, tuple[np.ndarray, ...]]:
    """(zeroed flat buffer, its matrix views) for `shapes`."""
    flat = np.zeros(sum(r * c for r, c in shapes), dtype=dtype)
    return flat, flat_views(flat, shapes)
