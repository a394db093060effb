"""`load_mnist`: one MNIST split, acquired, verified and parsed, as the tutorial loads it."""

from __future__ import annotations

import os
from typing import Literal

import numpy as np

from numpy_mlp.data.idx import COLS, ROWS, MnistError, MnistFormatError, read_idx
from numpy_mlp.data.sources import ensure_mnist, find_file, verify_file

Kind = Literal["train", "t10k"]
KINDS: tuple[str, ...] = ("train", "t10k")


def load_mnist(
    kind: Kind = "train",
    data_dir: str | os.PathLike | None = None,
    *,
    verify: bool = True,
    progress: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """Load one MNIST split as the tutorial does.

    kind: "train" (60,000 images) or "t10k" (10,000 images).
    data_dir: a folder holding the IDX files; None acquires them (see `numpy_mlp.data.sources`).
    verify: check each file's SHA-256 against the published table (turn off only for test fixtures).

    Returns (X, y): X uint8 of shape (n, 784), each row an unrolled 28x28 image; y uint8 of shape (n,).
    """
    if kind not in KINDS:
        raise ValueError(f"kind must be 'train' or 't10k', got {kind!r}")
    folder = ensure_mnist(data_dir, progress=progress)
    arrays = []
    for part, expect in (("images-idx3-ubyte", "images"), ("labels-idx1-ubyte", "labels")):
        name = f"{kind}-{part}"
        path = find_file(folder, name)
        if path is None:
            raise MnistError(f"{folder / name}: file not found (nor {name}.gz)")
        arrays.append(read_idx(path, expect=expect))
        if verify:
            verify_file(path, name)
    images, labels = arrays
    if images.shape[0] != labels.shape[0]:
        raise MnistFormatError(
            f"{folder}: {kind} has {images.shape[0]} images but {labels.shape[0]} labels"
        )
    return images.reshape(images.shape[0], ROWS * COLS), labels
