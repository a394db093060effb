"""Gathering an epoch's minibatches ahead of time, on the other core.

Gathering 64 random rows of the training set is a memory-bound copy (~50 us of a ~330 us step
for the tutorial network). `np.take` releases the GIL, so a background thread can gather the next
chunk of batches while the main thread trains on the current one. Batches are written straight
into [1 | X] layout (a ones column for the bias unit), so the training step reads them in place.
Two chunk slots alternate: the thread fills one while the main thread consumes the other.
The batches and their order are exactly those given; only where they are copied changes.
Given the integer labels too (`labels=`), the thread also gathers each batch's labels and their
positions i * k + label_i in the batch's (m, k) block, so the step never takes an argmax of Y.
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor

import numpy as np


class PrefetchedBatches:
    """Context manager; `epoch(order)` yields (A_in, Y) views for each minibatch of `order`.

    X: (n, d) training rows, Y: (n, k) targets, both C-contiguous; batch_size rows per batch;
    chunk_batches batches are gathered per background job. labels: (n,) integers (argmax of each
    row of Y); when given, each item is (A_in, Y, labels, positions) instead.
    """

    def __init__(
        self,
        X: np.ndarray,
        Y: np.ndarray,
        batch_size: int,
        chunk_batches: int = 16,
        labels: np.ndarray | None = None,
    ) -> None:
        self.X, self.Y, self.batch_size, self.labels = X, Y, batch_size, labels
        rows = chunk_batches * batch_size
        self.chunk_batches = chunk_batches
        self._A = [np.ones((rows, X.shape[1] + 1), X.dtype) for _ in range(2)]
        self._Yc = [np.empty((rows, Y.shape[1]), Y.dtype) for _ in range(2)]
        self._labels = [np.empty(rows, np.intp) for _ in range(2)]
        self._positions = [np.empty(rows, np.intp) for _ in range(2)]
        # row i of a batch: its label entry sits at i * k + label_i of the batch's (m, k) block
        self._offsets = (np.arange(rows) % batch_size) * Y.shape[1]
        self._pool: ThreadPoolExecutor | None = None

    def __enter__(self) -> PrefetchedBatches:
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="batch-prefetch")
        return self

    def __exit__(self, *exc) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def _fill(self, slot: int, idx: np.ndarray) -> None:
        n = idx.shape[0]
        np.take(self.X, idx, axis=0, out=self._A[slot][:n, 1:])
        np.take(self.Y, idx, axis=0, out=self._Yc[slot][:n])
        if self.labels is not None:
            labels = np.take(self.labels, idx, out=self._labels[slot][:n])
            np.add(self._offsets[:n], labels, out=self._positions[slot][:n])

    def epoch(self, order: np.ndarray) -> Iterator[tuple[np.ndarray, ...]]:
        """(A_in, Y) (and labels, positions) for each minibatch of `order`, in order; valid until
        the next item."""
        if self._pool is None:
            raise RuntimeError("use PrefetchedBatches as a context manager")
        B, per_chunk = self.batch_size, self.chunk_batches * self.batch_size
        starts = range(0, order.shape[0], per_chunk)
        pending: Future = self._pool.submit(self._fill, 0, order[:per_chunk])
        for c, start in enumerate(starts):
            pending.result()  # this chunk is ready (re-raises the thread's error, if any)
            slot = c % 2
            chunk = order[start : start + per_chunk]
            if start + per_chunk < order.shape[0]:
                pending = self._pool.submit(
                    self._fill, 1 - slot, order[start + per_chunk : start + 2 * per_chunk]
                )
            arrays = [self._A[slot], self._Yc[slot]]
            if self.labels is not None:
                arrays += [self._labels[slot], self._positions[slot]]
            for b in range(0, chunk.shape[0], B):
                yield tuple(a[b : b + B][: chunk.shape[0] - b] for a in arrays)
