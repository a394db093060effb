"""`mlp-compare study`: what the tutorial says to learn next, measured on MNIST.

  study vanishing   networks of growing depth for each activation: where the gradient goes
  study sweep       one hyperparameter (or a grid of two) over a list of values, several seeds

Each writes JSON, figures and report.md into --out (default runs/<UTC timestamp>-<study>/).
"""

from __future__ import annotations

import argparse
import datetime as dt

from compare.options import (
    add_data_args,
    add_out_arg,
    fraction_arg,
    nonnegative_float,
    nonnegative_int,
    positive_float,
    positive_int,
)

HELP = "studies: the vanishing gradient across depths, and hyperparameter sweeps"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    studies = parser.add_subparsers(dest="study", metavar="STUDY", required=True)
    for name, help_text, doc, add in (
        ("vanishing", "gradient norms per layer for depths 1-8 and each activation",
         VANISHING_DOC, add_vanishing_args),
        ("sweep", "train over a list of values of one hyperparameter (or a grid of two)",
         SWEEP_DOC, add_sweep_args),
    ):  # fmt: skip
        add(
            studies.add_parser(
                name,
                help=help_text,
                description=doc,
                formatter_class=argparse.RawDescriptionHelpFormatter,
            )
        )


VANISHING_DOC = """Networks of 1, 2, 4 and 8 hidden layers (50 units each) for each activation, with
the initializer it is usually paired with (logistic and tanh: Glorot uniform; ReLU: He uniform).
Measures ||dL/dW|| per layer at initialization and after every epoch on a fixed batch, the factor
by which the gradient changes from one hidden layer to the next, and the test accuracy after
training each network at every --learning-rates value. Writes study.json, four figures and
report.md."""

SWEEP_DOC = """Train the NumPy MLP over values of one hyperparameter (--param, --values) or a grid
of two (--grid), with --seeds seeds each; everything else is the tutorial's configuration. Writes
one file per finished cell (a rerun with the same --out skips them), sweep.json, figures and
report.md. Cells run in parallel worker processes (--jobs)."""


def _csv(kind):
    def parse(text: str) -> tuple:
        try:
            values = tuple(kind(v) for v in text.split(",") if v.strip())
        except (argparse.ArgumentTypeError, ValueError) as exc:
            raise argparse.ArgumentTypeError(f"{text!r}: {exc}") from None
        if not values:
            raise argparse.ArgumentTypeError(f"{text!r}: give at least one value")
        return values

    return parse


def _choice_list(choices):
    def parse(text: str) -> str:
        if text not in choices:
            raise argparse.ArgumentTypeError(f"{text!r} is not one of {', '.join(choices)}")
        return text

    return parse


def add_common_study_args(parser: argparse.ArgumentParser, *, epochs: int) -> None:
    g = parser.add_argument_group("training (defaults: the tutorial's optimizer)")
    g.add_argument(
        "--epochs", type=positive_int, default=epochs, help=f"epochs (default: {epochs})"
    )
    g.add_argument(
        "--limit",
        type=positive_int,
        default=None,
        metavar="N",
        help="use only the first N training rows (default: all 60,000)",
    )
    g.add_argument("--seed", type=nonnegative_int, default=123, help="seed (default: 123)")
    g.add_argument(
        "--dtype", choices=("float32", "float64"), default="float32", help="(default: float32)"
    )
    add_data_args(parser)


def add_vanishing_args(parser: argparse.ArgumentParser) -> None:
    from numpy_mlp.model.activations import ACTIVATIONS
    from numpy_mlp.model.initializers import INITIALIZERS

    parser.add_argument(
        "--depths",
        type=_csv(positive_int),
        default=(1, 2, 4, 8),
        metavar="1,2,4,8",
        help="numbers of hidden layers (default: 1,2,4,8)",
    )
    parser.add_argument(
        "--width", type=positive_int, default=50, help="units per hidden layer (default: 50)"
    )
    parser.add_argument(
        "--activations",
        type=_csv(_choice_list(tuple(ACTIVATIONS))),
        default=("logistic", "tanh", "relu"),
        metavar="logistic,tanh,relu",
        help="activations to study (default: all three)",
    )
    parser.add_argument(
        "--inits",
        type=_csv(_choice_list(("paired", *INITIALIZERS))),
        default=("paired",),
        metavar="paired",
        help="initializers; 'paired' is the usual partner of each activation (Glorot for "
        "logistic and tanh, He for ReLU); a list crosses every activation with every init",
    )
    parser.add_argument(
        "--learning-rates",
        type=_csv(positive_float),
        default=(0.001, 0.01, 0.1),
        metavar="0.001,0.01,0.1",
        help="every network is trained at each of these learning rates (default: 0.001,0.01,0.1)",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="1 epoch on the first 10,000 rows, depths 1,2,4,8 (about a minute)",
    )
    add_common_study_args(parser, epochs=5)
    add_out_arg(parser, None, "study.json, figures and report.md", shown="runs/<UTC>-vanishing")


