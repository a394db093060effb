"""Saving and loading an MLP as one `.npz` file.

Keys: `format` (the string below), `layer_sizes` (int64), `dtype`, `activation` and `init`
(strings; a file without the last two holds a tanh / Glorot model), `W0`, `W1`, ...
(the bias-row matrices), and when the model has been trained, `optimizer_config` (JSON text),
`optimizer_iterations` and `V0`, `V1`, ... (the momentum velocities). No pickles: the file is read
with allow_pickle=False. Writing is atomic.
"""

from __future__ import annotations

import json
import os
import zipfile
from pathlib import Path

import numpy as np

from numpy_mlp.io.atomic import atomic_open
from numpy_mlp.model.mlp import MLP, check_dtype, check_layer_sizes
from numpy_mlp.training.optimizers import SGD

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


def _get(data, key: str, path: Path) -> np.ndarray:
    if key not in data.files:
        raise ModelFileError(f"{path}: missing key {key!r}; not a model saved by mlp-compare")
    return data[key]


def load_mlp(path: str | os.PathLike) -> MLP:
    """Read a model written by `save_mlp`; raises ModelFileError naming the file and the problem."""
    path = Path(path)
    try:
        data = np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise ModelFileError(f"{path}: file not found") from None
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as exc:
        raise ModelFileError(f"{path}: not a readable .npz model file ({exc})") from None
    if not hasattr(data, "files"):
        raise ModelFileError(f"{path}: holds a single array, not a saved model")
    with data:
        try:
            fmt = str(_get(data, "format", path))
            if fmt != FORMAT:
                raise ModelFileError(f"{path}: format {fmt!r}, expected {FORMAT!r}")
            sizes = check_layer_sizes([int(s) for s in _get(data, "layer_sizes", path)])
            dtype = check_dtype(str(_get(data, "dtype", path)))
            # files written before activations were selectable hold tanh / Glorot models
            activation = str(data["activation"]) if "activation" in data.files else "tanh"
            init = str(data["init"]) if "init" in data.files else "glorot_uniform"
            model = MLP(sizes, activation=activation, init=init, dtype=dtype, seed=0)
            for i, expected in enumerate(model.weights):
                W = _get(data, f"W{i}", path)
                if W.shape != expected.shape or W.dtype != dtype:
                    raise ModelFileError(
                        f"{path}: W{i} is {W.dtype}{W.shape}, expected {dtype}{expected.shape}"
                    )
                model.weights[i][...] = W
            if "optimizer_config" in data.files:
                opt = SGD(**json.loads(str(data["optimizer_config"])))
                opt.iterations = int(_get(data, "optimizer_iterations", path))
                if "V0" in data.files:
                    velocities = []
                    for i, W in enumerate(model.weights):
                        V = _get(data, f"V{i}", path)
                        if V.shape != W.shape:
                            raise ModelFileError(
                                f"{path}: V{i} has shape {V.shape}, expected {W.shape}"
                            )
                        velocities.append(np.asarray(V, dtype=dtype))
                    opt.set_velocities(velocities)
                model.optimizer = opt
        except ModelFileError:
            raise
        except (ValueError, TypeError, KeyError, json.JSONDecodeError) as exc:
            raise ModelFileError(f"{path}: malformed model file ({exc})") from None
    return model
