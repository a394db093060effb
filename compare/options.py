"""Argument types and the flag groups several subcommands share.

The valid ranges of the optimizer's settings are numpy_mlp's (`SETTING_RULES`); `setting_arg`
turns them into argparse types. Output folders (locks, ownership, earlier runs) are in
`compare.folders`.
"""

from __future__ import annotations

import argparse
import math
import re
from collections.abc import Callable

from compare.config import MNIST_CLASSES, MNIST_INPUTS, TUTORIAL
from compare.errors import UsageError
from numpy_mlp.model.activations import ACTIVATIONS
from numpy_mlp.model.initializers import INITIALIZERS
from numpy_mlp.model.parameters import check_layer_sizes, parameter_count
from numpy_mlp.training.optimizers import SETTING_RULES

# A number on the command line: ASCII digits only (int() and float() would also take "1_0" as 10
# and full-width or other Unicode digits), an optional sign, point and exponent.
# inf and nan pass here, for each setting's rule to refuse in its own words.
PLAIN_NUMBER = re.compile(
    r"[+-]?(([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?|inf|infinity|nan)", re.ASCII | re.I
)
MAX_LIST_ITEMS = 1000  # items in any comma-separated flag (a sweep's cells are capped at 1,000 too)


def shown(text: str, width: int = 60) -> str:
    """`text` as an error message quotes it: cut to `width` characters (a flag may be long)."""
    return text if len(text) <= width else f"{text[: width - 3]}..."


def list_items(text: str, max_items: int = MAX_LIST_ITEMS, *, unique: bool = True) -> list[str]:
    """'a,b,c' -> ['a', 'b', 'c'] (stripped); ValueError for an empty item, more than `max_items`
    items, or (`unique`) an item given twice."""
    items = [part.strip() for part in text.split(",")]
    if "" in items:
        raise ValueError("an empty item (two commas in a row, or one at an end)")
    if len(items) > max_items:
        raise ValueError(f"{len(items):,} items; at most {max_items:,}")
    twice = sorted({item for item in items if items.count(item) > 1}) if unique else []
    if twice:
        raise ValueError(f"{twice[0]} is given twice (each value once, please)")
    return items


def plain_int(text: str) -> int:
    """int(text) for plain ASCII digits (no underscores, no other scripts), else ValueError."""
    text = text.strip()
    if not re.fullmatch(r"[+-]?[0-9]+", text, re.ASCII):
        raise ValueError(f"{text!r} is not an integer")
    return int(text)


def plain_float(text: str) -> float:
    """float(text) for a plain ASCII number (see PLAIN_NUMBER), else ValueError."""
    text = text.strip()
    if not PLAIN_NUMBER.fullmatch(text):
        raise ValueError(f"{text!r} is not a number")
    return float(text)


def layers_arg(text: str) -> tuple[int, ...]:
    """'784,50,50,10' -> (784, 50, 50, 10), checked by numpy_mlp's `check_layer_sizes`."""
    try:
        sizes = tuple(plain_int(part) for part in list_items(text, unique=False))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{shown(text)!r} is not a comma-separated list of integers such as 784,50,50,10"
        ) from None
    try:
        return check_layer_sizes(sizes)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{shown(text)!r}: {exc}") from None


def _number(parse: Callable[[str], float], ok: Callable[[float], bool], rule: str):
    """An argparse type: parse the text, then require `ok(value)`, else say `rule`."""

    plain = {int: plain_int, float: plain_float}.get(parse, parse)

    def convert(text: str):
        try:
            value = plain(text)
        except ValueError:
            kind = "an integer" if parse is int else "a number"
            raise argparse.ArgumentTypeError(f"{text!r} is not {kind}") from None
        if not ok(value):
            raise argparse.ArgumentTypeError(f"{rule}, got {text}")
        return value

    return convert


def _finite(value: float) -> bool:
    return math.isfinite(value)


INT_MAX = 2**31 - 1  # counts (epochs, rows, batch) must fit the C ints below NumPy and TensorFlow
SEED_MAX = 2**32 - 1  # seeds Keras and NumPy both take
positive_int = _number(int, lambda v: 1 <= v <= INT_MAX, f"must be an integer in 1..{INT_MAX}")
nonnegative_int = _number(int, lambda v: 0 <= v <= INT_MAX, f"must be an integer in 0..{INT_MAX}")
seed_arg = _number(int, lambda v: 0 <= v <= SEED_MAX, f"must be an integer in 0..{SEED_MAX}")
MAX_PARAMETERS = 100_000_000  # 400 MB of float32 weights, before gradients and velocities
positive_float = _number(float, lambda v: _finite(v) and v > 0, "must be finite and > 0")
nonnegative_float = _number(float, lambda v: _finite(v) and v >= 0, "must be finite and >= 0")
fraction_arg = _number(float, lambda v: 0.0 <= v < 1.0, "must lie in [0, 1)")