def add_sweep_args(parser: argparse.ArgumentParser) -> None:
    from compare.studies.sweep import PARAMS

    parser.add_argument(
        "--param",
        type=_choice_list(tuple(PARAMS)),
        default=None,
        metavar="NAME",
        help=f"the hyperparameter to sweep: {', '.join(PARAMS)}",
    )
    parser.add_argument(
        "--values",
        default=None,
        metavar="V1,V2,...",
        help="values of --param (default: a grid that suits the parameter)",
    )
    parser.add_argument(
        "--grid",
        nargs=2,
        default=None,
        metavar=("NAME=V1,V2", "NAME=V1,V2"),
        help="a two-parameter grid instead of --param, e.g. learning_rate=1e-3,1e-2,1e-1 "
        "momentum=0,0.5,0.9 (drawn as a heatmap)",
    )
    parser.add_argument(
        "--seeds", type=positive_int, default=1, help="seeds per value (default: 1)"
    )
    parser.add_argument(
        "--jobs",
        type=positive_int,
        default=None,
        help="worker processes, one BLAS thread each (default: the number of cores)",
    )
    parser.add_argument(
        "--method",
        choices=("stacked", "separate"),
        default="stacked",
        help="stacked: cells that share a network shape and batches train together in one "
        "process; separate: every cell trains alone (default: stacked)",
    )
    parser.add_argument(
        "--scheduler",
        default=None,
        metavar="ADDRESS",
        help="run the cells on an existing Dask cluster (needs the cluster extra)",
    )
    add_common_study_args(parser, epochs=10)
    g = parser.add_argument_group("the fixed settings (defaults: the tutorial's)")
    g.add_argument("--learning-rate", "--lr", type=positive_float, default=None)
    g.add_argument("--momentum", type=fraction_arg, default=None)
    g.add_argument("--decay", type=nonnegative_float, default=None)
    g.add_argument("--weight-decay", type=nonnegative_float, default=None)
    g.add_argument("--batch-size", type=positive_int, default=None)
    g.add_argument("--hidden", type=positive_int, default=None, help="units per hidden layer")
    add_out_arg(parser, None, "sweep.json, cells/, figures and report.md", shown="runs/<UTC>-sweep")


def run(args: argparse.Namespace) -> int:
    from compare.options import output_folder

    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    with output_folder(args.out or f"runs/{stamp}-{args.study}") as out:
        if args.study == "vanishing":
            return _vanishing(args, out)
        return _sweep(args, out)


def _vanishing(args: argparse.Namespace, out) -> int:
    import dataclasses

    from compare.config import TUTORIAL
    from compare.studies.vanishing import PARTNER, VanishingPlan, run_vanishing

    epochs, limit = (1, 10_000) if args.quick else (args.epochs, args.limit)
    if "paired" in args.inits:
        pairs = tuple((a, PARTNER[a]) for a in args.activations)
    else:
        pairs = tuple((a, i) for a in args.activations for i in args.inits)
    plan = VanishingPlan(
        depths=tuple(args.depths),
        width=args.width,
        pairs=pairs,
        epochs=epochs,
        learning_rates=tuple(args.learning_rates),
        limit=limit,
        settings=dataclasses.replace(TUTORIAL, seed=args.seed, dtype=args.dtype),
    )
    print(
        f"Vanishing-gradient study: {len(plan.networks())} trainings ({len(plan.learning_rates)} "
        f"learning rate(s) per network), {epochs} epoch(s) each"
        + (f", first {limit} training rows" if limit else ""),
        flush=True,
    )
    run_vanishing(plan, out, data_dir=args.data_dir, say=lambda m: print(m, flush=True))
    print(f"Saved {out / 'study.json'}, report.md and the vanishing_*.png figures in {out}")
    return 0


def _sweep(args: argparse.Namespace, out) -> int:
    from compare.studies.sweep import plan_from_args, run_sweep

    plan = plan_from_args(args)
    return run_sweep(plan, out, data_dir=args.data_dir, say=lambda m: print(m, flush=True))
