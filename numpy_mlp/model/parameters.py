"""All weight matrices of a network in one contiguous buffer, each matrix a view into it.

One buffer lets the training step update the whole network with a handful of array operations
(see `numpy_mlp.training.fast`), while every W^(l) stays an ordinary (m + 1, d) array to read and
index. The same layout serves the gradients, the optimizer's velocities and the L2 mask; K networks
of one shape stack their buffers as the rows of a (K, T) array (`numpy_mlp.training.stacked`).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

Shape = tuple[int, int]


def weight_shapes(layer_sizes: Sequence[int]) -> list[Shape]:
    """((units of layer l) + 1 for the bias unit, units of layer l+1) for every matrix W^(l)."""
    return [(m + 1, d) for m, d in zip(layer_sizes[:-1], layer_sizes[1:], strict=False)]


def flat_views(flat: np.ndarray, shapes: Sequence[Shape]) -> tuple[np.ndarray, ...]:
    """Consecutive (rows, cols) views into the last axis of `flat`, row-major, first to last.

    A (T,) buffer gives (rows, cols) views; a (K, T) buffer gives (K, rows, cols) stacks.
    """
    lead, views, offset = flat.shape[:-1], [], 0
    for rows, cols in shapes:
        views.append(flat[..., offset : offset + rows * cols].reshape(*lead, rows, cols))
        offset += rows * cols
    if offset != flat.shape[-1]:
        raise ValueError(f"a buffer of {flat.shape[-1]} values does not hold shapes {list(shapes)}")
    return tuple(views)


def allocate(shapes: Sequence[Shape], dtype) -> tuple[np.ndarray, tuple[np.ndarray, ...]]:
    """(zeroed flat buffer, its matrix views) for `shapes`."""
    flat = np.zeros(sum(r * c for r, c in shapes), dtype=dtype)
    return flat, flat_views(flat, shapes)


def l2_mask(shapes: Sequence[Shape], weight_decay: float, dtype) -> np.ndarray:
    """The flat (T,) buffer holding `weight_decay` at every connection weight and 0 at every bias
    row (row 0 of each matrix): g + mask * W adds lambda * W to the connection weights' gradient
    and exactly nothing to the bias rows'."""
    mask, views = allocate(shapes, dtype)
    for view in views:
        view[1:] = weight_decay
    return mask
