"""Speed summaries: the first epoch kept apart, paired ratios with their spread."""

from __future__ import annotations

import pytest

from compare.speed import epoch_stats, paired_ratios, ratio_stats


def test_epoch_stats_keeps_the_first_epoch_apart():
    stats = epoch_stats([5.0, 1.0, 2.0, 3.0], rows_per_epoch=600)
    assert stats["first_epoch"] == 5.0
    assert stats["median"] == 2.0 and stats["min"] == 1.0 and stats["max"] == 3.0
    assert stats["n"] == 3
    assert stats["samples_per_second"] == pytest.approx(300.0)
    assert epoch_stats([2.0], 10)["median"] == 2.0
    assert epoch_stats([], 10) == {}


def test_ratios_are_paired_and_skip_the_traced_epoch():
    keras, numpy = [9.0, 2.0, 4.0, 6.0], [1.0, 1.0, 1.0, 2.0]
    r = ratio_stats(keras, numpy)
    assert r["n"] == 3 and r["median"] == 3.0 and r["min"] == 2.0 and r["max"] == 4.0
    assert paired_ratios(keras, numpy)["max"] == 9.0
    assert ratio_stats([], []) == {}


# -- spreads, the busy machine, unstable figures --------------------------------------------------


def test_spread_reports_the_quartiles_and_the_iqr_over_the_median():
    from compare.speed.stats import spread

    s = spread([1.0, 2.0, 3.0, 4.0, 5.0])
    assert (s["median"], s["q1"], s["q3"], s["iqr"]) == (3.0, 2.0, 4.0, 2.0)
    assert s["relative_spread"] == pytest.approx(2 / 3) and s["n"] == 5
    assert (s["min"], s["max"]) == (1.0, 5.0)
    with pytest.raises(ValueError, match="no samples"):
        spread([])


def _state(before, after, cores=2, others=None):
    return {
        "usable_cores": cores,
        "load_before": [before, 0.5, 0.2],
        "load_after": [after, 0.5, 0.2],
        "others_cpu_share": others,  # None: not measured
    }


@pytest.mark.parametrize(
    ("before", "after", "cores", "others", "busy"),
    [
        (0.4, 1.9, 2, None, False),  # fewer runnable tasks than cores
        (0.4, 2.0, 2, None, False),  # exactly one per core: nothing waits
        (3.9, 0.5, 2, None, True),  # busy before
        (0.5, 2.2, 2, None, True),  # busy after
        (3.9, 3.9, 4, None, False),  # the same load on more cores
        (0.3, 2.4, 2, 0.03, False),  # the load is this process's own threads
        (0.3, 2.4, 2, 0.25, True),  # others took a quarter of the machine
        (0.3, 1.8, 2, 0.90, False),  # others busy, yet no task waited for a CPU
    ],
)
def test_busy_warning_flips_at_one_runnable_task_per_core(before, after, cores, others, busy):
    from compare.speed.stability import busy_warning

    text = busy_warning(_state(before, after, cores, others))
    if busy:
        load = max(before, after)
        assert text.startswith(f"the machine was busy: load {load:.1f} on {cores} cores")
        assert "unreliable" in text and "busy above 1 per core" in text
        shown = f"other processes used {others:.0%} of its CPU time" if others else "other"
        assert (shown in text) == bool(others)
    else:
        assert text is None
    assert busy_warning({"usable_cores": 2}) is None  # load not readable: no claim either way


def test_unstable_warning_names_the_figures_beyond_the_threshold():
    from compare.speed.stability import unstable_warning, warnings
    from compare.speed.stats import spread

    steady = spread([1.0, 1.02, 1.0, 0.98, 1.01])
    shaky = spread([1.0, 1.5, 0.7, 1.2, 0.9])  # IQR 0.3 on a median of 1.0
    few = spread([1.0, 3.0, 0.5])  # too few samples for quartiles to mean much
    assert unstable_warning({"numpy": steady, "short": few}) is None
    text = unstable_warning({"numpy": steady, "keras": shaky})
    assert text.startswith("unstable timings, the IQR above 25% of the median: keras 30.0% over 5")
    assert "numpy" not in text
    both = warnings(_state(4.0, 4.0), {"keras": shaky})
    assert len(both) == 2 and both[0].startswith("the machine was busy")
    assert warnings(_state(0.5, 0.5), {"numpy": steady}) == []


def test_bench_report_says_busy_or_what_was_checked():
    from compare.speed.report import verdict_lines

    quiet = verdict_lines({"machine": _state(0.3, 1.1, others=0.04), "warnings": []})
    assert quiet == [
        "No warning: load 1.1 on 2 cores, other processes using 4% of the CPU time (busy above 1 "
        "per core with others above 25%), and no figure's IQR exceeded 25% of its median."
    ]
    text = "the machine was busy: load 6.2 on 2 cores"
    assert verdict_lines({"machine": _state(6.2, 6.2), "warnings": [text]}) == [
        f"**Warning: {text}.**"
    ]


