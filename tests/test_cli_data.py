"""`mlp-compare data` and the CLI's handling of bad input."""

from __future__ import annotations

import shutil

import pytest
from PIL import Image

from numpy_mlp.data.idx import idx_bytes
from tests.conftest import small_idx_set


def test_data_prints_the_tutorial_lines_and_draws_the_digits(tmp_path, mnist_dir, cli):
    result = cli("data", "--data-dir", str(mnist_dir), "--out", str(tmp_path / "fig"))
    assert result.returncode == 0, result.stderr
    assert "Rows: 60000, Columns: 784" in result.stdout
    assert "Rows: 10000, Columns: 784" in result.stdout
    assert "First 3 labels: [5 0 4]" in result.stdout
    assert "0: 5923" in result.stdout and "1: 1135" in result.stdout
    with Image.open(tmp_path / "fig" / "digits.png") as image:
        assert image.size[0] > 400 and image.size[1] > 150


def _copy_mnist(src, dst):
    dst.mkdir()
    for path in src.iterdir():
        if not path.name.startswith("."):
            shutil.copy(path, dst / path.name)
    return dst


def _assert_one_line_error(result, *needles):
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]


def test_missing_file(tmp_path, mnist_dir, cli):
    data = _copy_mnist(mnist_dir, tmp_path / "d")
    for path in data.glob("t10k-labels*"):
        path.unlink()
    out = tmp_path / "out"
    result = cli("data", "--data-dir", str(data), "--out", str(out))
    _assert_one_line_error(result, "t10k-labels-idx1-ubyte", "not found")
    assert not out.exists()  # nothing half-written: not even an empty output folder


def test_malformed_file(tmp_path, mnist_dir, cli):
    data = _copy_mnist(mnist_dir, tmp_path / "d")
    for path in data.glob("train-labels*"):
        path.unlink()
    bad = idx_bytes(small_idx_set()["train-labels-idx1-ubyte"])
    (data / "train-labels-idx1-ubyte").write_bytes(bad[:-2])
    result = cli("data", "--data-dir", str(data), "--out", str(tmp_path / "out"))
    _assert_one_line_error(result, "train-labels-idx1-ubyte", "payload")


def test_checksum_mismatch(tmp_path, mnist_dir, cli):
    data = _copy_mnist(mnist_dir, tmp_path / "d")
    for path in data.glob("t10k-labels*"):
        path.unlink()
    labels = small_idx_set(n=10000 * 2)["t10k-labels-idx1-ubyte"]  # well-formed, wrong values
    (data / "t10k-labels-idx1-ubyte").write_bytes(idx_bytes(labels))
    result = cli("data", "--data-dir", str(data), "--out", str(tmp_path / "out"))
    _assert_one_line_error(result, "t10k-labels-idx1-ubyte", "checksum mismatch")


def test_data_dir_that_does_not_exist(tmp_path, cli):
    result = cli("data", "--data-dir", str(tmp_path / "nope"), "--out", str(tmp_path / "o"))
    _assert_one_line_error(result, str(tmp_path / "nope"), "no such folder")


@pytest.mark.parametrize("kind", ["file-in-the-way", "under-a-file"])
def test_unwritable_output_folder(tmp_path, mnist_dir, kind, cli):
    blocker = tmp_path / "blocker"
    blocker.write_text("a file")
    out = blocker if kind == "file-in-the-way" else blocker / "sub"
    result = cli("data", "--data-dir", str(mnist_dir), "--out", str(out))
    _assert_one_line_error(result, "--out", str(out))


def test_bad_flag_is_one_line(cli):
    result = cli("data", "--no-such-flag")
    _assert_one_line_error(result, "--no-such-flag")


def test_help_and_version(cli):
    result = cli("--help")
    assert result.returncode == 0
    for command in ("run", "data", "train", "gradcheck", "explain", "lockstep", "bench"):
        assert command in result.stdout
    version = cli("--version")
    assert version.returncode == 0 and version.stdout.startswith("mlp-compare ")
