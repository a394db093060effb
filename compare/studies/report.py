"""report.md for the studies: what was measured, the tables, the figures, and what they show."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from compare.html import write_html
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
  weight factor is about 1, so every logistic layer shrinks delta by roughly 4 or more: the first
  layer of a deep logistic network gets gradients orders of magnitude smaller than the last.
* **tanh with Glorot init**: f'(0) = 1, and Glorot's scale sqrt(6 / (fan_in + fan_out)) is
  chosen so that W keeps the variance of delta about level from layer to layer; the norms stay
  within about an order of magnitude.
* **ReLU with He init**: f' is 1 on the active half of the units and 0 on the rest; He's larger
  scale sqrt(6 / fan_in) makes up for the half that is switched off, and the norms stay level too.

The norms are measured on one fixed batch, so networks and epochs are compared on the same data;
the "over training" figure shows whether training repairs or worsens the imbalance.
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
    lines = [
        "# The vanishing gradient, measured",
        "",
        f"Status: **{study['status']}**. Hidden layers of {c['width']} units, depths "
        f"{', '.join(map(str, c['depths']))}; {c['epochs']} epochs each, batch {s['batch_size']}, "
        f"lr {s['learning_rate']}, momentum {s['momentum']}, {s['dtype']}, seed {s['seed']}"
        + (f", first {c['limit']} training rows" if c.get("limit") else "")
        + f". Gradient norms: {c['norm']}, on the first {c['probe_rows']} training rows.",
        "",
        "## First-layer over last-layer gradient norm at initialization",
        "",
        *norm_ratio_table(study["runs"]),
        "",
        "A value near 1 means the gradient reaches the first layer undiminished; 1e-3 means the "
        "first layer's gradient is a thousand times smaller than the output layer's.",
        "",
        "## Test accuracy",
        "",
        *accuracy_table(study["runs"]),
        "",
        VANISHING_TEXT,
        "## Figures",
        "",
        *_figures(
            [
                ("vanishing_init.png", "Gradient norm per layer at initialization"),
                ("vanishing_training.png", "Gradient norm per layer over training"),
                ("vanishing_accuracy.png", "Test accuracy against depth"),
            ],
            out,
        ),
    ]
    return "\n".join(lines) + "\n"


def norm_ratio_table(runs: Sequence[dict]) -> list[str]:
    """Markdown: first-layer over last-layer gradient norm at init, per pair and depth."""
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
    rows = [
        "| activation | init | depth | test acc. % | train acc. % | status | seconds |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in runs:
        test = r.get("test_accuracy")
        train = r.get("train_accuracy")
        rows.append(
            f"| {r['activation']} | {r['init']} | {r['depth']} | "
            f"{'-' if test is None else f'{test:.2f}'} | "
            f"{'-' if train is None else f'{train:.2f}'} | {r['status']} | {r['seconds']:.1f} |"
        )
    return rows
