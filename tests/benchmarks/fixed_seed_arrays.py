"""Save (or compare) the float64 weights and histories that `fit` and `fit_many` give on a fixed
seed: the bit-for-bit guard of a change to the training step.

    PYTHONPATH=<old checkout> python tests/benchmarks/fixed_seed_arrays.py save before.npz
    PYTHONPATH=<new checkout> python tests/benchmarks/fixed_seed_arrays.py check before.npz

Real MNIST rows (the first 3,000), the tutorial network, 3 epochs; fit_many on four learning
rates, one of which diverges; a float32 fit too. `check` exits 1 naming every array that differs,
except those whose name contains a word given after the file (e.g. `check before.npz val_loss`:
the validation loss is computed by `numpy_mlp.model.loss` since issue 23, which moved it by at most
2 ulp in float64).
"""

from __future__ import annotations

import sys

import numpy as np


def arrays() -> dict[str, np.ndarray]:
    from compare.data import load_data
    from numpy_mlp import MLP, SGD, TrainingDivergedError, fit, fit_many

    data = load_data(None, dtype="float64", limit=3000)
    X, y = data.X_train, data.y_train
    out: dict[str, np.ndarray] = {}
    layers = (784, 50, 50, 10)
    rates = (1e-3, 1e-2, 0.1, 3.0)
    for lr in rates:
        mlp = MLP(layers, seed=1, dtype=np.float64)
        try:
            h = fit(mlp, X, y, epochs=3, seed=2, verbose=0, optimizer=SGD(learning_rate=lr))
            hist = h.history
        except TrainingDivergedError as exc:
            hist = exc.history.history
            out[f"fit lr={lr} diverged"] = np.array([exc.epoch, exc.step or 0])
        out[f"fit lr={lr} params"] = mlp.params.copy()
        for key, values in hist.items():
            if key != "seconds":
                out[f"fit lr={lr} {key}"] = np.array(values)
    mlps = [MLP(layers, seed=1, dtype=np.float64) for _ in rates]
    hs = fit_many(mlps, [SGD(learning_rate=lr) for lr in rates], X, y, epochs=3, seed=2)
    for lr, mlp, h in zip(rates, mlps, hs, strict=True):
        out[f"many lr={lr} params"] = mlp.params.copy()
        for key, values in h.history.items():
            if key != "seconds":
                out[f"many lr={lr} {key}"] = np.array(values)
        if h.diverged is not None:
            out[f"many lr={lr} diverged"] = np.array([h.diverged.epoch, h.diverged.step or 0])
    X32 = X.astype(np.float32)
    mlp = MLP(layers, seed=1, dtype=np.float32)
    h = fit(mlp, X32, y, epochs=2, seed=2, verbose=0)
    out["fit32 params"] = mlp.params.copy()
    for key, values in h.history.items():
        if key != "seconds":
            out[f"fit32 {key}"] = np.array(values)
    return out


def main(argv: list[str]) -> int:
    what, path, *allowed = argv
    now = arrays()
    if what == "save":
        np.savez(path, **now)
        print(f"saved {len(now)} arrays to {path}")
        return 0
    before = dict(np.load(path))
    differ = sorted(set(before) ^ set(now))
    differ += [k for k in sorted(set(before) & set(now)) if not np.array_equal(before[k], now[k])]
    for key in differ:
        print(f"differs: {key}")
    print(f"{len(before)} arrays before, {len(now)} now, {len(differ)} differ")
    return 1 if [k for k in differ if not any(word in k for word in allowed)] else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
