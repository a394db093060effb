"""Keras callbacks the harness uses."""

from __future__ import annotations

import time

from keras_mlp.tf import keras


def epoch_timer():
    """A Keras callback recording each epoch's wall time (training plus validation) in `seconds`.

    The time is also written into the epoch's logs (key "seconds"), as numpy_mlp's fit logs it.
    """

    class EpochTimer(keras().callbacks.Callback):
        def __init__(self) -> None:
            super().__init__()
            self.seconds: list[float] = []

        def on_epoch_begin(self, epoch, logs=None):
            self._started = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            self.seconds.append(time.perf_counter() - self._started)
            if logs is not None:
                logs["seconds"] = self.seconds[-1]

    return EpochTimer()
