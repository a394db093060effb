"""The architecture, checked: imports point one way, and NumPy-only use never loads TensorFlow.

The import graph is read from the source (every `import` statement, at module level or inside a
function), so a circle hidden behind a function-level import is found too.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

PACKAGES = ("numpy_mlp", "keras_mlp", "compare")

# The only imports that point up a room: MLP.fit/save/load call into training and saving when
# called. Nothing imports them at import time, and neither imports the model back (see
# numpy_mlp/__init__.py), so even with these edges the graph has no circle.
ENTRY_POINTS = {
    ("numpy_mlp.model.mlp", "numpy_mlp.training.loop"),
    ("numpy_mlp.model.mlp", "numpy_mlp.saving.model_file"),
}

# Which rooms of numpy_mlp may import which, at import time and inside functions.
ROOMS = {
    "io": {"io"},  # the ground floor
    "data": {"data", "io"},
    "model": {"model", "io"},
    "training": {"training", "model", "io"},
    "checks": {"checks", "model", "io"},
    "saving": {"saving", "model", "training", "io"},  # writes what the model and optimizer hold
}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            found[_module_name(path)] = path
    return found


def _imports(path: Path, modules: dict[str, Path], *, top_level_only: bool) -> set[str]:
    """The project modules `path` imports (`from pkg import name` counts as pkg.name if a module)."""
    tree = ast.parse(path.read_text())
    # `if TYPE_CHECKING:` blocks never run: their imports serve annotations only
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and getattr(node.test, "id", None) == "TYPE_CHECKING":
            node.body = []
    nodes = tree.body if top_level_only else list(ast.walk(tree))
    targets: set[str] = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [f"{node.module}.{alias.name}" for alias in node.names] + [node.module]
            names = [n for n in names[:-1] if n in modules] or [node.module]
        else:
            continue
        targets |= {n for n in names if n in modules}
    return targets


def _graph(*, top_level_only: bool) -> dict[str, set[str]]:
    modules = _modules()
    return {
        name: _imports(path, modules, top_level_only=top_level_only)
        for name, path in modules.items()
    }


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every cycle found by depth-first search (each reported once per back edge)."""
    found, state, stack = [], {}, []

    def visit(node: str) -> None:
        state[node] = "open"
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == "open":
                found.append(stack[stack.index(nxt) :] + [nxt])
            elif nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = "done"

    for node in sorted(graph):
        if node not in state:
            visit(node)
    return found


def test_graph_sees_the_project():
    graph = _graph(top_level_only=False)
    assert {"numpy_mlp.model.mlp", "compare.cli", "keras_mlp.model"} <= set(graph)
    assert "numpy_mlp.model.activations" in graph["numpy_mlp.model.mlp"]
    assert "numpy_mlp.training.loop" in graph["numpy_mlp.model.mlp"]  # an entry point
    assert "numpy_mlp.training.loop" not in _graph(top_level_only=True)["numpy_mlp.model.mlp"]


def test_graph_skips_type_checking_imports():
    # training names MLP in annotations only; a TYPE_CHECKING import never runs
    assert "numpy_mlp.model.mlp" in (ROOT / "numpy_mlp/training/loop.py").read_text()
    assert "numpy_mlp.model.mlp" not in _graph(top_level_only=False)["numpy_mlp.training.loop"]


def test_cycle_finder_finds_a_planted_cycle():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert _cycles(graph) == [["a", "b", "c", "a"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_circle_at_import_time():
    assert _cycles(_graph(top_level_only=True)) == []


def test_no_import_circle_even_inside_functions():
    """Call-time imports count: a module never imports (at any time) one that imports it back."""
    assert _cycles(_graph(top_level_only=False)) == []


def test_the_entry_points_are_the_documented_ones():
    graph = _graph(top_level_only=False)
    for source, target in ENTRY_POINTS:
        assert target in graph[source], f"entry point {source} -> {target} is gone: update the list"


def test_dependencies_point_one_way_between_packages():
    order = {"numpy_mlp": 0, "keras_mlp": 1, "compare": 2}
    for source, targets in _graph(top_level_only=False).items():
        for target in targets:
            assert order[target.split(".")[0]] <= order[source.split(".")[0]], (source, target)


@pytest.mark.parametrize("top_level_only", [True, False], ids=["import-time", "call-time"])
def test_rooms_of_numpy_mlp_import_only_what_they_build_on(top_level_only):
    for source, targets in _graph(top_level_only=top_level_only).items():
        parts = source.split(".")
        if parts[0] != "numpy_mlp" or len(parts) < 3:
            continue
        for target in targets:
            if target.split(".")[0] != "numpy_mlp" or (source, target) in ENTRY_POINTS:
                continue
            room = target.split(".")[1] if target.count(".") >= 1 else None
            assert room in ROOMS[parts[1]], f"{source} imports {target}"


def test_every_room_is_listed_in_the_package_docstring():
    import numpy_mlp

    rooms = sorted(p.name for p in (ROOT / "numpy_mlp").iterdir() if (p / "__init__.py").exists())
    assert rooms == sorted(ROOMS)
    for room in rooms:
        assert f"    {room}/" in numpy_mlp.__doc__


@pytest.mark.parametrize("command", ["", "run", "train", "gradcheck", "explain", "lockstep"])
def test_numpy_only_use_and_help_never_import_tensorflow(command):
    code = (
        "import sys, contextlib, io\n"
        "import numpy_mlp, numpy_mlp.training.loop, numpy_mlp.checks.gradcheck, numpy_mlp.saving.model_file\n"
        "import keras_mlp, compare.cli\n"
        f"argv = [{command!r}, '--help'] if {command!r} else ['--help']\n"
        "with contextlib.redirect_stdout(io.StringIO()) as out, contextlib.suppress(SystemExit):\n"
        "    compare.cli.main(argv)\n"
        "assert 'usage' in out.getvalue()\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'tensorflow', 'keras'}))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    )
    assert result.stdout.strip() == "[]"
