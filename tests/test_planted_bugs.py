"""One test per planted bug that the suite once let through (issue 25), each at the boundary that
matters, through public functions (the modules around them are being reshaped)."""

from __future__ import annotations

import numpy as np
import pytest

from numpy_mlp import MLP, SGD, Callback, fit, fit_many


class _StopNow(Callback):
    def on_epoch_end(self, epoch: int, logs: dict) -> bool:
        return True


def test_a_diverged_networks_error_is_filed_under_its_own_history_after_others_left():
    """Network 0 leaves the stack after epoch 1; network 2 diverges in epoch 2, when it sits in
    row 1 of the stack: its error must land in its own History, not network 1's."""
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(300, 6)), rng.integers(0, 3, 300)
    mlps = [MLP((6, 16, 3), seed=1, dtype=np.float64) for _ in range(3)]
    opts = [SGD(0.01), SGD(0.01), SGD(1.0, momentum=0.9)]
    histories = fit_many(
        mlps, opts, X, y, epochs=4, batch_size=16, seed=2, callbacks=[[_StopNow()], [], []]
    )
    assert len(histories[0].history["loss"]) == 1 and histories[0].diverged is None
    assert histories[1].diverged is None and len(histories[1].history["loss"]) == 4
    bad = histories[2].diverged
    assert bad is not None and bad.epoch == 2 and bad.history is histories[2]
    lone = MLP((6, 16, 3), seed=1, dtype=np.float64)
    with pytest.raises(FloatingPointError) as info:
        fit(lone, X, y, epochs=4, batch_size=16, seed=2, verbose=0, optimizer=SGD(1.0, 0.9))
    assert str(info.value) == str(bad)


