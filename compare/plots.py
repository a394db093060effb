"""Figures (PNG, matplotlib with the Agg backend, written atomically)."""

from __future__ import annotations

import io
import os
from collections.abc import Mapping, Sequence

import numpy as np

from numpy_mlp.io.atomic import atomic_write_bytes


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path: str | os.PathLike) -> None:
    plt = _pyplot()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    atomic_write_bytes(path, buffer.getvalue())


def digit_grid(images: np.ndarray, labels: np.ndarray, path: str | os.PathLike) -> None:
    """The tutorial's figure: a 2x5 grid with the first example of each digit 0-9.

    images: (n, 784) uint8 or float; labels: (n,) integers.
    """
    plt = _pyplot()
    fig, axes = plt.subplots(2, 5, figsize=(8, 3.6), sharex=True, sharey=True)
    for digit, ax in enumerate(axes.flat):
        rows = np.flatnonzero(labels == digit)
        if rows.size:
            ax.imshow(images[rows[0]].reshape(28, 28), cmap="Greys", interpolation="nearest")
        ax.set_title(str(digit))
        ax.set_xticks([])
        ax.set_yticks([])
    fig.suptitle("MNIST: one training example of each digit")
    fig.tight_layout()
    _save(fig, path)


# One look per model, drawn in this order: the first wide and pale, the next thin on top of it,
# so two models whose curves coincide (NumPy and Keras from the same weights) both stay visible.
MODEL_STYLES = (
    {"linewidth": 6, "alpha": 0.35, "marker": "o", "markersize": 8},
    {"linewidth": 1.4, "alpha": 1.0, "marker": "x", "markersize": 7},
    {"linewidth": 1.0, "alpha": 1.0, "marker": "+", "markersize": 7},
)
KEY_STYLES = {"loss": ("C0", "-"), "val_loss": ("C1", "--")}


