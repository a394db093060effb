"""`mlp-compare gradcheck`: backpropagation against finite differences, matrix by matrix.

Networks with 784 inputs are checked on MNIST rows; others on seeded random inputs. Exits 1 when a
matrix fails.
"""

from __future__ import annotations

import argparse

import numpy as np

from compare.errors import UsageError
from compare.options import (
    add_data_args,
    add_small_network_args,
    check_network,
    nonnegative_float,
    positive_int,
)

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
    parser.add_argument(
        "--weight-decay",
        type=nonnegative_float,
        default=0.0,
        help="check the gradient of L + (lambda/2)||W||^2 (bias rows free) (default: 0)",
    )
    parser.add_argument(
        "--engine",
        choices=("reference", "fast"),
        default="reference",
        help="which backprop to check: MLP.gradients or the fast training step's (default: reference)",
    )
    from numpy_mlp.checks.bugs import NOTES

    parser.add_argument(
        "--inject-bug",
        choices=tuple(NOTES),
        default=None,
        metavar="NAME",
        help="check a deliberately broken copy of backprop (NAME below), to see what the check "
        "catches; the check is then expected to FAIL (exit 1)",
    )
    width = max(map(len, NOTES))
    parser.epilog = "bugs for --inject-bug:\n" + "\n".join(
        f"  {name:<{width}}  {note.does}" for name, note in NOTES.items()
    )
    parser.add_argument(
        "--weights",
        default=None,
        metavar="MODEL.npz",
        help="check a saved (trained) model's weights",
    )
    parser.add_argument(
        "--against",
        choices=("tensorflow", "jax", "torch"),
        default=None,
        metavar="BACKEND",
        help="also compare with Keras's autodiff gradients on this backend (tensorflow, jax or "
        "torch) at the same weights, same formula",
    )
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    add_data_args(parser)


def check_batch(layers, samples: int, seed: int, data_dir=None):
    """(X, y, origin) float64: MNIST rows for 784-input 10-class networks, else seeded normal
    rows; origin says which, for the header."""
    rng = np.random.default_rng(seed)
    if layers[0] == 784 and layers[-1] == 10:
        from compare.data import load_data

        data = load_data(data_dir, dtype="float64")
        rows = rng.choice(data.X_train.shape[0], samples, replace=False)
        return data.X_train[rows], data.y_train[rows], "MNIST training rows (seeded choice)"
    X = rng.normal(size=(samples, layers[0]))
    return X, rng.integers(0, layers[-1], samples), "rows of seeded standard-normal inputs"


def format_table(results) -> str:
    """One row per matrix; the verdict is the row's own: ok when every entry is within its pass
    line (err/line <= 1), the same rule as the final line."""
    lines = [
        f"{'matrix':<8} {'shape':>9} {'checked':>15} {'max abs err':>12} {'max rel err':>12} "
        f"{'bias row':>9} {'others':>9} {'err/line':>9}  verdict"
    ]
    for r in results:
        shape = "x".join(map(str, r.shape))
        coverage = f"{r.checked:,} of {r.size:,}"
        verdict = "ok" if r.passed else "FAIL"
        lines.append(
            f"{r.name:<8} {shape:>9} {coverage:>15} {r.max_abs_error:>12.2e} "
            f"{r.max_rel_error:>12.2e} {r.bias_rel_error:>9.1e} {r.connection_rel_error:>9.1e} "
            f"{r.max_line_ratio:>9.2g}  {verdict}"
        )
    worst = max(results, key=lambda r: r.max_line_ratio)
    if worst.worst is not None:
        row, col, bp, fd, step = worst.worst
        lines.append(
            f"worst entry: {worst.name}[{row}, {col}]{' (bias row)' if row == 0 else ''}: backprop "
            f"{bp:.6e}, finite difference {fd:.6e}, step h {step:.2e}"
        )
    return "\n".join(lines)


# what a gradient check may allocate for its weight-sized arrays: with MNIST loaded (float64,
# about 400 MB) the whole check stays under 1 GB (784-20000-10, 15.7 million weights: 698 MB)
MAX_CHECK_BYTES = 2**29
CHECK_COPIES = 4  # weight-sized float64 arrays held: weights, two gradients, one more


