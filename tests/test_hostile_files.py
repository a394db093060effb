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


# -- paths that are not regular files, and model files with impossible optimizer state -----------


def _trained(tmp_path):
    """A saved (6, 5, 3) model with its optimizer state (iterations, velocities)."""
    rng = np.random.default_rng(0)
    mlp = MLP((6, 5, 3), seed=0, dtype=np.float64)
    mlp.fit(rng.normal(size=(40, 6)), rng.integers(0, 3, 40), epochs=1, verbose=0)
    path = tmp_path / "trained.npz"
    mlp.save(path)
    return path


@pytest.mark.parametrize("kind", ["device", "fifo", "link_out", "folder"])
def test_a_model_path_that_is_not_a_regular_file_is_refused_unread(tmp_path, kind):
    import os

    path = tmp_path / "m.npz"
    if kind == "device":
        path.symlink_to("/dev/zero")  # a link to a device (the device itself is never touched)
    elif kind == "fifo":
        os.mkfifo(path)  # opening it for reading would wait for a writer forever
    elif kind == "link_out":
        outside = tmp_path / "elsewhere"
        outside.mkdir()
        MLP((6, 5, 3), seed=0).save(outside / "real.npz")
        (tmp_path / "models").mkdir()
        path = tmp_path / "models" / "m.npz"
        path.symlink_to(outside / "real.npz")
    else:
        path.mkdir()
    peak, line = _peak_mb(f"from numpy_mlp import MLP\n{_try(f'MLP.load({str(path)!r})')}")
    assert line.startswith("ModelFileError") and str(path) in line, line
    expected = {
        "device": "symbolic link out of its folder (to /dev/zero)",
        "fifo": "not a regular file",
        "link_out": "symbolic link out of its folder",
        "folder": "not a regular file",
    }
    assert expected[kind] in line, line  # fmt: skip
    assert peak < PEAK_LIMIT_MB


def test_a_link_inside_the_folder_loads(tmp_path):
    MLP((6, 5, 3), seed=0).save(tmp_path / "real.npz")
    (tmp_path / "alias.npz").symlink_to("real.npz")
    assert MLP.load(tmp_path / "alias.npz").layer_sizes == (6, 5, 3)


def test_a_model_file_past_its_size_bound_is_refused_before_reading(tmp_path):
    from numpy_mlp.saving.model_file import MAX_MODEL_BYTES

    path = tmp_path / "big.npz"
    with open(path, "wb") as handle:  # sparse: no disk used
        handle.truncate(MAX_MODEL_BYTES + 1)
    peak, line = _peak_mb(f"from numpy_mlp import MLP\n{_try(f'MLP.load({str(path)!r})')}")
    assert line.startswith("ModelFileError") and "bytes, more than" in line, line
    assert peak < PEAK_LIMIT_MB


@pytest.mark.parametrize(
    ("arrays", "message"),
    [
        ({"optimizer_iterations": np.array(-1)}, "optimizer_iterations is -1, must be >= 0"),
        ({"V0": np.full((7, 5), np.nan)}, "V0 holds non-finite velocities"),
        ({"V1": np.full((6, 3), 1e300)}, "V1 holds non-finite velocities"),
        ({"optimizer_config": np.array(json.dumps({"learning_rate": 10**400}))},
         "optimizer_config: learning_rate must be"),
        ({"optimizer_config": np.array('{"learning_rate": NaN}')}, "NaN is not strict JSON"),
        ({"optimizer_config": np.array('{"momentum": 1.5}')}, "momentum must be"),
        ({"optimizer_config": np.array('{"colour": 1}')}, "optimizer_config"),
    ],
)  # fmt: skip
def test_impossible_optimizer_state_is_a_model_file_error(tmp_path, arrays, message):
    path = _trained(tmp_path)
    MLP.load(path)  # the untouched file loads
    _rewrite(path, **arrays)
    with pytest.raises(ModelFileError, match=message):
        MLP.load(path)


