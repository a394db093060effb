"""`mlp-compare lockstep`: train NumPy and Keras side by side on the same batches, compare weights.

Both start from the same weights (copied NumPy -> Keras), see the same MNIST batches in the same
order and apply the same SGD (momentum, learning-rate decay). After every epoch the table shows the
largest difference between corresponding weights and each side's mean training loss. In float64 the
two are the same algorithm to machine precision; the float32 row shows how rounding drifts.
"""

from __future__ import annotations

import argparse
import json

from compare.options import (
    add_data_args,
    add_training_args,
    check_mnist_layers,
    output_folder,
    positive_int,
)


def register(sub) -> None:
    parser = sub.add_parser(
        "lockstep",
        help="train NumPy and Keras in lockstep; compare weights",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_training_args(parser, epochs=1)
    parser.set_defaults(dtype=None)
    for action in parser._actions:  # --dtype means "only this one" here
        if action.dest == "dtype":
            action.help = "run only this dtype (default: the --dtypes list)"
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
    add_data_args(parser)
    parser.add_argument(
        "--out",
        default="runs/lockstep",
        metavar="DIR",
        help="folder for lockstep.json and lockstep.png (default: runs/lockstep)",
    )
    parser.set_defaults(func=run)


def _dtypes(args) -> list[str]:
    from compare.errors import UsageError

    if args.dtype is not None:  # --dtype given: just that one
        return [args.dtype]
    dtypes = [d.strip() for d in args.dtypes.split(",") if d.strip()]
    bad = [d for d in dtypes if d not in ("float32", "float64")]
    if bad or not dtypes:
        raise UsageError(f"--dtypes {args.dtypes}: use float32 and/or float64")
    return dtypes


def format_table(rows: list[dict]) -> str:
    lines = [
        f"{'dtype':<8} {'epoch':>5} {'updates':>7} {'max |W_np - W_k|':>17} "
        f"{'relative':>10} {'loss numpy':>12} {'loss keras':>12}"
    ]
    for r in rows:
        lines.append(
            f"{r['dtype']:<8} {r['epoch']:>5} {r['updates']:>7} {r['max_abs_diff']:>17.3e} "
            f"{r['max_rel_diff']:>10.2e} {r['loss_numpy']:>12.8f} {r['loss_keras']:>12.8f}"
        )
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    from dataclasses import asdict

    from compare import plots
    from compare.data import load_data
    from compare.parity import lockstep
    from keras_mlp.tf import tensorflow
    from numpy_mlp.io.atomic import atomic_write_text
    from numpy_mlp.io.progress import progress_bar
    from numpy_mlp.training.loop import split_validation

    check_mnist_layers(args.layers)
    dtypes = _dtypes(args)
    tensorflow()
    rows, traces = [], {}
    with output_folder(args.out) as out:
        data = load_data(args.data_dir, dtype="float64", limit=args.limit)
        X, Y, _, _ = split_validation(data.X_train, data.Y_train, args.validation_split)
        steps = -(-X.shape[0] // args.batch_size)
        for dtype in dtypes:
            with progress_bar(
                total=steps * args.epochs, desc=f"lockstep {dtype}", unit="update"
            ) as bar:
                records, trace = lockstep(
                    X,
                    Y,
                    layers=args.layers,
                    dtype=dtype,
                    epochs=args.epochs,
                    batch_size=args.batch_size,
                    learning_rate=args.learning_rate,
                    momentum=args.momentum,
                    decay=args.decay,
                    seed=args.seed,
                    trace_every=args.trace_every,
                    on_step=lambda e, s: bar.update(1),
                    on_epoch=lambda r, d=dtype: bar.write(
                        f"{d} epoch {r.epoch}: max |W_numpy - W_keras| = {r.max_abs_diff:.3e}"
                    ),
                )
            rows += [{"dtype": dtype, **asdict(r)} for r in records]
            traces[dtype] = trace
        print(format_table(rows))
        record = {
            "settings": {k: v for k, v in vars(args).items() if k != "func"},
            "epochs": rows,
            "trace": traces,
        }
        atomic_write_text(out / "lockstep.json", json.dumps(record, indent=2, default=list) + "\n")
        plots.lockstep_trace(traces, rows, out / "lockstep.png")
        print(f"Saved {out / 'lockstep.json'} and {out / 'lockstep.png'}")
    return 0
