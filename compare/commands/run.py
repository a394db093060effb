"""`mlp-compare run`: the main job. Trains the NumPy and the Keras MLP on MNIST with the tutorial's
configuration, checks their gradients against each other, times both, and writes a report.
"""

from __future__ import annotations

import argparse
import datetime as dt

from compare.folders import clear_earlier_run, output_folder
from compare.implementations import IMPLEMENTATIONS
from compare.options import (
    add_backend_arg,
    add_data_args,
    add_out_arg,
    add_thread_args,
    add_training_args,
    check_mnist_layers,
    check_training_rows,
    choose_backend,
)

HELP = "the main job: train both, compare accuracy, gradients and speed, write a report"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--impl",
        choices=("both", *IMPLEMENTATIONS),
        default="both",
        help="which implementations to run (default: both)",
    )
    add_training_args(parser)
    add_thread_args(parser)
    add_backend_arg(parser)
    add_data_args(parser)
    add_out_arg(parser, None, "the artifacts", shown="runs/<UTC timestamp>")


def run(args: argparse.Namespace) -> int:
    from compare.config import Settings
    from compare.implementations import chosen
    from compare.runner import Run

    check_mnist_layers(args.layers)
    choose_backend(args)
    check_training_rows(args.limit, args.validation_split)
    impls = chosen(args.impl)
    settings = Settings.from_args(args)
    for impl in impls:
        impl.require(settings)  # without the keras extra: one line naming it, before any work
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    with output_folder(args.out or f"runs/{stamp}") as out:
        replaced = clear_earlier_run(out)
        if replaced:
            print(f"Replacing the earlier run in {out} ({len(replaced)} files removed)")
        return Run(
            settings,
            [impl.key for impl in impls],
            out,
            data_dir=args.data_dir,
            limit=args.limit,
        ).execute()
