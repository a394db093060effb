"""The walkthrough notebook: its source is the jupytext script notebooks/walkthrough.py; the
paired .ipynb is stored in sync with it, with the outputs of the current code, and runs top to
bottom in a fresh kernel (regenerate the stored copy with `python notebooks/build.py`)."""

from __future__ import annotations

import math
import os
import re
import subprocess
import sys

import pytest

from tests.conftest import ROOT
from tests.test_notebook_exercises import task_cells

NOTEBOOK = ROOT / "notebooks" / "walkthrough.ipynb"
SOURCE = ROOT / "notebooks" / "walkthrough.py"
nbformat = pytest.importorskip("nbformat", reason="the notebook extra is not installed")


def _code_cells(notebook):
    return [c for c in notebook.cells if c.cell_type == "code"]


def _texts(cell) -> tuple[str, list[str]]:
    """(printed text, displayed Markdown paragraphs) of one code cell."""
    printed = "".join(o.get("text", "") for o in cell.outputs if o.output_type == "stream")
    markdown = [
        o.data["text/markdown"]
        for o in cell.outputs
        if o.output_type in ("display_data", "execute_result") and "text/markdown" in o.data
    ]
    return printed, markdown


def _cell(notebook, start: str):
    return next(c for c in _code_cells(notebook) if c.source.startswith(start))


def check_sentences_agree_with_the_numbers(notebook) -> None:
    """The generated sentences against the numbers printed beside them (as a reader would)."""
    printed, said = _texts(_cell(notebook, "untrained = MLP("))
    loss = float(re.search(r"Initial loss: ([\d.]+) \(ln 10 = 2.3026\)", printed)[1])
    assert f"loss is {loss:.4f}" in said[0]
    assert ("above ln 10" in said[0]) == (loss > 2.3026 + 0.05)
    assert "Parameters: 42,310 (785x50 + 51x50 + 51x10" in printed
    printed, said = _texts(_cell(notebook, "tiny = MLP("))
    assert "Training accuracy on 100 examples after 60 epochs: 100.00 %" in printed
    assert "100.00 %, first reached in epoch" in said[0]
    final_loss = float(re.search(r"([\d.]+) at the end", printed)[1])
    assert ("near zero" in said[0]) == (final_loss < 0.1), said[0]
    printed, said = _texts(_cell(notebook, "shuffled_labels = "))
    real, shuffled = (
        tuple(map(float, re.search(rf"{kind} labels: training accuracy ([\d.]+) %, test accuracy "
                                   r"([\d.]+) %", printed).groups()))
        for kind in ("real", "shuffled")
    )  # fmt: skip
    assert real[1] > 50 and shuffled[0] >= 99  # real labels generalize; shuffled ones memorized
    assert ("It memorized noise" in said[0]) == (shuffled[1] <= 11.35 + 5), said[0]

    check_vanishing_cell(
        *_texts(_cell(notebook, "from compare.studies.lessons import decomposition"))
    )
    check_larger_rates_cell(
        *_texts(_cell(notebook, "from compare.studies.lessons import learning_v"))
    )

    check_learning_rate_cell(*_texts(_cell(notebook, "from numpy_mlp import fit_many\n\nrates")))


def check_learning_rate_cell(printed: str, said: list[str]) -> None:
    """Section 9: the best rate and each rate's verdict against the printed means."""
    start = float(re.search(r"untrained networks' loss on these rows: ([\d.]+)", printed)[1])
    runs = re.findall(r"learning rate (\S+) +training loss +([\d.]+), .* validation accuracy +"
                      r"([\d.]+) %.*$", printed, re.M)  # fmt: skip
    stopped = re.findall(r"learning rate (\S+) *; diverged on (\d+) of (\d+) seeds", printed)
    assert len(runs) + len(stopped) == 5
    assert said[0].startswith("Each rate trained 5 networks") and "95 % t-interval" in said[0]
    lines = dict(re.findall(r"learning rate (\S+) +(.*)$", printed, re.M))
    learned = [
        (lr, float(acc))
        for lr, loss, acc in runs
        if float(loss) < start and "diverged" not in lines[lr]
    ]
    best = max(learned, key=lambda r: r[1])
    assert said[1].startswith(f"Best: learning rate {best[0]}, validation accuracy {best[1]:.2f} %")
    for lr, *_ in stopped:
        assert any(re.match(rf"{re.escape(lr)} \(\w+\): diverged on", s) for s in said), lr
    for lr, loss, _ in runs:
        mine = next((s for s in said if s.startswith(f"{lr} (")), "")
        assert (lr == best[0]) == (mine == ""), (lr, mine)
        assert ("no lower than the" in mine) == (float(loss) >= start), (lr, mine)
        if mine and "diverged" not in mine and "no lower" not in mine:
            # the verdict follows the printed interval of the difference: apart iff it excludes 0
            low, high = map(
                float, re.search(r"difference \([^)]*\) \[([-\d.]+), ([-\d.]+)\]", mine).groups()
            )
            assert ("excludes 0: apart" in mine) == (low > 0 or high < 0), mine
            assert ("excludes 0: apart" in mine) != ("includes 0: within noise" in mine), mine


