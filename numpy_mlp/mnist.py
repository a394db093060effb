"""MNIST: a strict IDX reader and writer, `load_mnist`, and the tutorial's preprocessing.

An IDX file is a big-endian header followed by the payload:

    bytes 0-1   zero
    byte  2     data type (0x08 = unsigned byte, the only type MNIST uses)
    byte  3     number of dimensions (3 for images, 1 for labels)
    then one 4-byte big-endian size per dimension, then the payload.

So the magic number (the first four bytes read as one integer) is 0x00000803 for images
(n x 28 x 28) and 0x00000801 for labels (n). Every check below raises `MnistFormatError` with the
file name and the problem; nothing is validated with `assert`.
"""

from __future__ import annotations

import gzip
import os
import struct
import zlib
from pathlib import Path
from typing import Literal

import numpy as np

from numpy_mlp.atomic import atomic_write_bytes

IMAGE_MAGIC = 0x00000803
LABEL_MAGIC = 0x00000801
UNSIGNED_BYTE = 0x08
ROWS = COLS = 28
NUM_CLASSES = 10

Kind = Literal["train", "t10k"]
KINDS: tuple[str, ...] = ("train", "t10k")


class MnistError(Exception):
    """Base class for every MNIST problem (format, checksum, availability)."""


class MnistFormatError(MnistError):
    """A file is not a well-formed MNIST IDX file. The message names the file and the problem."""


def _read_bytes(path: Path) -> bytes:
    try:
        if path.suffix == ".gz":
            with gzip.open(path, "rb") as handle:
                return handle.read()
        return path.read_bytes()
    except FileNotFoundError:
        raise MnistError(f"{path}: file not found") from None
    except (OSError, EOFError, zlib.error) as exc:
        # gzip raises BadGzipFile (an OSError), EOFError on truncation and zlib.error on garbage.
        raise MnistFormatError(f"{path}: cannot decompress ({exc})") from None


def parse_idx(data: bytes, *, source: str = "<bytes>", expect: str | None = None) -> np.ndarray:
    """Parse the bytes of an MNIST IDX file into a uint8 array.

    expect: "images" (shape (n, 28, 28)), "labels" (shape (n,), values 0..9), or None for either.
    Raises MnistFormatError naming `source` on any violation.
    """
    if len(data) < 4:
        raise MnistFormatError(f"{source}: too short for an IDX header ({len(data)} bytes)")
    zero, dtype_byte, ndim = struct.unpack(">HBB", data[:4])
    magic = (dtype_byte << 8) | ndim
    if zero != 0:
        raise MnistFormatError(f"{source}: bad magic number 0x{data[:4].hex()} (not an IDX file)")
    if dtype_byte != UNSIGNED_BYTE:
        raise MnistFormatError(
            f"{source}: data type byte 0x{dtype_byte:02x}, expected 0x08 (unsigned byte)"
        )
    if magic == IMAGE_MAGIC:
        found = "images"
    elif magic == LABEL_MAGIC:
        found = "labels"
    else:
        raise MnistFormatError(
            f"{source}: magic number 0x{magic:08x}, expected 0x00000803 (images) "
            "or 0x00000801 (labels)"
        )
    if expect is not None and found != expect:
        raise MnistFormatError(f"{source}: holds {found}, expected {expect}")
    header_len = 4 + 4 * ndim
    if len(data) < header_len:
        raise MnistFormatError(f"{source}: header truncated ({len(data)} of {header_len} bytes)")
    dims = struct.unpack(f">{ndim}I", data[4:header_len])
    if found == "images" and dims[1:] != (ROWS, COLS):
        raise MnistFormatError(f"{source}: images are {dims[1]}x{dims[2]}, expected {ROWS}x{COLS}")
    expected_payload = int(np.prod(dims, dtype=np.int64))
    payload = len(data) - header_len
    if payload != expected_payload:
        raise MnistFormatError(
            f"{source}: payload is {payload} bytes, the header ({'x'.join(map(str, dims))}) "
            f"says {expected_payload}"
        )
    array = np.frombuffer(data, dtype=np.uint8, offset=header_len).reshape(dims)
    if found == "labels" and array.size and int(array.max()) >= NUM_CLASSES:
        bad = int(np.argmax(array >= NUM_CLASSES))
        raise MnistFormatError(
            f"{source}: label {int(array[bad])} at index {bad} is outside 0..{NUM_CLASSES - 1}"
        )
    return array


def read_idx(path: str | os.PathLike, *, expect: str | None = None) -> np.ndarray:
    """Read an IDX file (raw or `.gz`) strictly; see `parse_idx`."""
    path = Path(path)
    return parse_idx(_read_bytes(path), source=str(path), expect=expect)


