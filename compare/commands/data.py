"""`mlp-compare data`: fetch and verify MNIST, print what the tutorial prints, draw the digits."""

from __future__ import annotations

import argparse

import numpy as np

from compare.folders import claim_folder, output_folder
from compare.jsonio import write_json
from compare.options import add_data_args, add_out_arg

HELP = "fetch and verify MNIST; print its shape; draw one of each digit"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_data_args(parser)
    add_out_arg(parser, "runs/data", "data.json and digits.png")


def _counts(y: np.ndarray) -> str:
    return "  ".join(f"{d}: {c}" for d, c in enumerate(np.bincount(y, minlength=10)))


def run(args: argparse.Namespace) -> int:
    with output_folder(args.out) as out:
        claim_folder(out, "data")  # its own earlier output, or nothing
        return _run(args, out)


def _run(args: argparse.Namespace, out) -> int:
    from compare import plots
    from numpy_mlp import load_mnist, one_hot
    from numpy_mlp.data.sources import CHECKSUMS, default_cache_dir, locate_mnist

    source = locate_mnist(args.data_dir)
    print(f"Source: {source.channel}: {source.folder}")
    X_train, y_train = load_mnist("train", source.folder)
    print(f"Rows: {X_train.shape[0]}, Columns: {X_train.shape[1]}")
    X_test, y_test = load_mnist("t10k", source.folder)
    print(
        f"SHA-256: all {len(CHECKSUMS)} files match the published checksums (checked as read); "
        f"user cache: {default_cache_dir()}"
    )
    print(f"Rows: {X_test.shape[0]}, Columns: {X_test.shape[1]}")
    print(f"X_train {X_train.shape} {X_train.dtype}, y_train {y_train.shape} {y_train.dtype}")
    print(f"X_test  {X_test.shape} {X_test.dtype}, y_test  {y_test.shape} {y_test.dtype}")
    print(f"First 3 labels: {y_train[:3]}")
    with np.printoptions(precision=0, floatmode="fixed"):
        print("First 3 labels (one-hot):")
        print(one_hot(y_train[:3]))
    print(f"Class counts, train: {_counts(y_train)}")
    print(f"Class counts, test:  {_counts(y_test)}")
    figure = out / "digits.png"
    record = {  # what was read and checked; written first: it marks the folder as this command's
        "source": {"channel": source.channel, "folder": str(source.folder)},
        "checksums": f"all {len(CHECKSUMS)} files match the published SHA-256 checksums",
        "rows": {"train": int(X_train.shape[0]), "test": int(X_test.shape[0])},
        "class_counts": {"train": np.bincount(y_train, minlength=10).tolist(),
                         "test": np.bincount(y_test, minlength=10).tolist()},
        "figures": ["digits.png"],
    }  # fmt: skip
    write_json(out / "data.json", record)
    plots.digit_grid(X_train, y_train, figure)
    print(f"Saved one example of each digit: {figure}, and {out / 'data.json'}")
    return 0
