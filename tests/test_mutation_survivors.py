"""Tests for mutants that survived `tools/mutate.py` in training/ (each at the boundary it moved),
through public functions."""

from __future__ import annotations

import math


def test_divergence_starts_above_twice_the_uniform_loss_not_at_it():
    from numpy_mlp.training.divergence import diverged, epoch_divergence, loss_bound

    bound = loss_bound(3)
    assert bound == 2 * math.log(3)
    assert not diverged(bound, 3) and diverged(math.nextafter(bound, math.inf), 3)
    assert diverged(float("nan"), 3) and diverged(float("inf"), 3)
    assert epoch_divergence({"loss": bound, "val_loss": 1.0}, 3) is None
    assert epoch_divergence({"loss": 1.0, "val_loss": float("nan")}, 3)[0] == "validation loss"


def _data(n=96, d=5, k=3, seed=0):
    import numpy as np

    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, d)), rng.integers(0, k, n)


def test_the_epochs_logged_accuracy_and_loss_count_every_row_once():
    """With a step too small to move any weight, the epoch's running accuracy and loss are those
    of the initial network on all training rows."""
    import numpy as np

    from numpy_mlp import MLP, SGD

    X, y = _data()
    mlp = MLP((5, 7, 3), seed=0, dtype=np.float64)
    before = mlp.params.copy()
    logs = mlp.fit(X, y, epochs=1, batch_size=10, validation_split=0.0, verbose=0,
                   optimizer=SGD(learning_rate=1e-300, momentum=0.0)).history  # fmt: skip
    np.testing.assert_allclose(mlp.params, before, rtol=0, atol=1e-250)  # moved by ~1e-300
    assert logs["accuracy"][0] == mlp.accuracy(X, y)
    assert np.isclose(logs["loss"][0], mlp.loss(X, mlp.as_targets(y, X.shape[0])), rtol=1e-12)


def test_the_epoch_line_lists_every_metric(capsys):
    import numpy as np

    from numpy_mlp import MLP

    X, y = _data()
    MLP((5, 7, 3), seed=0, dtype=np.float64).fit(X, y, epochs=2, verbose=2)
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("Epoch")]
    assert len(lines) == 2 and lines[1].startswith("Epoch 2/2 - ")
    for key in ("loss", "accuracy", "val_loss", "val_accuracy"):
        assert f" - {key}: " in lines[0]


def test_fit_many_logs_each_epochs_seconds():
    import time

    import numpy as np

    from numpy_mlp import MLP, SGD, fit_many

    X, y = _data()
    started = time.perf_counter()
    histories = fit_many([MLP((5, 7, 3), seed=0, dtype=np.float64) for _ in range(2)],
                         [SGD(0.01), SGD(0.1)], X, y, epochs=3, verbose=0)  # fmt: skip
    elapsed = time.perf_counter() - started
    for h in histories:
        seconds = h.history["seconds"]
        assert len(seconds) == 3 and all(0 < s <= elapsed for s in seconds)


def test_update_ratios_divide_by_weights_smaller_than_one_too():
    """||dW|| / ||W|| for a matrix of norm 0.5 and one of norm 0 (then ||dW|| itself)."""
    import numpy as np

    from numpy_mlp import GradientFlow

    flow = GradientFlow(every=1)
    flow.start([(1, 2), (1, 1)])
    before = np.array([0.3, 0.4, 0.0])  # norms 0.5 and 0
    flow.note_gradient(np.ones(3))
    flow.note_update(before, before + np.array([0.05, 0.0, 0.2]))
    np.testing.assert_allclose(flow.end_epoch()["update_ratio"], [0.1, 0.2])


# compare/studies/lessons.py (being reshaped: these go through its public functions)


def test_the_geometric_mean_of_factors_below_one():
    from compare.studies.lessons import geometric_mean

    assert geometric_mean([0.5, 2.0]) == 1.0 and abs(geometric_mean([0.25]) - 0.25) < 1e-15
    assert geometric_mean([0.0, 1.0]) is None and geometric_mean([]) is None


def test_the_factor_over_the_hidden_to_hidden_layers_has_depth_minus_two_powers():
    from compare.studies.lessons import factor_sentence

    assert "0.25^4 = 3.9e-03" in factor_sentence("logistic", 6, 0.25)


def test_the_slope_bound_is_named_only_where_it_is_below_one():
    from compare.studies.lessons import factor_sentence

    assert "times the bound" in factor_sentence("logistic", 4, 0.2)
    assert "times the bound" not in factor_sentence("tanh", 4, 0.2)
    assert "times the bound" not in factor_sentence("relu", 4, 0.2)


def test_a_network_answering_one_class_for_99_percent_is_said_to_do_so():
    from compare.studies.lessons import chance_sentence

    for share, said in ((99.0, True), (98.9, False)):
        text = chance_sentence(11.0, 2.3, 1, 11.35, 10, top_class=1, top_share=share)
        assert ("it answers 1 for" in text) == said, share


def test_the_fast_engines_gradients_equal_backprops_for_labels_on_any_batch_shape():
    import numpy as np

    from numpy_mlp import MLP
    from numpy_mlp.training.fast import fast_gradients

    rng = np.random.default_rng(0)
    mlp = MLP((4, 5, 3), seed=0, dtype=np.float64)
    for rows in (2, 7):  # fewer and more rows than inputs
        X, y = rng.normal(size=(rows, 4)), rng.integers(0, 3, rows)
        for fast, reference in zip(fast_gradients(mlp, X, y), mlp.gradients(X, y), strict=True):
            np.testing.assert_allclose(fast, reference, rtol=1e-12, atol=1e-15)


def test_validation_over_more_rows_than_one_chunk_counts_every_row():
    import numpy as np

    from numpy_mlp import MLP

    X, y = _data(n=64)
    X_val, y_val = _data(n=5000, seed=1)  # two chunks of evaluation
    mlp = MLP((5, 7, 3), seed=0, dtype=np.float64)
    logs = mlp.fit(X, y, epochs=1, verbose=0, validation_data=(X_val, y_val)).history
    assert logs["val_accuracy"][0] == mlp.accuracy(X_val, y_val)
    expected = mlp.loss(X_val, mlp.as_targets(y_val, X_val.shape[0]))
    assert np.isclose(logs["val_loss"][0], expected, rtol=1e-12)


def test_cells_with_the_same_effective_step_are_paired_once_each():
    import math

    from compare.studies.sweep_lessons import effective_step

    groups = [
        {"label": f"({lr:g}, {m:g})", "lr": lr, "momentum": m, "diverged": 0,
         "val": [80 + 5 * math.log10(lr / (1 - m))]}
        for lr in (0.001, 0.01, 0.1) for m in (0.0, 0.9)
    ]  # fmt: skip
    text = " ".join(effective_step(groups))
    assert text.count(" (step ") == 2  # steps 0.01 and 0.1 each made by two cells
    assert "(0.001, 0.9) and (0.01, 0) (step 0.01)" in text
    assert "(0.01, 0.9) and (0.1, 0) (step 0.1)" in text


def test_a_validation_split_that_leaves_no_training_rows_is_refused():
    import numpy as np
    import pytest

    from numpy_mlp import MLP

    X, y = _data(n=3)
    mlp = MLP((5, 7, 3), seed=0, dtype=np.float64)
    with pytest.raises(ValueError, match="no training rows"):
        mlp.fit(X[:0], y[:0], epochs=1, verbose=0, validation_data=(X, y))
