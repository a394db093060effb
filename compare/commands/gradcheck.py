"""`mlp-compare gradcheck`: backpropagation against finite differences, matrix by matrix.

Networks with 784 inputs are checked on MNIST rows; others on seeded random inputs. Exits 1 when a
matrix fails.
"""

from __future__ import annotations

import argparse

import numpy as np

from compare.errors import UsageError
from compare.options import add_data_args, add_small_network_args, check_network, positive_int

MAX_SAMPLES = 60_000
HELP = "check backprop gradients against finite differences"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_small_network_args(
        parser, seed=0, layers_help="layer sizes (default: 3,4,3, the tutorial's small example)"
    )
    parser.add_argument(
        "--dtype",
        choices=("float32", "float64"),
        default="float64",
        help="arithmetic of the model being checked (default: float64)",
    )
    parser.add_argument(
        "--samples", type=positive_int, default=5, help="rows in the batch (default: 5)"
    )
    parser.add_argument(
        "--max-entries",
        type=positive_int,
        default=300,
        metavar="N",
        help="check at most N entries per matrix, bias-row entries included "
        "(a seeded sample; default: 300)",
    )
    add_data_args(parser)


def check_batch(layers, samples: int, seed: int, data_dir=None):
    """(X, y) float64 for the check: MNIST rows for 784 inputs, seeded normal rows otherwise."""
    rng = np.random.default_rng(seed)
    if layers[0] == 784 and layers[-1] == 10:
        from compare.data import load_data

        data = load_data(data_dir, dtype="float64")
        rows = rng.choice(data.X_train.shape[0], samples, replace=False)
        return data.X_train[rows], data.y_train[rows]
    return rng.normal(size=(samples, layers[0])), rng.integers(0, layers[-1], samples)


def format_table(results) -> str:
    lines = [
        f"{'matrix':<8} {'shape':>10} {'checked':>8} {'max abs err':>12} "
        f"{'max rel err':>12}  verdict"
    ]
    for r in results:
        shape = "x".join(map(str, r.shape))
        verdict = "ok" if r.passed else f"FAIL (tolerance {r.tolerance:g})"
        lines.append(
            f"{r.name:<8} {shape:>10} {r.checked:>8} {r.max_abs_error:>12.2e} "
            f"{r.max_rel_error:>12.2e}  {verdict}"
        )
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    from numpy_mlp.checks.gradcheck import check_gradients
    from numpy_mlp.model.mlp import MLP

    check_network(args.layers)
    if args.samples > MAX_SAMPLES:
        raise UsageError(
            f"--samples {args.samples}: at most {MAX_SAMPLES:,} rows (the MNIST training set; "
            "a gradient check needs only a few)"
        )
    X, y = check_batch(args.layers, args.samples, args.seed, args.data_dir)
    mlp = MLP(
        args.layers, activation=args.activation, init=args.init, seed=args.seed, dtype=args.dtype
    )
    results = check_gradients(
        mlp, X.astype(args.dtype), y, max_entries=args.max_entries, seed=args.seed
    )
    sizes = "-".join(map(str, args.layers))
    print(
        f"Gradient check: {sizes} {args.activation} network, {args.dtype}, {args.samples} rows, "
        "backprop vs central differences (Richardson, extended precision)"
    )
    print(format_table(results))
    kinks = sum(r.kinks for r in results)
    if kinks:
        print(
            f"{kinks} sampled entries not compared: their perturbation switched a ReLU unit on or "
            "off (a kink), where a difference quotient is not a derivative."
        )
    failed = [r.name for r in results if not r.passed]
    print("FAILED: " + ", ".join(failed) if failed else "All matrices agree.")
    return 1 if failed else 0
