"""Summaries of per-epoch times: medians, spreads and ratios, with the first epoch kept apart."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def epoch_stats(seconds: Sequence[float], rows_per_epoch: int) -> dict:
    """First epoch apart (it includes one-off costs such as graph tracing); the rest summarised.

    Returns first, median, q1, q3, min, max (seconds) of epochs 2.. (or of epoch 1 if alone), their
    relative spread (q3 - q1) / median, and the training throughput in rows per second at the
    median.
    """
    s = np.asarray(seconds, dtype=float)
    if s.size == 0:
        return {}
    rest = s[1:] if s.size > 1 else s
    median = float(np.median(rest))
    q1, q3 = float(np.percentile(rest, 25)), float(np.percentile(rest, 75))
    return {
        "first_epoch": float(s[0]),
        "median": median,
        "q1": q1,
        "q3": q3,
        "relative_spread": (q3 - q1) / median if median > 0 else 0.0,
        "min": float(rest.min()),
        "max": float(rest.max()),
        "epochs_counted": int(rest.size),
        "samples_per_second": rows_per_epoch / median if median > 0 else None,
    }


def paired_ratios(slow: Sequence[float], fast: Sequence[float]) -> dict:
    """slow[i] / fast[i] for each pair: median, quartiles, min and max."""
    ratios = np.asarray(slow, dtype=float) / np.asarray(fast, dtype=float)
    return {
        "median": float(np.median(ratios)),
        "q1": float(np.percentile(ratios, 25)),
        "q3": float(np.percentile(ratios, 75)),
        "min": float(ratios.min()),
        "max": float(ratios.max()),
        "pairs": int(ratios.size),
    }


def ratio_stats(slow: Sequence[float], fast: Sequence[float]) -> dict:
    """Per-epoch slow/fast ratios, first epoch excluded when there are more (it includes tracing)."""
    n = min(len(slow), len(fast))
    if n == 0:
        return {}
    start = 1 if n > 1 else 0
    return {**paired_ratios(slow[start:n], fast[start:n]), "first_epoch_excluded": bool(start)}