def _overflowing_gradient_case():
    """float32, relu: one input column at 3.3e38 under weights of 1e-38 keeps the loss finite,
    but A_in^T delta overflows: a finite loss with a non-finite gradient."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(64, 5)).astype(np.float32)
    X[:, 2] = 3.3e38
    y = rng.integers(0, 3, 64)

    def make():
        mlp = MLP((5, 4, 3), seed=0, activation="relu")
        mlp.weights[0][3, :] = 1e-38
        mlp.weights[1][...] *= 100
        return mlp

    return X, y, make


def test_fit_many_stops_at_a_non_finite_gradient_with_a_finite_loss():
    X, y, make = _overflowing_gradient_case()
    mlp = make()
    assert np.isfinite(mlp.loss(X[:8], mlp.as_targets(y[:8], 8)))
    before = mlp.params.copy()
    [history] = fit_many([mlp], [SGD()], X, y, epochs=1, batch_size=8, shuffle=False)
    bad = history.diverged
    assert bad is not None and bad.what == "gradient" and (bad.epoch, bad.step) == (1, 1)
    np.testing.assert_array_equal(mlp.params, before)  # that step was not applied
    lone = make()
    with pytest.raises(FloatingPointError) as info:
        fit(lone, X, y, epochs=1, batch_size=8, shuffle=False, verbose=0)
    assert str(info.value) == str(bad)


def test_gradcheck_splits_bias_row_and_connections_by_row_not_column():
    """A wrong entry in column 0 of a connection row shows under "others", one in the bias row
    under "bias row"; a mask over column 0 would mix them up."""
    from numpy_mlp.checks.gradcheck import check_gradients

    mlp = MLP((3, 4, 3), seed=0, dtype=np.float64)
    X = np.random.default_rng(0).normal(size=(4, 3))
    y = np.array([0, 1, 2, 0])

    def off_at(row, col):
        def gradients(m, X, Y):
            grads = m.gradients(X, Y)
            grads[1][row, col] *= 1.01
            return grads

        return gradients

    connection = check_gradients(mlp, X, y, gradients=off_at(2, 0))[1]
    assert connection.connection_rel_error > 1e-3 and connection.bias_rel_error < 1e-9
    bias = check_gradients(mlp, X, y, gradients=off_at(0, 1))[1]
    assert bias.bias_rel_error > 1e-3 and bias.connection_rel_error < 1e-9
    assert not connection.passed and not bias.passed


def test_gradcheck_relative_error_uses_the_sum_of_magnitudes():
    """The printed formula divides by |g_bp| + |g_fd|; |g_bp + g_fd| would differ for opposite
    signs."""
    from numpy_mlp.checks.gradcheck import FORMULA, relative_error

    assert "(|g_bp| + |g_fd|)" in FORMULA
    assert relative_error(np.array([2.0, 1.0]), np.array([-1.0, 1.0])).tolist() == [1.0, 0.0]


def test_a_network_exactly_at_the_learned_threshold_at_the_lowest_rate_counts_as_late():
    """ "At or below the learned threshold" at the lowest rate, yet learning at a larger one: the
    network is named among those a larger rate trains, also when exactly at the threshold."""
    from compare.studies.lessons import learned_threshold, learning_verdict

    majority = 20.0
    at = learned_threshold(majority)
    assert at == 60.0  # halfway from the majority share to 100 %
    for low, named in ((at, True), (at - 0.01, True), (at + 0.01, False)):
        sentences = learning_verdict([("tanh", 3, {0.01: low, 0.1: 90.0})], majority)
        late = [s for s in sentences if "tanh depth 3" in s and "yet a larger rate trains" in s]
        assert bool(late) == named, (low, sentences)


@pytest.fixture
def store_and_cell(tmp_path, mnist_dir):
    from compare.cli import build_parser
    from compare.commands.study import sweep_plan_of
    from compare.studies.store import CellStore

    args = build_parser().parse_args(
        ["study", "sweep", "--param", "learning_rate", "--values", "0.01", "--epochs", "3",
         "--limit", "600", "--data-dir", str(mnist_dir), "--out", str(tmp_path)]
    )  # fmt: skip
    plan = sweep_plan_of(args)
    said: list[str] = []
    return CellStore(tmp_path, plan, said.append), plan.cells()[0], said


def _record(epochs_run: int, best_epoch: int) -> dict:
    return {
        "status": "complete",
        "history": {"loss": [1.0] * epochs_run, "accuracy": [0.5] * epochs_run},
        "seconds": 1.0,
        "epochs_run": epochs_run,
        "train_accuracy": 50.0,
        "test_accuracy": 50.0,
        "val_accuracy": 50.0,
        "best_epoch": best_epoch,
    }


@pytest.mark.parametrize(("best", "kept"), [(1, True), (2, True), (3, False), (0, False)])
def test_a_stored_best_epoch_beyond_the_epochs_run_is_not_trusted(store_and_cell, best, kept):
    store, cell, said = store_and_cell
    saved = store.save(cell, _record(epochs_run=2, best_epoch=best))
    assert (saved["param"], saved["value"]) == ("learning_rate", 0.01)
    done = store.finished([cell])
    assert (cell.id in done) == kept
    assert any("best_epoch" in line for line in said) == (not kept)


@pytest.mark.parametrize("runs", [1, 3])  # the plan has 3 epochs
def test_stored_runs_of_one_epoch_and_of_every_epoch_are_trusted(store_and_cell, runs):
    store, cell, said = store_and_cell
    store.save(cell, _record(epochs_run=runs, best_epoch=runs))
    assert cell.id in store.finished([cell]) and not said


def test_a_cell_file_set_aside_twice_keeps_both(store_and_cell):
    store, cell, said = store_and_cell
    for _ in range(2):
        store.save(cell, _record(epochs_run=2, best_epoch=9))
        assert store.finished([cell]) == {}
    names = sorted(p.name for p in store.folder.iterdir())
    assert names == [f"{cell.id}.json.rejected", f"{cell.id}.json.rejected2"], names


def test_a_cell_file_of_exactly_the_size_limit_is_read(store_and_cell):
    from compare.studies.store import MAX_CELL_BYTES

    store, cell, said = store_and_cell
    store.folder.mkdir(exist_ok=True)
    for size, problem in ((MAX_CELL_BYTES, "not valid JSON"), (MAX_CELL_BYTES + 1, "bytes, more")):
        with open(store.path(cell.id), "wb") as handle:
            handle.truncate(size)  # sparse: no disk used
        assert store.finished([cell]) == {}
        assert problem in said[-1], said


@pytest.mark.parametrize(("share", "warned"), [(0.25, True), (0.2499, False), (0.6, True)])
def test_the_shared_cores_warning_starts_at_a_quarter_of_the_cpu_time(share, warned):
    from compare.speed.stability import BUSY_OTHERS_SHARE, shared_cores_warning

    assert BUSY_OTHERS_SHARE == 0.25
    quiet = {"load_before": [0.1, 0.1, 0.1], "load_after": [0.2, 0.2, 0.2], "cores": 4}
    assert (shared_cores_warning({**quiet, "others_cpu_share": share}) is not None) == warned


@pytest.mark.parametrize(
    ("change", "kept"),
    [
        ({"seconds": 0.0}, True),
        ({"seconds": -1.0}, False),
        ({"val_accuracy": None}, True),  # trained without validation rows
        ({"train_accuracy": None}, False),
        ({"train_accuracy": 100.0, "test_accuracy": 0.0}, True),
        ({"test_accuracy": 100.5}, False),
        ({"test_accuracy": -0.5}, False),
        ({"epochs_run": 0, "best_epoch": None}, False),
    ],
)
def test_what_a_stored_cell_may_and_may_not_hold(store_and_cell, change, kept):
    store, cell, said = store_and_cell
    store.save(cell, {**_record(epochs_run=2, best_epoch=1), **change})
    assert (cell.id in store.finished([cell])) == kept, said
