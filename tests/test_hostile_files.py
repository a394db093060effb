"""Crafted files that are small on disk and would take gigabytes if read naively: every reader
checks declared sizes first. Each reader runs in a subprocess whose peak memory is measured."""

from __future__ import annotations

import gzip
import json
import struct
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

from numpy_mlp import MLP, ModelFileError, read_idx
from numpy_mlp.data.idx import MnistFormatError
from tests.conftest import ROOT

PEAK_LIMIT_MB = 250  # the interpreter with NumPy is ~60 MB; a naive read of these files is GBs


def _peak_mb(code: str) -> tuple[float, str]:
    """Run `code` in a fresh interpreter; (its peak resident memory in MB, its last line)."""
    # VmHWM, the peak resident size of this process's own memory map: unlike ru_maxrss it does
    # not include the (large) test process this one was forked from before exec
    wrapper = code + (
        "\nprint([int(l.split()[1]) for l in open('/proc/self/status')"
        " if l.startswith('VmHWM')][0])\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", wrapper], capture_output=True, text=True, cwd=ROOT, check=True
    )
    lines = result.stdout.strip().splitlines()
    return int(lines[-1]) / 1024.0, lines[-2] if len(lines) > 1 else ""


def _try(call: str) -> str:
    return (
        "try:\n"
        f"    {call}\n"
        "    print('NO ERROR')\n"
        "except Exception as exc:\n"
        "    print(type(exc).__name__ + ': ' + str(exc))\n"
    )


def test_gzip_bomb_is_refused_after_reading_what_the_header_allows(tmp_path):
    path = tmp_path / "train-images-idx3-ubyte.gz"
    header = struct.pack(">HBBIII", 0, 8, 3, 60000, 28, 28)
    with gzip.open(path, "wb", compresslevel=1) as handle:
        handle.write(header)
        chunk = bytes(1 << 20)
        for _ in range(300):  # 300 MB of zeros after the header, ~300 KB on disk
            handle.write(chunk)
    assert path.stat().st_size < 2_000_000
    peak, line = _peak_mb(f"from numpy_mlp import read_idx\n{_try(f'read_idx({str(path)!r})')}")
    assert line.startswith("MnistFormatError") and "payload is more than the 47,040,000" in line
    assert peak < PEAK_LIMIT_MB, f"peak {peak:.0f} MB"


def test_idx_header_declaring_gigabytes_is_refused_before_reading(tmp_path):
    path = tmp_path / "x"
    path.write_bytes(struct.pack(">HBBIII", 0, 8, 3, 4_000_000_000, 28, 28) + bytes(100))
    with pytest.raises(MnistFormatError, match="more than any MNIST file holds"):
        read_idx(path)


def _model(tmp_path) -> str:
    path = tmp_path / "m.npz"
    MLP((6, 5, 3), seed=0).save(path)
    return path


def _rewrite(path, **arrays):
    with np.load(path) as data:
        merged = {k: data[k] for k in data.files}
    merged.update(arrays)
    np.savez(path, **merged)


def test_huge_declared_layer_sizes_are_refused_before_building(tmp_path):
    path = _model(tmp_path)
    _rewrite(path, layer_sizes=np.array([784, 1_000_000, 1_000_000, 10]))
    assert path.stat().st_size < 10_000
    peak, line = _peak_mb(f"from numpy_mlp import MLP\n{_try(f'MLP.load({str(path)!r})')}")
    assert line.startswith("ModelFileError") and "weights, more than 100,000,000" in line
    assert peak < PEAK_LIMIT_MB


def _with_crafted_w0(tmp_path, name: str, write_w0) -> Path:
    """A copy of a saved model whose W0.npy member is written by `write_w0(member)`."""
    with np.load(_model(tmp_path)) as data:
        arrays = {k: data[k] for k in data.files}
    crafted = tmp_path / name
    with zipfile.ZipFile(crafted, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for key, value in arrays.items():
            with archive.open(f"{key}.npy", "w", force_zip64=True) as member:
                if key == "W0":
                    write_w0(member)
                else:
                    np.lib.format.write_array(member, value)
    return crafted


def test_zip_bomb_in_a_weight_matrix_is_refused_from_the_zip_directory(tmp_path):
    def bomb_w0(member):
        header = {"descr": "<f4", "fortran_order": False, "shape": (7, 5)}
        np.lib.format.write_array_header_1_0(member, header)
        for _ in range(300):  # 300 MB of zeros after a header declaring 140 bytes
            member.write(bytes(1 << 20))

    bomb = _with_crafted_w0(tmp_path, "bomb.npz", bomb_w0)
    assert bomb.stat().st_size < 2_000_000
    peak, line = _peak_mb(f"from numpy_mlp import MLP\n{_try(f'MLP.load({str(bomb)!r})')}")
    assert line.startswith("ModelFileError") and "W0.npy is 314,572,928 bytes inflated" in line
    assert peak < PEAK_LIMIT_MB


def test_huge_npy_header_is_refused(tmp_path):
    def huge_header(member):
        text = "{'descr': '<f4', 'fortran_order': False, 'shape': (7, 5), }" + " " * 200_000
        member.write(b"\x93NUMPY\x02\x00" + struct.pack("<I", len(text) + 1) + text.encode())
        member.write(b"\n")

    bad = _with_crafted_w0(tmp_path, "header.npz", huge_header)
    with pytest.raises(ModelFileError, match="malformed model file|not a readable"):
        MLP.load(bad)


def test_deeply_nested_optimizer_json_is_a_model_file_error(tmp_path):
    path = _model(tmp_path)
    MLP.load(path)  # fine before
    _rewrite(path, optimizer_config=np.array("[" * 2000 + "]" * 2000))
    with pytest.raises(ModelFileError, match="nested too deeply|not a flat set"):
        MLP.load(path)
    _rewrite(path, optimizer_config=np.array("x" * 5000))
    with pytest.raises(ModelFileError, match="longer than 4096 characters"):
        MLP.load(path)


@pytest.mark.parametrize(
    ("arrays", "message"),
    [
        ({"W0": np.full((7, 5), np.nan, np.float32)}, "W0 holds non-finite weights"),
        ({"layer_sizes": np.array([6.0, 4.7, 3.0])}, "layer_sizes is float64"),
        ({"layer_sizes": np.array([6, 5, 1])}, "at least two output classes"),
        ({"optimizer_config": np.array(json.dumps({"learning_rate": "fast"}))}, "not a flat set"),
    ],
)
def test_values_that_cannot_be_a_model_are_refused(tmp_path, arrays, message):
    path = _model(tmp_path)
    _rewrite(path, **arrays)
    with pytest.raises(ModelFileError, match=message):
        MLP.load(path)


def test_corrupt_deflate_data_and_crc_errors_are_model_file_errors(tmp_path):
    path = tmp_path / "m.npz"
    mlp = MLP((6, 5, 3), seed=0)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for key, value in {"W0": mlp.weights[0]}.items():
            with archive.open(f"{key}.npy", "w") as member:
                np.lib.format.write_array(member, value)
    data = bytearray(path.read_bytes())
    data[60:80] = b"\xff" * 20  # inside the deflated member
    path.write_bytes(bytes(data))
    with pytest.raises(ModelFileError, match=str(path)):
        MLP.load(path)
    with pytest.raises(ModelFileError, match="file not found"):
        MLP.load(tmp_path / "missing.npz")
