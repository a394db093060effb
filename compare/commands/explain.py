"""`mlp-compare explain`: every number of one forward and backward pass, in the tutorial's notation.

A small seeded network and a few input rows, printed so that each value can be checked by hand:
A_in (with its bias unit), Z_h, A_h, Z_out, A_out, the loss, delta_out, each f'(Z_h), each
delta_h, each gradient (with its bias row shown to be the column sum of delta), and two steps of
the optimizer training uses, momentum SGD with learning-rate decay, at the tutorial's settings
unless given: for each step the gradient it uses (step 2's is taken at the weights step 1 left),
eta_t, the velocity, the new weights, and the loss before and after.
Values smaller than the printed precision switch the whole matrix to scientific notation.
"""

from __future__ import annotations

import argparse
import json

import numpy as np

from compare.config import TUTORIAL
from compare.errors import UsageError
from compare.options import (
    add_small_network_args,
    check_network,
    fraction_arg,
    nonnegative_float,
    nonnegative_int,
    positive_float,
    positive_int,
)

MAX_UNITS = 16
LEARNING_RATE, MOMENTUM, DECAY = TUTORIAL.learning_rate, TUTORIAL.momentum, TUTORIAL.decay
MAX_SAMPLES = 8
# f'(Z_h) written with the activation A_h, as backpropagation computes it
DERIVATIVE = {
    "tanh": "1 - A_{h}[:, 1:]^2",
    "logistic": "A_{h}[:, 1:] (1 - A_{h}[:, 1:])",
    "relu": "[A_{h}[:, 1:] > 0]",
}

HELP = "print one forward and backward pass of a small network, number by number"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_small_network_args(
        parser, seed=1, layers_help=f"layer sizes, each at most {MAX_UNITS} (default: 3,4,3)"
    )
    parser.add_argument(
        "--samples",
        type=positive_int,
        default=2,
        help=f"input rows in the batch, at most {MAX_SAMPLES} (default: 2)",
    )
    parser.add_argument(
        "--label",
        type=nonnegative_int,
        default=None,
        help="the class of every input row (default: drawn from the seed, row by row)",
    )
    parser.add_argument(
        "--lr",
        type=positive_float,
        default=LEARNING_RATE,
        help=f"eta_0 of the steps shown (default: {LEARNING_RATE:g}, the tutorial's)",
    )
    parser.add_argument(
        "--momentum",
        type=fraction_arg,
        default=MOMENTUM,
        help=f"mu of the steps shown (default: {MOMENTUM:g}, the tutorial's)",
    )
    parser.add_argument(
        "--decay",
        type=nonnegative_float,
        default=DECAY,
        help=f"learning-rate decay of the steps shown (default: {DECAY:g}, the tutorial's; "
        "try 0.1 to see eta_t shrink within two steps)",
    )
    parser.add_argument(
        "--precision", type=positive_int, default=5, help="decimals printed (default: 5)"
    )
    parser.add_argument(
        "--format", choices=("text", "json"), default="text", help="text, or JSON for tools"
    )


class Printer:
    """Text: a titled matrix per value. JSON: the same values collected under their names."""

    def __init__(self, fmt: str, precision: int) -> None:
        self.fmt, self.precision = fmt, precision
        self.values: list[dict] = []

    def say(self, text: str) -> None:
        if self.fmt == "text":
            print(text)
        else:
            self.values.append({"note": text})

    def show(self, name: str, array: np.ndarray, equation: str, scientific: bool = False) -> None:
        array = np.atleast_2d(np.asarray(array, dtype=np.float64))
        if self.fmt == "json":
            self.values.append({"name": name, "equation": equation, "value": array.tolist()})
            return
        nonzero = np.abs(array[array != 0])
        tiny = scientific or (nonzero.size and nonzero.min() < 0.5 * 10.0**-self.precision)
        print(f"\n{name}  ({'x'.join(map(str, array.shape))})   {equation}")
        print(
            np.array2string(
                array,
                precision=self.precision,
                floatmode="maxprec_equal" if tiny else "fixed",
                suppress_small=not tiny,
                max_line_width=110,
                formatter={"float_kind": lambda v: f"{v: .{self.precision - 1}e}"}
                if tiny
                else None,
            )
        )


