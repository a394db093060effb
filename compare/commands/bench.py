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

from compare.folders import output_folder
from compare.options import add_data_args, add_out_arg

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
        type=sizes_arg,
        default=None,
        metavar="16,64,...",
        help="batch sizes to sweep (default: 16..1024 by powers of 2; quick: 16,64,256,1024)",
    )
    parser.add_argument(
        "--widths",
        type=sizes_arg,
        default=None,
        metavar="50,128,...",
        help="hidden widths to sweep (default: 50,128,256,512,1024,2048; quick: 50,256,1024,2048)",
    )
    add_data_args(parser)
    add_out_arg(parser, "runs/bench", "bench.json, report.md, report.html and figures")


def sizes_arg(text: str) -> list[int]:
    """'16,64,256' -> [16, 64, 256]: positive integers."""
    try:
        values = [int(v) for v in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a comma-separated list of integers"
        ) from None
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: sizes must be positive")
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
