"""The tutorial's network in Keras 3 (TensorFlow backend), and conversion to and from numpy_mlp.

Importing this package does not import TensorFlow; the functions do, on first use.
"""

from keras_mlp.autodiff import gradients, loss_and_gradients
from keras_mlp.convert import WeightShapeError, get_numpy_weights, set_numpy_weights
from keras_mlp.model import (
    build_model,
    floatx_of,
    make_optimizer,
    predict_classes,
    predict_proba,
    save_model,
)
from keras_mlp.tf import KerasUnavailableError

__all__ = [
    "KerasUnavailableError",
    "WeightShapeError",
    "build_model",
    "floatx_of",
    "get_numpy_weights",
    "gradients",
    "loss_and_gradients",
    "make_optimizer",
    "predict_classes",
    "predict_proba",
    "save_model",
    "set_numpy_weights",
]
