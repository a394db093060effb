"""A multilayer perceptron written by hand in NumPy, in the tutorial's notation.

Where things live (each folder one concept; dependencies point down this list, never up):

    io/        atomic file writes, progress bars, saving and loading a model (.npz)
    data/      MNIST: the IDX file format (idx), where the files come from and how they are
               verified (sources), load_mnist (mnist), the tutorial's preprocessing (preprocessing)
    model/     the network and its math: activations and their derivatives, initializers, the
               parameter buffer, inputs and one-hot targets, and the MLP itself (mlp.py)
    training/  the optimizer (SGD and its one update), fit and History (loop), the
               allocation-free step (fast), K networks at once (stacked: fit_many), when
               training has diverged (divergence), minibatch gathering (batches), callbacks,
               gradient flow, per-layer instruments (forward signal and delta per layer)
    checks/    gradient checking against finite differences

`data` and `model` do not know about each other; `training` and `checks` build on `model`; `io`
saves what `model` and `training` hold. `MLP.fit`, `MLP.save` and `MLP.load` are thin entry points
that call into `training` and `io` when called, not when imported, so no module imports one that
imports it back. NumPy only: nothing in this package imports TensorFlow.
"""

from numpy_mlp.checks.grad import GradCheck, assert_grad, check_grad
from numpy_mlp.data.idx import MnistError, MnistFormatError, read_idx, write_idx
from numpy_mlp.data.mnist import load_mnist
from numpy_mlp.data.preprocessing import standardize
from numpy_mlp.data.sources import MnistChecksumError, MnistUnavailableError, ensure_mnist
from numpy_mlp.io.saving import ModelFileError
from numpy_mlp.model.mlp import MLP
from numpy_mlp.model.targets import as_inputs, as_targets, one_hot
from numpy_mlp.training.callbacks import Callback, EarlyStopping
from numpy_mlp.training.flow import GradientFlow, gradient_norms
from numpy_mlp.training.instruments import LayerProbe, LayerStats, layer_stats
from numpy_mlp.training.loop import History, TrainingDivergedError, fit
from numpy_mlp.training.optimizers import SGD
from numpy_mlp.training.stacked import fit_many

__all__ = [
    "MLP",
    "SGD",
    "Callback",
    "EarlyStopping",
    "GradientFlow",
    "History",
    "LayerProbe",
    "LayerStats",
    "MnistChecksumError",
    "MnistError",
    "MnistFormatError",
    "MnistUnavailableError",
    "ModelFileError",
    "TrainingDivergedError",
    "as_inputs",
    "as_targets",
    "ensure_mnist",
    "fit",
    "fit_many",
    "gradient_norms",
    "layer_stats",
    "load_mnist",
    "one_hot",
    "read_idx",
    "standardize",
    "write_idx",
    "GradCheck",
    "assert_grad",
    "check_grad",
]
__version__ = "0.1.0"
