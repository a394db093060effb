"""Summaries of timings: one spread summary (median, quartiles, range, n) for every figure,
per-epoch times with the first epoch kept apart, and paired ratios."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def spread(samples: Sequence[float]) -> dict:
    """median, q1, q3, iqr, relative_spread (iqr / median), min, max and n of `samples`."""
    s = np.asarray(samples, dtype=float)
    if s.size == 0:
        raise ValueError("no samples to summarise")
    median = float(np.median(s))
    q1, q3 = (float(q) for q in np.percentile(s, [25, 75]))
    return {
        "median": median,
        "q1": q1,
        "q3": q3,
        "iqr": q3 - q1,
        "relative_spread": (q3 - q1) / median if median > 0 else 0.0,
        "min": float(s.min()),
        "max": float(s.max()),
        "n": int(s.size),
    }


def epoch_stats(seconds: Sequence[float], rows_per_epoch: int) -> dict:
    """First epoch apart (it includes one-off costs such as graph tracing); the rest summarised.

    Returns first_epoch (seconds), the `spread` of epochs 2.. (or of epoch 1 if alone; n epochs
    counted) and the training throughput in rows per second at the median.
    """
    s = np.asarray(seconds, dtype=float)
    if s.size == 0:
        return {}
    summary = spread(s[1:] if s.size > 1 else s)
    median = summary["median"]
    return {
        "first_epoch": float(s[0]),
        **summary,
        "samples_per_second": rows_per_epoch / median if median > 0 else None,
    }


def paired_ratios(slow: Sequence[float], fast: Sequence[float]) -> dict:
    """The `spread` of slow[i] / fast[i] over the pairs (n pairs)."""
    return spread(np.asarray(slow, dtype=float) / np.asarray(fast, dtype=float))


def ratio_stats(slow: Sequence[float], fast: Sequence[float]) -> dict:
    """Per-epoch slow/fast ratios, first epoch excluded when there are more (it includes tracing)."""
    n = min(len(slow), len(fast))
    if n == 0:
        return {}
    start = 1 if n > 1 else 0
    return {**paired_ratios(slow[start:n], fast[start:n]), "first_epoch_excluded": bool(start)}
