"""How a sweep places its cells on processes: groups split so every worker has work, in words."""

from __future__ import annotations

import dataclasses

import pytest

from compare.config import TUTORIAL
from compare.studies.sweep import SweepPlan, batches_of_work, placement


def _plan(jobs: int, method: str, seeds: int = 2) -> SweepPlan:
    axes = (("learning_rate", (1e-3, 1e-2, 0.1, 3.0)),)
    base = dataclasses.replace(TUTORIAL, epochs=1)
    return SweepPlan(axes=axes, seeds=seeds, base=base, jobs=jobs, method=method)


@pytest.mark.parametrize(
    ("jobs", "seeds", "sizes"),
    [
        (1, 2, [4, 4]),
        (2, 2, [4, 4]),
        (4, 2, [2] * 4),
        (2, 1, [2, 2]),
        (3, 1, [1, 1, 2]),
        (10, 2, [1] * 8),
    ],
)
def test_stacked_groups_are_one_per_seed_and_halved_until_every_worker_has_one(jobs, seeds, sizes):
    plan = _plan(jobs, "stacked", seeds)
    work = batches_of_work(plan.cells(), plan.method, plan.jobs)
    assert sorted(len(g) for g in work) == sizes
    for group in work:  # a group shares its batches: one seed, one shape
        assert len({c.group() for c in group}) == 1
    words = placement(work, plan)
    assert f"in {len(work)} stacked group(s)" in words
    if jobs > 1:
        assert f"on {min(jobs, len(work))} worker processes" in words
    else:
        assert "in this process" in words


def test_separate_cells_each_train_alone():
    plan = _plan(2, "separate")
    work = batches_of_work(plan.cells(), plan.method, plan.jobs)
    assert [len(g) for g in work] == [1] * 8
    assert placement(work, plan).startswith("8 cell(s), each trained alone by fit, on 2 worker")
