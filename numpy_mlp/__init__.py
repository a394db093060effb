"""A multilayer perceptron written by hand in NumPy, in the tutorial's notation.

NumPy only: nothing in this package imports TensorFlow.
"""

from numpy_mlp.callbacks import Callback, EarlyStopping
from numpy_mlp.fetch import MnistChecksumError, MnistUnavailableError, ensure_mnist
from numpy_mlp.mlp import MLP
from numpy_mlp.mnist import (
    MnistError,
    MnistFormatError,
    load_mnist,
    one_hot,
    read_idx,
    standardize,
    write_idx,
)
from numpy_mlp.optimizers import SGD
from numpy_mlp.saving import ModelFileError
from numpy_mlp.training import History, TrainingDivergedError, fit

__all__ = [
    "MLP",
    "SGD",
    "Callback",
    "EarlyStopping",
    "History",
    "MnistChecksumError",
    "MnistError",
    "MnistFormatError",
    "MnistUnavailableError",
    "ModelFileError",
    "TrainingDivergedError",
    "ensure_mnist",
    "fit",
    "load_mnist",
    "one_hot",
    "read_idx",
    "standardize",
    "write_idx",
]
__version__ = "0.1.0"
