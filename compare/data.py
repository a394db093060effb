"""MNIST as every subcommand uses it: loaded, verified, standardized, with one-hot targets."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from numpy_mlp import load_mnist, one_hot, standardize


@dataclass
class MnistData:
    """Raw and standardized MNIST. X_* are (n, 784); y_* integer labels (n,); Y_train one-hot."""

    raw_train: np.ndarray
    raw_test: np.ndarray
    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray

    @property
    def Y_train(self) -> np.ndarray:
        return one_hot(self.y_train, dtype=self.X_train.dtype)


def load_data(
    data_dir: str | None = None, *, dtype: str = "float32", limit: int | None = None
) -> MnistData:
    """Both splits, standardized with the training statistics (of the rows used)."""
    raw_train, y_train = load_mnist("train", data_dir)
    raw_test, y_test = load_mnist("t10k", data_dir)
    if limit is not None:
        raw_train, y_train = raw_train[:limit], y_train[:limit]
    X_train, X_test = standardize(raw_train, raw_test, dtype=np.dtype(dtype))
    return MnistData(
        raw_train, raw_test, X_train, y_train.astype(np.int64), X_test, y_test.astype(np.int64)
    )
