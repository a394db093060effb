"""The IDX file format MNIST is stored in: a strict reader and a writer.

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
import stat
import struct
import zlib
from pathlib import Path

import numpy as np

from numpy_mlp.io.atomic import atomic_write_bytes

IMAGE_MAGIC = 0x00000803
LABEL_MAGIC = 0x00000801
UNSIGNED_BYTE = 0x08
ROWS = COLS = 28
NUM_CLASSES = 10


class MnistError(Exception):
    """Base class for every MNIST problem (format, checksum, availability)."""


class MnistFormatError(MnistError):
    """A file is not a well-formed MNIST IDX file. The message names the file and the problem."""


# The largest payload a real MNIST file has (60,000 images of 28x28 bytes). A header declaring
# more is refused before anything is read or inflated, so a small crafted file cannot make the
# reader allocate gigabytes.
MAX_PAYLOAD = 60_000 * ROWS * COLS


def check_regular_file(path: Path) -> None:
    """MnistError unless `path` is (or links to) a regular file: a device would never end, a
    FIFO would wait for a writer forever."""
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        raise MnistError(f"{path}: file not found") from None
    except OSError as exc:
        raise MnistError(f"{path}: cannot read it ({exc.strerror})") from None
    if stat.S_ISDIR(mode):
        raise MnistError(f"{path}: is a folder, not a file")
    if not stat.S_ISREG(mode):
        raise MnistError(f"{path}: not a regular file (a device or a FIFO?)")


def _read_bytes(path: Path) -> bytes:
    """The file's bytes (inflated if .gz), reading no more than its header says must follow."""
    check_regular_file(path)
    try:
        opener = gzip.open if path.suffix == ".gz" else open
        with opener(path, "rb") as handle:
            head = handle.read(4)
            if len(head) < 4 or int.from_bytes(head, "big") not in (IMAGE_MAGIC, LABEL_MAGIC):
                return head  # parse_idx says what is wrong with it
            head += handle.read(4 * head[3])
            if len(head) < 4 + 4 * head[3]:
                return head  # parse_idx says the header is truncated
            dims = struct.unpack(f">{head[3]}I", head[4:])
            payload = int(np.prod(dims, dtype=np.int64))
            if payload > MAX_PAYLOAD:
                raise MnistFormatError(
                    f"{path}: header declares {'x'.join(map(str, dims))} = {payload:,} bytes of "
                    f"data, more than any MNIST file holds ({MAX_PAYLOAD:,})"
                )
            data = handle.read(payload + 1)  # one byte more tells a too-long file
            if len(data) > payload:
                raise MnistFormatError(
                    f"{path}: payload is more than the {payload:,} bytes its header "
                    f"({'x'.join(map(str, dims))}) says"
                )
            return head + data
    except FileNotFoundError:
        raise MnistError(f"{path}: file not found") from None
    except IsADirectoryError:
        raise MnistError(f"{path}: is a folder, not a file") from None
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