def learning_curves(histories: Mapping[str, Mapping[str, Sequence[float]]], path) -> None:
    """loss and val_loss per epoch for each model, on one set of axes.

    Colour and line style say which loss (blue solid: training, orange dashed: validation); width
    and marker say which model (MODEL_STYLES), so coinciding curves do not hide each other.
    """
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 4.2))
    names = []
    for (name, history), look in zip(histories.items(), MODEL_STYLES, strict=False):
        names.append(name)
        for key, (color, style) in KEY_STYLES.items():
            values = history.get(key) or []
            if values:
                epochs = np.arange(1, len(values) + 1)
                ax.plot(
                    epochs, values, style, color=color, label=f"{name} {key}",
                    markevery=max(1, len(values) // 10), **look,
                )  # fmt: skip
    ax.set_xlabel("epoch")
    ax.set_ylabel("cross-entropy")
    ax.set_yscale("log")
    looks = ["wide, pale", "thin, on top", "thinnest"]
    who = "; ".join(f"{n}: {look}" for n, look in zip(names, looks, strict=False))
    ax.set_title(f"Learning curves (solid: training, dashed: validation)\n{who}", fontsize=10)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    _save(fig, path)


def epoch_times(times: Mapping[str, Sequence[float]], path) -> None:
    """Wall time of each epoch, per model."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 4))
    for name, values in times.items():
        if values:
            ax.plot(np.arange(1, len(values) + 1), values, marker="o", label=name)
    ax.set_xlabel("epoch")
    ax.set_ylabel("seconds")
    ax.set_yscale("log")
    ax.set_title("Time per epoch (epoch 1 includes Keras's graph tracing)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    _save(fig, path)


def misclassified(images, y_true, y_pred, path, *, title: str, proba=None, count: int = 25) -> None:
    """The first `count` misclassified test digits, titled 'row) t: true p: predicted (prob.)'.

    proba: (n, k) predicted probabilities; the probability given to the wrong class is shown.
    """
    plt = _pyplot()
    wrong = np.flatnonzero(y_true != y_pred)[:count]
    cols = 5
    rows = max(1, -(-wrong.size // cols))
    fig, axes = plt.subplots(rows, cols, figsize=(8, 1.8 * rows + 0.6), squeeze=False)
    for ax in axes.flat:
        ax.set_axis_off()
    for ax, i in zip(axes.flat, wrong, strict=False):
        ax.imshow(images[i].reshape(28, 28), cmap="Greys", interpolation="nearest")
        p = f" ({proba[i, y_pred[i]]:.2f})" if proba is not None else ""
        ax.set_title(f"{i}) t: {y_true[i]} p: {y_pred[i]}{p}", fontsize=8)
    fig.suptitle(title)
    fig.tight_layout()
    _save(fig, path)


def _unit_grid(kernel: np.ndarray, path, *, title: str, label: str) -> None:
    """Columns of `kernel` (784, units) as 28x28 images on one shared, symmetric colour scale."""
    plt = _pyplot()
    units = kernel.shape[1]
    cols = 10
    rows = -(-units // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(10.8, rows + 0.9), squeeze=False)
    limit = float(np.abs(kernel).max()) or 1.0
    image = None
    for ax in axes.flat:
        ax.set_axis_off()
    for j, ax in enumerate(axes.flat[:units]):
        w = kernel[:, j].reshape(28, 28)
        image = ax.imshow(w, cmap="RdBu_r", vmin=-limit, vmax=limit, interpolation="nearest")
    fig.suptitle(title)
    fig.tight_layout()
    if image is not None:
        fig.colorbar(image, ax=axes.ravel().tolist(), shrink=0.8, label=label)
    _save(fig, path)


def hidden_weights(W_h1: np.ndarray, path, *, title: str, count: int = 50) -> None:
    """Columns of W^(h1) (bias row dropped) as 28x28 images: what each first-layer unit looks at."""
    _unit_grid(W_h1[1:, :count], path, title=title, label="weight")


def hidden_weight_change(W_h1: np.ndarray, W_h1_init: np.ndarray, path, *, title: str) -> None:
    """W^(h1) - W^(h1) at initialization, per unit: what training changed (the learned strokes)."""
    _unit_grid((W_h1 - W_h1_init)[1:, :50], path, title=title, label="change since initialization")


def confusion(y_true: np.ndarray, y_pred: np.ndarray, path, *, title: str, k: int = 10) -> None:
    """The k x k confusion matrix: rows the true class, columns the predicted one, counts shown."""
    plt = _pyplot()
    counts = np.zeros((k, k), dtype=np.int64)
    np.add.at(counts, (y_true, y_pred), 1)
    fig, ax = plt.subplots(figsize=(6.2, 5.4))
    image = ax.imshow(np.log1p(counts), cmap="Blues")
    for i in range(k):
        for j in range(k):
            if counts[i, j]:
                color = "white" if counts[i, j] > counts.max() / 3 else "black"
                ax.text(j, i, str(counts[i, j]), ha="center", va="center", fontsize=7, color=color)
    ax.set_xticks(range(k))
    ax.set_yticks(range(k))
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    ax.set_title(title)
    fig.colorbar(image, ax=ax, label="log(1 + count)")
    _save(fig, path)


def lockstep_trace(
    traces: Mapping[str, Sequence[tuple[int, float]]], epochs: Sequence[Mapping], path
) -> None:
    """Largest |W_numpy - W_keras| against updates (log scale); epoch ends marked."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 4.2))
    for (dtype, trace), color in zip(traces.items(), ("C0", "C1"), strict=False):
        if trace:
            u, d = zip(*trace, strict=True)
            ax.plot(
                u,
                np.maximum(d, 1e-20),
                color=color,
                marker="." if len(u) < 3 else None,  # a short run's few points stay visible
                label=f"{dtype}, every {u[0]} updates" if len(u) > 1 else f"{dtype}, at the end",
            )
        ends = [r for r in epochs if r["dtype"] == dtype]
        ax.plot(
            [r["updates"] for r in ends],
            [max(r["max_abs_diff"], 1e-20) for r in ends],
            "o",
            color=color,
            markersize=8,
            label=f"{dtype}, end of epoch",
        )
    ax.axhline(1e-12, color="grey", linestyle=":", label="1e-12")
    ax.set_yscale("log")
    ax.set_xlabel("SGD updates")
    ax.set_ylabel("max |W_numpy - W_keras|")
    ax.set_title("NumPy and Keras trained in lockstep on the same batches")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    _save(fig, path)
