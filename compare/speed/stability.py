"""Is a timing trustworthy? Each figure's spread, the machine's load, and the warnings they raise.

Two stated thresholds, both applied to measured data:

* busy: the 1-minute load average (runnable plus waiting tasks) before or after the measurement,
  per usable core, above BUSY_LOAD_PER_CORE = 1.0, and, where /proc/stat is readable, other
  processes (this one's own CPU time subtracted) using at least BUSY_OTHERS_SHARE = 0.25 of the
  machine's CPU time while it ran. Above the load threshold some task waits for a CPU, so
  timings include waiting, by an amount that changes from moment to moment; the second condition
  keeps a run whose own threads (TensorFlow's pools) raise the load from being called busy.
* shared cores: below the load threshold, other processes still took at least
  BUSY_OTHERS_SHARE of the CPU time, so figures that use every core shared them.
* unstable: a figure's relative spread, IQR / median of its samples, above
  UNSTABLE_RELATIVE_SPREAD = 0.25, judged from MIN_SAMPLES = 5 samples on (the quartiles of
  fewer are little more than the range). pyperf warns at a standard deviation of 10% of the mean
  on a dedicated machine; for normally distributed noise an IQR of 25% of the median is a
  standard deviation of about 19%, a bound for a machine shared with other work, where quiet
  runs of this project's figures spread by up to about 20%.
"""

from __future__ import annotations

from collections.abc import Mapping

BUSY_LOAD_PER_CORE = 1.0
BUSY_OTHERS_SHARE = 0.25
UNSTABLE_RELATIVE_SPREAD = 0.25
MIN_SAMPLES = 5


def peak_load(state: Mapping) -> float | None:
    """The larger 1-minute load average of state['load_before'] and state['load_after']."""
    loads = [state[k][0] for k in ("load_before", "load_after") if state.get(k)]
    return max(loads) if loads else None


def busy_warning(state: Mapping) -> str | None:
    """The busy-machine warning for a machine state (load_before/after, usable_cores and, where
    measured, others_cpu_share), or None."""
    load, cores = peak_load(state), state.get("usable_cores") or state.get("cores")
    if load is None or not cores or load / cores <= BUSY_LOAD_PER_CORE:
        return None
    share = state.get("others_cpu_share")
    if share is not None and share < BUSY_OTHERS_SHARE:
        return None
    others = f", other processes used {share:.0%} of its CPU time" if share is not None else ""
    return (
        f"the machine was busy: load {load:.1f} on {cores} cores{others} (1-minute load "
        f"average, the larger of before and after; busy above {BUSY_LOAD_PER_CORE:g} per core"
        + (f" with others above {BUSY_OTHERS_SHARE:.0%}" if share is not None else "")
        + "); medians and ratios of this run are unreliable"
    )


def shared_cores_warning(state: Mapping) -> str | None:
    """When the load stayed below the busy threshold but other processes still took at least
    BUSY_OTHERS_SHARE of the CPU time: figures using every core had to share them. None else."""
    share = state.get("others_cpu_share")
    if share is None or share < BUSY_OTHERS_SHARE or busy_warning(state):
        return None
    return (
        f"other processes used {share:.0%} of the machine's CPU time: figures that use every core "
        "(NumPy with BLAS on all cores, TensorFlow's default thread pools) had to share them and "
        f"are unreliable; single-threaded ones ran at a load of at most {BUSY_LOAD_PER_CORE:g} "
        "per core"
    )


def unstable_warning(spreads: Mapping[str, Mapping]) -> str | None:
    """Which figures varied beyond the threshold (each a `spread` dict), or None."""
    flagged = [
        f"{name} {s['relative_spread']:.1%} over {s['n']} samples"
        for name, s in spreads.items()
        if s.get("n", 0) >= MIN_SAMPLES and s.get("relative_spread", 0) > UNSTABLE_RELATIVE_SPREAD
    ]
    if not flagged:
        return None
    return (
        f"unstable timings, the IQR above {UNSTABLE_RELATIVE_SPREAD:.0%} of the median: "
        f"{'; '.join(flagged)}; those medians and ratios are unreliable"
    )


def warnings(state: Mapping, spreads: Mapping[str, Mapping]) -> list[str]:
    """Every warning that applies: busy machine (or shared cores), unstable figures."""
    found = (busy_warning(state), shared_cores_warning(state), unstable_warning(spreads))
    return [w for w in found if w]


def resolved(a: Mapping, b: Mapping) -> bool:
    """Whether two figures' medians differ by more than their noise: |median_a - median_b| above
    the mean of their IQRs. Below it the order of the two is not a measured fact."""
    return abs(a["median"] - b["median"]) > (a["iqr"] + b["iqr"]) / 2


def group_text(spreads: Mapping[str, Mapping]) -> list[str]:
    """Members of one comparison, fastest first, each as a multiple of the fastest, with
    '(within the noise)' where the difference from the fastest is not resolved."""
    names = sorted(spreads, key=lambda n: spreads[n]["median"])
    best = spreads[names[0]]
    lines = []
    for name in names:
        s = spreads[name]
        ratio = s["median"] / best["median"] if best["median"] > 0 else float("nan")
        note = ""
        if name != names[0] and not resolved(s, best):
            note = " (within the noise: the difference is below the IQRs)"
        lines.append(
            f"{name}: median {s['median'] * 1e6:,.1f} us, IQR {s['relative_spread']:.0%}, "
            f"{ratio:.2f}x the fastest{note}"
        )
    return lines
