"""Speed summaries: the first epoch kept apart, paired ratios with their spread."""

from __future__ import annotations

import pytest

from compare.speed import epoch_stats, paired_ratios, ratio_stats


def test_epoch_stats_keeps_the_first_epoch_apart():
    stats = epoch_stats([5.0, 1.0, 2.0, 3.0], rows_per_epoch=600)
    assert stats["first_epoch"] == 5.0
    assert stats["median"] == 2.0 and stats["min"] == 1.0 and stats["max"] == 3.0
    assert stats["epochs_counted"] == 3
    assert stats["samples_per_second"] == pytest.approx(300.0)
    assert epoch_stats([2.0], 10)["median"] == 2.0
    assert epoch_stats([], 10) == {}


def test_ratios_are_paired_and_skip_the_traced_epoch():
    keras, numpy = [9.0, 2.0, 4.0, 6.0], [1.0, 1.0, 1.0, 2.0]
    r = ratio_stats(keras, numpy)
    assert r["pairs"] == 3 and r["median"] == 3.0 and r["min"] == 2.0 and r["max"] == 4.0
    assert paired_ratios(keras, numpy)["max"] == 9.0
    assert ratio_stats([], []) == {}
