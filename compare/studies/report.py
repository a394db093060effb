"""report.md for the studies: what was measured, the tables, the figures, and what they show."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

from compare.html import write_html
from compare.studies.cells import val_accuracy
from compare.studies.lessons import (
    CHANCE_MARGIN,
    ONE_SEED,
    SLOPE_BOUND,
    at_chance,
    chance_sentence,
    decomposition_sentence,
    init_sentences,
    learning_verdict,
    rate_note,
)
from compare.studies.rules import geometric_mean
from numpy_mlp.io.atomic import atomic_write_text

VANISHING_TEXT = """\
## What the figures show

Backpropagation carries the error delta = dL/dZ from the output down to the first layer one layer
at a time, and each weight gradient is that error times the activations below it:

    delta_h = (delta_next W_next[1:]^T) * f'(Z_h)          dL/dW_h = [1 | A_prev]^T delta_h

Every hidden layer multiplies delta by a weight matrix and by the activation's slope f'(Z_h): the
backward factor ||delta^(l)|| / ||delta^(l+1)|| measures what one layer does to the error. The
weight gradient of a layer also carries the activations A_prev it multiplies, which differ from
layer to layer, so the ratio of two weight-gradient norms is the backward factor times the rest
(weight factor / backward factor): the activations and how they line up with delta, not the
activations alone; the two can move in opposite directions, and then the weight gradients keep
their size while delta shrinks. The computed sentences above say which part moves for which network.

* **logistic**: f'(z) = A (1 - A) is at most 1/4 (at z = 0), so unless the weights are larger
  than Glorot's, every logistic layer shrinks delta about 4-fold. The same slope shrinks the
  forward signal: a unit's output varies over the images about a quarter as much as its input, so
  in a deep stack every unit ends up giving about 0.5 for every image (not saturated: at the
  middle of the curve) and the output cannot tell the images apart. Glorot's range times 4 (the
  gain 1 / max f') partly makes up for the slope: the computed sentences give how much delta
  still shrinks per layer with it, and its accuracy at depth.
* **tanh with Glorot init**: f'(0) = 1, and Glorot's scale sqrt(6 / (fan_in + fan_out)) keeps the
  variance about level; units away from 0 have a slope below 1, so delta still shrinks a little
  per layer, while the activations feeding the weight gradients change too.
* **ReLU with He init**: f' is 1 on the active units and 0 on the rest; He's larger scale
  sqrt(6 / fan_in) makes up for the half that is switched off, so delta keeps its size. Units that
  are off for every image (dead) pass no gradient at all; the saturation figure counts them.

