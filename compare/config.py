"""The tutorial's configuration and the results it reports, defined here once.

Every command that trains starts from `TUTORIAL` (its flags override fields); the reports put
their accuracies beside `REFERENCE`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields

from numpy_mlp.training.optimizers import CONFIG_KEYS as SGD_CONFIG_KEYS
from numpy_mlp.training.optimizers import DECAY, LEARNING_RATE, MOMENTUM

MNIST_INPUTS = 784
MNIST_CLASSES = 10


@dataclass(frozen=True)
class Settings:
    """A training configuration; the defaults are the tutorial's."""

    layers: tuple[int, ...] = (MNIST_INPUTS, 50, 50, MNIST_CLASSES)
    epochs: int = 50
    batch_size: int = 64
    learning_rate: float = LEARNING_RATE
    momentum: float = MOMENTUM
    decay: float = DECAY
    validation_split: float = 0.1
    seed: int = 123
    dtype: str = "float32"
    weight_decay: float = 0.0
    nesterov: bool = False
    early_stopping: int = 0  # patience in epochs; 0 = off
    activation: str = "tanh"  # hidden layers: tanh, logistic or relu
    init: str = "glorot_uniform"  # a name in numpy_mlp.model.initializers.INITIALIZERS
    # Keras's initial weights: "numpy" copies the NumPy model's (same seed), so the two models
    # differ only by arithmetic and batch order; "keras" lets Keras draw its own
    keras_init: str = "numpy"
    numpy_threads: int = 1  # BLAS threads NumPy trains with (one is faster at batch 64 here)
    tf_threads: tuple[int, int] = (0, 0)  # TensorFlow intra-op, inter-op threads; 0 = all cores

    @classmethod
    def from_args(cls, args) -> Settings:
        """The fields that `args` (an argparse Namespace) has; the rest stay the tutorial's."""
        return cls(**{f.name: getattr(args, f.name) for f in fields(cls) if hasattr(args, f.name)})

    def to_dict(self) -> dict:
        d = asdict(self)
        d["layers"] = list(self.layers)
        return d

    def network_kwargs(self) -> dict:
        """The network's activation and initializer, as MLP and build_model take them."""
        return {"activation": self.activation, "init": self.init}

    def optimizer_kwargs(self) -> dict:
        """The SGD hyperparameters, as both numpy_mlp.SGD and keras_mlp.build_model take them."""
        return {name: getattr(self, name) for name in SGD_CONFIG_KEYS}


TUTORIAL = Settings()

# Accuracies (percent) after the tutorial's 50 epochs: the article's printout and the book's.
REFERENCE = {
    "tutorial": {"train_accuracy": 98.81, "test_accuracy": 96.27},
    "book": {"train_accuracy": 98.80, "test_accuracy": 96.35},
}
