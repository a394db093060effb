"""Where K networks' parameters sit in `fit_many`'s stacked buffers, and when the first layer of
all K is one matrix product.

The K networks of a stack read the same minibatch A_in = [1 | X_batch]. Their first layers
Z_h1^(k) = A_in W^(0)_k are therefore one product with the matrices side by side,

    A_in [W^(0)_1 | W^(0)_2 | ... | W^(0)_K]  =  [Z_h1^(1) | Z_h1^(2) | ... | Z_h1^(K)]
    A_in^T [delta_h1^(1) | ... | delta_h1^(K)] =  [dL/dW^(0)_1 | ... | dL/dW^(0)_K]

one (m, d_in + 1) @ (d_in + 1, K d_1) product instead of K thin ones: the same arithmetic, but BLAS
runs a wide product closer to the machine's peak (measured in the README's speed section). So the
stack keeps every first-layer matrix in that side-by-side layout:

    a flat buffer = [ first block: (d_in + 1, N)  |  rest: (K, T_rest) ]

where the first block is [W^(0)_1 | ... | W^(0)_K | 0]: N = K d_1 columns, or that rounded up
to a multiple of 8 or 16 when only then are the bits right (zero columns: their gradient and
velocity stay 0, so they stay 0), and the rest holds each network's other matrices in the
model's own order, one row per network. Parameters, gradients, velocities and L2 masks all use
this layout; `matrices` gives the per-network (K, rows, cols) views every other operation uses
(the first one strided), `fused` the side-by-side matrix.

Bit for bit: BLAS may block a wide product differently from a thin one (another kernel for the
last columns, a small-matrix path for few rows), and then a first-layer entry can differ from
`fit`'s in its last bit (on the 2-core machine's OpenBLAS: float64 at K = 5, 6, 7 without the
padding, and batches of 17 rows or fewer). `choose_layout` puts the first layer side by side only
where `same_bits` finds that this BLAS gives the fused products exactly the K products' bits, on
random numbers of the very shapes, at every batch size training will see; a batch size it did not
check is checked when it comes, and where the bits differ the step runs the K products on the
strided views (the same bits as `fit`, tested). Otherwise, and without a hidden layer, or for one
network, the whole buffer is (K, T), network by network.

The cost of the layout is in the update: a per-network learning rate is a (1, N) row over the
first block, which NumPy broadcasts at about a third of the speed of the scalar a (K, 1) column
gives each network's contiguous row. Measured in the README's speed section.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from numpy_mlp.model.parameters import flat_views


class StackLayout:
    """The stacked buffers' layout for K networks whose matrices have `shapes` [(rows, cols)].

    N: the first block's column count (K d_1, or that rounded up with zero columns), or 0 for no
    side-by-side first layer (the whole buffer (K, T), network by network).
    """

    def __init__(self, shapes: Sequence[tuple[int, int]], K: int, N: int = 0) -> None:
        self.shapes, self.K = [tuple(s) for s in shapes], K
        self.shared = N > 0  # the first matrices side by side
        if self.shared:
            rows, cols = self.shapes[0]
            if len(self.shapes) < 2 or N < K * cols:
                raise ValueError(f"{N} columns cannot hold {K} first layers of {cols} side by side")
            self.N, self.n_first = N, rows * N
            rest = self.shapes[1:]
        else:
            self.N = self.n_first = 0
            rest = self.shapes
        self.rest_shapes = rest
        self.T_rest = sum(r * c for r, c in rest)
        self.size = self.n_first + K * self.T_rest

    # -- views into a flat buffer of `size` values --------------------------------------------
    def fused(self, buf: np.ndarray) -> np.ndarray:
        """[W^(0)_1 | ... | W^(0)_K | 0]: the (d_in + 1, N) first block."""
        return buf[: self.n_first].reshape(self.shapes[0][0], self.N)

    def rest(self, buf: np.ndarray) -> np.ndarray:
        """(K, T_rest): every network's other matrices, one row each."""
        return buf[self.n_first :].reshape(self.K, self.T_rest)

    def blocks(self, buf: np.ndarray) -> list[np.ndarray]:
        """The contiguous blocks an elementwise update runs over: [first block, rest] or [rest]."""
        return [self.fused(buf), self.rest(buf)] if self.shared else [self.rest(buf)]

    def matrices(self, buf: np.ndarray) -> list[np.ndarray]:
        """(K, rows, cols) per matrix, network k's W^(l) at [k]; the first one a strided view."""
        rest = list(flat_views(self.rest(buf), self.rest_shapes))
        if not self.shared:
            return rest
        rows, cols = self.shapes[0]
        first = self.fused(buf)[:, : self.K * cols].reshape(rows, self.K, cols)
        return [first.transpose(1, 0, 2), *rest]

    def columns(self, values: np.ndarray) -> list[np.ndarray]:
        """A per-network setting (K,) shaped to broadcast over each of `blocks`: the first block
        gets a (1, N) row (network k's value over its columns, 0 over the padding), the rest a
        (K, 1) column. One value for all networks stays a scalar (the cheaper broadcast; the
        padding's gradient is 0, so its velocity and weights stay 0 whatever the value)."""
        if values.shape[0] and (values == values[0]).all():
            return [values[0]] * (1 + self.shared)
        column = values.reshape(self.K, 1)
        if not self.shared:
            return [column]
        row = np.zeros((1, self.N), values.dtype)
        row[0, : self.K * self.shapes[0][1]] = np.repeat(values, self.shapes[0][1])
        return [row, column]

    # -- between the networks' own (T,) buffers and the stack ----------------------------------
    def pack(self, flats: Sequence[np.ndarray], dtype) -> np.ndarray:
        """A new stack buffer holding each networks' flat (T,) buffer, in the model's layout."""
        if len(flats) != self.K:
            raise ValueError(f"the layout holds {self.K} networks, got {len(flats)}")
        buf = np.zeros(self.size, dtype)
        for stack, flat in zip(self.matrices(buf), _per_matrix(flats, self.shapes), strict=True):
            stack[...] = flat
        return buf

    def network(self, buf: np.ndarray, k: int) -> np.ndarray:
        """Network k's values as a new flat (T,) buffer in the model's layout."""
        return np.concatenate([stack[k].ravel() for stack in self.matrices(buf)])


