"""Saving and loading an MLP as one `.npz` file.

Keys: `format` (the string below), `layer_sizes` (int64), `dtype`, `activation` and `init`
(strings; a file without the last two holds a tanh / Glorot model), `W0`, `W1`, ...
(the bias-row matrices), and when the model has been trained, `optimizer_config` (JSON text),
`optimizer_iterations` and `V0`, `V1`, ... (the momentum velocities). No pickles: the file is read
with allow_pickle=False. Writing is atomic.

This module sits above model and training. `MLP.save` and `MLP.load` call into it, so it never
imports the model module back: `load_mlp` is handed the class to build, and `MLP` is an annotation.
"""

from __future__ import annotations

import json
import os
import zipfile
import zlib
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from numpy_mlp.io.atomic import atomic_open
from numpy_mlp.model.parameters import check_dtype, check_layer_sizes, parameter_count
from numpy_mlp.training.optimizers import SGD

if TYPE_CHECKING:
    from numpy_mlp.model.mlp import MLP

FORMAT = "mlp-compare.numpy_mlp/1"


class ModelFileError(ValueError):
    """A model file is missing, unreadable, or not what `save` writes."""


def save_mlp(mlp: MLP, path: str | os.PathLike) -> None:
    """Write `mlp` to `path` (conventionally ending in .npz), atomically."""
    arrays: dict[str, np.ndarray] = {
        "format": np.array(FORMAT),
        "layer_sizes": np.array(mlp.layer_sizes, dtype=np.int64),
        "dtype": np.array(mlp.dtype.name),
        "activation": np.array(mlp.activation.name),
        "init": np.array(mlp.init),
    }
    arrays.update({f"W{i}": W for i, W in enumerate(mlp.weights)})
    opt = mlp.optimizer
    if opt is not None:
        arrays["optimizer_config"] = np.array(json.dumps(opt.get_config()))
        arrays["optimizer_iterations"] = np.array(opt.iterations, dtype=np.int64)
        if opt.velocities is not None:
            arrays.update({f"V{i}": v for i, v in enumerate(opt.velocities)})
    with atomic_open(path, "wb") as handle:
        np.savez(handle, **arrays)


# Bounds checked before any array is loaded, so that a small crafted file cannot make `load`
# allocate gigabytes: layer sizes, the total number of weights, and the text members.
MAX_LAYERS = 64
MAX_UNITS = 1_000_000
MAX_WEIGHTS = 100_000_000
MAX_TEXT = 4096  # characters of format, dtype, activation, init and the optimizer's JSON


def _headers(path: Path) -> dict[str, tuple[tuple[int, ...], np.dtype]]:
    """Shape and dtype of every array in the .npz, from the .npy headers alone.

    Each member's size in the zip directory must match what its header declares (the zip reader
    never inflates more than that size), so loading an array can never allocate more than its
    header says.
    """
    headers = {}
    with zipfile.ZipFile(path) as archive:
        for info in archive.infolist():
            if not info.filename.endswith(".npy"):
                raise ModelFileError(f"{path}: unexpected member {info.filename!r}")
            with archive.open(info) as member:
                version = np.lib.format.read_magic(member)
                read = (
                    np.lib.format.read_array_header_1_0
                    if version == (1, 0)
                    else np.lib.format.read_array_header_2_0
                )
                shape, _, dtype = read(member, max_header_size=10_000)
                header_len = member.tell()
            if dtype.hasobject:
                raise ModelFileError(f"{path}: {info.filename} holds Python objects")
            declared = header_len + int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
            if info.file_size != declared:
                raise ModelFileError(
                    f"{path}: {info.filename} is {info.file_size:,} bytes inflated, its header "
                    f"declares {declared:,}"
                )
            headers[info.filename[: -len(".npy")]] = (tuple(shape), dtype)
    return headers


def _expect(path: Path, headers, key: str, shape: tuple, kinds: str) -> None:
    """ModelFileError unless array `key` exists with this shape and a dtype of these kinds."""
    if key not in headers:
        raise ModelFileError(f"{path}: missing key {key!r}; not a model saved by mlp-compare")
    found_shape, dtype = headers[key]
    if found_shape != shape or dtype.kind not in kinds:
        raise ModelFileError(
            f"{path}: {key} is {dtype}{found_shape}, expected shape {shape} of kind {kinds}"
        )
    if dtype.kind == "U" and dtype.itemsize // 4 > MAX_TEXT:
        raise ModelFileError(f"{path}: {key} is longer than {MAX_TEXT} characters")


