"""Hypothesis strategies shared by the tests: random networks and optimizer settings."""

from __future__ import annotations

from hypothesis import strategies as st

# layer sizes from input to output, at least two classes
layer_lists = st.lists(st.integers(1, 9), min_size=2, max_size=5).filter(lambda s: s[-1] >= 2)
# every SGD option, at values that train, crawl or run away
optimizers = st.fixed_dictionaries(
    {
        "learning_rate": st.sampled_from([1e-3, 0.05, 0.3]),
        "momentum": st.sampled_from([0.0, 0.5, 0.9]),
        "decay": st.sampled_from([0.0, 1e-3]),
        "nesterov": st.booleans(),
        "weight_decay": st.sampled_from([0.0, 1e-3, 0.1]),
    }
)
