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

SUPPORTED_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def check_layer_sizes(layer_sizes: Sequence[int]) -> tuple[int, ...]:
    """Validate a layer list such as (784, 50, 50, 10): at least input and output, all positive."""
    sizes = tuple(layer_sizes)
    if len(sizes) < 2:
        raise ValueError(f"layer_sizes needs at least an input and an output size, got {sizes}")
    for size in sizes:
        if isinstance(size, bool) or not isinstance(size, int | np.integer) or size < 1:
            raise ValueError(f"layer sizes must be positive integers, got {sizes}")
    if sizes[-1] < 2:
        raise ValueError(f"a classifier needs at least two output classes, got {sizes}")
    return tuple(int(s) for s in sizes)


def check_dtype(dtype) -> np.dtype:
    """float32 or float64, or ValueError."""
    try:
        dt = np.dtype(dtype)
    except TypeError:
        raise ValueError(f"unknown dtype {dtype!r}; use float32 or float64") from None
    if dt not in SUPPORTED_DTYPES:
        raise ValueError(f"dtype must be float32 or float64, got {dt}")
    return dt


def add_bias_unit(A: np.ndarray) -> np.ndarray:
    """[1 | A]: prepend the bias unit a_0 = 1 to every row. (n, d) -> (n, d + 1)."""
    return np.hstack([np.ones((A.shape[0], 1), dtype=A.dtype), A])


def weight_shapes(layer_sizes: Sequence[int]) -> list[Shape]:
    """((units of layer l) + 1 for the bias unit, units of layer l+1) for every matrix W^(l)."""
    return [(m + 1, d) for m, d in zip(layer_sizes[:-1], layer_sizes[1:], strict=False)]


def parameter_count(layer_sizes: Sequence[int]) -> int:
    """Every weight of the network, bias rows included: the sum over W^(l) of (m + 1) * d."""
    return sum(rows * cols for rows, cols in weight_shapes(layer_sizes))


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
