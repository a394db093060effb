"""A small mutation run: one-line mutants of chosen modules, each against a chosen set of tests.

    python tools/mutate.py                      # every module in TARGETS, a seeded sample each
    python tools/mutate.py --per-file 0         # every mutant (slow)
    python tools/mutate.py numpy_mlp/checks/grad.py --per-file 20 --timeout 120
    python tools/mutate.py --list               # the mutants only, nothing run
    python tools/mutate.py --survivors-of runs/mutants.jsonl --out runs/again.jsonl   # after new tests

Mutants (found with Python's tokenizer, so strings, docstrings and comments are never touched):
flipped comparisons (< <=, > >=, == !=), + and - swapped (also += -=), integer constants off by
one (n -> n + 1, and n -> n - 1 for n > 0: axis=0 -> axis=1, [:, 0] -> [:, 1], range bounds).
Each mutant is applied to a copy of the working tree (the files git knows, plus untracked ones
not ignored) and the module's tests run there with pytest -x -q -p no:cacheprovider; a failing
test or a timeout kills it. The unmutated copy must pass those tests first (else the module is
skipped). Prints killed/survived per mutant, the score and the survivors (file:line, the change,
the line), and writes every result as JSON lines to --out.

TARGETS maps each module to the tests that name it (pytest arguments, -k and -m included); choose
small sets so a run takes minutes. The lead reruns this on merged main.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
import tokenize
from dataclasses import asdict, dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FAST = ["-m", "not slow and not keras"]
TARGETS: dict[str, list[str]] = {
    "numpy_mlp/checks/grad.py": ["tests/test_check_grad.py", *FAST],
    "numpy_mlp/checks/gradcheck.py": [
        "tests/test_mlp.py", "tests/test_planted_bugs.py", "tests/test_cli_numpy.py", "-k",
        "grad or backprop or bias or relative or bug or thousand or step", *FAST,
    ],
    "numpy_mlp/checks/bugs.py": ["tests/test_cli_numpy.py", "-k", "bug or thousand", *FAST],
    "numpy_mlp/training/callbacks.py": [
        "tests/test_callbacks_keras.py", "tests/test_training_parts.py", "-k",
        "(early or keras) and not run_with",
    ],
    "numpy_mlp/training/divergence.py": ["tests/test_training.py", "tests/test_planted_bugs.py",
                                         "tests/test_mutation_survivors.py",
                                         "-k", "diverg or finite", *FAST],
    "numpy_mlp/training/stacked.py": ["tests/test_fit_many.py", "tests/test_planted_bugs.py",
                                      "tests/test_mutation_survivors.py",
                                      "-k", "fit_many or diverg or stack", *FAST],
    "numpy_mlp/training/loop.py": ["tests/test_training.py", "tests/test_mutation_survivors.py",
                                   *FAST],
    "numpy_mlp/training/optimizers.py": ["tests/test_training.py", "tests/test_training_parts.py",
                                         *FAST],
    "numpy_mlp/training/batches.py": ["tests/test_training_parts.py", "tests/test_training.py",
                                      *FAST],
    "numpy_mlp/training/flow.py": ["tests/test_flow.py", "tests/test_mutation_survivors.py",
                                   *FAST],
    "numpy_mlp/training/fast.py": ["tests/test_training.py", "tests/test_mutation_survivors.py",
                                   *FAST],
    "numpy_mlp/training/profile.py": ["tests/test_profile.py", *FAST],
    "compare/studies/lessons.py": ["tests/test_study_lessons.py", "tests/test_planted_bugs.py",
                                   "tests/test_mutation_survivors.py", *FAST],
    "compare/studies/sweep_lessons.py": ["tests/test_study_lessons.py",
                                         "tests/test_mutation_survivors.py", *FAST],
    "compare/studies/store.py": ["tests/test_planted_bugs.py", "tests/test_study_limits.py",
                                 "-k", "best_epoch or resume or set_aside or cell or stored", *FAST],
}  # fmt: skip

SWAPS = {"<": "<=", "<=": "<", ">": ">=", ">=": ">", "==": "!=", "!=": "==", "+": "-", "-": "+",
         "+=": "-=", "-=": "+="}  # fmt: skip


@dataclass
class Mutant:
    path: str
    line: int
    col: int
    old: str
    new: str
    text: str  # the source line, mutated
    original: str  # the source line as it is

    def label(self) -> str:
        return f"{self.path}:{self.line}: {self.old} -> {self.new}"


def mutants_of(path: str) -> list[Mutant]:
    """Every one-token mutant of the file (see the module docstring)."""
    source = (ROOT / path).read_text()
    lines = source.splitlines(keepends=True)
    found = []
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        row, col = tok.start
        if tok.end[0] != row:
            continue
        replacements = []
        if tok.type == tokenize.OP and tok.string in SWAPS:
            replacements = [SWAPS[tok.string]]
        elif tok.type == tokenize.NUMBER and tok.string.isdigit():
            n = int(tok.string)
            replacements = [str(n + 1)] + ([str(n - 1)] if n > 0 else [])
        for new in replacements:
            line = lines[row - 1]
            text = line[:col] + new + line[tok.end[1] :]
            found.append(
                Mutant(path, row, col, tok.string, new, text.rstrip("\n"), line.rstrip("\n"))
            )
    return found


def copy_tree(dest: Path) -> None:
    """The files git lists (tracked, and untracked but not ignored), copied under dest."""
    names = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT, capture_output=True, check=True,
    ).stdout.split(b"\0")  # fmt: skip
    for name in filter(None, names):
        src = ROOT / os.fsdecode(name)
        if src.is_file():
            target = dest / os.fsdecode(name)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, target)


def run_tests(tree: Path, tests: list[str], timeout: float) -> tuple[str, float]:
    """('passed' | 'failed' | 'timeout', seconds) of pytest on the tree."""
    env = {**os.environ, "PYTHONPATH": str(tree), "PYTHONDONTWRITEBYTECODE": "1"}
    started = time.perf_counter()
    cmd = [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", *tests]
    try:
        result = subprocess.run(cmd, cwd=tree, env=env, capture_output=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return "timeout", time.perf_counter() - started
    return ("passed" if result.returncode == 0 else "failed"), time.perf_counter() - started


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("files", nargs="*", help="modules to mutate (default: all of TARGETS)")
    parser.add_argument(
        "--per-file",
        type=int,
        default=12,
        help="a seeded sample of this many mutants per module (0: all)",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--timeout",
        type=float,
        default=None,
        help="seconds per test run (default: 4 x the clean run, at least 30)",
    )
    parser.add_argument("--out", default="runs/mutants.jsonl", help="JSON lines, one per mutant")
    parser.add_argument(
        "--match", default=None, help="only mutants whose source line contains this text"
    )
    parser.add_argument(
        "--survivors-of",
        metavar="RESULTS.jsonl",
        default=None,
        help="rerun only the mutants that survived in an earlier --out file "
        "(matched by module, change and mutated line, wherever the line is now)",
    )
    parser.add_argument("--list", action="store_true", help="list the mutants, run nothing")
    args = parser.parse_args(argv)  # fmt: skip
    files = args.files or list(TARGETS)
    unknown = [f for f in files if f not in TARGETS]
    if unknown:
        parser.error(f"no tests chosen for {', '.join(unknown)}; add them to TARGETS")
    rng = random.Random(args.seed)
    wanted = None
    if args.survivors_of:
        with open(args.survivors_of) as handle:
            earlier = [json.loads(line) for line in handle if line.strip()]
        wanted = {(r["path"], r["old"], r["new"], r["text"].strip())
                  for r in earlier if r["result"] == "survived"}  # fmt: skip
        files = [f for f in files if any(w[0] == f for w in wanted)]
    plan = {}
    for path in files:
        every = [m for m in mutants_of(path) if args.match is None or args.match in m.original]
        if wanted is not None:
            every = [m for m in every if (m.path, m.old, m.new, m.text.strip()) in wanted]
        elif args.per_file and len(every) > args.per_file:
            every = sorted(rng.sample(every, args.per_file), key=lambda m: (m.line, m.col))
        plan[path] = every
    if args.list:
        for ms in plan.values():
            for m in ms:
                print(f"{m.label():<60} {m.text.strip()}")
        return 0
    results, survivors = [], []
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="mutate-") as tmp, open(args.out, "w") as out:
        tree = Path(tmp)
        copy_tree(tree)
        for path, ms in plan.items():
            if not ms:
                continue
            tests = TARGETS[path]
            clean, seconds = run_tests(tree, tests, timeout=1800)
            if clean != "passed":
                print(f"{path}: its tests do not pass unmutated ({clean}); skipped", flush=True)
                continue
            timeout = args.timeout or max(30.0, 4 * seconds)
            print(f"{path}: {len(ms)} mutants, tests {' '.join(tests)} ({seconds:.0f} s clean)",
                  flush=True)  # fmt: skip
            original = (tree / path).read_text()
            lines = original.splitlines(keepends=True)
            for m in ms:
                mutated = lines.copy()
                mutated[m.line - 1] = m.text + "\n"
                (tree / path).write_text("".join(mutated))
                try:
                    verdict, took = run_tests(tree, tests, timeout)
                finally:
                    (tree / path).write_text(original)
                state = "survived" if verdict == "passed" else "killed"
                if verdict == "timeout":
                    state = "killed (timeout)"
                print(f"  {state:<17} {m.label():<58} {took:5.1f} s  {m.text.strip()[:70]}",
                      flush=True)  # fmt: skip
                record = {**asdict(m), "result": state, "seconds": round(took, 1)}
                out.write(json.dumps(record) + "\n")
                results.append(record)
                if state == "survived":
                    survivors.append(m)
    killed = sum(r["result"] != "survived" for r in results)
    print(f"\nmutation score: {killed} of {len(results)} killed"
          + (f" ({killed / len(results):.0%})" if results else ""))  # fmt: skip
    if survivors:
        print("survivors (each needs a test, or a note why it is equivalent):")
        for m in survivors:
            print(f"  {m.label():<58} {m.text.strip()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
