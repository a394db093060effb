"""report.md for the studies: what was measured, the tables, the figures, and what they show."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

from compare.html import write_html
from compare.studies.lessons import (
    CHANCE_MARGIN,
    SLOPE_BOUND,
    at_chance,
    chance_sentence,
    factor_sentence,
    learning_verdict,
    rate_note,
)
from numpy_mlp.io.atomic import atomic_write_text

VANISHING_TEXT = """\
## What the figures show

Backpropagation carries the error from the output down to the first layer one layer at a time:

    delta_h = (delta_next W_next[1:]^T) * f'(Z_h)          dL/dW_h = A_prev^T delta_h

Every hidden layer multiplies delta by a weight matrix and by the activation's slope f'(Z_h). The
gradient of the first layer is therefore a product of as many such factors as there are layers
above it: if each factor shrinks delta, the first layers' gradients shrink geometrically with
depth, and those layers barely learn. That is the vanishing gradient.

* **logistic**: f'(z) = A (1 - A) is at most 1/4 (at z = 0). With Glorot-scaled weights the
  weight factor is about 1, so every logistic layer shrinks delta by a factor near 4 (the layer
  factors above measure it): the first layer of a deep logistic network gets gradients orders of
  magnitude smaller than the last.
* **tanh with Glorot init**: f'(0) = 1, and Glorot's scale sqrt(6 / (fan_in + fan_out)) is
  chosen so that W keeps the variance of delta about level from layer to layer; the layer
  factors stay near 1.
* **ReLU with He init**: f' is 1 on the active half of the units and 0 on the rest; He's larger
  scale sqrt(6 / fan_in) makes up for the half that is switched off, and the factors stay near 1
  too.

The norms are measured on one fixed batch, so networks and epochs are compared on the same data;
the "over training" figure shows whether training repairs or worsens the imbalance. A network
whose first layers get almost no gradient can still learn a little if its last layers do; a
larger learning rate scales every update, which is why the table tries several before blaming
depth.
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
    lines = [
        "# The vanishing gradient, measured",
        "",
        f"Status: **{study['status']}**. Hidden layers of {c['width']} units, depths "
        f"{', '.join(map(str, c['depths']))}; every network trained {c['epochs']} epoch(s) at "
        f"each learning rate {', '.join(f'{r:g}' for r in rates)}; batch {s['batch_size']}, "
        f"momentum {s['momentum']}, {s['dtype']}, seed {s['seed']}"
        + (f", first {c['limit']} training rows" if c.get("limit") else "")
        + f". Gradient norms: {c['norm']}, on the first {c['probe_rows']} training rows, at "
        "initialization (the same for every learning rate).",
        "",
        "## How much the gradient changes from one hidden layer to the next",
        "",
        "The layer factor is ||dL/dW^(l)|| / ||dL/dW^(l+1)|| for neighbouring hidden-to-hidden "
        "matrices W_h2 ... W_hd, which all have the same shape "
        f"({c['width'] + 1} x {c['width']}), so only the backward pass differs between them. "
        "Below 1 the gradient shrinks on its way down, above 1 it grows. The table gives each "
        "network's geometric mean over its factors (a depth-d network has d - 2 of them), beside "
        "the most the activation's slope f' can contribute.",
        "",
        *factor_table(runs),
        "",
        *factor_lists(runs),
        "",
        *[f"* {line}" for line in factor_sentences(runs)],
        "",
        "## Test accuracy at each learning rate",
        "",
        "Test accuracy in percent, with the final validation loss in brackets; one row per "
        "network, one column per learning rate.",
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
                ("vanishing_factors.png", "Layer factor between hidden layers at initialization"),
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


def factor_table(runs: Sequence[dict]) -> list[str]:
    """Markdown: mean layer factor per pair and depth (depths with no factor are left out)."""
    nets = _networks(runs)
    depths = sorted({r["depth"] for r in nets if r.get("mean_layer_factor") is not None})
    if not depths:
        return ["No network has three or more hidden layers, so there is no layer factor."]
    pairs = list(dict.fromkeys((r["activation"], r["init"]) for r in nets))
    rows = [
        "| activation, init | max f' | " + " | ".join(f"depth {d}" for d in depths) + " |",
        "|---|---|" + "---|" * len(depths),
    ]
    for activation, init in pairs:
        cells = []
        for d in depths:
            match = [
                r for r in nets if (r["activation"], r["init"], r["depth"]) == (activation, init, d)
            ]
            mean = match[0].get("mean_layer_factor") if match else None
            cells.append("-" if mean is None else f"{mean:.2f}")
        bound = SLOPE_BOUND.get(activation)
        rows.append(
            f"| {activation}, {init} | {'-' if bound is None else f'{bound:g}'} | "
            + " | ".join(cells)
            + " |"
        )
    return rows


def factor_lists(runs: Sequence[dict]) -> list[str]:
    """The individual factors of the deepest network of each pair, input side first."""
    nets = _networks(runs)
    lines = []
    for activation, init in dict.fromkeys((r["activation"], r["init"]) for r in nets):
        deepest = max(
            (r for r in nets if (r["activation"], r["init"]) == (activation, init)),
            key=lambda r: r["depth"],
        )
        factors = deepest.get("layer_factors") or []
        if factors:
            lines.append(
                f"* {activation}, depth {deepest['depth']}, factors W_h2/W_h3 ... "
                f"W_h{deepest['depth'] - 1}/W_h{deepest['depth']}: "
                + ", ".join(f"{f:.2f}" for f in factors)
            )
    return lines


def factor_sentences(runs: Sequence[dict]) -> list[str]:
    nets = _networks(runs)
    out = []
    for activation, init in dict.fromkeys((r["activation"], r["init"]) for r in nets):
        deepest = max(
            (r for r in nets if (r["activation"], r["init"]) == (activation, init)),
            key=lambda r: r["depth"],
        )
        out.append(factor_sentence(activation, deepest["depth"], deepest.get("mean_layer_factor")))
    return out


def _final_loss(r: dict) -> float | None:
    losses = (r.get("history") or {}).get("val_loss") or []
    return losses[-1] if losses else None


def conclusions(study: dict) -> list[str]:
    """Which networks learn at some rate, and what the ones at chance are doing, in words."""
    c = study["config"]
    majority_percent = c.get("test_majority_percent")
    if majority_percent is None:
        return ["(This study.json predates the chance measurements; rerun the study.)"]
    networks: dict[tuple[str, int], dict[float, float | None]] = {}
    for r in study["runs"]:
        networks.setdefault((r["activation"], r["depth"]), {})[r["learning_rate"]] = (
            r.get("test_accuracy") if r["status"] == "complete" else None
        )
    verdict = learning_verdict([(a, d, v) for (a, d), v in networks.items()], majority_percent)
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
                r["learning_rate"], networks[(r["activation"], r["depth"])], majority_percent
            )
            lines.append(
                f"* {r['activation']} depth {r['depth']}, lr {r['learning_rate']:g}: {words}"
            )
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
                f"{r['activation']} depth {r['depth']} at lr {r['learning_rate']:g}"
                for r in diverged
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
        "the backward pass does to delta. The layer factor above compares matrices of one shape "
        "and measures the backward pass alone."
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
