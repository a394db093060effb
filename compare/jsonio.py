"""Every JSON file the project writes: strict JSON (no NaN or Infinity), written atomically.

Non-finite numbers become null; whatever they were, the status or error next to them says why.
Strict parsers (JavaScript's JSON.parse among them) reject the NaN and Infinity that Python's json
module writes by default.
"""

from __future__ import annotations

import json
import math
import os

import numpy as np

from numpy_mlp.io.atomic import atomic_write_text


def json_safe(value):
    """value with every non-finite float replaced by None (dicts, lists, tuples recursively)."""
    if isinstance(value, float | np.floating):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.ndarray):
        return json_safe(value.tolist())
    return value


def dumps(value) -> str:
    return json.dumps(json_safe(value), indent=2, allow_nan=False) + "\n"


def write_json(path: str | os.PathLike, value) -> None:
    """Write `value` as strict JSON to `path`, atomically."""
    atomic_write_text(path, dumps(value))