def test_a_network_past_the_layer_limit_is_refused_when_built():
    from numpy_mlp.model.parameters import MAX_HIDDEN

    MLP((4, *([2] * MAX_HIDDEN), 3), seed=0)  # the deepest allowed builds (and so saves, loads)
    with pytest.raises(ValueError, match=f"at most {MAX_HIDDEN} hidden layers, got 70"):
        MLP((4, *([2] * 70), 3), seed=0)
    with pytest.raises(ValueError, match=f"got {MAX_HIDDEN + 1}"):
        MLP((4, *([2] * (MAX_HIDDEN + 1)), 3), seed=0)
    with pytest.raises(ValueError, match="weights, more than 100,000,000"):
        MLP((784, 200_000, 10), seed=0)


def test_the_deepest_network_saves_and_loads(tmp_path):
    from numpy_mlp.model.parameters import MAX_HIDDEN

    mlp = MLP((4, *([2] * MAX_HIDDEN), 3), seed=0)
    mlp.save(tmp_path / "deep.npz")
    assert MLP.load(tmp_path / "deep.npz").layer_sizes == mlp.layer_sizes


@pytest.mark.parametrize("kind", ["fifo", "link_to_device", "folder", "link_to_file"])
def test_saving_never_replaces_what_is_not_a_regular_file(tmp_path, kind):
    import os
    import stat

    path = tmp_path / "model.npz"
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "link_to_device":
        path.symlink_to("/dev/null")  # the link is the test's; /dev/null itself is never written
    elif kind == "folder":
        path.mkdir()
    else:
        (tmp_path / "real.npz").write_bytes(b"mine")
        path.symlink_to(tmp_path / "real.npz")
    before = os.lstat(path)
    with pytest.raises(FileExistsError, match="not a regular file") as info:
        MLP((4, 3, 2), seed=0).save(path)
    assert info.value.filename == str(path)
    after = os.lstat(path)
    assert stat.S_IFMT(after.st_mode) == stat.S_IFMT(before.st_mode)
    assert after.st_ino == before.st_ino
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.endswith(".part")) == []
    if kind == "link_to_file":
        assert (tmp_path / "real.npz").read_bytes() == b"mine"


def test_a_write_error_names_the_file(tmp_path):
    """RLIMIT_FSIZE (as `prlimit --fsize`): the write fails with EFBIG; the error names the file
    being written, and the earlier file stays."""
    target = tmp_path / "model.npz"
    target.write_bytes(b"earlier")
    code = (
        "import resource\n"
        "resource.setrlimit(resource.RLIMIT_FSIZE, (2000, 2000))\n"
        "from numpy_mlp import MLP\n"
        f"{_try(f'MLP((50, 40, 10), seed=0).save({str(target)!r})')}"
        "import sys, traceback\n"
    )
    code = code.replace(
        "print(type(exc).__name__ + ': ' + str(exc))",
        "print(type(exc).__name__ + ': ' + str(exc) + ' | ' + str(exc.filename))",
    )
    _, line = _peak_mb(code)
    assert "File too large" in line and line.endswith(f"| {target}"), line
    assert target.read_bytes() == b"earlier"


def test_an_idx_path_that_is_a_fifo_is_refused_without_waiting(tmp_path):
    import os
    import threading

    from numpy_mlp.data.idx import MnistError
    from numpy_mlp.data.sources import verify_file

    fifo = tmp_path / "train-images-idx3-ubyte"
    os.mkfifo(fifo)  # opening it would wait for a writer forever

    def writer():  # should a reader open it after all, this ends its wait (and the test fails)
        for _ in range(2):
            with open(fifo, "wb"):
                pass

    threading.Thread(target=writer, daemon=True).start()
    with pytest.raises(MnistError, match="not a regular file"):
        read_idx(fifo)
    with pytest.raises(MnistError, match="not a regular file"):
        verify_file(fifo, "train-images-idx3-ubyte")
    for _ in range(2):  # release the writer
        os.close(os.open(fifo, os.O_RDONLY | os.O_NONBLOCK))
