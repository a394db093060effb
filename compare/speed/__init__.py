"""Speed: timing primitives (measure), the tutorial's epoch (tutorial), batch and width sweeps
(sweeps), summaries of repeated timings (stats), and the `bench` job that runs them all (job)."""

from compare.speed.stats import epoch_stats, paired_ratios, ratio_stats

__all__ = ["epoch_stats", "paired_ratios", "ratio_stats"]
