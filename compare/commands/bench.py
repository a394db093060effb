"""`mlp-compare bench`: NumPy against Keras at the tutorial configuration, and how cost grows.

Measures, in this one process: the sustained float32 matrix-product rate (the arithmetic limit);
one training epoch of the tutorial configuration for NumPy and for Keras `fit` under several
settings; the peak memory of a NumPy training run; then sweeps batch size and hidden width,
reporting time per training sample, GFLOP/s and the fraction of the matrix-product peak for NumPy
and for a compiled Keras train step, and where the compiled step takes less time per sample.
NumPy runs with its BLAS thread count set explicitly (1, as `fit`, and all cores as its own
contender), the counts in force recorded; contenders alternate round by round. The machine's state
(CPU, cores, BLAS, governor, load before and after) is recorded and a busy machine or an unstable
figure is flagged. Writes bench.json, report.md, report.html, bench_epochs.png and bench.png.
The work lives in compare.speed.
"""

from __future__ import annotations

import argparse

from compare.config import MNIST_CLASSES, MNIST_INPUTS
from compare.errors import UsageError
from compare.folders import claim_folder, output_folder
from compare.options import (
    add_data_args,
    add_out_arg,
    check_network,
    list_items,
    plain_int,
    shown,
)

HELP = "benchmark NumPy against Keras; sweep batch and width"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--quick", action="store_true", help="fewer configurations and rounds (about a minute)"
    )
    parser.add_argument("--no-keras", action="store_true", help="NumPy only")
    parser.add_argument(
        "--backend",
        type=backends_arg,
        default=None,
        metavar="LIST",
        help="Keras backends to time, each in a process of its own: tensorflow, jax, torch "
        "(comma-separated) or all (default: KERAS_BACKEND if set, else tensorflow); the "
        "TensorFlow-only parts (fit settings, thread counts, sweeps) run when tensorflow is listed",
    )
    parser.add_argument(
        "--batches",
        type=batches_arg,
        default=None,
        metavar="16,64,...",
        help="batch sizes to sweep (default: 16..1024 by powers of 2; quick: 16,64,256,1024)",
    )
    parser.add_argument(
        "--widths",
        type=widths_arg,
        default=None,
        metavar="50,128,...",
        help="hidden widths to sweep (default: 50,128,256,512,1024,2048; quick: 50,256,1024,2048)",
    )
    add_data_args(parser)
    add_out_arg(parser, "runs/bench", "bench.json, report.md, report.html and figures")


MAX_SIZES = 32  # points in one sweep: each is measured for several rounds
MAX_BATCH = 60_000  # MNIST's training rows: a larger batch is never one update


def sizes_arg(text: str) -> list[int]:
    """'16,64,256' -> [16, 64, 256]: positive integers, each once, at most MAX_SIZES."""
    try:
        values = [plain_int(v) for v in list_items(text, MAX_SIZES)]
    except ValueError as exc:
        raise argparse.ArgumentTypeError(
            f"{shown(text)!r} is not a comma-separated list of integers ({exc})"
        ) from None
    if min(values) < 1:
        raise argparse.ArgumentTypeError(f"{shown(text)!r}: sizes must be positive")
    return values


def batches_arg(text: str) -> list[int]:
    """--batches: sizes_arg, each at most MAX_BATCH rows."""
    values = sizes_arg(text)
    if max(values) > MAX_BATCH:
        raise argparse.ArgumentTypeError(
            f"{shown(text)!r}: a batch of {max(values):,} rows; at most {MAX_BATCH:,} (the training rows)"
        )
    return values


def widths_arg(text: str) -> list[int]:
    """--widths: sizes_arg, each 784-w-w-10 network within the weight limit (checked before any
    measurement allocates it)."""
    values = sizes_arg(text)
    widest = (MNIST_INPUTS, max(values), max(values), MNIST_CLASSES)
    try:
        check_network(widest)
    except UsageError as exc:
        raise argparse.ArgumentTypeError(f"{shown(text)!r}: {str(exc).split(': ', 1)[1]}") from None
    return values


def backends_arg(text: str) -> list[str]:
    """'jax,torch' -> ['jax', 'torch']; 'all' -> every backend Keras has."""
    from keras_mlp.backend import BACKENDS

    names = list(BACKENDS) if text == "all" else [t.strip() for t in text.split(",") if t.strip()]
    bad = [n for n in names if n not in BACKENDS]
    if bad or not names:
        raise argparse.ArgumentTypeError(
            f"{text!r}: choose from {', '.join(BACKENDS)} (comma-separated) or all"
        )
    return list(dict.fromkeys(names))


def run(args: argparse.Namespace) -> int:
    from compare.options import choose_backend
    from compare.speed.job import run_bench
    from keras_mlp.backend import backend_available, backend_module, use_backend

    backends = [] if args.no_keras else (args.backend or [choose_backend(args)])
    for backend in backends:
        backend_available(backend)  # a missing one: one line naming its extra, before any work
    with_keras = "tensorflow" in backends  # TensorFlow's own parts run in this process
    if with_keras:
        backend_module(use_backend("tensorflow"))
    with output_folder(args.out) as out:
        claim_folder(out, "bench")  # its own earlier bench, or nothing
        run_bench(
            out,
            quick=args.quick,
            with_keras=with_keras,
            backends=backends,
            batches=args.batches,
            widths=args.widths,
            data_dir=args.data_dir,
        )
    return 0
