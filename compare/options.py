"""Argument types and the flag groups several subcommands share."""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

from compare.config import MNIST_CLASSES, MNIST_INPUTS, TUTORIAL
from compare.errors import UsageError


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


def _number(parse: Callable[[str], float], ok: Callable[[float], bool], rule: str):
    """An argparse type: parse the text, then require `ok(value)`, else say `rule`."""

    def convert(text: str):
        try:
            value = parse(text)
        except ValueError:
            kind = "an integer" if parse is int else "a number"
            raise argparse.ArgumentTypeError(f"{text!r} is not {kind}") from None
        if not ok(value):
            raise argparse.ArgumentTypeError(f"{rule}, got {text}")
        return value

    return convert


def _finite(value: float) -> bool:
    return math.isfinite(value)


positive_int = _number(int, lambda v: v >= 1, "must be a positive integer")
nonnegative_int = _number(int, lambda v: v >= 0, "must be >= 0")
positive_float = _number(float, lambda v: _finite(v) and v > 0, "must be finite and > 0")
nonnegative_float = _number(float, lambda v: _finite(v) and v >= 0, "must be finite and >= 0")
fraction_arg = _number(float, lambda v: 0.0 <= v < 1.0, "must lie in [0, 1)")


def add_data_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--data-dir",
        metavar="DIR",
        default=None,
        help="folder holding the four MNIST files (default: $MNIST_DIR, else the user cache, "
        "else download)",
    )


def add_training_args(
    parser: argparse.ArgumentParser,
    *,
    epochs: int | None = None,
    dtype_default: str | None = TUTORIAL.dtype,
    dtype_help: str = "floating-point type of weights and arithmetic (default: float32)",
    early_stopping: bool = True,
) -> None:
    """The training flags every training command shares; defaults are the tutorial configuration."""
    t = TUTORIAL
    epochs = epochs or t.epochs
    g = parser.add_argument_group("training settings (defaults: the tutorial configuration)")
    g.add_argument(
        "--layers",
        type=layers_arg,
        default=t.layers,
        metavar=",".join(map(str, t.layers)),
        help=f"layer sizes from input to output (default: {','.join(map(str, t.layers))})",
    )
    g.add_argument(
        "--epochs",
        type=positive_int,
        default=epochs,
        help=f"passes over the training rows (default: {epochs})",
    )
    g.add_argument(
        "--batch-size",
        type=positive_int,
        default=t.batch_size,
        help=f"rows per SGD update (default: {t.batch_size})",
    )
    g.add_argument(
        "--lr",
        "--learning-rate",
        dest="learning_rate",
        type=positive_float,
        default=t.learning_rate,
        help=f"initial learning rate eta_0 (default: {t.learning_rate:g})",
    )
    g.add_argument(
        "--momentum",
        type=fraction_arg,
        default=t.momentum,
        help=f"classical momentum mu in [0, 1) (default: {t.momentum:g})",
    )
    g.add_argument(
        "--decay",
        type=nonnegative_float,
        default=t.decay,
        help=f"learning-rate decay: eta_t = eta_0 / (1 + decay * t) (default: {t.decay:g})",
    )
    g.add_argument(
        "--validation-split",
        type=fraction_arg,
        default=t.validation_split,
        help="fraction of the training rows, taken from the end, held out "
        f"(default: {t.validation_split:g})",
    )
    g.add_argument(
        "--seed",
        type=nonnegative_int,
        default=t.seed,
        help=f"seed for the weights and the shuffling (default: {t.seed})",
    )
    g.add_argument(
        "--dtype", choices=("float32", "float64"), default=dtype_default, help=dtype_help
    )
    g.add_argument(
        "--limit",
        type=positive_int,
        default=None,
        metavar="N",
        help="use only the first N training rows (quick runs; default: all 60,000)",
    )
    extra = parser.add_argument_group("beyond the tutorial")
    extra.add_argument(
        "--weight-decay",
        type=nonnegative_float,
        default=t.weight_decay,
        help="L2 penalty lambda on connection weights (not biases); not the "
        "learning-rate --decay (default: 0)",
    )
    extra.add_argument("--nesterov", action="store_true", help="Nesterov momentum")
    if early_stopping:
        extra.add_argument(
            "--early-stopping",
            type=nonnegative_int,
            default=0,
            metavar="PATIENCE",
            help="stop when val_loss has not improved for PATIENCE epochs and restore "
            "the best weights (default: 0, off)",
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
