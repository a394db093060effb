"""A multilayer perceptron written by hand in NumPy, in the tutorial's notation.

Where things live (each folder one concept; a room imports only itself and the rooms listed
before it, except the entry points named below):

    io/        the ground floor: atomic file writes, progress bars, short reprs for messages
    data/      MNIST: the IDX file format (idx), where the files come from and how they are
               verified (sources), load_mnist (mnist), the tutorial's preprocessing (preprocessing)
    model/     the network and its math: activations and their derivatives, initializers, the
               parameter buffer and its checks, inputs and one-hot targets, and the MLP (mlp.py)
    training/  the optimizer (SGD and its one update), fit and History (loop), the
               allocation-free step (fast), K networks at once (stacked: fit_many), when
               training has diverged (divergence), minibatch gathering (batches), callbacks,
               gradient flow, per-layer instruments (forward signal and delta per layer)
    checks/    gradient checking against finite differences
    saving/    a model and its optimizer state as one .npz file (model_file)

`data` and `model` do not know about each other; `training` and `checks` build on `model`;
`saving` writes what `model` and `training` hold. `MLP.fit`, `MLP.save` and `MLP.load` are thin
entry points that call into `training` and `saving` when called, not when imported, and neither
imports the model module back (even inside a function), so the import graph has no circle.
NumPy only: nothing in this package imports TensorFlow.
"""

from numpy_mlp.checks.grad import GradCheck, assert_grad, check_grad
from numpy_mlp.data.idx import MnistError, MnistFormatError, read_idx, write_idx
from numpy_mlp.data.mnist import load_mnist
from numpy_mlp.data.preprocessing import standardize
from numpy_mlp.data.sources import MnistChecksumError, MnistUnavailableError, ensure_mnist
from numpy_mlp.model.mlp import MLP
from numpy_mlp.model.targets import as_inputs, as_targets, one_hot
from numpy_mlp.saving.model_file import ModelFileError
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
