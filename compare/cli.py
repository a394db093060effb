"""`mlp-compare`: the command line. Each subcommand lives in `compare/commands/`.

Errors the user can fix (a bad flag, a missing or malformed file, an unwritable folder, a missing
extra) end with one line on stderr and exit status 2; no traceback.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from compare.commands import SUBCOMMANDS
from compare.errors import Terminated, UsageError, ignore_interrupts, terminate_as_interrupt
from compare.options import add_command

PROG = "mlp-compare"


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line (no usage dump) and exit status 2."""

    def error(self, message: str):  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog=PROG,
        description="Train a hand-written NumPy MLP and the same network in Keras on MNIST, "
        "and compare accuracy, gradients and speed.",
    )
    parser.add_argument("--version", action="version", version=f"{PROG} {_version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for module in SUBCOMMANDS:
        name = module.__name__.rsplit(".", 1)[-1]
        add_command(sub, name, help=module.HELP, doc=module.__doc__, run=module.run)
        module.add_arguments(sub.choices[name])
    return parser


def _version() -> str:
    from numpy_mlp import __version__

    return __version__


def _user_errors() -> tuple[type[BaseException], ...]:
    """Exceptions that are the user's input, not a bug: reported in one line."""
    from keras_mlp.tf import KerasUnavailableError
    from numpy_mlp.data.idx import MnistError
    from numpy_mlp.saving.model_file import ModelFileError

    return (UsageError, MnistError, ModelFileError, KerasUnavailableError)


def main(argv: Sequence[str] | None = None) -> int:
    from numpy_mlp.training.loop import TrainingDivergedError

    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    try:
        with terminate_as_interrupt():
            return int(args.func(args) or 0)
    except _user_errors() as exc:
        print(f"{PROG} {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except TrainingDivergedError as exc:  # documented: divergence is exit status 1
        print(f"{PROG} {args.command}: training diverged: {exc}", file=sys.stderr)
        return 1
    except BrokenPipeError:  # e.g. `mlp-compare explain | head`
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - keep interpreter shutdown quiet
        return 0
    except OSError as exc:  # a full disk, a folder where a file should be, no permission, ...
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"{PROG} {args.command}: error: {where}{exc.strerror or exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as exc:
        ignore_interrupts()
        terminated = isinstance(exc, Terminated)
        print(
            f"{PROG} {args.command}: {'terminated' if terminated else 'interrupted'}",
            file=sys.stderr,
        )
        return 143 if terminated else 130


if __name__ == "__main__":
    sys.exit(main())