def _check_sizes(path: Path, data, headers) -> tuple[int, ...]:
    rows = headers.get("layer_sizes", ((0,), None))[0]
    if len(rows) != 1 or not 2 <= rows[0] <= MAX_LAYERS:
        raise ModelFileError(f"{path}: layer_sizes must list 2 to {MAX_LAYERS} sizes, got {rows}")
    _expect(path, headers, "layer_sizes", rows, "iu")
    sizes = [int(v) for v in data["layer_sizes"]]
    if min(sizes) < 1 or max(sizes) > MAX_UNITS:
        raise ModelFileError(
            f"{path}: layer sizes must be positive integers up to {MAX_UNITS:,}, got {sizes}"
        )
    weights = parameter_count(sizes)
    if weights > MAX_WEIGHTS:
        raise ModelFileError(f"{path}: {weights:,} weights, more than {MAX_WEIGHTS:,}")
    return check_layer_sizes(sizes)


def _text(data, key: str, default: str | None = None) -> str:
    return str(data[key]) if key in data.files or default is None else default


def load_mlp(path: str | os.PathLike, model_class: type[MLP]) -> MLP:
    """Read a model written by `save_mlp` into a new `model_class` (MLP.load passes its class);
    raises ModelFileError naming the file and the problem.

    Every declared size is checked before an array is loaded (see `_headers`); weights must be
    finite.
    """
    path = Path(path)
    if not path.exists():
        raise ModelFileError(f"{path}: file not found")
    try:
        return _load(path, model_class)
    except ModelFileError:
        raise
    except RecursionError:
        raise ModelFileError(f"{path}: optimizer_config is nested too deeply") from None
    except (OSError, EOFError, zipfile.BadZipFile, zlib.error) as exc:
        raise ModelFileError(f"{path}: not a readable .npz model file ({exc})") from None
    except (ValueError, TypeError, KeyError) as exc:
        raise ModelFileError(f"{path}: malformed model file ({exc})") from None


def _load(path: Path, model_class: type[MLP]) -> MLP:
    headers = _headers(path)
    for key in ("format", "dtype", "activation", "init", "optimizer_config"):
        if key in headers or key in ("format", "dtype"):
            _expect(path, headers, key, (), "U")
    with np.load(path, allow_pickle=False) as data:
        fmt = _text(data, "format")
        if fmt != FORMAT:
            raise ModelFileError(f"{path}: format {fmt!r}, expected {FORMAT!r}")
        sizes = _check_sizes(path, data, headers)
        dtype = check_dtype(_text(data, "dtype"))
        # files written before activations were selectable hold tanh / Glorot models
        model = model_class(
            sizes,
            activation=_text(data, "activation", "tanh"),
            init=_text(data, "init", "glorot_uniform"),
            dtype=dtype,
            seed=0,
        )
        for i, W in enumerate(model.weights):
            if f"W{i}" not in headers:
                raise ModelFileError(
                    f"{path}: missing key 'W{i}'; not a model saved by mlp-compare"
                )
            shape, found = headers[f"W{i}"]
            if shape != W.shape or found != dtype:
                raise ModelFileError(f"{path}: W{i} is {found}{shape}, expected {dtype}{W.shape}")
            W[...] = data[f"W{i}"]
            if not np.isfinite(W).all():
                raise ModelFileError(f"{path}: W{i} holds non-finite weights")
        if "optimizer_config" in data.files:
            model.optimizer = _optimizer(path, data, headers, model)
    return model


def _optimizer(path: Path, data, headers, model: MLP) -> SGD:
    config = json.loads(_text(data, "optimizer_config"))
    if not isinstance(config, dict) or not all(
        isinstance(v, int | float | bool) for v in config.values()
    ):
        raise ModelFileError(f"{path}: optimizer_config is not a flat set of SGD settings")
    opt = SGD(**config)
    _expect(path, headers, "optimizer_iterations", (), "iu")
    opt.iterations = int(data["optimizer_iterations"])
    if "V0" in headers:
        for i, W in enumerate(model.weights):
            _expect(path, headers, f"V{i}", W.shape, "f")
        opt.set_velocities(
            [np.asarray(data[f"V{i}"], model.dtype) for i in range(len(model.weights))]
        )
    return opt