def check_memory(layers) -> None:
    """UsageError, before anything is allocated, for a network whose check needs more than
    MAX_CHECK_BYTES: it holds CHECK_COPIES float64 arrays the size of the weights."""
    from numpy_mlp.model.parameters import parameter_count

    count = parameter_count(layers)
    need = count * 8 * CHECK_COPIES
    if need > MAX_CHECK_BYTES:
        raise UsageError(
            f"--layers {','.join(map(str, layers))}: {count:,} weights; checking them needs about "
            f"{need / 2**20:,.0f} MiB, at most {MAX_CHECK_BYTES / 2**20:,.0f} MiB (a gradient check "
            "needs only a small network)"
        )


def run(args: argparse.Namespace) -> int:
    import json

    from numpy_mlp.checks.bugs import BUGS
    from numpy_mlp.checks.gradcheck import FORMULA, PASS_LINE, TOLERANCE, check_gradients
    from numpy_mlp.model.mlp import MLP
    from numpy_mlp.training.fast import fast_gradients

    check_network(args.layers)
    check_memory(args.layers)
    if args.samples > MAX_SAMPLES:
        raise UsageError(
            f"--samples {args.samples}: at most {MAX_SAMPLES:,} rows (the MNIST training set; "
            "a gradient check needs only a few)"
        )
    mlp = _model(args, MLP)
    X, y, origin = check_batch(mlp.layer_sizes, args.samples, args.seed, args.data_dir)
    X = X.astype(mlp.dtype)
    tolerance = TOLERANCE[mlp.dtype.name]
    gradients = BUGS[args.inject_bug] if args.inject_bug else None
    if args.engine == "fast" and gradients is None:
        gradients = fast_gradients
    results = check_gradients(
        mlp,
        X,
        y,
        max_entries=args.max_entries,
        seed=args.seed,
        weight_decay=args.weight_decay,
        gradients=gradients,
    )
    sizes = "-".join(map(str, mlp.layer_sizes))
    what = (
        f"backprop ({args.engine} engine)"
        if not args.inject_bug
        else (f"a deliberately broken backprop ({args.inject_bug})")
    )
    failed = [r.name for r in results if not r.passed]
    against = _against_keras(args.against, mlp, X, y, tolerance) if args.against else []
    failed += [f"{name} (vs {args.against})" for name, _, ok in against if not ok]
    kinks = sum(r.kinks for r in results)
    if args.json:
        print(json.dumps({
            "network": sizes, "activation": mlp.activation.name, "dtype": mlp.dtype.name,
            "rows": args.samples, "inputs": origin, "weights": args.weights or "initial",
            "weight_decay": args.weight_decay, "engine": args.engine, "inject_bug": args.inject_bug,
            "bug_expected_to_fail": (
                _expected(args.inject_bug, [r.name for r in results], args.samples)
                if args.inject_bug else None
            ),
            "formula": FORMULA, "pass_line": PASS_LINE, "kinks": kinks,
            "tensorflow_tolerance": tolerance,
            "matrices": [r.__dict__ | {"passed": r.passed, "size": r.size} for r in results],
            "against": args.against,
            "vs_keras": [{"name": n, "max_rel_error": e, "passed": ok} for n, e, ok in against],
            "passed": not failed,
        }, indent=2))  # fmt: skip
        return 1 if failed else 0
    print(
        f"Gradient check: {sizes} {mlp.activation.name} network, {mlp.dtype.name}, "
        f"{'weights from ' + args.weights if args.weights else 'initial weights'}, "
        f"{args.samples} {origin}"
        + (f", weight decay {args.weight_decay:g}" if args.weight_decay else "")
        + f". {what[0].upper() + what[1:]} against central differences (Richardson, extended precision)."
    )
    print(
        f"Pass: every entry within its pass line, {PASS_LINE}; err/line is the worst entry's "
        f"error in units of its line (ok: <= 1). Also shown: {FORMULA}."
    )
    if args.inject_bug:
        print(bug_preface(args.inject_bug, [r.name for r in results], args.samples))
    print(format_table(results))
    if against:
        print(
            f"NumPy backprop against Keras autodiff on {args.against} (every entry, |a - b| / "
            f"max(1e-12, |a| + |b|), two analytic gradients, pass below {tolerance:g}): "
            + ", ".join(f"{n} {e:.1e} {'ok' if ok else 'FAIL'}" for n, e, ok in against)
        )
    if kinks:
        print(
            f"{kinks} sampled entries not compared: their perturbation switched a ReLU unit on or "
            "off (a kink), where a difference quotient is not a derivative."
        )
    print("FAILED: " + ", ".join(failed) if failed else "All matrices agree.")
    if args.inject_bug:
        print(bug_verdict(args.inject_bug, [r.name for r in results], failed, args.samples))
    return 1 if failed else 0


