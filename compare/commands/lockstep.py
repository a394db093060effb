"""`mlp-compare lockstep`: train NumPy and Keras side by side on the same batches, compare weights.

Both start from the same weights (copied NumPy -> Keras), see the same MNIST batches in the same
order and apply the same SGD (momentum, learning-rate decay). After every epoch the table shows the
largest difference between corresponding weights and each side's mean training loss. In float64 the
two are the same algorithm to machine precision; the float32 row shows how rounding drifts.
"""

from __future__ import annotations

import argparse

from compare.folders import claim_folder, output_folder
from compare.options import (
    add_backend_arg,
    add_data_args,
    add_out_arg,
    add_training_args,
    check_mnist_layers,
    check_training_rows,
    choose_backend,
    positive_int,
)

HELP = "train NumPy and Keras in lockstep; compare weights"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_training_args(
        parser,
        epochs=1,
        dtype_default=None,
        dtype_help="run only this dtype (default: the --dtypes list)",
        early_stopping=False,
    )
    parser.add_argument(
        "--dtypes",
        default="float64,float32",
        metavar="LIST",
        help="comma-separated dtypes to run (default: float64,float32)",
    )
    parser.add_argument(
        "--trace-every",
        type=positive_int,
        default=20,
        metavar="N",
        help="also record the difference every N updates, for the plot (default: 20)",
    )
    add_backend_arg(parser)
    add_data_args(parser)
    add_out_arg(parser, "runs/lockstep", "lockstep.json and lockstep.png")


def _dtypes(args) -> list[str]:
    from compare.errors import UsageError

    if args.dtype is not None:  # --dtype given: just that one
        return [args.dtype]
    dtypes = [d.strip() for d in args.dtypes.split(",") if d.strip()]
    bad = [d for d in dtypes if d not in ("float32", "float64")]
    if bad or not dtypes:
        raise UsageError(f"--dtypes {args.dtypes}: use float32 and/or float64")
    return dtypes


def run(args: argparse.Namespace) -> int:
    from compare.config import Settings
    from compare.lockstep import run_lockstep
    from keras_mlp.backend import backend_module

    check_mnist_layers(args.layers)
    check_training_rows(args.limit, args.validation_split)
    dtypes = _dtypes(args)
    backend_module(choose_backend(args))
    with output_folder(args.out) as out:
        claim_folder(out, "lockstep")  # its own earlier lockstep, or nothing
        run_lockstep(
            Settings.from_args(args),
            dtypes,
            out,
            data_dir=args.data_dir,
            limit=args.limit,
            trace_every=args.trace_every,
        )
    return 0
