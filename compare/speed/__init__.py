"""Speed: timing primitives (measure), the tutorial's epoch (tutorial), batch and width sweeps
(sweeps), summaries of repeated timings (stats), spreads and the busy/unstable warnings
(stability), the `bench` job that runs them all (job), and its report and figures (report,
figures)."""

from compare.speed.stats import epoch_stats, paired_ratios, ratio_stats, spread

__all__ = ["epoch_stats", "paired_ratios", "ratio_stats", "spread"]