def setting_arg(name: str):
    """The argparse type of the optimizer setting `name`, checked by numpy_mlp's own rule."""
    test, rule = SETTING_RULES[name]
    return _number(float, test, f"must be {rule}")


def add_command(sub, name: str, *, help: str, doc: str, run: Callable) -> argparse.ArgumentParser:
    """A subcommand whose --help shows `doc` as written; `run(args)` is what it does."""
    parser = sub.add_parser(
        name, help=help, description=doc, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.set_defaults(func=run)
    return parser


def add_out_arg(
    parser: argparse.ArgumentParser, default: str | None, holds: str, *, shown: str | None = None
) -> None:
    """--out DIR: the folder the command writes `holds` into (`shown`: the default as described)."""
    shown = shown or default
    parser.add_argument(
        "--out", default=default, metavar="DIR", help=f"folder for {holds} (default: {shown})"
    )


def add_small_network_args(parser: argparse.ArgumentParser, *, seed: int, layers_help: str) -> None:
    """--layers (default 3,4,3, the tutorial's small example), --seed and the network's
    --activation and --init, for hand-sized checks."""
    parser.add_argument(
        "--layers", type=layers_arg, default=(3, 4, 3), metavar="3,4,3", help=layers_help
    )
    parser.add_argument("--seed", type=seed_arg, default=seed, help=f"seed (default: {seed})")
    add_network_args(parser)


def add_network_args(parser) -> None:
    """--activation and --init: the hidden layers' activation and the initial weights' law."""
    parser.add_argument(
        "--activation",
        choices=tuple(ACTIVATIONS),
        default=TUTORIAL.activation,
        help=f"hidden-layer activation (default: {TUTORIAL.activation}, the tutorial's)",
    )
    parser.add_argument(
        "--init",
        choices=tuple(INITIALIZERS),
        default=TUTORIAL.init,
        help=f"initial weights (Keras's formulas; default: {TUTORIAL.init})",
    )


def threads_pair(text: str) -> tuple[int, int]:
    """'2,1' -> (2, 1): TensorFlow's intra-op and inter-op threads, 0 meaning all cores."""
    parts = text.split(",")
    try:
        values = tuple(plain_int(p) for p in parts)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r}: write INTRA,INTER, e.g. 2,1 (0 = all)"
        ) from None
    if len(values) != 2 or min(values) < 0 or max(values) > 1024:
        raise argparse.ArgumentTypeError(f"{text!r}: write INTRA,INTER, two numbers in 0..1024")
    return values


def add_thread_args(parser: argparse.ArgumentParser) -> None:
    """--numpy-threads and --tf-threads: the thread counts each side computes with."""
    g = parser.add_argument_group("threads (both are recorded in the output)")
    g.add_argument(
        "--numpy-threads",
        type=_number(int, lambda v: 1 <= v <= 1024, "must be an integer in 1..1024"),
        default=TUTORIAL.numpy_threads,
        metavar="N",
        help="BLAS threads for NumPy's training (default: 1, faster for minibatch products here)",
    )
    g.add_argument(
        "--tf-threads",
        type=threads_pair,
        default=TUTORIAL.tf_threads,
        metavar="INTRA,INTER",
        help="TensorFlow's intra-op and inter-op threads (default: 0,0 = TensorFlow's choice, "
        "all cores)",
    )


def add_backend_arg(parser: argparse.ArgumentParser) -> None:
    """--backend: the Keras backend (TensorFlow, JAX or PyTorch) this command's Keras runs on."""
    from keras_mlp.backend import BACKENDS, EXTRAS

    parser.add_argument(
        "--backend",
        choices=BACKENDS,
        default=None,
        help="Keras's backend (default: KERAS_BACKEND if set, else tensorflow, the tutorial's); "
        + ", ".join(f"{b} needs the {EXTRAS[b]} extra" for b in BACKENDS),
    )


def choose_backend(args: argparse.Namespace) -> str:
    """Fix the Keras backend for this process from --backend (else KERAS_BACKEND, else
    TensorFlow), before Keras is imported; UsageError for a KERAS_BACKEND Keras lacks."""
    from keras_mlp.backend import use_backend

    try:
        return use_backend(getattr(args, "backend", None))
    except ValueError as exc:
        raise UsageError(f"KERAS_BACKEND: {exc}") from None


def add_data_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--data-dir",
        metavar="DIR",
        default=None,
        help="folder holding the four MNIST files (default: $MNIST_DIR, else the user cache, "
        "else download)",
    )


