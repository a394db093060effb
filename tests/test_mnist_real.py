"""The real MNIST, loaded and preprocessed by the project's own code."""

from __future__ import annotations

import numpy as np
import pytest

from numpy_mlp import load_mnist, one_hot, standardize

TRAIN_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


def test_shapes_labels_and_counts(mnist_dir):
    X, y = load_mnist("train", mnist_dir)
    Xt, yt = load_mnist("t10k", mnist_dir)
    assert X.shape == (60000, 784) and X.dtype == np.uint8
    assert y.shape == (60000,) and y.dtype == np.uint8
    assert Xt.shape == (10000, 784) and yt.shape == (10000,)
    assert y[:3].tolist() == [5, 0, 4]
    assert np.bincount(y).tolist() == TRAIN_COUNTS
    assert np.bincount(yt).tolist() == TEST_COUNTS


def test_standardize_uses_training_statistics(mnist_dir):
    X, _ = load_mnist("train", mnist_dir)
    Xt, _ = load_mnist("t10k", mnist_dir)
    Xs, Xts = standardize(X, Xt, dtype=np.float64)
    assert Xs.dtype == np.float64 and Xs.shape == X.shape
    np.testing.assert_allclose(Xs.mean(axis=0), 0.0, atol=1e-10)
    scaled = (X / 255.0 - 0.5) * 2.0
    # one standard deviation for the whole (uncentred) scaled set, as the tutorial computes it
    np.testing.assert_allclose(Xs * scaled.std() + scaled.mean(axis=0), scaled, atol=1e-12)
    assert abs(Xts.mean()) < 0.05  # test set: training statistics, so only close to 0


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_standardize_by_table_is_the_arithmetic_bit_for_bit(dtype):
    """8-bit pixels go through a lookup table made with the same operations: the same bits as
    the chunked arithmetic, which other integer inputs take."""
    rng = np.random.default_rng(0)
    X_train = rng.integers(0, 256, (300, 17)).astype(np.uint8)
    X_test = rng.integers(0, 256, (50, 17)).astype(np.uint8)
    by_table = standardize(X_train, X_test, dtype=dtype, chunk_rows=64)
    by_arithmetic = standardize(X_train.astype(np.int16), X_test.astype(np.int16), dtype=dtype)
    for a, b in zip(by_table, by_arithmetic, strict=True):
        assert a.dtype == dtype and np.array_equal(a, b)


def test_standardize_formula_by_hand():
    X_train = np.array([[0, 255], [255, 255]], dtype=np.uint8)
    X_test = np.array([[0, 0]], dtype=np.uint8)
    Xs, Xts = standardize(X_train, X_test, dtype=np.float64)
    # scaled: [[-1, 1], [1, 1]]; mean per pixel [0, 1]; std of all four values = sqrt(0.75)
    s = np.sqrt(0.75)
    np.testing.assert_allclose(Xs, [[-1 / s, 0], [1 / s, 0]])
    np.testing.assert_allclose(Xts, [[-1 / s, -2 / s]])


def test_one_hot_matches_to_categorical():
    np.testing.assert_array_equal(
        one_hot(np.array([5, 0, 4]))[:, [0, 4, 5]], [[0, 0, 1], [1, 0, 0], [0, 1, 0]]
    )
    assert one_hot(np.array([1, 2]), 3).sum() == 2


@pytest.mark.parametrize("threads", [1, 2, 3])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_standardize_lookup_in_threads_is_the_arithmetic_bit_for_bit(dtype, threads, monkeypatch):
    """The table lookup split over threads (chunks taken in turn, the last one short) writes every
    row once, with the same bits as the arithmetic."""
    import functools

    from numpy_mlp.data import preprocessing

    rng = np.random.default_rng(1)
    X_train = rng.integers(0, 256, (1031, 13)).astype(np.uint8)
    X_test = rng.integers(0, 256, (7, 13)).astype(np.uint8)
    by_arithmetic = standardize(X_train.astype(np.int16), X_test.astype(np.int16), dtype=dtype)
    lookup = functools.partial(preprocessing._by_table, threads=threads)
    monkeypatch.setattr(preprocessing, "_by_table", lookup)
    by_table = standardize(X_train, X_test, dtype=dtype, chunk_rows=100)
    for a, b in zip(by_table, by_arithmetic, strict=True):
        assert a.dtype == dtype and np.array_equal(a, b)


def test_standardize_lookup_raises_an_error_of_a_helper_thread():
    """A chunk that fails in a helper thread (not the caller's) is raised, not left unwritten."""
    from numpy_mlp.data import preprocessing

    class Flaky(np.ndarray):
        def __getitem__(self, key):
            if isinstance(key, slice) and key.start == 100:  # the second chunk: a helper's
                raise MemoryError("chunk at row 100")
            return super().__getitem__(key)

    X = np.random.default_rng(2).integers(0, 256, (400, 5)).astype(np.uint8).view(Flaky)
    with pytest.raises(MemoryError, match="chunk at row 100"):
        preprocessing._by_table(X, np.zeros(5), 1.0, np.float32, 100, threads=2)
