"""The walkthrough notebook: stored with the outputs of the current code, and runnable top to
bottom in a fresh kernel (regenerate the stored copy with `python notebooks/build.py`)."""

from __future__ import annotations

import pytest

from tests.conftest import ROOT

NOTEBOOK = ROOT / "notebooks" / "walkthrough.ipynb"
nbformat = pytest.importorskip("nbformat", reason="the notebook extra is not installed")


def _code_cells(notebook):
    return [c for c in notebook.cells if c.cell_type == "code"]


def test_stored_notebook_has_outputs_and_no_errors():
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    cells = _code_cells(notebook)
    with_output = [c for c in cells if c.outputs]
    assert len(with_output) >= len(cells) - 2, "regenerate it: python notebooks/build.py"
    errors = [o for c in cells for o in c.outputs if o.output_type == "error"]
    assert not errors, errors[0]
    text = "".join(o.get("text", "") for c in cells for o in c.outputs)
    assert "Rows: 60000, Columns: 784" in text and "First 3 labels: [5 0 4]" in text


def test_stored_notebook_matches_its_build_script():
    """The stored cells are the build script's: editing one without the other is caught."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("build", ROOT / "notebooks" / "build.py")
    build = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(build)
    stored = [c.source for c in nbformat.read(NOTEBOOK, as_version=4).cells]
    assert stored == [c.source for c in build.CELLS]


@pytest.mark.notebook
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