def _training_flags(epochs: int) -> list[tuple[tuple[str, ...], dict]]:
    """(flag names, add_argument keywords) of the tutorial's settings, defaults from TUTORIAL."""
    t = TUTORIAL
    layers = ",".join(map(str, t.layers))
    return [
        (("--layers",), dict(type=layers_arg, default=t.layers, metavar=layers,
                             help=f"layer sizes from input to output (default: {layers})")),
        (("--epochs",), dict(type=positive_int, default=epochs,
                             help=f"passes over the training rows (default: {epochs})")),
        (("--batch-size",), dict(type=positive_int, default=t.batch_size,
                                 help=f"rows per SGD update (default: {t.batch_size})")),
        (("--lr", "--learning-rate"), dict(dest="learning_rate", type=setting_arg("learning_rate"),
                                           default=t.learning_rate,
                                           help="initial learning rate eta_0 "
                                           f"(default: {t.learning_rate:g})")),
        (("--momentum",), dict(type=setting_arg("momentum"), default=t.momentum,
                               help=f"classical momentum mu in [0, 1) (default: {t.momentum:g})")),
        (("--decay",), dict(type=setting_arg("decay"), default=t.decay,
                            help="learning-rate decay: eta_t = eta_0 / (1 + decay * t) "
                            f"(default: {t.decay:g})")),
        (("--validation-split",), dict(type=fraction_arg, default=t.validation_split,
                                       help="fraction of the training rows, taken from the end, "
                                       f"held out (default: {t.validation_split:g})")),
        (("--seed",), dict(type=seed_arg, default=t.seed,
                           help=f"seed for the weights and the shuffling (default: {t.seed})")),
        (("--limit",), dict(type=positive_int, default=None, metavar="N",
                            help="use only the first N training rows (quick runs; default: all "
                            "60,000)")),
    ]  # fmt: skip


def add_training_args(
    parser: argparse.ArgumentParser,
    *,
    epochs: int | None = None,
    dtype_default: str | None = TUTORIAL.dtype,
    dtype_help: str = "floating-point type of weights and arithmetic (default: float32)",
    early_stopping: bool = True,
) -> None:
    """The training flags every training command shares; defaults are the tutorial configuration."""
    g = parser.add_argument_group("training settings (defaults: the tutorial configuration)")
    for flags, kwargs in _training_flags(epochs or TUTORIAL.epochs):
        g.add_argument(*flags, **kwargs)
    g.add_argument(
        "--dtype", choices=("float32", "float64"), default=dtype_default, help=dtype_help
    )
    extra = parser.add_argument_group("beyond the tutorial")
    extra.add_argument(
        "--weight-decay",
        type=setting_arg("weight_decay"),
        default=TUTORIAL.weight_decay,
        help="L2 penalty lambda on connection weights (not biases); not the "
        "learning-rate --decay (default: 0)",
    )
    extra.add_argument("--nesterov", action="store_true", help="Nesterov momentum")
    add_network_args(extra)
    extra.add_argument(
        "--independent-init",
        dest="keras_init",
        action="store_const",
        const="keras",
        default=TUTORIAL.keras_init,
        help="let Keras draw its own initial weights (default: it starts from the NumPy "
        "model's, so the two differ only by arithmetic and batch order)",
    )
    if early_stopping:
        extra.add_argument(
            "--early-stopping",
            type=nonnegative_int,
            default=0,
            metavar="PATIENCE",
            help="stop when val_loss has not improved for PATIENCE epochs and restore "
            "the best weights (default: 0, off)",
        )


def check_network(layers: tuple[int, ...], flag: str | None = None) -> None:
    """UsageError for a network that cannot be built: more weights than fit in memory, or outside
    the library's own limits (`flag`: what to name; default --layers).

    Layer lists from --layers are checked as numpy_mlp checks them when parsed (`layers_arg`)."""
    flag = flag or f"--layers {shown(','.join(map(str, layers)))}"
    count = parameter_count(layers)
    if count > MAX_PARAMETERS:
        raise UsageError(
            f"{flag}: {count:,} weights; at most {MAX_PARAMETERS:,} fit in memory with their "
            "gradients and velocities"
        )
    try:  # the library's own limits (hidden layers, units): what it builds, it saves and loads
        check_layer_sizes(layers)
    except ValueError as exc:
        raise UsageError(f"{flag}: {exc}") from None


def check_training_rows(limit: int | None, validation_split: float) -> None:
    """UsageError unless --limit and --validation-split leave at least one training row."""
    n = limit or 60_000
    if int(n * (1.0 - validation_split)) < 1:
        raise UsageError(
            f"--limit {n} with --validation-split {validation_split:g} leaves no training rows"
        )


def check_mnist_layers(layers: tuple[int, ...]) -> None:
    if layers[0] != MNIST_INPUTS or layers[-1] != MNIST_CLASSES:
        raise UsageError(
            f"--layers {','.join(map(str, layers))}: an MNIST network must start with "
            f"{MNIST_INPUTS} inputs and end with {MNIST_CLASSES} outputs"
        )
    check_network(layers)
