"""From parsed flags to a study's plan: the values, the sizes and the limits, checked up front.

`mlp-compare study` parses its flags and calls these; each refusal is a UsageError naming the flag,
raised before any folder is made or any network trained. The plans themselves (`SweepPlan`,
`VanishingPlan`) and their running are in sweep.py and vanishing.py.
"""

from __future__ import annotations

import dataclasses
import math
import os
from collections.abc import Mapping, Sequence

from compare.config import MNIST_CLASSES, MNIST_INPUTS, TUTORIAL, Settings
from compare.errors import UsageError
from compare.options import INT_MAX, check_mnist_layers, check_network, check_training_rows
from compare.studies.sweep import PARAMS, SweepPlan, apply_values
from compare.studies.vanishing import DEFAULT_PAIRS, VanishingPlan
from numpy_mlp.training.optimizers import SETTING_RULES, check_setting

MAX_DEPTH = 64  # hidden layers: the logistic gradient is gone (below 1e-30) long before
MAX_DEPTHS = 16  # networks per activation
MAX_CELLS = 1000  # values x seeds (or grid cells x seeds): hours of training already
MAX_JOBS = 64


# -- the vanishing-gradient study -----------------------------------------------------------------


def check_vanishing_sizes(depths: Sequence[int], width: int) -> None:
    """UsageError for depths or widths the study could not build within the weight limit."""
    if len(depths) > MAX_DEPTHS:
        raise UsageError(f"--depths: {len(depths)} depths; at most {MAX_DEPTHS} per study")
    if len(set(depths)) < len(depths):
        raise UsageError(f"--depths {','.join(map(str, depths))}: a depth is given twice")
    for depth in depths:
        if depth > MAX_DEPTH:
            raise UsageError(f"--depths: {depth} hidden layers; at most {MAX_DEPTH}")
    layers = (MNIST_INPUTS, *([width] * max(depths)), MNIST_CLASSES)
    check_network(layers, f"--width {width} with depth {max(depths)}")


def vanishing_plan(
    *,
    depths: Sequence[int],
    width: int,
    activations: Sequence[str],
    inits: Sequence[str],
    learning_rates: Sequence[float],
    epochs: int,
    limit: int | None,
    seed: int,
    dtype: str,
) -> VanishingPlan:
    """The networks of the study: every depth for each (activation, init) pair; inits "paired"
    gives each activation its default pairs (DEFAULT_PAIRS: its usual partner, and the logistic
    also with Glorot x 4), a list crosses activations with inits."""
    check_vanishing_sizes(depths, width)
    check_training_rows(limit, TUTORIAL.validation_split)
    if "paired" in inits:
        pairs = tuple(p for a in activations for p in DEFAULT_PAIRS if p[0] == a)
    else:
        pairs = tuple((a, i) for a in activations for i in inits)
    return VanishingPlan(
        depths=tuple(depths),
        width=width,
        pairs=pairs,
        epochs=epochs,
        learning_rates=tuple(learning_rates),
        limit=limit,
        settings=dataclasses.replace(TUTORIAL, seed=seed, dtype=dtype),
    )


# -- the sweep --------------------------------------------------------------------------------------


def parse_values(name: str, text: str | None, flag: str = "--values") -> tuple:
    """'1e-3,1e-2' -> (0.001, 0.01), each value checked as numpy_mlp checks that setting (counts:
    whole numbers in 1..2^31-1); None -> the parameter's default values."""
    _, defaults, _ = PARAMS[name]
    if text is None:
        return defaults
    values: list = []
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        try:
            number = float(part)
        except ValueError:
            raise UsageError(f"{flag} {text}: {part!r} is not a number") from None
        try:
            if name in SETTING_RULES:
                value = check_setting(name, number)
            elif not (math.isfinite(number) and number == int(number) and 1 <= number <= INT_MAX):
                raise ValueError(f"{name} must be a whole number in 1..{INT_MAX}, got {part}")
            else:
                value = int(number)
        except ValueError as exc:
            raise UsageError(f"{flag} {text}: {exc}") from None
        if value in values:
            raise UsageError(f"{flag} {text}: {part} is given twice (each value once, please)")
        values.append(value)
    if not values:
        raise UsageError(f"{flag} {text}: give at least one value")
    return tuple(values)


def sweep_axes(
    param: str | None, values: str | None, grid: Sequence[str] | None
) -> tuple[tuple[str, tuple], ...]:
    """One (name, values) axis for --param/--values, two for --grid NAME=V1,V2 NAME=V1,V2."""
    if (param is None) == (grid is None):
        raise UsageError("study sweep: give either --param (with --values) or --grid")
    if grid is None:
        return ((param, parse_values(param, values)),)
    if values is not None:
        raise UsageError("--values goes with --param; with --grid the values are in NAME=V1,V2")
    axes = []
    for item in grid:
        name, _, text = item.partition("=")
        if name not in PARAMS or not text:
            raise UsageError(
                f"--grid {item}: write NAME=V1,V2,... with NAME one of {', '.join(PARAMS)}"
            )
        axes.append((name, parse_values(name, text, f"--grid {name}=")))
    if axes[0][0] == axes[1][0]:
        raise UsageError(f"--grid: two different parameters, please (got {axes[0][0]} twice)")
    return tuple(axes)


def sweep_settings(fixed: Mapping[str, object], hidden: int | None, seed: int) -> Settings:
    """The tutorial's settings with the fixed flags (`fixed`: Settings fields) and --hidden."""
    base = dataclasses.replace(TUTORIAL, seed=seed, **fixed)
    check_mnist_layers(base.layers)
    if hidden is not None:
        base = apply_values(base, [("hidden", hidden)], seed)
        try:
            check_network(base.layers)
        except UsageError as exc:
            raise UsageError(f"--hidden {hidden}: {exc}") from None
    return base


def sweep_plan(
    axes: tuple[tuple[str, tuple], ...],
    base: Settings,
    *,
    seeds: int,
    limit: int | None,
    jobs: int | None,
    method: str,
    scheduler: str | None,
) -> SweepPlan:
    """The SweepPlan over `axes` (UsageError on a size beyond the limits or a network too big)."""
    cells = seeds * math.prod(len(values) for _, values in axes)
    if cells > MAX_CELLS:
        raise UsageError(
            f"--seeds {seeds} with these values make {cells:,} cells; at most {MAX_CELLS:,} "
            "per sweep (split it into several sweeps)"
        )
    if jobs is not None and jobs > MAX_JOBS:
        raise UsageError(f"--jobs {jobs}: at most {MAX_JOBS} worker processes")
    plan = SweepPlan(
        axes=axes,
        seeds=seeds,
        base=base,
        limit=limit,
        jobs=max(1, min(jobs or os.cpu_count() or 1, cells)),  # never more workers than cells
        method=method,
        scheduler=scheduler,
    )
    for cell in plan.cells():  # every network the sweep would build fits the weight limit
        try:
            check_network(cell.settings.layers)
        except UsageError as exc:
            raise UsageError(f"{cell.id.rsplit(',seed=', 1)[0]}: {exc}") from None
    check_training_rows(limit, base.validation_split)
    if scheduler is not None:
        from compare.studies.workers import check_scheduler_address

        check_scheduler_address(scheduler)
    return plan
