"""`mlp-compare train`: train one implementation on MNIST, as the tutorial does."""

from __future__ import annotations

import argparse
import json

from compare.options import (
    add_data_args,
    add_training_args,
    check_mnist_layers,
    nonnegative_float,
    nonnegative_int,
    output_folder,
)

MODEL_FILES = {"numpy": "model.npz", "keras": "model.keras"}


def register(sub) -> None:
    parser = sub.add_parser(
        "train", help="train the NumPy or the Keras MLP on MNIST", description=__doc__
    )
    parser.add_argument(
        "--impl",
        choices=("numpy", "keras"),
        default="numpy",
        help="which implementation to train (default: numpy)",
    )
    add_training_args(parser)
    extra = parser.add_argument_group("beyond the tutorial")
    extra.add_argument(
        "--weight-decay",
        type=nonnegative_float,
        default=0.0,
        help="L2 penalty lambda on connection weights (not biases); not the "
        "learning-rate --decay (default: 0)",
    )
    extra.add_argument("--nesterov", action="store_true", help="Nesterov momentum")
    extra.add_argument(
        "--early-stopping",
        type=nonnegative_int,
        default=0,
        metavar="PATIENCE",
        help="stop when val_loss has not improved for PATIENCE epochs and restore "
        "the best weights (default: 0, off)",
    )
    add_data_args(parser)
    parser.add_argument(
        "--out",
        default=None,
        metavar="DIR",
        help="folder for the model and history.json (default: runs/train-IMPL)",
    )
    parser.add_argument(
        "--verbose",
        type=int,
        choices=(0, 1, 2),
        default=1,
        help="0 quiet, 1 progress bar and a line per epoch, 2 a line per epoch",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from compare.data import load_data
    from compare.trainers import Settings, train_keras, train_numpy
    from numpy_mlp.io.atomic import atomic_write_text

    check_mnist_layers(args.layers)
    settings = Settings.from_args(args)
    if args.impl == "keras":
        from keras_mlp.tf import tensorflow

        tensorflow()  # fail now, with the install hint, rather than after loading the data
    with output_folder(args.out or f"runs/train-{args.impl}") as out:
        data = load_data(args.data_dir, dtype=settings.dtype, limit=args.limit)
        trainer = train_numpy if args.impl == "numpy" else train_keras
        result = trainer(data, settings, verbose=args.verbose)
        print(f"First 3 predictions: {result.first_predictions}")
        print(f"Training accuracy: {result.train_accuracy:.2f}")
        print(f"Test accuracy: {result.test_accuracy:.2f}")
        model_path = out / MODEL_FILES[args.impl]
        result.save(str(model_path))
        record = {"impl": args.impl, "settings": settings.to_dict(), **result.summary()}
        atomic_write_text(out / "history.json", json.dumps(record, indent=2) + "\n")
        print(f"Saved {model_path} and {out / 'history.json'}")
    return 0