The instruments are measured on one fixed batch, so networks and epochs are compared on the same
data; "after training" shows whether training repairs or worsens the imbalance. A larger learning
rate scales every update, which is why the table tries several (and adds larger ones when the
largest is the best) before blaming depth.
"""


def _figures(names: list[tuple[str, str]], out: Path) -> list[str]:
    lines = []
    for name, caption in names:
        if (out / name).exists():
            lines += [f"### {caption}", "", f"![{caption}]({name})", ""]
    return lines


def write_report(study: dict, out: Path) -> None:
    """report.md for a study record (vanishing or sweep), written atomically."""
    if study["study"] == "vanishing":
        text = _vanishing(study, out)
    else:
        from compare.studies.sweep_report import sweep_report

        text = sweep_report(study, out)
    atomic_write_text(out / "report.md", text)
    write_html(text, out, title=text.splitlines()[0].lstrip("# "))


def _vanishing(study: dict, out: Path) -> str:
    c = study["config"]
    s = c["settings"]
    runs = study["runs"]
    rates = c.get("learning_rates") or [s["learning_rate"]]
    extra = sorted({r["learning_rate"] for r in runs if r.get("rate_added")})
    added = (
        f", plus {', '.join(f'{r:g}' for r in extra)} where the rule added them" if extra else ""
    )
    lines = [
        "# The vanishing gradient, measured",
        "",
        f"Status: **{study['status']}**. Hidden layers of {c['width']} units, depths "
        f"{', '.join(map(str, c['depths']))}; every network trained {c['epochs']} epoch(s) at "
        f"each learning rate {', '.join(f'{r:g}' for r in rates)}{added}; batch {s['batch_size']}, "
        f"momentum {s['momentum']}, {s['dtype']}, seed {s['seed']} ({ONE_SEED})"
        + (f", first {c['limit']} training rows" if c.get("limit") else "")
        + f". Norms: Frobenius norms, on the first {c['probe_rows']} training rows, at "
        "initialization (the same for every learning rate) unless marked after training.",
        "",
        "## How much the backpropagated error changes from one hidden layer to the next",
        "",
        "The backward factor is ||delta^(l)|| / ||delta^(l+1)||, delta = dL/dZ, for neighbouring "
        f"hidden layers (all {c['width']} units wide), measured at initialization: below 1 the "
        "error shrinks on its way down, above 1 it grows. The table gives each network's "
        "geometric mean over its factors (a depth-d network has d - 1 of them), beside the most "
        "the activation's slope f' can contribute.",
        "",
        *factor_table(runs, "mean_delta_factor"),
        "",
        *factor_lists(runs),
        "",
        "## The weight-gradient factor: backward times the rest",
        "",
        "dL/dW^(l) = [1 | A^(l-1)]^T delta^(l): the weight-gradient factor ||dL/dW^(l)|| / "
        "||dL/dW^(l+1)|| between same-shape hidden-to-hidden matrices is the backward factor of "
        "the same layers times the rest: the activations and how they line up with delta "
        "(geometric means at initialization, deepest network of each pair, over the d - 2 pairs "
        "that have a weight-gradient factor; rest = weight / backward).",
        "",
        *decomposition_table(runs),
        "",
        *[f"* {line}" for line in factor_sentences(runs)],
        "",
        "## The forward signal at initialization",
        "",
        "Per hidden layer of the deepest network of each pair, input side first: each unit's "
        "spread over the probe images (the mean over units of its standard deviation), and the "
        "saturated share (tanh |a| > 0.97, logistic outside [0.03, 0.97], ReLU units dead on "
        "every image); last, the logits' spread.",
        "",
        *forward_table(runs),
        "",
        "## After training",
        "",
        *trained_lines(runs),
        "",
        "## Test accuracy at each learning rate",
        "",
        "Test accuracy in percent, with the final validation loss in brackets; one row per "
        "network, one column per learning rate. A network's best rate is the one with the best "
        f"final validation accuracy; the test set only reports it. {ONE_SEED[0].upper()}"
        f"{ONE_SEED[1:]}.",
        "",
        *accuracy_table(runs),
        "",
        "## What the numbers say",
        "",
        *conclusions(study),
        "",
        "## First-layer over last-layer gradient norm (secondary)",
        "",
        *norm_ratio_table(runs),
        "",
        shape_sentence(runs),
        "",
        VANISHING_TEXT,
        "## Figures",
        "",
        *_figures(
            [
                (
                    "vanishing_factors.png",
                    "Backward factor between hidden layers at initialization",
                ),
                (
                    "vanishing_layers.png",
                    "delta norm, unit spread and saturation per layer, before and after training",
                ),
                ("vanishing_init.png", "Gradient norm per layer at initialization"),
                ("vanishing_training.png", "Gradient norm per layer over training"),
                ("vanishing_accuracy.png", "Test accuracy against depth"),
            ],
            out,
        ),
    ]
    return "\n".join(lines) + "\n"


def _networks(runs: Sequence[dict]) -> list[dict]:
    """One run per network (activation, init, depth): the init measurements are the same for
    every learning rate."""
    seen: dict[tuple, dict] = {}
    for r in runs:
        seen.setdefault((r["activation"], r["init"], r["depth"]), r)
    return list(seen.values())


def _pairs(nets: Sequence[dict]) -> list[tuple[str, str]]:
    return list(dict.fromkeys((r["activation"], r["init"]) for r in nets))


def _deepest(nets: Sequence[dict], pair: tuple[str, str]) -> dict:
    return max((r for r in nets if (r["activation"], r["init"]) == pair), key=lambda r: r["depth"])


def factor_table(runs: Sequence[dict], key: str = "mean_delta_factor") -> list[str]:
    """Markdown: the geometric-mean factor `key` per pair and depth (depths with none left out)."""
    nets = _networks(runs)
    depths = sorted({r["depth"] for r in nets if r.get(key) is not None})
    if not depths:
        return ["No network has two or more hidden layers, so there is no factor."]
    rows = [
        "| activation, init | max f' | " + " | ".join(f"depth {d}" for d in depths) + " |",
        "|---|---|" + "---|" * len(depths),
    ]
    for activation, init in _pairs(nets):
        cells = []
        for d in depths:
            match = [
                r for r in nets if (r["activation"], r["init"], r["depth"]) == (activation, init, d)
            ]
            mean = match[0].get(key) if match else None
            cells.append("-" if mean is None else f"{mean:.2f}")
        bound = SLOPE_BOUND.get(activation)
        rows.append(
            f"| {activation}, {init} | {'-' if bound is None else f'{bound:g}'} | "
            + " | ".join(cells)
            + " |"
        )
    return rows


def factor_lists(runs: Sequence[dict]) -> list[str]:
    """The individual backward factors of the deepest network of each pair, input side first."""
    nets = _networks(runs)
    lines = []
    for pair in _pairs(nets):
        deepest = _deepest(nets, pair)
        factors = deepest.get("delta_factors") or []
        if factors:
            d = deepest["depth"]
            lines.append(
                f"* {pair[0]}, {pair[1]}, depth {d}, delta_h1/delta_h2 ... "
                f"delta_h{d - 1}/delta_h{d}: " + ", ".join(f"{f:.2f}" for f in factors)
            )
    return lines


def decomposition_table(runs: Sequence[dict]) -> list[str]:
    """Markdown: weight-gradient factor = backward x the rest, deepest network of each pair."""
    nets = _networks(runs)
    rows = [
        "| activation, init | depth | weight-gradient factor | = backward | x rest |",
        "|---|---|---|---|---|",
    ]
    for pair in _pairs(nets):
        r = _deepest(nets, pair)
        weights = r.get("weight_grad_factors") or []
        if not weights:
            continue
        backward = geometric_mean((r.get("delta_factors") or [])[1:])
        forward = geometric_mean(r.get("forward_factors") or [])
        cells = [r.get("mean_weight_grad_factor"), backward, forward]
        rows.append(
            f"| {pair[0]}, {pair[1]} | {r['depth']} | "
            + " | ".join("-" if v is None else f"{v:.2f}" for v in cells)
            + " |"
        )
    if len(rows) == 2:
        return ["No network has three or more hidden layers, so no two same-shape matrices."]
    return rows


def forward_table(runs: Sequence[dict]) -> list[str]:
    """Markdown: unit spread and saturation per hidden layer at initialization, deepest nets."""
    nets = _networks(runs)
    rows = ["| activation, init | depth | unit spread, layer 1 ... d | saturated share | logits |",
            "|---|---|---|---|---|"]  # fmt: skip
    for pair in _pairs(nets):
        r = _deepest(nets, pair)
        stats = (r.get("layer_stats") or [None])[0]
        if not stats:
            continue
        spread = ", ".join(f"{v:.2g}" for v in stats["unit_spread"])
        sat = ", ".join(f"{v:.2f}" for v in stats["saturation"])
        rows.append(
            f"| {pair[0]}, {pair[1]} | {r['depth']} | {spread} | {sat} | "
            f"{stats['logit_spread']:.2g} |"
        )
    return rows


def _best_run(runs: Sequence[dict], net: dict) -> dict | None:
    """The finished run of `net` (same activation, init, depth) with the best final validation
    accuracy (test accuracy where none was recorded)."""
    mine = [
        r
        for r in runs
        if (r["activation"], r["init"], r["depth"])
        == (net["activation"], net["init"], net["depth"])
        and r["status"] == "complete"
    ]
    return max(mine, key=lambda r: val_accuracy(r) or r["test_accuracy"]) if mine else None


def trained_lines(runs: Sequence[dict]) -> list[str]:
    """The backward factor and the forward signal after training, at each deepest network's best
    rate, beside the same at initialization."""
    nets = _networks(runs)
    lines = []
    for pair in _pairs(nets):
        best = _best_run(runs, _deepest(nets, pair))
        if best is None or len(best.get("layer_stats") or []) < 2:
            continue
        before, after = best["layer_stats"][0], best["layer_stats"][-1]
        b, a = best.get("mean_delta_factor"), best.get("mean_trained_delta_factor")
        factor = (
            f"backward factor {b:.2f} at initialization, {a:.2f} after training"
            if a is not None and b is not None
            else "no backward factor"
        )
        lines.append(
            f"* {pair[0]}, {pair[1]}, depth {best['depth']}, at its best rate by validation "
            f"{best['learning_rate']:g} ({best['test_accuracy']:.2f} %): {factor}; last hidden "
            f"layer's unit spread {before['unit_spread'][-1]:.2g} -> "
            f"{after['unit_spread'][-1]:.2g}, saturated share {before['saturation'][-1]:.2f} -> "
            f"{after['saturation'][-1]:.2f}; logits' spread {before['logit_spread']:.2g} -> "
            f"{after['logit_spread']:.2g}."
        )
    return lines or ["No network finished training."]


def factor_sentences(runs: Sequence[dict]) -> list[str]:
    """`decomposition_sentence` for the deepest network of each pair."""
    nets = _networks(runs)
    return [decomposition_sentence(_deepest(nets, pair)) for pair in _pairs(nets)]


def _final_loss(r: dict) -> float | None:
    losses = (r.get("history") or {}).get("val_loss") or []
    return losses[-1] if losses else None


def conclusions(study: dict) -> list[str]:
    """Which networks learn at some rate, and what the ones at chance are doing, in words."""
    c = study["config"]
    majority_percent = c.get("test_majority_percent")
    if majority_percent is None:
        return ["(This study.json predates the chance measurements; rerun the study.)"]
    inits: dict[str, set[str]] = {}
    for r in study["runs"]:
        inits.setdefault(r["activation"], set()).add(r["init"])

    def label(r: dict) -> str:  # the activation, with its init where it has several
        many = len(inits[r["activation"]]) > 1
        return f"{r['activation']} ({r['init']})" if many else r["activation"]

    networks: dict[tuple[str, int], dict[float, float | None]] = {}
    by_init: dict[tuple[str, str, int], dict[float, float | None]] = {}
    val: dict[tuple[str, int], dict[float, float | None]] = {}
    losses: dict[tuple[str, int], dict[float, float | None]] = {}
    for r in study["runs"]:
        accuracy = r.get("test_accuracy") if r["status"] == "complete" else None
        networks.setdefault((label(r), r["depth"]), {})[r["learning_rate"]] = accuracy
        val.setdefault((label(r), r["depth"]), {})[r["learning_rate"]] = val_accuracy(r)
        losses.setdefault((label(r), r["depth"]), {})[r["learning_rate"]] = (
            _final_loss(r) if r["status"] == "complete" else None
        )
        by_init.setdefault((r["activation"], r["init"], r["depth"]), {})[r["learning_rate"]] = (
            accuracy
        )
    verdict = learning_verdict(
        [(a, d, v) for (a, d), v in networks.items()], majority_percent, val, losses, c["n_classes"]
    )
    verdict += init_sentences(
        [(*k, v) for k, v in by_init.items()], majority_percent, c.get("epochs")
    )
    lines = [*"\n\n".join(verdict).split("\n"), ""]
    chance = [
        r
        for r in study["runs"]
        if r["status"] == "complete" and at_chance(r.get("test_accuracy"), majority_percent)
    ]
    if chance:
        lines.append(
            f"At chance (test accuracy at most {CHANCE_MARGIN:g} points above the "
            f"{majority_percent:.2f} % share of the most common class in the test set):"
        )
        lines.append("")
        for r in chance:
            words = chance_sentence(
                r["test_accuracy"],
                _final_loss(r),
                c["test_majority_class"],
                majority_percent,
                c["n_classes"],
                r.get("test_top_class"),
                r.get("test_top_class_percent"),
            )
            words += rate_note(
                r["learning_rate"], networks[(label(r), r["depth"])], majority_percent
            )
            lines.append(f"* {label(r)} depth {r['depth']}, lr {r['learning_rate']:g}: {words}")
    else:
        lines.append(
            f"No network is at chance: every finished one scores more than {CHANCE_MARGIN:g} points "
            f"above the {majority_percent:.2f} % share of the most common class in the test set."
        )
    diverged = [r for r in study["runs"] if r["status"] == "diverged"]
    if diverged:
        lines += [
            "",
            f"Diverged (training loss above 2 ln {c['n_classes']} = "
            f"{2 * math.log(c['n_classes']):.2f}): "
            + ", ".join(
                f"{label(r)} depth {r['depth']} at lr {r['learning_rate']:g}" for r in diverged
            )
            + ".",
        ]
    return lines


def shape_sentence(runs: Sequence[dict]) -> str:
    """Why the first/last ratio is not the clean measure, with the depth-1 numbers if present."""
    nets = _networks(runs)
    if not nets:
        return ""
    layers = nets[0]["layers"]
    text = (
        f"This ratio compares W_h1, a {layers[0] + 1} x {layers[1]} matrix (one row per pixel, "
        f"plus the bias), with W_out, {layers[-2] + 1} x {layers[-1]}: dL/dW = A_prev^T delta sums "
        "over the rows of a batch for every one of a matrix's entries, and the Frobenius norm "
        "grows with the number of entries, so the ratio mixes the two matrices' shapes with what "
        "the layers do to delta and to the activations. The backward factor above compares the "
        "errors delta of layers of one width instead."
    )
    shallow = [r for r in nets if r["depth"] == 1 and r.get("first_over_last")]
    if shallow:
        values = ", ".join(f"{r['activation']} {r['first_over_last']:.2g}" for r in shallow)
        text += (
            " With one hidden layer, delta passes through a single activation on its way down, "
            f"yet the ratio reads {values}: above 1 here is the shapes, not an exploding gradient."
        )
    return text


def norm_ratio_table(runs: Sequence[dict]) -> list[str]:
    """Markdown: first-layer over last-layer gradient norm at init, per pair and depth."""
    runs = _networks(runs)
    depths = sorted({r["depth"] for r in runs})
    pairs = list(dict.fromkeys((r["activation"], r["init"]) for r in runs))
    rows = [
        "| activation, init | " + " | ".join(f"depth {d}" for d in depths) + " |",
        "|---|" + "---|" * len(depths),
    ]
    for activation, init in pairs:
        cells = []
        for d in depths:
            match = [
                r for r in runs if (r["activation"], r["init"], r["depth"]) == (activation, init, d)
            ]
            cells.append(f"{match[0]['first_over_last']:.1e}" if match else "-")
        rows.append(f"| {activation}, {init} | " + " | ".join(cells) + " |")
    return rows


def accuracy_table(runs: Sequence[dict]) -> list[str]:
    """Markdown: one row per network, one column per learning rate: test % (final val loss)."""
    rates = sorted({r.get("learning_rate") for r in runs if r.get("learning_rate") is not None})
    rows = [
        "| activation | init | depth | " + " | ".join(f"lr {lr:g}" for lr in rates) + " |",
        "|---|---|---|" + "---|" * len(rates),
    ]
    for net in _networks(runs):
        cells = []
        for lr in rates:
            match = [
                r
                for r in runs
                if (r["activation"], r["init"], r["depth"], r.get("learning_rate"))
                == (net["activation"], net["init"], net["depth"], lr)
            ]
            if not match:
                cells.append("-")
            elif match[0]["status"] != "complete":
                cells.append(match[0]["status"])
            else:
                loss = _final_loss(match[0])
                cells.append(
                    f"{match[0]['test_accuracy']:.2f}" + ("" if loss is None else f" ({loss:.2f})")
                )
        rows.append(
            f"| {net['activation']} | {net['init']} | {net['depth']} | " + " | ".join(cells) + " |"
        )
    return rows
