"""Argument types and the flag groups several subcommands share."""

from __future__ import annotations

import argparse
import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from compare.errors import UsageError

MNIST_INPUTS = 784
MNIST_CLASSES = 10
TUTORIAL = {
    "layers": (784, 50, 50, 10),
    "learning_rate": 0.001,
    "momentum": 0.9,
    "decay": 1e-7,
    "batch_size": 64,
    "epochs": 50,
    "validation_split": 0.1,
    "seed": 123,
    "dtype": "float32",
}


def layers_arg(text: str) -> tuple[int, ...]:
    """'784,50,50,10' -> (784, 50, 50, 10); every size a positive integer, at least two."""
    try:
        sizes = tuple(int(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a comma-separated list of integers such as 784,50,50,10"
        ) from None
    if len(sizes) < 2 or any(s < 1 for s in sizes):
        raise argparse.ArgumentTypeError(f"{text!r}: need at least two layer sizes, all positive")
    return sizes


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {value}")
    return value


def nonnegative_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {value}")
    return value


def _float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if value != value or value in (float("inf"), float("-inf")):
        raise argparse.ArgumentTypeError(f"must be finite, got {text}")
    return value


def positive_float(text: str) -> float:
    value = _float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {text}")
    return value


def nonnegative_float(text: str) -> float:
    value = _float(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {text}")
    return value


def fraction_arg(text: str) -> float:
    """A number in [0, 1)."""
    value = _float(text)
    if not 0.0 <= value < 1.0:
        raise argparse.ArgumentTypeError(f"must lie in [0, 1), got {text}")
    return value


def add_data_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--data-dir",
        metavar="DIR",
        default=None,
        help="folder holding the four MNIST files (default: $MNIST_DIR, else the user cache, "
        "else download)",
    )


def add_training_args(parser: argparse.ArgumentParser, *, epochs: int | None = None) -> None:
    """The tutorial's settings as flags; defaults are the tutorial configuration."""
    t = TUTORIAL
    g = parser.add_argument_group("training settings (defaults: the tutorial configuration)")
    g.add_argument(
        "--layers",
        type=layers_arg,
        default=t["layers"],
        metavar="784,50,50,10",
        help="layer sizes from input to output (default: 784,50,50,10)",
    )
    g.add_argument(
        "--epochs",
        type=positive_int,
        default=epochs or t["epochs"],
        help=f"passes over the training rows (default: {epochs or t['epochs']})",
    )
    g.add_argument(
        "--batch-size",
        type=positive_int,
        default=t["batch_size"],
        help="rows per SGD update (default: 64)",
    )
    g.add_argument(
        "--lr",
        "--learning-rate",
        dest="learning_rate",
        type=positive_float,
        default=t["learning_rate"],
        help="initial learning rate eta_0 (default: 0.001)",
    )
    g.add_argument(
        "--momentum",
        type=fraction_arg,
        default=t["momentum"],
        help="classical momentum mu in [0, 1) (default: 0.9)",
    )
    g.add_argument(
        "--decay",
        type=nonnegative_float,
        default=t["decay"],
        help="learning-rate decay: eta_t = eta_0 / (1 + decay * t) (default: 1e-7)",
    )
    g.add_argument(
        "--validation-split",
        type=fraction_arg,
        default=t["validation_split"],
        help="fraction of the training rows, taken from the end, held out (default: 0.1)",
    )
    g.add_argument(
        "--seed",
        type=nonnegative_int,
        default=t["seed"],
        help="seed for the weights and the shuffling (default: 123)",
    )
    g.add_argument(
        "--dtype",
        choices=("float32", "float64"),
        default=t["dtype"],
        help="floating-point type of weights and arithmetic (default: float32)",
    )
    g.add_argument(
        "--limit",
        type=positive_int,
        default=None,
        metavar="N",
        help="use only the first N training rows (quick runs; default: all 60,000)",
    )


def check_mnist_layers(layers: tuple[int, ...]) -> None:
    if layers[0] != MNIST_INPUTS or layers[-1] != MNIST_CLASSES:
        raise UsageError(
            f"--layers {','.join(map(str, layers))}: an MNIST network must start with "
            f"{MNIST_INPUTS} inputs and end with {MNIST_CLASSES} outputs"
        )


def prepare_out_dir(path: str | os.PathLike, flag: str = "--out") -> Path:
    """Create the output folder if needed and make sure it is writable, before any long work."""
    out = Path(path)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise UsageError(f"{flag} {out}: exists and is not a folder") from None
    except OSError as exc:
        raise UsageError(f"{flag} {out}: cannot create the folder ({exc.strerror})") from None
    try:
        with tempfile.TemporaryFile(dir=out):
            pass
    except OSError as exc:
        raise UsageError(f"{flag} {out}: folder is not writable ({exc.strerror})") from None
    return out


@contextlib.contextmanager
def output_folder(path: str | os.PathLike, flag: str = "--out") -> Iterator[Path]:
    """`prepare_out_dir`, and if the command then fails leaving the new folder empty, remove it."""
    existed = Path(path).exists()
    out = prepare_out_dir(path, flag)
    try:
        yield out
    except BaseException:
        if not existed and out.is_dir() and not any(out.iterdir()):
            out.rmdir()
        raise