def _depths(depths: list[int]) -> str:
    """'depth 8', 'depths 1 and 4', 'depths 1, 2 and 4', as a reader would list them."""
    words = [str(d) for d in depths]
    listed = words[0] if len(words) == 1 else f"{', '.join(words[:-1])} and {words[-1]}"
    return f"depth{'s' * (len(words) > 1)} {listed}"


def check_larger_rates_cell(printed: str, said: list[str]) -> None:
    """Section 8's larger rates: depth is blamed only when no larger rate is owed."""
    owed = []
    for activation, depth, cells in re.findall(r"^(\w+) +depth (\d+): (lr .*)$", printed, re.M):
        accuracies = [
            None if a == "diverged" else float(a.rstrip(" %"))
            for a in re.findall(r"lr [\d.e-]+: (diverged|[\d.]+ %)", cells)
        ]
        assert len(accuracies) == 5, cells  # the three rates and the two added
        top = accuracies[-1]
        if top is not None and (top >= max(a for a in accuracies if a is not None) or top <= 16.35):
            owed.append((activation, depth))
    text = " ".join(said)
    if owed:  # a larger rate is still owed: say so, and do not blame depth
        assert "depth, not the learning rate" not in text, text
        assert "a larger rate must be tried" in text or "Best at the largest rate" in text


def check_vanishing_cell(printed: str, said: list[str]) -> None:
    """Section 8: the backward factors, their decomposition, and the learns-at-some-rate verdicts
    against the printed table."""
    factors = re.findall(r"^(\w+) +depth (\d+): ([\d. ]+?) +geometric mean ([\d.]+)", printed, re.M)
    assert {a for a, *_ in factors} == {"logistic", "tanh", "relu"}
    for activation, depth, values, mean in factors:
        values = [float(v) for v in values.split()]
        assert len(values) == int(depth) - 1  # one per pair of neighbouring hidden layers
        assert float(mean) == pytest.approx(math.prod(values) ** (1 / len(values)), abs=0.01)
        deepest = max(int(d) for a, d, *_ in factors if a == activation)
        if int(depth) == deepest:
            sentence = next(s for s in said if s.startswith(f"{activation}, "))
            total = float(mean) ** len(values)
            assert ("it shrinks on its way down" in sentence) == (total < 0.5), sentence
            assert ("it keeps its size on its way down" in sentence) == (0.5 <= total <= 2)
            assert "backward pass alone" not in sentence
    means = {a: float(m) for a, d, _, m in factors if d == "8"}
    assert means["logistic"] < 0.35  # the f' <= 1/4 bound at work: the lesson must show
    assert means["tanh"] < 0.95 and 0.9 < means["relu"] < 1.1  # tanh's delta shrinks, ReLU's keeps
    decomposed = dict(
        (a, (float(w), float(b), float(f)))
        for a, w, b, f in re.findall(r"^(\w+) +([\d.]+) = ([\d.]+) x ([\d.]+)$", printed, re.M)
    )
    for w, b, f in decomposed.values():  # weight-gradient factor = backward x forward
        assert w == pytest.approx(b * f, abs=0.015)
    spread = re.search(r"^logistic unit spread ([\de.\- ]+); logits ([\de.\-]+)", printed, re.M)
    layers = [float(v) for v in spread[1].split()]
    logistic = next(s for s in said if s.startswith("logistic, "))
    collapsed = layers[-1] / layers[0] < 0.01
    assert ("forward signal collapses" in logistic) == collapsed
    assert ("ignores the input" in logistic) == (collapsed and float(spread[2]) < 0.01)

    top, share = re.search(
        r"Most common digit in the test set: (\d) \(([\d.]+) % of the test", printed
    ).groups()
    share = float(share)
    assert f"ln 10 = {math.log(10):.3f}" in printed
    rates = re.findall(r"lr (\S+)", printed.split("Test accuracy (test loss)")[1].splitlines()[1])
    table = {}
    for activation, depth, rest in re.findall(
        r"^(\w+) +depth (\d+):((?: +(?:[\d.]+ % \([\d.]+\)|diverged \(epoch \d+\)))+)$",
        printed,
        re.M,
    ):
        cells = re.findall(r"([\d.]+) % \(([\d.]+)\)|diverged", rest)
        assert len(cells) == len(rates), rest
        table[activation, int(depth)] = [
            (float(a), float(loss)) if a else None for a, loss in cells
        ]
    assert len(table) == 12
    learned, chance = (share + 100) / 2, share + 5
    stuck_anywhere = []
    for activation in ("logistic", "tanh", "relu"):
        sentence = next(s for s in said if s.startswith(f"**{activation}** "))
        mine = sorted((d, c) for (a, d), c in table.items() if a == activation)
        learners = [d for d, c in mine if any(x and x[0] > learned for x in c)]
        above = [d for d, c in mine if d not in learners and any(x and x[0] > chance for x in c)]
        stuck = [d for d, _ in mine if d not in learners and d not in above]
        stuck_anywhere += [(activation, d) for d in stuck]
        assert (f"learns at one rate or more at {_depths(learners)}" in sentence) == bool(learners)
        assert ("learns at none of the rates" in sentence) == bool(stuck), sentence
        if above:
            assert f"above chance but learns at no rate at {_depths(above)}" in sentence
        else:
            assert "above chance but learns at no rate" not in sentence
        if stuck:
            assert f"at {_depths(stuck)}." in sentence
        for d in stuck:
            if any(x and x[0] <= chance for x in dict(mine)[d]):
                assert f"ln 10 = {math.log(10):.3f}" in sentence and f"{share:.2f} %" in sentence
        for d, cells in mine:
            slow = d in learners and cells[0] is not None and cells[0][0] <= learned
            assert (f"At lr {rates[0]} alone, depth {d} would look unable" in sentence) == slow
    closing = said[-1]
    if stuck_anywhere:
        names = [f"{a} with {d} hidden layers" for a, d in stuck_anywhere]
        assert closing.startswith(f"Only {names[0]}"), closing
    else:
        assert closing.startswith("Every network learns at one rate or more"), closing


