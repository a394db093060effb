"""The main job behind `mlp-compare run`: train both models, measure, draw, report.

Phases run in order; after each one `metrics.json` (and `report.md`) are rewritten atomically, so
whatever has finished is always on disk in a valid state. Ctrl-C stops the run cleanly with the
status "interrupted"; a model whose training fails is reported and the other model's results kept.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path

import numpy as np

from compare import plots
from compare.config import REFERENCE, Settings
from compare.data import MnistData, load_data
from compare.errors import Terminated, ignore_interrupts
from compare.finals import failed, settle
from compare.html import write_html
from compare.implementations import IMPLEMENTATIONS
from compare.jsonio import write_json
from compare.report import render_report, render_summary
from compare.speed import epoch_stats, ratio_stats
from compare.trainers import TrainResult
from numpy_mlp.io.atomic import atomic_write_text
from numpy_mlp.training.loop import TrainingDivergedError

GRADIENT_BATCH = 32
Trainer = Callable[..., TrainResult]


def _say(message: str) -> None:
    print(message, flush=True)


class Run:
    """One comparison run writing into `out`."""

    def __init__(
        self,
        settings: Settings,
        impls: list[str],
        out: Path,
        *,
        data_dir=None,
        limit: int | None = None,
        trainers: dict[str, Trainer] | None = None,
    ) -> None:
        self.settings, self.impls, self.out = settings, impls, out
        self.data_dir, self.limit = data_dir, limit
        self.trainers = trainers or {key: IMPLEMENTATIONS[key].train for key in impls}
        self.results: dict[str, TrainResult] = {}
        self.metrics: dict = {
            "status": "running",
            "started": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "config": {**settings.to_dict(), "impls": impls, "limit": limit},
            "reference": REFERENCE,
            "phases_done": [],
            "artifacts": [],
        }
        self.failed: list[str] = []

    # -- bookkeeping -------------------------------------------------------------------------------
    def save(self) -> None:
        # an interrupted figure is never listed: only what is on disk
        self.metrics["artifacts"] = [
            a for a in self.metrics["artifacts"] if (self.out / a).exists()
        ]
        self.metrics["updated"] = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        write_json(self.out / "metrics.json", self.metrics)
        self._reports()

    def _reports(self) -> None:
        report = render_report(self.metrics)
        atomic_write_text(self.out / "report.md", report)
        write_html(report, self.out, title="NumPy MLP vs Keras MLP on MNIST")

    def artifact(self, name: str) -> Path:
        self.metrics["artifacts"].append(name)
        return self.out / name

    def phase(self, number: int, total: int, title: str) -> None:
        _say(f"\n[{number}/{total}] {title}")

    # -- phases --------------------------------------------------------------------------------------
    def load(self) -> MnistData:
        data = load_data(self.data_dir, dtype=self.settings.dtype, limit=self.limit)
        _say(
            f"Rows: {data.X_train.shape[0]}, Columns: {data.X_train.shape[1]} (train); "
            f"Rows: {data.X_test.shape[0]}, Columns: {data.X_test.shape[1]} (test)"
        )
        plots.digit_grid(data.raw_train, data.y_train, self.artifact("digits.png"))
        self.metrics["data"] = {
            "train_rows": int(data.X_train.shape[0]),
            "test_rows": int(data.X_test.shape[0]),
            # pixels with the same value in every training image: their weights never move
            "constant_pixels": int(
                np.count_nonzero(data.raw_train.max(0) == data.raw_train.min(0))
            ),
        }
        return data

    def train(self, impl: str, data: MnistData) -> None:
        """Train one model, then record its numbers, draw its figures and save it."""
        result = self._fit(impl, data)
        if result is None:
            return
        self.results[impl] = result
        self._record(impl, result, data)
        self._draw(impl, result, data)
        spec = IMPLEMENTATIONS[impl]
        result.save(str(self.artifact(f"model_{impl}.{spec.model_suffix}")))
        _say(
            f"{spec.label}: train accuracy {result.train_accuracy:.2f}%, test accuracy "
            f"{result.test_accuracy:.2f}%"
        )

    def _fit(self, impl: str, data: MnistData) -> TrainResult | None:
        """The trainer's result, or None with the failure recorded (the other model goes on)."""
        verbose = 1 if sys.stdout.isatty() else 2
        try:
            return self.trainers[impl](data, self.settings, verbose=verbose)
        except (TrainingDivergedError, FloatingPointError, ValueError, RuntimeError) as exc:
            self.failed.append(impl)
            self.metrics[impl] = {"error": f"{type(exc).__name__}: {exc}"}
            _say(f"{impl} training FAILED: {exc}")
        except Exception as exc:  # a bug, but the other model's results must survive it
            self.failed.append(impl)
            self.metrics[impl] = {
                "error": f"{type(exc).__name__}: {exc}",
                "traceback": traceback.format_exc(),
            }
            _say(f"{impl} training FAILED unexpectedly: {type(exc).__name__}: {exc}")
        return None

    def _record(self, impl: str, result: TrainResult, data: MnistData) -> None:
        """metrics[impl]: accuracies and history, epoch times, how far the first layer moved."""
        rows = int(data.X_train.shape[0] * (1 - self.settings.validation_split))
        change = np.abs(result.first_layer - result.initial_first_layer)[1:]
        self.metrics[impl] = {
            **result.summary(),
            "speed": epoch_stats(result.epoch_seconds, rows),
            "first_layer": {
                "median_abs_change": float(np.median(change)),
                "initial_max_abs": float(np.abs(result.initial_first_layer[1:]).max()),
            },
        }

    def _draw(self, impl: str, result: TrainResult, data: MnistData) -> None:
        """One model's figures: misclassified digits, confusion, first-layer weights and change."""
        label = IMPLEMENTATIONS[impl].label
        plots.misclassified(
            data.raw_test,
            data.y_test,
            result.test_pred,
            self.artifact(f"misclassified_{impl}.png"),
            title=f"{label}: misclassified test digits (t: true, p: predicted (probability))",
            proba=result.test_proba,
        )
        plots.confusion(
            data.y_test,
            result.test_pred,
            self.artifact(f"confusion_{impl}.png"),
            title=f"{label}: confusion matrix, test set",
        )
        plots.hidden_weights(
            result.first_layer,
            self.artifact(f"hidden_weights_{impl}.png"),
            title=f"{label}: first hidden layer weights as 28x28 images (red +, blue -)",
        )
        plots.hidden_weight_change(
            result.first_layer,
            result.initial_first_layer,
            self.artifact(f"hidden_weights_change_{impl}.png"),
            title=f"{label}: change of the first hidden layer's weights since initialization",
        )

    def gradients(self, data: MnistData) -> None:
        from compare.parity import gradient_agreement

        X = data.X_train[:GRADIENT_BATCH].astype(np.float64)
        y = data.y_train[:GRADIENT_BATCH]
        report = {}
        for dtype in ("float64", "float32"):
            report[dtype] = gradient_agreement(
                self.settings.layers, X, y, dtype=dtype, seed=self.settings.seed, max_entries=40
            )
            verdict = "agree" if report[dtype]["passed"] else "DISAGREE"
            _say(
                f"{dtype}: max relative error NumPy vs Keras on {report[dtype]['backend']} "
                f"{report[dtype]['max_rel_error']:.2e} ({verdict})"
            )
        self.metrics["gradient_agreement"] = report
        if not all(r["passed"] for r in report.values()):
            self.failed.append("gradients")

    def numpy_gradcheck(self, data: MnistData) -> None:
        from numpy_mlp import MLP
        from numpy_mlp.checks.gradcheck import check_gradients

        mlp = MLP(self.settings.layers, seed=self.settings.seed, dtype=np.float64)
        X = data.X_train[:GRADIENT_BATCH].astype(np.float64)
        results = check_gradients(mlp, X, data.y_train[:GRADIENT_BATCH], max_entries=40)
        self.metrics["numpy_gradcheck"] = {
            "max_rel_error": max(r.max_rel_error for r in results),
            "passed": all(r.passed for r in results),
            "matrices": [
                {"name": r.name, "max_rel_error": r.max_rel_error, "passed": r.passed}
                for r in results
            ],
        }
        if not self.metrics["numpy_gradcheck"]["passed"]:
            self.failed.append("gradients")
        _say(
            f"NumPy vs finite differences (float64): max relative error "
            f"{self.metrics['numpy_gradcheck']['max_rel_error']:.2e}"
        )

    def compare(self) -> None:
        histories = {impl: r.history for impl, r in self.results.items()}
        if histories:
            plots.learning_curves(histories, self.artifact("learning_curves.png"))
            plots.epoch_times(
                {impl: r.epoch_seconds for impl, r in self.results.items()},
                self.artifact("epoch_times.png"),
            )
        if {"numpy", "keras"} <= set(self.results):
            n, k = self.results["numpy"], self.results["keras"]
            ratios = ratio_stats(k.epoch_seconds, n.epoch_seconds)
            self.metrics["speed"] = {
                "keras_over_numpy": ratios["median"],
                "keras_over_numpy_spread": ratios,
                "predict_keras_over_numpy": k.predict_seconds / n.predict_seconds
                if n.predict_seconds
                else None,
            }
            self.metrics["difference"] = {
                "test_accuracy_points": k.test_accuracy - n.test_accuracy,
                "train_accuracy_points": k.train_accuracy - n.train_accuracy,
            }

    # -- how a run ends ---------------------------------------------------------------------------------
    def _save_status(self) -> None:
        """Write metrics.json and the reports with interrupts held; any of them that cannot be
        written (a full disk) is removed, so none is left saying `running` (compare.finals)."""
        settle(self.out, "metrics.json", self.metrics, self._reports)

    def _interrupted(self, exc: KeyboardInterrupt, started: float) -> int:
        """Status first, then whatever else can still be written (a second interrupt stops that
        optional work, never the status)."""
        terminated = isinstance(exc, Terminated)
        self.metrics["status"] = "interrupted"
        self.metrics["interrupted_by"] = "SIGTERM" if terminated else "Ctrl-C"
        self.metrics["seconds"] = time.perf_counter() - started
        self._save_status()
        with contextlib.suppress(KeyboardInterrupt, OSError):  # a second Ctrl-C skips this
            self.compare()
            self.save()
        ignore_interrupts()
        print(f"\nInterrupted. What finished is saved in {self.out}", file=sys.stderr)
        return 143 if terminated else 130

    def _record_failure(self, exc: BaseException, started: float) -> None:
        failed(self.metrics, exc)
        self.metrics["seconds"] = time.perf_counter() - started
        self._save_status()  # where it can still be written (not on a full disk)

    # -- the whole run ----------------------------------------------------------------------------------
    def execute(self) -> int:
        """All phases in order; the exit status (0 complete, 1 a model or check failed)."""
        from compare.environment import cpu_snapshot, load_average, others_cpu_share

        with_keras = any(IMPLEMENTATIONS[impl].needs_tensorflow for impl in self.impls)
        self._record_environment(with_keras)
        cpu_before = cpu_snapshot()
        started = time.perf_counter()
        try:
            self._phases(with_keras)
            self.metrics["status"] = "failed" if self.failed else "complete"
        except KeyboardInterrupt as exc:
            return self._interrupted(exc, started)
        except BaseException as exc:  # a data error, a full disk, a bug: the status says so
            self._record_failure(exc, started)
            raise
        self.metrics["seconds"] = time.perf_counter() - started
        self.metrics["machine"]["load_after"] = load_average()
        self.metrics["machine"]["others_cpu_share"] = others_cpu_share(cpu_before, cpu_snapshot())
        try:
            self.save()
        except BaseException as exc:  # the final write failed: no file may say complete
            self._record_failure(exc, started)
            raise
        print("\n" + render_summary(self.metrics))
        print(f"\nArtifacts in {self.out}/: {', '.join(self.files())}")
        return 1 if self.failed else 0

    def files(self) -> list[str]:
        """Every file the run wrote into its folder: reports, metrics, figures and model files."""
        return ["report.html", "report.md", "metrics.json", *self.metrics["artifacts"]]

    def _record_environment(self, with_keras: bool) -> None:
        """Libraries, machine and load before training, and the thread counts in force."""
        from compare.environment import environment, load_average, machine

        env = self.metrics["environment"] = environment(with_tensorflow=with_keras)
        self.metrics["machine"] = {**machine(), "load_before": load_average()}
        self.metrics["threads"] = {  # in force while training
            "numpy_blas": self.settings.numpy_threads,
            "numpy_blas_available": max((b["num_threads"] for b in env["blas"]), default=None),
            "tf_intra_op": env.get("tf_intra_op_threads"),
            "tf_inter_op": env.get("tf_inter_op_threads"),
        }

    def _phases(self, with_keras: bool) -> None:
        """Data, each model, gradient agreement, comparison; metrics.json saved after each."""
        total = 2 + len(self.impls) + 1
        self.save()
        self.phase(1, total, "Loading and verifying MNIST")
        data = self.load()
        self.metrics["phases_done"].append("data")
        self.save()
        for i, impl in enumerate(self.impls):
            self.phase(
                2 + i,
                total,
                f"Training the {IMPLEMENTATIONS[impl].label} MLP "
                f"({self.settings.epochs} epochs, batch {self.settings.batch_size})",
            )
            self.train(impl, data)
            self.metrics["phases_done"].append(f"train_{impl}")
            self.save()
        self.phase(total - 1, total, "Gradient agreement (same weights, same batch)")
        if with_keras:
            self.gradients(data)
        else:
            self.numpy_gradcheck(data)
        self.metrics["phases_done"].append("gradients")
        self.save()
        self.phase(total, total, "Comparing and drawing")
        self.compare()