def _per_matrix(flats: Sequence[np.ndarray], shapes) -> list[np.ndarray]:
    """For every matrix, the (K, rows, cols) stack of it taken from K model-layout flat buffers."""
    views = [flat_views(flat, shapes) for flat in flats]
    return [np.stack([v[l] for v in views]) for l in range(len(shapes))]


def choose_layout(shapes, K: int, sizes: Sequence[int], dtype) -> StackLayout:
    """The first layer side by side where that can be exact: K >= 2 networks with a hidden layer,
    and a column count N (K d_1, else K d_1 rounded up to a multiple of 8 or 16) for which this
    BLAS gives the fused products the K products' bits at every batch size in `sizes`
    (`same_bits`); otherwise network by network."""
    shapes = [tuple(s) for s in shapes]
    if K >= 2 and len(shapes) >= 2:
        width = K * shapes[0][1]
        for N in dict.fromkeys([width, -(-width // 8) * 8, -(-width // 16) * 16]):
            if all(same_bits(m, shapes[0], K, N, dtype) for m in sizes):
                return StackLayout(shapes, K, N)
    return StackLayout(shapes, K)


def same_bits(m: int, shape: tuple[int, int], K: int, N: int, dtype, seed: int = 0) -> bool:
    """True when this BLAS computes the fused first-layer products of m rows to the same bits as
    the K separate ones `fit` computes: A_in (m, rows) @ [W_1 | ... | W_K | 0] against each
    A_in @ W_k, and A_in^T [D_1 | ... | D_K | 0] against each A_in^T D_k, on random numbers.

    Two orders of the same additions (or an FMA against a multiply and an add) round differently
    for some entries; random numbers of mixed magnitudes show it among `ENTRIES` compared entries,
    drawn again as often as needed for tiny shapes (at most `DRAWS` times). Equal bits throughout
    are what lets `fit_many` fuse the products and still end every network where `fit` takes it.
    """
    rows, cols = shape
    rng = np.random.default_rng(seed)
    per_draw = (m + rows) * K * cols
    for _ in range(min(DRAWS, -(-ENTRIES // per_draw))):
        A = _mixed(rng, (m, rows), dtype)
        W = np.zeros((rows, N), dtype)
        D = np.zeros((m, N), dtype)
        W[:, : K * cols] = _mixed(rng, (rows, K * cols), dtype)
        D[:, : K * cols] = _mixed(rng, (m, K * cols), dtype)
        Z_fused, G_fused = np.dot(A, W), np.dot(A.T, D)
        for k in range(K):
            part = slice(k * cols, (k + 1) * cols)
            Z_k = np.dot(A, np.ascontiguousarray(W[:, part]))
            G_k = np.dot(A.T, np.ascontiguousarray(D[:, part]))
            if not np.array_equal(Z_k, Z_fused[:, part]):
                return False
            if not np.array_equal(G_k, G_fused[:, part]):
                return False
    return True


ENTRIES = 1 << 14  # compared entries, at least, before the fused products count as the same
DRAWS = 2000  # random draws, at most (tiny shapes compare a few entries per draw)


def _mixed(rng: np.random.Generator, shape: tuple[int, int], dtype) -> np.ndarray:
    """Normal numbers times powers of two from 2^-8 to 2^8: sums whose rounding shows order."""
    return (rng.standard_normal(shape) * 2.0 ** rng.integers(-8, 9, shape)).astype(dtype)