def run(args: argparse.Namespace) -> int:
    from numpy_mlp import SGD
    from numpy_mlp.checks.gradcheck import matrix_names
    from numpy_mlp.model.mlp import MLP, backward_pass, forward_pass
    from numpy_mlp.model.targets import one_hot

    check_network(args.layers)
    layers = "-".join(map(str, args.layers))
    if len(args.layers) < 3:
        raise UsageError(
            f"--layers {layers}: explain shows backpropagation through hidden layers; give at "
            "least one (e.g. 3,4,3)"
        )
    if max(args.layers) > MAX_UNITS:
        raise UsageError(
            f"--layers {layers}: explain prints every number; keep each layer at most "
            f"{MAX_UNITS} units"
        )
    if args.samples > MAX_SAMPLES:
        raise UsageError(f"--samples {args.samples}: at most {MAX_SAMPLES} rows are printed")
    k = args.layers[-1]
    if args.label is not None and args.label >= k:
        raise UsageError(f"--label {args.label}: the network has {k} classes (0..{k - 1})")

    rng = np.random.default_rng(args.seed)
    mlp = MLP(
        args.layers, activation=args.activation, init=args.init, seed=args.seed, dtype=np.float64
    )
    n = args.samples
    x = np.round(rng.normal(size=(n, args.layers[0])), 2)
    labels = np.full(n, args.label) if args.label is not None else rng.integers(0, k, n)
    Y = one_hot(labels, k, dtype=np.float64)
    _check_steps(args, mlp, x, Y)
    out = Printer(args.format, args.precision)
    names = matrix_names(len(mlp.weights))
    hidden = ["h"] if len(mlp.weights) == 2 else [f"h{i + 1}" for i in range(len(mlp.W_h))]
    a_name = ["A_in", *(f"A_{h}" for h in hidden)]
    f = mlp.activation.name

    out.say(
        f"Network {layers} ({f}), seed {args.seed}, {n} input row(s) of classes "
        f"{labels.tolist()}. Row 0 of every W is the bias row; column 0 of every A is the bias "
        "unit 1."
    )
    for name, W in zip(names, mlp.weights, strict=True):
        out.show(name, W, f"{args.init} connection rows, zero bias row")

    # numpy_mlp's own passes compute every number shown; they hand out Z, delta and f'(Z)
    Z, trace = [], {}
    A = forward_pass(mlp.weights, x, mlp.activation, Z=Z)
    grads = backward_pass(mlp.weights, A, Y, mlp.activation, trace=trace)
    out.show("A_in", A[0], "[1 | x]")
    for i, h in enumerate(hidden):
        out.show(f"Z_{h}", Z[i], f"{a_name[i]} {names[i]}")
        out.show(f"A_{h}", A[i + 1], f"[1 | {f}(Z_{h})]")
    out.show("Z_out", Z[-1], f"{a_name[-1]} W_out")
    out.show("A_out", A[-1], "softmax(Z_out): exp(Z - max) / sum exp(Z - max), row by row")
    out.show("Y", Y, "one-hot targets")
    out.say(f"\nloss L = -(1/n) sum_i sum_k Y_ik log A_out_ik = {mlp.loss(x, Y):.6f}   (n = {n})")

    delta_name = "delta_out"
    out.show(delta_name, trace["delta"][len(mlp.weights) - 1], f"(A_out - Y) / n, n = {n}")
    for l in range(len(mlp.weights) - 1, -1, -1):
        out.show(f"dL/d{names[l]}", grads[l], f"{a_name[l]}^T {delta_name}")
        out.show(
            f"  bias row of dL/d{names[l]}",
            trace["delta"][l].sum(axis=0),  # the identity shown: bias row = column sums
            f"column sums of {delta_name} (the bias unit is 1 in every row)",
        )
        if l > 0:
            h = hidden[l - 1]
            out.show(f"f'(Z_{h})", trace["f_prime"][l], DERIVATIVE[f].format(h=h))
            out.show(
                f"delta_{h}", trace["delta"][l - 1], f"({delta_name} {names[l]}[1:]^T) * f'(Z_{h})"
            )
            delta_name = f"delta_{h}"

    _steps(out, mlp, x, Y, names, SGD(args.lr, args.momentum, args.decay))
    if args.format == "json":
        print(json.dumps({"network": layers, "activation": f, "values": out.values}, indent=1))
    return 0


def _check_steps(args, mlp, x, Y) -> None:
    """UsageError, before anything is printed, when the two steps shown would overflow float64
    (e.g. --lr 1e308): taken on a copy with every floating-point error raised."""
    import copy

    from numpy_mlp.training.optimizers import SGD

    trial, opt = copy.deepcopy(mlp), SGD(args.lr, args.momentum, args.decay)
    try:
        with np.errstate(over="raise", invalid="raise", divide="raise", under="ignore"):
            for _ in range(2):
                opt.step(trial.weights, trial.gradients(x, Y))
                finite = np.isfinite(trial.loss(x, Y))
    except FloatingPointError as exc:
        finite = False
        detail = str(exc)
    else:
        detail = "the loss is not finite"
    if not finite:
        raise UsageError(
            f"--lr {args.lr:g} --momentum {args.momentum:g}: the steps shown would overflow "
            f"float64 ({detail}); use a smaller learning rate"
        )


def _steps(out: Printer, mlp, x, Y, names, opt) -> None:
    """Two optimizer steps on the same batch, as `fit` takes them: each step's gradient (at the
    weights it starts from), eta_t, velocity, new weights, and the loss before and after."""
    mu = opt.momentum
    tutorial = (opt.learning_rate, mu, opt.decay) == (LEARNING_RATE, MOMENTUM, DECAY)
    out.say(
        f"\nTwo steps of the optimizer fit uses, on this batch: g = dL/dW at the current weights, "
        f"v <- mu v - eta_t g, W <- W + v, eta_t = eta_0 / (1 + decay t); eta_0 = "
        f"{opt.learning_rate:g}, mu = {mu:g}, decay = {opt.decay:g}"
        + (" (the tutorial's settings)" if tutorial else "")
        + "; v starts at 0, so step 2's v also carries step 1's."
    )
    for _ in range(2):
        t, eta = opt.iterations, opt.current_learning_rate()
        before = mlp.loss(x, Y)
        grads = mlp.gradients(x, Y)
        out.say(
            f"\nstep t = {t}: eta_{t} = {opt.learning_rate:g} / (1 + {opt.decay:g} * {t}) = "
            f"{eta:.7g}; loss before the step L = {before:.8f}"
        )
        for name, g in zip(names, grads, strict=True):
            where = "the initial weights" if t == 0 else f"the weights after step {t}"
            out.show(f"g ({name}) at step {t + 1}", g, f"dL/d{name} at {where}")
        opt.step(mlp.weights, grads)
        for name, W, v in zip(names, mlp.weights, opt.velocities, strict=True):
            out.show(f"v ({name})", v, f"{mu:g} v - {eta:.7g} g ({name})", scientific=True)
            out.show(f"{name} (after step {t + 1})", W, f"{name} + v")
        after = mlp.loss(x, Y)
        out.say(
            f"loss after step {t + 1}: L = {after:.8f} (change {after - before:+.3e}"
            + (", down" if after < before else ", up" if after > before else ", none")
            + ")"
        )
