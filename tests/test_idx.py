"""The strict IDX reader and writer."""

from __future__ import annotations

import gzip
import re
import struct

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from numpy_mlp.data.idx import MnistFormatError, idx_bytes, parse_idx, read_idx, write_idx

images_strategy = st.integers(0, 5).flatmap(
    lambda n: arrays(np.uint8, (n, 28, 28), elements=st.integers(0, 255))
)
labels_strategy = st.integers(0, 40).flatmap(
    lambda n: arrays(np.uint8, (n,), elements=st.integers(0, 9))
)


@settings(max_examples=40, deadline=None)
@given(array=st.one_of(images_strategy, labels_strategy), gz=st.booleans())
def test_round_trip(tmp_path_factory, array, gz):
    path = tmp_path_factory.mktemp("idx") / ("file.gz" if gz else "file")
    write_idx(path, array)
    back = read_idx(path)
    assert back.dtype == np.uint8
    np.testing.assert_array_equal(back, array)


def _images(n=2):
    return idx_bytes(np.zeros((n, 28, 28), np.uint8))


def _labels(values=(1, 2, 3)):
    return idx_bytes(np.array(values, np.uint8))


MALFORMED = {
    "too short": (b"\x00\x00", "too short"),
    "nonzero leading bytes": (b"\x01\x00" + _images()[2:], "bad magic"),
    "float data type": (b"\x00\x00\x0d\x03" + _images()[4:], "data type byte 0x0d"),
    "unknown dimension count": (b"\x00\x00\x08\x02" + _images()[4:], "magic number 0x00000802"),
    "header truncated": (_images()[:10], "header truncated"),
    "wrong image size": (
        b"\x00\x00\x08\x03" + struct.pack(">III", 1, 27, 28) + bytes(27 * 28),
        "27x28, expected 28x28",
    ),
    "payload short": (_images()[:-1], "payload is"),
    "payload long": (_images() + b"\x00", "payload is"),
    "label out of range": (_labels((1, 10, 3)), "label 10 at index 1"),
}


@pytest.mark.parametrize("name", list(MALFORMED))
def test_malformed_is_rejected_with_file_and_problem(tmp_path, name):
    data, expected = MALFORMED[name]
    path = tmp_path / "bad-file"
    path.write_bytes(data)
    with pytest.raises(MnistFormatError, match=re.escape(expected)) as info:
        read_idx(path)
    message = str(info.value)
    assert str(path) in message
    assert expected in message


def test_expect_kind_mismatch(tmp_path):
    path = tmp_path / "labels"
    path.write_bytes(_labels())
    with pytest.raises(MnistFormatError, match="holds labels, expected images"):
        read_idx(path, expect="images")


@pytest.mark.parametrize("damage", ["truncated", "garbage"])
def test_broken_gzip_is_a_format_error(tmp_path, damage):
    good = gzip.compress(_images(3))
    data = good[: len(good) // 2] if damage == "truncated" else b"\x1f\x8b" + b"\xff" * 50
    path = tmp_path / "x.gz"
    path.write_bytes(data)
    with pytest.raises(MnistFormatError, match="cannot decompress"):
        read_idx(path)


@settings(max_examples=300, deadline=None)
@given(data=st.binary(max_size=64))
def test_random_bytes_parse_or_raise_format_error(data):
    try:
        array = parse_idx(data)
    except MnistFormatError as exc:
        assert str(exc).startswith("<bytes>: ")  # names the source, then the problem
        return
    # Random bytes that happen to form a valid file: the payload is exactly what the header says.
    header_len = 4 + 4 * array.ndim
    assert array.dtype == np.uint8 and array.size == len(data) - header_len


@settings(max_examples=300, deadline=None)
@given(
    header=st.binary(min_size=16, max_size=16),
    base=st.sampled_from([_images(1), _labels()]),
)
def test_mutated_headers_parse_or_raise_format_error(header, base):
    data = header[: min(16, len(base))] + base[min(16, len(base)) :]
    try:
        array = parse_idx(data)
    except MnistFormatError:
        return
    assert array.dtype == np.uint8  # a header that happens to be valid parses


def test_writer_rejects_non_uint8(tmp_path):
    with pytest.raises(TypeError, match="must be uint8, got int32"):
        write_idx(tmp_path / "f", np.zeros(3, np.int32))
