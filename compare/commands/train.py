"""`mlp-compare train`: train one implementation on MNIST, as the tutorial does."""

from __future__ import annotations

import argparse

from compare.folders import claim_folder, output_folder
from compare.implementations import IMPLEMENTATIONS
from compare.jsonio import write_json
from compare.options import (
    add_backend_arg,
    add_data_args,
    add_out_arg,
    add_thread_args,
    add_training_args,
    check_mnist_layers,
    check_training_rows,
    choose_backend,
)

HELP = "train the NumPy or the Keras MLP on MNIST"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--impl",
        choices=tuple(IMPLEMENTATIONS),
        default="numpy",
        help="which implementation to train (default: numpy)",
    )
    add_training_args(parser)
    add_thread_args(parser)
    add_backend_arg(parser)
    add_data_args(parser)
    add_out_arg(parser, None, "the model and history.json", shown="runs/train-IMPL")
    parser.add_argument(
        "--verbose",
        type=int,
        choices=(0, 1, 2),
        default=1,
        help="0 quiet, 1 progress bar and a line per epoch, 2 a line per epoch",
    )


def run(args: argparse.Namespace) -> int:
    from compare import plots
    from compare.config import Settings
    from compare.data import load_data

    check_mnist_layers(args.layers)
    choose_backend(args)
    check_training_rows(args.limit, args.validation_split)
    settings = Settings.from_args(args)
    impl = IMPLEMENTATIONS[args.impl]
    impl.require(settings)  # fail now, with the install hint, rather than after loading data
    with output_folder(args.out or f"runs/train-{args.impl}") as out:
        claim_folder(out, "train")  # its own earlier training, or nothing
        data = load_data(args.data_dir, dtype=settings.dtype, limit=args.limit)
        result = impl.train(data, settings, verbose=args.verbose)
        print(
            f"First 3 predictions: {result.first_predictions} (training rows 0-2, whose labels "
            f"are {data.y_train[:3].tolist()})"
        )
        print(f"Training accuracy: {result.train_accuracy:.2f}")
        print(f"Test accuracy: {result.test_accuracy:.2f}")
        from compare.report import stopping_sentence

        stopped = stopping_sentence(impl.label, result.extra.get("early_stopping"))
        if stopped:
            print(stopped)
        model_path = out / f"model.{impl.model_suffix}"
        result.save(str(model_path))
        plots.learning_curves({impl.label: result.history}, out / "learning_curves.png")
        record = {"impl": args.impl, "settings": settings.to_dict(), **result.summary()}
        write_json(out / "history.json", record)
        print(f"Saved {model_path}, {out / 'history.json'} and {out / 'learning_curves.png'}")
    return 0