def test_stored_sentences_agree_with_the_stored_numbers():
    check_sentences_agree_with_the_numbers(nbformat.read(NOTEBOOK, as_version=4))


def test_stored_notebook_has_outputs_and_no_errors():
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    cells = _code_cells(notebook)
    tasks = set(task_cells().values())  # a task cell may define without printing
    silent = [c for c in cells if not c.outputs and c.source not in tasks]
    assert len(silent) <= 2, "regenerate it: python notebooks/build.py"
    errors = [o for c in cells for o in c.outputs if o.output_type == "error"]
    assert not errors, errors[0]
    text = "".join(o.get("text", "") for c in cells for o in c.outputs)
    assert "Rows: 60000, Columns: 784" in text and "First 3 labels: [5 0 4]" in text


def test_stored_notebook_is_in_sync_with_its_script():
    """The stored cells are the script's (kinds, sources, tags): editing one without the other,
    or the script without rebuilding, is caught. The pair is declared in both."""
    jupytext = pytest.importorskip("jupytext", reason="the notebook extra is not installed")
    stored, source = nbformat.read(NOTEBOOK, as_version=4), jupytext.read(SOURCE)

    def cells(notebook):
        return [(c.cell_type, c.source, c.metadata.get("tags", [])) for c in notebook.cells]

    assert cells(stored) == cells(source), "rebuild it: python notebooks/build.py"
    for notebook in (stored, source):
        assert notebook.metadata["jupytext"]["formats"] == "ipynb,py:percent"


@pytest.mark.notebook
@pytest.mark.keras  # the notebook trains the Keras model too
def test_notebook_runs_top_to_bottom_in_a_fresh_kernel():
    from nbclient import NotebookClient

    notebook = nbformat.read(NOTEBOOK, as_version=4)
    for cell in _code_cells(notebook):
        cell.outputs = []
    NotebookClient(
        notebook, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(ROOT)}}
    ).execute()  # raises CellExecutionError on any error
    text = "".join(o.get("text", "") for c in _code_cells(notebook) for o in c.outputs)
    assert "float64: largest |W_numpy - W_keras| after 300 updates" in text
    assert "FAILS" in text  # the broken backprop is caught
    check_sentences_agree_with_the_numbers(notebook)


def test_build_without_mnist_says_what_to_do_in_one_line(tmp_path):
    pytest.importorskip("nbclient", reason="the notebook extra is not installed")
    env = {**os.environ, "MNIST_DIR": str(tmp_path / "no-such-folder")}
    result = subprocess.run(
        [sys.executable, "notebooks/build.py"], capture_output=True, text=True, cwd=ROOT, env=env
    )
    assert result.returncode == 2 and "Traceback" not in result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("notebooks/build.py: MNIST is not available") and "MNIST_DIR" in last
