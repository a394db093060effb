"""`mlp-compare study`: what the tutorial says to learn next, measured on MNIST.

  study vanishing   networks of growing depth for each activation: where the gradient goes
  study sweep       one hyperparameter (or a grid of two) over a list of values, several seeds

Each writes JSON, figures and report.md into --out (default runs/<UTC timestamp>-<study>/).
"""

from __future__ import annotations

import argparse
import datetime as dt

from compare.options import (
    MAX_LIST_ITEMS,
    add_data_args,
    add_network_args,
    add_out_arg,
    layers_arg,
    list_items,
    nonnegative_int,
    positive_int,
    setting_arg,
    shown,
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
the initializer it is usually paired with (logistic and tanh: Glorot uniform; ReLU: He uniform),
and the logistic also with Glorot's range times 4. Measures per layer, on a fixed batch at
initialization and after every epoch, the backpropagated error ||dL/dZ||, the weight gradient
||dL/dW|| and the forward signal (unit spread, saturation); the factor by which delta changes from
one hidden layer to the next; and the test accuracy after training each network at every
--learning-rates value (adding larger rates when the best is the largest). Writes study.json,
five figures and report.md."""

SWEEP_DOC = """Train the NumPy MLP over values of one hyperparameter (--param, --values) or a grid
of two (--grid), with --seeds seeds each; everything else is the tutorial's configuration. Writes
one file per finished cell (a rerun with the same --out skips them), sweep.json, figures and
report.md. Cells run in parallel worker processes (--jobs)."""


MAX_RATES = 16  # --learning-rates: each one trains every network of the study again


def _csv(kind, max_items: int = MAX_LIST_ITEMS):
    def parse(text: str) -> tuple:
        try:
            values = tuple(kind(v) for v in list_items(text, max_items))
        except (argparse.ArgumentTypeError, ValueError) as exc:
            raise argparse.ArgumentTypeError(f"{shown(text)!r}: {exc}") from None
        if len(set(values)) < len(values):
            raise argparse.ArgumentTypeError(f"{shown(text)!r}: a value is given twice")
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
        "logistic and tanh, He for ReLU) and, for the logistic, glorot_uniform_x4 too; a list "
        "crosses every activation with every init",
    )
    parser.add_argument(
        "--learning-rates",
        type=_csv(setting_arg("learning_rate"), MAX_RATES),
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
    from compare.studies.plans import MAX_JOBS
    from compare.studies.sweep import PARAMS
    from compare.studies.workers import CONNECT_SECONDS

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
        help="worker processes, one BLAS thread each (default: the number of cores; never more "
        f"than the cells, at most {MAX_JOBS}); stacked groups are split so that every process "
        "has work",
    )
    parser.add_argument(
        "--method",
        choices=("stacked", "separate"),
        default="stacked",
        help="stacked: cells that share a network shape, seed and batches train together in one "
        "fit_many (a group; groups are halved until every worker process has one); separate: "
        "every cell trains alone by fit, one cell per task (default: stacked). The sweep prints "
        "and records the placement",
    )
    parser.add_argument(
        "--scheduler",
        default=None,
        metavar="ADDRESS",
        help="run the cells on an existing Dask cluster at tcp://HOST:PORT (needs the cluster "
        f"extra); a scheduler that does not answer within {CONNECT_SECONDS} s is an error",
    )
    add_common_study_args(parser, epochs=10)
    g = parser.add_argument_group("the fixed settings (defaults: the tutorial's)")
    g.add_argument("--learning-rate", "--lr", type=setting_arg("learning_rate"), default=None)
    g.add_argument("--momentum", type=setting_arg("momentum"), default=None)
    g.add_argument("--decay", type=setting_arg("decay"), default=None)
    g.add_argument("--weight-decay", type=setting_arg("weight_decay"), default=None)
    g.add_argument("--batch-size", type=positive_int, default=None)
    g.add_argument(
        "--layers", type=layers_arg, default=None, metavar="784,50,50,10",
        help="layer sizes from input to output (default: the tutorial's 784,50,50,10)",
    )  # fmt: skip
    g.add_argument("--hidden", type=positive_int, default=None, help="units per hidden layer")
    add_network_args(g)
    add_out_arg(parser, None, "sweep.json, cells/, figures and report.md", shown="runs/<UTC>-sweep")


def run(args: argparse.Namespace) -> int:
    import atexit
    import gc

    from compare.folders import output_folder

    # at exit, no last garbage collection over every object left (matplotlib's above all): the
    # process ending frees them; after a sweep it took ~0.17 s of a 2-core machine, now ~0.03 s
    atexit.unregister(gc.freeze)  # once, however often `run` is called in one process
    atexit.register(gc.freeze)
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    with output_folder(args.out or f"runs/{stamp}-{args.study}") as out:
        if args.study == "vanishing":
            return _vanishing(args, out)
        return _sweep(args, out)


def _vanishing(args: argparse.Namespace, out) -> int:
    from compare.folders import check_study_folder
    from compare.studies.plans import vanishing_plan
    from compare.studies.vanishing import run_vanishing

    epochs, limit = (1, 10_000) if args.quick else (args.epochs, args.limit)
    plan = vanishing_plan(
        depths=args.depths,
        width=args.width,
        activations=args.activations,
        inits=args.inits,
        learning_rates=args.learning_rates,
        epochs=epochs,
        limit=limit,
        seed=args.seed,
        dtype=args.dtype,
    )
    check_study_folder(out, "vanishing", "study.json")
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
    from compare.studies.sweep import run_sweep

    plan = sweep_plan_of(args)
    return run_sweep(plan, out, data_dir=args.data_dir, say=lambda m: print(m, flush=True))


# The fixed settings of a sweep: flags named as the Settings fields they set.
FIXED_FLAGS = ("learning_rate", "momentum", "decay", "weight_decay", "batch_size", "layers")


def sweep_plan_of(args: argparse.Namespace):
    """The SweepPlan the `study sweep` flags describe (UsageError on a bad combination or size)."""
    from compare.studies.plans import sweep_axes, sweep_plan, sweep_settings

    axes = sweep_axes(args.param, args.values, args.grid)
    fixed = {k: getattr(args, k) for k in FIXED_FLAGS if getattr(args, k) is not None}
    fixed.update(epochs=args.epochs, dtype=args.dtype, activation=args.activation, init=args.init)
    base = sweep_settings(fixed, args.hidden, args.seed)
    return sweep_plan(
        axes,
        base,
        seeds=args.seeds,
        limit=args.limit,
        jobs=args.jobs,
        method=args.method,
        scheduler=args.scheduler,
    )
