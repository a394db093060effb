"""The vanishing-gradient study: networks of growing depth, for each activation and initializer.

Every network has `depth` hidden layers of `width` units (784-w-...-w-10). On one fixed batch of
training rows it measures, at initialization and after every epoch (numpy_mlp's `LayerProbe`),
per layer: the backpropagated error ||delta^(l)|| = ||dL/dZ^(l)||, the weight-gradient norm
||dL/dW^(l)||, and the forward signal (mean activation, each unit's spread over the rows,
saturation, and the logits' spread). From the numbers at initialization it derives

    the backward factor        ||delta^(l)|| / ||delta^(l+1)||   between neighbouring hidden layers
    the weight-gradient factor ||dL/dW^(l)|| / ||dL/dW^(l+1)||  between same-shape hidden matrices
    the rest                   weight-gradient factor / backward factor

since dL/dW = [1 | A]^T delta makes each weight gradient the activations below times the error:
the rest holds the activations and how they line up with delta, not the activations alone.
Each network is trained at every learning rate of the plan (one record per network and rate);
when its best final validation accuracy is at the largest rate tried and above chance there, the
study adds the next rate on the 1-3-10 ladder (at most MAX_ADDED_RATES of them). Why the numbers
behave as they do is in report.py's text, which report.md shows.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable
from pathlib import Path

from compare.config import TUTORIAL, Settings
from compare.jsonio import json_safe, write_json
from compare.studies.cells import cached_data, train_cell, val_accuracy
from compare.studies.rules import (
    delta_factors,
    forward_factors,
    geometric_mean,
    layer_factors,
    needs_larger_rate,
    next_rate,
)

# The initializer each activation is usually paired with.
PARTNER = {"logistic": "glorot_uniform", "tanh": "glorot_uniform", "relu": "he_uniform"}
# The study's default (activation, init) pairs: each activation with its partner, and the
# logistic also with Glorot's range times 4, the gain that makes up for its slope of at most 1/4.
DEFAULT_PAIRS = (
    ("logistic", PARTNER["logistic"]),
    ("logistic", "glorot_uniform_x4"),
    ("tanh", PARTNER["tanh"]),
    ("relu", PARTNER["relu"]),
)
MAX_ADDED_RATES = 2  # larger rates the study adds per network when its best is the largest
PROBE_ROWS = 256  # the fixed batch the norms are measured on
FLOW_EVERY = 10


@dataclasses.dataclass(frozen=True)
class VanishingPlan:
    depths: tuple[int, ...] = (1, 2, 4, 8)
    width: int = 50
    pairs: tuple[tuple[str, str], ...] = DEFAULT_PAIRS  # (activation, init)
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

    def groups(self) -> list[list[Settings]]:
        """`networks()` cut into one list per network (pair and depth): its learning rates."""
        nets, k = self.networks(), len(self.learning_rates)
        return [nets[i : i + k] for i in range(0, len(nets), k)]


def study_network(settings: Settings, data, probe_X, probe_y) -> dict:
    """One network's record: the instruments at initialization and per epoch, the factors they
    give, and the training record."""
    from compare.studies.cells import build
    from numpy_mlp import LayerProbe

    mlp = build(settings)
    probe = LayerProbe(probe_X, probe_y)
    record = train_cell(settings, data, gradient_flow_every=FLOW_EVERY, callbacks=[probe], mlp=mlp)
    history = record.pop("history", {})
    stats = [s.to_dict() for s in (probe.at_start, *probe.epochs)]
    at_init = stats[0]
    weights = layer_factors(at_init["grad_norm"])
    deltas = delta_factors(at_init["delta_norm"])
    trained = delta_factors(stats[-1]["delta_norm"]) if len(stats) > 1 else []
    return json_safe(
        {
            "activation": settings.activation,
            "init": settings.init,
            "depth": len(settings.layers) - 2,
            "layers": list(settings.layers),
            "learning_rate": settings.learning_rate,
            "delta_factors": deltas,
            "mean_delta_factor": geometric_mean(deltas),
            "weight_grad_factors": weights,
            "mean_weight_grad_factor": geometric_mean(weights),
            "forward_factors": forward_factors(weights, deltas) if weights else [],
            "trained_delta_factors": trained,
            "mean_trained_delta_factor": geometric_mean(trained),
            "layer_stats": stats,
            "grad_norms": at_init["grad_norm"],
            "first_over_last": (
                at_init["grad_norm"][0] / at_init["grad_norm"][-1]
                if at_init["grad_norm"][-1]
                else None
            ),
            "epoch_grad_norms": [s["grad_norm"] for s in stats[1:]],
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
            "seeds": "1 (the settings' seed): no interval; a result within a few points of a "
            "threshold may flip with another seed",
            "norm": "Frobenius norm of dL/dW over the whole matrix, bias row included",
            "delta_factor": "||delta^(l)|| / ||delta^(l+1)||, delta = dL/dZ, at initialization for "
            "neighbouring hidden layers (d - 1 per network); mean_delta_factor is their geometric "
            "mean; trained_delta_factors: the same after the last epoch",
            "weight_grad_factor": "||dL/dW^(l)|| / ||dL/dW^(l+1)|| at initialization for "
            "neighbouring hidden-to-hidden matrices (same shape, d - 2 per network) = the delta "
            "factor of the same pair times forward_factors (the rest: the activations and how they "
            "line up with delta)",
            "layer_stats": "numpy_mlp.layer_stats on the probe rows, at initialization then after "
            "every epoch: mean_activation, unit_spread (mean over units of each unit's std over "
            "the rows), saturation (tanh |a| > 0.97, logistic outside [0.03, 0.97], relu dead "
            "units), logit_spread, delta_norm, grad_norm, weight_norm, update_ratio (the "
            "optimizer's next step on the probe gradient)",
            "added_rates": f"when a network's best final validation accuracy is at the largest rate "
            f"tried and above chance there, the next rate on the 1-3-10 ladder is added (at most "
            f"{MAX_ADDED_RATES} per network; such runs have rate_added true)",
            "n_classes": plan.settings.layers[-1],
            "test_majority_class": majority_class,
            "test_majority_percent": majority_percent,
        },
        "runs": [],
    }

    def save() -> None:
        write_json(out / "study.json", study)

    groups = plan.groups()
    total, done = sum(len(g) for g in groups), 0

    def train(settings: Settings, added: bool = False) -> dict:
        nonlocal done
        record = study_network(settings, data, probe_X, probe_y)
        if added:
            record["rate_added"] = True
        study["runs"].append(record)
        save()
        done += 1
        say(_line(done, total, record))
        return record

    try:
        for name in ("report.md", "report.html"):  # an earlier report states its own status
            (out / name).unlink(missing_ok=True)
        save()  # the record (running, the plan) before the first network
        for group in groups:
            by_rate = {}
            for settings in group:
                record = train(settings)
                by_rate[settings.learning_rate] = val_accuracy(record)
            for _ in range(MAX_ADDED_RATES):
                if not needs_larger_rate(by_rate, majority_percent):
                    break
                total += 1
                lr = next_rate(max(by_rate))
                record = train(dataclasses.replace(group[-1], learning_rate=lr), added=True)
                by_rate[lr] = val_accuracy(record)
        study["status"] = "complete"
    except KeyboardInterrupt:
        study["status"] = "interrupted"
        raise
    except BaseException as exc:  # every study ends with a final status
        study["status"], study["error"] = "failed", f"{type(exc).__name__}: {exc}"
        raise
    finally:
        _finish(study, out)
    return study


def _finish(study: dict, out: Path) -> None:
    """Figures and reports, then study.json: none says complete unless all were written."""
    from compare.finals import failed, settle
    from compare.studies import figures
    from compare.studies.report import write_report

    try:
        if study["runs"]:
            figures.vanishing_figures(study, out)
            write_report(study, out)
        write_json(out / "study.json", study)
    except BaseException as exc:
        if not isinstance(exc, KeyboardInterrupt) or study["status"] == "complete":
            failed(study, exc, "writing the study's outputs")
        settle(out, "study.json", study, lambda: write_report(study, out))
        raise


def majority(labels) -> tuple[int, float]:
    """The most common class of `labels` and its share in percent (what always answering it
    scores)."""
    import numpy as np

    counts = np.bincount(np.asarray(labels, dtype=np.int64))
    top = int(np.argmax(counts))
    return top, float(100.0 * counts[top] / counts.sum())


def _line(i: int, total: int, r: dict) -> str:
    test = f"{r['test_accuracy']:.2f}%" if r.get("test_accuracy") is not None else r["status"]
    mean = r.get("mean_delta_factor")
    factor = f"delta factor {mean:.2f}" if mean is not None else "no delta factor (depth 1)"
    added = " (added: best on validation at the largest rate)" if r.get("rate_added") else ""
    return (
        f"[{i}/{total}] {r['activation']:<8} {r['init']:<17} depth {r['depth']} "
        f"lr {r['learning_rate']:g}{added}: {factor}; test {test}"
    )
