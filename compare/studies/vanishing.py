"""The vanishing-gradient study: networks of growing depth, for each activation and initializer.

Every network has `depth` hidden layers of `width` units (784-w-...-w-10). For each, the study
measures ||dL/dW^(l)|| for every weight matrix on one fixed batch of training rows, at
initialization and after every epoch, and the per-layer factor between neighbouring
hidden-to-hidden matrices (the same shape, so only the backward pass differs between them). Each
network is trained at every learning rate of the plan (one record per network and rate), with
the gradient flow recorded during training (GradientFlow), and the test accuracy after the
study's epochs. Why the norms behave as they do is in report.py's text, which report.md shows.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable
from pathlib import Path

from compare.config import TUTORIAL, Settings
from compare.jsonio import json_safe, write_json
from compare.studies.cells import cached_data, epoch_probe, train_cell
from compare.studies.rules import geometric_mean, layer_factors

# The initializer each activation is usually paired with (and the study's default pairing).
PARTNER = {"logistic": "glorot_uniform", "tanh": "glorot_uniform", "relu": "he_uniform"}
PROBE_ROWS = 256  # the fixed batch the norms are measured on
FLOW_EVERY = 10


@dataclasses.dataclass(frozen=True)
class VanishingPlan:
    depths: tuple[int, ...] = (1, 2, 4, 8)
    width: int = 50
    pairs: tuple[tuple[str, str], ...] = tuple(PARTNER.items())  # (activation, init)
    epochs: int = 5
    learning_rates: tuple[float, ...] = (0.001, 0.01, 0.1)
    limit: int | None = None
    settings: Settings = TUTORIAL  # optimizer, batch size, seed, dtype

    def networks(self) -> list[Settings]:
        layers = self.settings.layers
        return [
            dataclasses.replace(
                self.settings,
                layers=(layers[0], *([self.width] * depth), layers[-1]),
                activation=activation,
                init=init,
                epochs=self.epochs,
                learning_rate=lr,
            )
            for activation, init in self.pairs
            for depth in self.depths
            for lr in self.learning_rates
        ]


def study_network(settings: Settings, data, probe_X, probe_y) -> dict:
    """One network's record: norms at initialization and per epoch, and the training record."""
    from compare.studies.cells import build
    from numpy_mlp import gradient_norms

    mlp = build(settings)
    at_init = gradient_norms(mlp, probe_X, probe_y)
    probe = epoch_probe(lambda: gradient_norms(mlp, probe_X, probe_y))
    record = train_cell(settings, data, gradient_flow_every=FLOW_EVERY, callbacks=[probe], mlp=mlp)
    history = record.pop("history", {})
    factors = layer_factors(at_init)
    return json_safe(
        {
            "activation": settings.activation,
            "init": settings.init,
            "depth": len(settings.layers) - 2,
            "layers": list(settings.layers),
            "learning_rate": settings.learning_rate,
            "grad_norms": at_init,
            "layer_factors": factors,
            "mean_layer_factor": geometric_mean(factors),
            "first_over_last": at_init[0] / at_init[-1] if at_init[-1] else None,
            "epoch_grad_norms": probe.values,
            "train_grad_norms": history.get("grad_norm", []),
            "update_ratios": history.get("update_ratio", []),
            **record,
            "history": {
                k: v
                for k, v in history.items()
                if k in ("loss", "val_loss", "accuracy", "val_accuracy")
            },
        }
    )


def run_vanishing(
    plan: VanishingPlan,
    out: Path,
    *,
    data_dir: str | None = None,
    say: Callable[[str], None] = print,
) -> dict:
    """Train every network of `plan` in turn; study.json is rewritten after each one."""
    from compare.studies import figures
    from compare.studies.report import write_report

    data = cached_data(data_dir, plan.settings.dtype, plan.limit)
    probe_X, probe_y = data.X_train[:PROBE_ROWS], data.y_train[:PROBE_ROWS]
    majority_class, majority_percent = majority(data.y_test)
    study = {
        "study": "vanishing",
        "status": "running",
        "started": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "config": {
            "depths": list(plan.depths),
            "width": plan.width,
            "pairs": [list(p) for p in plan.pairs],
            "epochs": plan.epochs,
            "learning_rates": list(plan.learning_rates),
            "limit": plan.limit,
            "probe_rows": PROBE_ROWS,
            "flow_every_steps": FLOW_EVERY,
            "settings": plan.settings.to_dict(),
            "accuracy_unit": "percent",
            "norm": "Frobenius norm of dL/dW over the whole matrix, bias row included",
            "layer_factor": "||dL/dW^(l)|| / ||dL/dW^(l+1)|| at initialization for neighbouring "
            "hidden-to-hidden matrices (same shape); mean_layer_factor is their geometric mean",
            "n_classes": plan.settings.layers[-1],
            "test_majority_class": majority_class,
            "test_majority_percent": majority_percent,
        },
        "runs": [],
    }

    def save() -> None:
        write_json(out / "study.json", study)

    networks = plan.networks()
    try:
        for i, settings in enumerate(networks):
            record = study_network(settings, data, probe_X, probe_y)
            study["runs"].append(record)
            save()
            say(_line(i + 1, len(networks), record))
        study["status"] = "complete"
    except KeyboardInterrupt:
        study["status"] = "interrupted"
        raise
    except BaseException as exc:  # every study ends with a final status
        study["status"], study["error"] = "failed", f"{type(exc).__name__}: {exc}"
        raise
    finally:
        save()
        if study["runs"]:
            figures.vanishing_figures(study, out)
            write_report(study, out)
    return study


def majority(labels) -> tuple[int, float]:
    """The most common class of `labels` and its share in percent (what always answering it
    scores)."""
    import numpy as np

    counts = np.bincount(np.asarray(labels, dtype=np.int64))
    top = int(np.argmax(counts))
    return top, float(100.0 * counts[top] / counts.sum())


def _line(i: int, total: int, r: dict) -> str:
    test = f"{r['test_accuracy']:.2f}%" if r.get("test_accuracy") is not None else r["status"]
    mean = r.get("mean_layer_factor")
    factor = f"mean layer factor {mean:.2f}" if mean is not None else "no layer factor (depth < 3)"
    ratio = r.get("first_over_last")
    ratio = "-" if ratio is None else f"{ratio:.1e}"
    return (
        f"[{i}/{total}] {r['activation']:<8} {r['init']:<14} depth {r['depth']} "
        f"lr {r['learning_rate']:g}: {factor}, first/last {ratio}; test {test}"
    )
