"""What `gradcheck --inject-bug` and `explain` tell a learner: the bug, where it must show, the
expected verdict; each optimizer step's gradient and the loss around it."""

from __future__ import annotations

import json

import numpy as np
import pytest

from compare.commands.gradcheck import bug_verdict
from numpy_mlp import MLP, SGD
from numpy_mlp.checks.bugs import NOTES


def test_help_lists_every_bug_on_one_line(cli):
    out = cli("gradcheck", "--help").stdout
    listing = out.split("bugs for --inject-bug:\n")[1].splitlines()
    assert [line.split()[0] for line in listing] == list(NOTES)
    assert all(len(line) <= 100 for line in listing)


@pytest.mark.parametrize(
    ("bug", "expected"),
    [
        ("missing-1/n", "W_h1, W_h2, W_out"),
        ("wrong-derivative", "W_h1, W_h2"),
        ("bias-row", "W_h1, W_h2, W_out"),
        ("transposed", "W_h1, W_h2"),
    ],
)
def test_inject_bug_says_what_it_does_where_and_that_exit_1_is_expected(cli, bug, expected):
    result = cli("gradcheck", "--layers", "3,4,4,3", "--inject-bug", bug)
    assert result.returncode == 1
    out = result.stdout
    assert f"Injected bug {bug}: {NOTES[bug].does}." in out
    assert f"It must reach {expected}: " in out
    assert "exit status 1 is the expected verdict" in out
    assert f"FAILED: {expected}\nAs expected: the check caught the bug" in out


def test_a_bug_that_one_row_hides_is_explained_and_passes(cli):
    result = cli("gradcheck", "--inject-bug", "missing-1/n", "--samples", "1")
    assert result.returncode == 0
    assert "With 1 row (n = 1) this broken formula equals the right one" in result.stdout
    assert "As expected: nothing to catch" in result.stdout


@pytest.mark.parametrize(
    ("failed", "words"),
    [
        (["W_h1", "W_h2"], "As expected: the check caught the bug in the matrices it reaches "
         "(W_h1, W_h2); W_out, which it does not reach, passed."),
        (["W_h1"], "Not as expected: the check missed W_h2;"),
        (["W_h1", "W_h2", "W_out"], "Not as expected: it also failed W_out, which the bug does"),
        ([], "Not as expected: the check missed W_h1, W_h2;"),
    ],
)  # fmt: skip
def test_the_verdict_follows_the_results(failed, words):
    assert bug_verdict("wrong-derivative", ["W_h1", "W_h2", "W_out"], failed, 5).startswith(words)


def test_explain_defaults_to_the_tutorials_optimizer(cli):
    out = cli("explain").stdout
    assert "eta_0 = 0.001, mu = 0.9, decay = 1e-07 (the tutorial's settings)" in out


def test_explain_shows_each_steps_gradient_and_the_loss_around_it(cli):
    result = cli("explain", "--layers", "2,3,2", "--seed", "4", "--samples", "3",
                 "--format", "json", "--lr", "0.5", "--decay", "0.1")  # fmt: skip
    entries = json.loads(result.stdout)["values"]
    values = {v["name"]: np.array(v["value"]) for v in entries if "name" in v}
    notes = [v["note"] for v in entries if "note" in v]
    rng = np.random.default_rng(4)
    mlp = MLP((2, 3, 2), seed=4, dtype=np.float64)
    x = np.round(rng.normal(size=(3, 2)), 2)
    y = rng.integers(0, 2, 3)
    opt = SGD(0.5, 0.9, 0.1)
    losses = [mlp.loss(x, mlp.as_targets(y, 3))]
    for step in (1, 2):
        grads = mlp.gradients(x, y)  # at the weights the previous step left
        for name, g in zip(("W_h", "W_out"), grads, strict=True):
            np.testing.assert_allclose(values[f"g ({name}) at step {step}"], g, rtol=1e-12)
        opt.step(mlp.weights, grads)
        losses.append(mlp.loss(x, mlp.as_targets(y, 3)))
    assert f"loss before the step L = {losses[0]:.8f}" in notes[-4]
    assert notes[-3].startswith(f"loss after step 1: L = {losses[1]:.8f}")
    assert f"loss before the step L = {losses[1]:.8f}" in notes[-2]
    assert notes[-1].startswith(f"loss after step 2: L = {losses[2]:.8f}")
    direction = ", down)" if losses[2] < losses[1] else ", up)"
    assert notes[-1].endswith(direction)