def idx_bytes(array: np.ndarray) -> bytes:
    """Encode a uint8 array of shape (n,) or (n, 28, 28) as IDX bytes (the inverse of parse_idx)."""
    array = np.asarray(array)
    if array.dtype != np.uint8:
        raise TypeError(f"IDX arrays must be uint8, got {array.dtype}")
    if array.ndim not in (1, 3):
        raise ValueError(f"MNIST IDX arrays are 1-D (labels) or 3-D (images), got {array.ndim}-D")
    header = struct.pack(">HBB", 0, UNSIGNED_BYTE, array.ndim)
    header += struct.pack(f">{array.ndim}I", *array.shape)
    return header + np.ascontiguousarray(array).tobytes()


def write_idx(path: str | os.PathLike, array: np.ndarray) -> None:
    """Write `array` as an IDX file, gzip-compressed when the name ends in `.gz` (atomic)."""
    data = idx_bytes(array)
    if str(path).endswith(".gz"):
        data = gzip.compress(data, mtime=0)
    atomic_write_bytes(path, data)


def find_file(folder: Path, name: str) -> Path | None:
    """The raw or `.gz` file called `name` in `folder` (raw preferred), or None."""
    for candidate in (folder / name, folder / f"{name}.gz"):
        if candidate.is_file():
            return candidate
    return None


def load_mnist(
    kind: Kind = "train",
    data_dir: str | os.PathLike | None = None,
    *,
    verify: bool = True,
    progress: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """Load one MNIST split as the tutorial does.

    kind: "train" (60,000 images) or "t10k" (10,000 images).
    data_dir: a folder holding the IDX files; None acquires them (see `numpy_mlp.fetch`).
    verify: check each file's SHA-256 against the published table (turn off only for test fixtures).

    Returns (X, y): X uint8 of shape (n, 784), each row an unrolled 28x28 image; y uint8 of shape (n,).
    """
    from numpy_mlp.fetch import ensure_mnist, verify_file

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


def standardize(
    X_train: np.ndarray,
    X_test: np.ndarray,
    *,
    dtype: np.dtype | type = np.float32,
    chunk_rows: int = 4096,
) -> tuple[np.ndarray, np.ndarray]:
    """The tutorial's preprocessing, with training-set statistics applied to both sets.

        s   = ((x / 255) - 0.5) * 2            # pixels into [-1, 1]
        x'' = (s - mean_train) / std_train     # mean per pixel (784,), one std for the whole set

    X_train: (n_train, 784), X_test: (n_test, 784), any numeric dtype.
    Returns both as `dtype` arrays of the same shapes.

    Statistics are accumulated in float64 over chunks of rows, and the output is written chunk by
    chunk, so memory stays near the size of the result: a float64 copy of the 60,000 training
    images alone would be 376 MB. Since s = (2/255) x - 1 is affine, mean_train = (2/255) mean(x) - 1
    per pixel and std_train = (2/255) std(x), with var(x) = E[x^2] - E[x]^2 (exact enough for pixel
    values 0..255 in float64).
    """
    n, d = X_train.shape
    sum_x = np.zeros(d)
    sum_x2 = 0.0
    for start in range(0, n, chunk_rows):
        block = X_train[start : start + chunk_rows].astype(np.float64)
        sum_x += block.sum(axis=0)
        sum_x2 += float(np.einsum("ij,ij->", block, block))
    mean_x = sum_x / n
    var_x = sum_x2 / (n * d) - (sum_x.sum() / (n * d)) ** 2
    scale = 2.0 / 255.0
    mean = scale * mean_x - 1.0
    std = scale * np.sqrt(max(var_x, 0.0))
    if std == 0:
        raise ValueError("the training images are constant: their standard deviation is zero")

    def apply(X: np.ndarray) -> np.ndarray:
        out = np.empty(X.shape, dtype=dtype)
        for start in range(0, X.shape[0], chunk_rows):
            block = X[start : start + chunk_rows].astype(np.float64)
            block /= 255.0  # in place: one chunk-sized temporary at a time
            block -= 0.5
            block *= 2.0
            block -= mean
            block /= std
            out[start : start + chunk_rows] = block
        return out

    return apply(X_train), apply(X_test)


def one_hot(y: np.ndarray, num_classes: int = NUM_CLASSES, *, dtype=np.float32) -> np.ndarray:
    """Integer labels (n,) -> one-hot rows (n, num_classes), like Keras `to_categorical`."""
    y = np.asarray(y)
    if y.ndim != 1:
        raise ValueError(f"labels must be 1-D, got shape {y.shape}")
    if not np.issubdtype(y.dtype, np.integer):
        raise ValueError(f"labels must be integers, got {y.dtype}")
    if y.size and (y.min() < 0 or y.max() >= num_classes):
        raise ValueError(f"labels must lie in 0..{num_classes - 1}")
    Y = np.zeros((y.shape[0], num_classes), dtype=dtype)
    Y[np.arange(y.shape[0]), y] = 1
    return Y