def _expected(bug: str, names: list[str], samples: int) -> list[str]:
    from numpy_mlp.checks.bugs import NOTES

    note = NOTES[bug]
    if samples == 1 and note.vanishes_with_one_row:
        return []
    return [names[i] for i in note.reached(len(names))]


def bug_preface(bug: str, names: list[str], samples: int) -> str:
    """What the injected bug does, which matrices it must reach and why, what verdict to expect."""
    from numpy_mlp.checks.bugs import NOTES

    note = NOTES[bug]
    expected = _expected(bug, names, samples)
    lines = [f"Injected bug {bug}: {note.does}."]
    if not expected:
        lines.append(
            "With 1 row (n = 1) this broken formula equals the right one, so there is no bug to "
            "find and the check should pass; use --samples 2 or more to see it caught."
        )
        return "\n".join(lines)
    lines.append(f"It must reach {', '.join(expected)}: {note.why}.")
    lines.append(
        f"A working check FAILS on {'that matrix' if len(expected) == 1 else 'those matrices'}: "
        "exit status 1 is the expected verdict here, not a broken tool."
    )
    return "\n".join(lines)


def bug_verdict(bug: str, names: list[str], failed: list[str], samples: int) -> str:
    """Did the check fail exactly where the injected bug reaches? Said from the results."""
    expected = set(_expected(bug, names, samples))
    caught = {name.removesuffix(" (vs TensorFlow)") for name in failed}
    if caught == expected:
        if not expected:
            return "As expected: nothing to catch, and the check passed."
        spared = [n for n in names if n not in expected]
        return (
            f"As expected: the check caught the bug in the matrices it reaches "
            f"({', '.join(n for n in names if n in expected)})"
            + (f"; {', '.join(spared)}, which it does not reach, passed." if spared else ".")
        )
    missed = [n for n in names if n in expected - caught]
    extra = [n for n in names if n in caught - expected]
    return (
        "Not as expected: "
        + (f"the check missed {', '.join(missed)}" if missed else "")
        + ("; " if missed and extra else "")
        + (f"it also failed {', '.join(extra)}, which the bug does not reach" if extra else "")
        + "; the table above shows by how much."
    )


def _against_keras(backend, mlp, X, y, tolerance: float) -> list[tuple[str, float, bool]]:
    """Per matrix: (name, max elementwise relative error NumPy vs Keras on `backend` over every
    entry, passed)."""
    from keras_mlp import build_model, gradients, set_numpy_weights
    from keras_mlp.backend import use_backend
    from numpy_mlp.checks.gradcheck import matrix_names, relative_error

    use_backend(backend)

    model = build_model(
        mlp.layer_sizes, dtype=mlp.dtype.name, activation=mlp.activation.name, init=mlp.init
    )
    set_numpy_weights(model, mlp.weights)
    mine, theirs = mlp.gradients(X, y), gradients(model, X, y)
    out = []
    for name, a, b in zip(matrix_names(len(mine)), mine, theirs, strict=True):
        err = float(np.max(relative_error(a, b, 1e-12)))
        out.append((name, err, err < tolerance))
    return out


def _model(args, MLP):
    if args.weights:
        model = MLP.load(args.weights)
        if args.layers != (3, 4, 3) and tuple(args.layers) != model.layer_sizes:
            raise UsageError(f"--layers {args.layers} does not match {args.weights}")
        return model
    return MLP(
        args.layers, activation=args.activation, init=args.init, seed=args.seed, dtype=args.dtype
    )
