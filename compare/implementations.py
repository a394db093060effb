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
        """Raise KerasUnavailableError (naming the extra to install) if this one cannot run here;
        with `settings`, also set TensorFlow's threads (before it runs anything)."""
        if self.needs_tensorflow:
            from keras_mlp.tf import set_threads, tensorflow

            tensorflow()
            if settings is not None:
                try:
                    set_threads(*settings.tf_threads)
                except RuntimeError:
                    from compare.errors import UsageError

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
