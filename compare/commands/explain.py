"""`mlp-compare explain`: every number of one forward and backward pass, in the tutorial's notation.

A small seeded network and one input row, printed so that each value can be checked by hand:
A_in (with its bias unit), Z_h, A_h, Z_out, A_out, the loss, the deltas, each gradient, and the
weights after one plain SGD step.
"""

from __future__ import annotations

import argparse

import numpy as np

from compare.errors import UsageError
from compare.options import add_small_network_args, check_network, nonnegative_int, positive_float

MAX_UNITS = 16
# f'(Z_h) written with the activation A_h, as backpropagation computes it
DERIVATIVE = {
    "tanh": "(1 - A_{h}[:, 1:]^2)",
    "logistic": "A_{h}[:, 1:] (1 - A_{h}[:, 1:])",
    "relu": "[A_{h}[:, 1:] > 0]",
}


HELP = "print one forward and backward pass of a small network, number by number"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_small_network_args(
        parser, seed=1, layers_help=f"layer sizes, each at most {MAX_UNITS} (default: 3,4,3)"
    )
    parser.add_argument(
        "--label",
        type=nonnegative_int,
        default=None,
        help="the input's class (default: drawn from the seed)",
    )
    parser.add_argument(
        "--lr",
        type=positive_float,
        default=0.1,
        help="learning rate of the SGD step shown at the end (default: 0.1)",
    )


def _show(name: str, array: np.ndarray, equation: str) -> None:
    shape = "x".join(map(str, array.shape))
    print(f"\n{name}  ({shape})   {equation}")
    print(
        np.array2string(
            np.atleast_2d(array),
            precision=5,
            suppress_small=True,
            floatmode="fixed",
            max_line_width=110,
        )
    )


def run(args: argparse.Namespace) -> int:
    from numpy_mlp.checks.gradcheck import matrix_names
    from numpy_mlp.model.activations import cross_entropy_delta
    from numpy_mlp.model.mlp import MLP
    from numpy_mlp.model.targets import one_hot

    check_network(args.layers)
    if len(args.layers) < 3:
        raise UsageError(
            f"--layers {','.join(map(str, args.layers))}: explain shows backpropagation through "
            "hidden layers; give at least one (e.g. 3,4,3)"
        )
    if max(args.layers) > MAX_UNITS:
        raise UsageError(
            f"--layers: explain prints every number; keep each layer at most "
            f"{MAX_UNITS} units (got {','.join(map(str, args.layers))})"
        )
    rng = np.random.default_rng(args.seed)
    mlp = MLP(
        args.layers, activation=args.activation, init=args.init, seed=args.seed, dtype=np.float64
    )
    f = mlp.activation.name
    x = np.round(rng.normal(size=(1, args.layers[0])), 2)
    k = args.layers[-1]
    label = args.label if args.label is not None else int(rng.integers(0, k))
    if label >= k:
        raise UsageError(f"--label {label}: the network has {k} classes (0..{k - 1})")
    Y = one_hot(np.array([label]), k, dtype=np.float64)
    names = matrix_names(len(mlp.weights))
    hidden = ["h"] if len(mlp.weights) == 2 else [f"h{i + 1}" for i in range(len(mlp.W_h))]

    print(
        f"Network {'-'.join(map(str, args.layers))}, seed {args.seed}, one input of class "
        f"{label}. Row 0 of every W is the bias row; column 0 of every A is the bias unit 1."
    )
    for name, W in zip(names, mlp.weights, strict=True):
        _show(name, W, f"{args.init} connection rows, zero bias row")

    A = mlp.forward(x)
    _show("A_in", A[0], "[1 | x]")
    for i, h in enumerate(hidden):
        _show(f"Z_{h}", A[i] @ mlp.weights[i], f"A_{'in' if i == 0 else hidden[i - 1]} {names[i]}")
        _show(f"A_{h}", A[i + 1], f"[1 | {f}(Z_{h})]")
    _show("Z_out", A[-2] @ mlp.W_out, f"A_{hidden[-1]} W_out")
    _show("A_out", A[-1], "softmax(Z_out): exp(Z - max) / sum exp(Z - max)")
    _show("Y", Y, "one-hot target")
    print(f"\nloss L = -sum_k Y_k log A_out_k = {mlp.loss(x, Y):.6f}")

    grads = mlp.gradients(x, Y)
    delta = cross_entropy_delta(A[-1], Y)
    _show("delta_out", delta, "(A_out - Y) / n, n = 1")
    for l in range(len(mlp.weights) - 1, -1, -1):
        _show(
            f"dL/d{names[l]}",
            grads[l],
            f"A_{'in' if l == 0 else hidden[l - 1]}^T delta (bias row = delta itself)",
        )
        if l > 0:
            h = hidden[l - 1]
            delta = (delta @ mlp.weights[l][1:].T) * mlp.activation.derivative(A[l][:, 1:])
            _show(f"delta_{h}", delta, f"(delta {names[l]}[1:]^T) * {DERIVATIVE[f].format(h=h)}")
    print(f"\nOne plain SGD step, W <- W - {args.lr:g} dL/dW:")
    for name, W, g in zip(names, mlp.weights, grads, strict=True):
        _show(f"{name} (after)", W - args.lr * g, f"{name} - eta dL/d{name}")
    return 0