def _run_metrics(load: float, keras_epochs: list[float]) -> dict:
    from compare.speed import epoch_stats

    model = {
        "train_accuracy": 97.0,
        "val_accuracy": 96.5,
        "test_accuracy": 96.8,
        "train_loss": 0.1,
        "val_loss": 0.12,
    }
    return {
        "status": "complete",
        "config": {"layers": [784, 50, 50, 10], "epochs": 6},
        "machine": _state(0.2, load),
        "numpy": {**model, "speed": epoch_stats([0.5, 0.30, 0.31, 0.30, 0.29, 0.30], 54_000)},
        "keras": {**model, "speed": epoch_stats(keras_epochs, 54_000)},
    }


@pytest.mark.parametrize(
    ("load", "keras_epochs", "expected"),
    [
        (1.2, [3.0, 1.5, 1.6, 1.5, 1.55, 1.5], []),
        (3.9, [3.0, 1.5, 1.6, 1.5, 1.55, 1.5], ["the machine was busy: load 3.9 on 2 cores"]),
        # epochs 2..6 sorted 1.48 1.5 1.6 3.9 6.93: IQR (3.9 - 1.5) / median 1.6 = 150%
        (1.2, [3.0, 1.48, 6.93, 1.5, 3.9, 1.6], ["unstable timings", "Keras epochs 150.0% over 5"]),
    ],
    ids=["quiet", "busy", "unstable"],
)
def test_run_summary_and_report_warn_only_when_the_data_say_so(load, keras_epochs, expected):
    from compare.report import render_report, render_summary

    metrics = _run_metrics(load, keras_epochs)
    summary, report = render_summary(metrics), render_report(metrics)
    assert ("WARNING:" in summary) == bool(expected)
    assert ("**Warning:" in report) == bool(expected)
    for words in expected:
        assert words in summary and words in report
    assert f"1-minute load average 0.20 before the run, {load:.2f} after" in report


def test_a_difference_smaller_than_the_noise_is_said_to_be_so():
    from compare.speed.stability import group_text, resolved
    from compare.speed.stats import spread

    off = spread([1.00, 1.10, 0.95, 1.05, 1.00])  # median 1.00, IQR 0.05
    every_10 = spread([0.98, 1.02, 0.93, 1.07, 0.99])  # median 0.99: faster, but within noise
    every_step = spread([1.30, 1.32, 1.28, 1.31, 1.29])  # clearly slower
    assert not resolved(off, every_10) and resolved(off, every_step)
    lines = group_text({"off": off, "every-10": every_10, "every-step": every_step})
    assert lines[0].startswith("every-10: median 990,000.0 us")
    assert lines[1].startswith("off:") and lines[1].endswith(
        "(within the noise: the difference is below the IQRs)"
    )
    assert lines[2].startswith("every-step:") and "1.31x the fastest" in lines[2]
    assert "noise" not in lines[2]


def test_others_share_is_the_machines_busy_time_less_this_process():
    from compare.environment import cpu_snapshot, others_cpu_share

    before = {"total": 100.0, "busy": 50.0, "own": 10.0}
    after = {"total": 200.0, "busy": 130.0, "own": 40.0}  # 80 s busy, 30 s of them ours
    assert others_cpu_share(before, after) == 0.5
    assert others_cpu_share(before, {**after, "own": 200.0}) == 0.0  # never negative
    assert others_cpu_share(None, after) is None and others_cpu_share(after, after) is None
    now = cpu_snapshot()
    assert now is None or now["total"] >= now["busy"] >= 0


@pytest.mark.parametrize(
    ("after", "others", "expected"),
    [
        (1.5, 0.51, "shared"),  # one other process on one of two cores
        (1.5, 0.03, None),  # quiet
        (1.5, None, None),  # not measured
        (3.9, 0.85, "busy"),  # the busy warning says it, once
    ],
)
def test_other_work_below_the_busy_load_flags_the_all_core_figures(after, others, expected):
    from compare.speed.stability import warnings

    found = warnings(_state(0.5, after, others=others), {})
    if expected is None:
        assert found == []
    elif expected == "busy":
        assert len(found) == 1 and found[0].startswith("the machine was busy")
    else:
        assert found == [
            f"other processes used {others:.0%} of the machine's CPU time: figures that use "
            "every core (NumPy with BLAS on all cores, TensorFlow's default thread pools) had to "
            "share them and are unreliable; single-threaded ones ran at a load of at most 1 per core"
        ]
