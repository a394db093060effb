"""The two implementations the harness compares, in one registry.

Everything that differs between them for a command (the label it prints, the model file it writes,
whether TensorFlow is needed, the function that trains it) is looked up here, so commands and
reports never test `impl == "numpy"`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Implementation:
    key: str  # "numpy" or "keras": the --impl value and the key in metrics.json
    label: str  # what tables and figures call it
    model_suffix: str  # file extension of its saved model
    needs_tensorflow: bool

    @property
    def train(self) -> Callable:
        """The trainer: (MnistData, Settings, *, verbose) -> TrainResult (see compare.trainers)."""
        from compare import trainers

        return getattr(trainers, f"train_{self.key}")

    def require(self, settings=None) -> None:
        """Raise KerasUnavailableError (naming the extra to install) if this one cannot run here
        (Keras on the backend chosen by keras_mlp.backend.use_backend); with `settings`, also set
        TensorFlow's threads (before it runs anything)."""
        if self.needs_tensorflow:
            from compare.errors import UsageError
            from keras_mlp.backend import backend_module, use_backend
            from keras_mlp.tf import set_threads

            backend = use_backend()
            backend_module(backend)
            if settings is None:
                return
            if backend != "tensorflow":
                if tuple(settings.tf_threads) != (0, 0):
                    raise UsageError(
                        f"--tf-threads sets TensorFlow's threads; Keras runs on {backend} here"
                    )
                return
            try:
                set_threads(*settings.tf_threads)
            except RuntimeError:
                raise UsageError(
                    "--tf-threads: TensorFlow has already started in this process; its "
                    "threads can only be set before (run the command in a fresh process)"
                ) from None


IMPLEMENTATIONS: dict[str, Implementation] = {
    "numpy": Implementation("numpy", "NumPy", "npz", needs_tensorflow=False),
    "keras": Implementation("keras", "Keras", "keras", needs_tensorflow=True),
}


def chosen(impl: str) -> list[Implementation]:
    """The implementations an --impl value names: one key, or "both"."""
    return list(IMPLEMENTATIONS.values()) if impl == "both" else [IMPLEMENTATIONS[impl]]


def label(key: str) -> str:
    return IMPLEMENTATIONS[key].label
