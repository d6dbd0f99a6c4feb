"""Small mutation tester for one module: one-edit mutants, each run against a test selection (not part of pytest).

Usage (from the repository root):

    python ci/mutate.py icrl_verify/arith/running_error.py [--count 40] [--seed 0] [--rev 802e0c9]
        [--tests tests/test_error_model.py tests/test_verdicts.py ...] [--timeout 180]

The tree under test (the working tree, or ``--rev`` exported with ``git archive``) is copied once to a
temporary directory; each mutant edits the module there, runs ``pytest -x -q`` with ``CI=true`` on the
selection (test files missing from the tree are skipped), and the file is restored. A mutant is killed
when the run fails or times out. Survivors are printed with their diff; see ci/mutate.md.
"""

from __future__ import annotations

import argparse
import ast
import difflib
import io
import os
import random
import shutil
import subprocess
import sys
import tempfile
import tokenize
from dataclasses import dataclass
from pathlib import Path

DEFAULT_TESTS = (
    "tests/test_error_model.py",
    "tests/test_verdicts.py",
    "tests/test_backends.py",
    "theorems/t1_td0.py",
    "theorems/t1a_td_lambda.py",
    "theorems/t1b_residual_gradient.py",
    "theorems/t1c_average_reward.py",
    "theorems/t2_neu.py",
    "theorems/t3_cot.py",
    "theorems/t4_kernel_td.py",
)

OPERATOR_SWAPS = {
    "+": "-",
    "-": "+",
    "*": "/",
    "/": "*",
    "//": "/",
    "**": "*",
    "<": "<=",
    "<=": "<",
    ">": ">=",
    ">=": ">",
    "==": "!=",
    "!=": "==",
    "&": "|",
}
NAME_SWAPS = {
    "max": "min", "min": "max", "and": "or", "or": "and", "True": "False", "False": "True", "any": "all", "all": "any"
}


COMMUTATIVE = {"add", "hadamard", "_plus", "max", "min", "maximum", "minimum"}


@dataclass(frozen=True)
class Mutant:
    """One edit: replace source[start:end] (character offsets) by ``text``."""

    start: int
    end: int
    text: str
    label: str

    def apply(self, source: str) -> str:
        """The mutated source."""
        return source[: self.start] + self.text + source[self.end :]


def _offsets(source: str) -> list[int]:
    starts, total = [], 0
    for line in source.splitlines(keepends=True):
        starts.append(total)
        total += len(line)
    starts.append(total)
    return starts


def _number_edits(token: str) -> list[str]:
    value = ast.literal_eval(token)
    if isinstance(value, int):
        return [str(value + 1)] + (["1"] if value in (0, 2) else [])
    if isinstance(value, float):
        return [repr(value + 1.0)] + (["1.0"] if value in (0.0, 2.0) else [])
    return []


def candidates(source: str) -> list[Mutant]:
    """Every one-edit mutant of the code (docstrings and comments untouched, annotations skipped)."""
    starts = _offsets(source)
    pos = lambda row, col: starts[row - 1] + col  # noqa: E731
    annotations = _annotation_spans(source, pos)
    out: list[Mutant] = []
    tokens = list(tokenize.generate_tokens(io.StringIO(source).readline))
    for k, tok in enumerate(tokens):
        a, b = pos(*tok.start), pos(*tok.end)
        if any(lo <= a < hi for lo, hi in annotations):
            continue
        where = f"line {tok.start[0]}"
        if tok.type == tokenize.OP and tok.string in OPERATOR_SWAPS:
            swap = OPERATOR_SWAPS[tok.string]
            out.append(Mutant(a, b, swap, f"{where}: {tok.string} -> {swap}"))
        elif tok.type == tokenize.NUMBER:
            out += [Mutant(a, b, t, f"{where}: {tok.string} -> {t}") for t in _number_edits(tok.string)]
        elif tok.type == tokenize.NAME and tok.string in NAME_SWAPS:
            out.append(Mutant(a, b, NAME_SWAPS[tok.string], f"{where}: {tok.string} -> {NAME_SWAPS[tok.string]}"))
        elif tok.type == tokenize.NAME and tok.string == "abs" and tokens[k + 1].string == "(":
            out.append(Mutant(a, b, "", f"{where}: delete abs"))
        elif tok.type == tokenize.NAME and tok.string == "not":
            out.append(Mutant(a, b + 1, "", f"{where}: delete not"))
    out += _argument_swaps(source, pos)
    return out


def _annotation_spans(source: str, pos: object) -> list[tuple[int, int]]:
    spans = []
    for node in ast.walk(ast.parse(source)):
        ann = []
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            ann = [a.annotation for a in node.args.args + node.args.kwonlyargs if a.annotation] + [node.returns]
        elif isinstance(node, ast.AnnAssign):
            ann = [node.annotation]
        for n in ann:
            if n is not None:
                spans.append((pos(n.lineno, n.col_offset), pos(n.end_lineno, n.end_col_offset)))  # type: ignore[operator]
    return spans


def _argument_swaps(source: str, pos: object) -> list[Mutant]:
    out = []
    for node in ast.walk(ast.parse(source)):
        name = getattr(node, "func", None)
        name = getattr(name, "attr", getattr(name, "id", ""))
        if name in COMMUTATIVE:
            continue  # swapping the operands of a symmetric call is an equivalent mutant
        if isinstance(node, ast.Call) and len(node.args) == 2 and not node.keywords:
            x, y = node.args
            sx, sy = ast.get_source_segment(source, x), ast.get_source_segment(source, y)
            if sx is None or sy is None or sx == sy:
                continue
            a = pos(x.lineno, x.col_offset)  # type: ignore[operator]
            b = pos(y.end_lineno, y.end_col_offset)  # type: ignore[operator]
            middle = source[pos(x.end_lineno, x.end_col_offset) : pos(y.lineno, y.col_offset)]  # type: ignore[operator]
            out.append(Mutant(a, b, sy + middle + sx, f"line {node.lineno}: swap arguments of a call"))
    return out


def _run(tree: Path, tests: list[str], timeout: float) -> tuple[bool, str]:
    env = dict(os.environ, CI="true", PYTHONDONTWRITEBYTECODE="1")
    cmd = [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", *tests]
    try:
        done = subprocess.run(cmd, cwd=tree, env=env, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return False, "timeout"
    return done.returncode == 0, done.stdout[-400:]


def _export(rev: str | None, dest: Path) -> None:
    root = Path(__file__).resolve().parent.parent
    if rev is None:
        ignore = shutil.ignore_patterns(".git", "__pycache__", ".hypothesis", ".*_cache", "*.egg-info")
        shutil.copytree(root, dest, ignore=ignore, dirs_exist_ok=True)
        return
    archive = subprocess.run(["git", "-C", str(root), "archive", rev], check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(dest)], input=archive, check=True)


def main() -> int:
    """Generate, run and report the mutants of one module."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("module")
    parser.add_argument("--count", type=int, default=40)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--rev", default=None, help="git revision to test instead of the working tree")
    parser.add_argument("--tests", nargs="+", default=list(DEFAULT_TESTS))
    parser.add_argument("--timeout", type=float, default=180.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="mutate-") as tmp:
        tree = Path(tmp)
        _export(args.rev, tree)
        tests = [t for t in args.tests if (tree / t).exists()]
        target = tree / args.module
        original = target.read_text()
        ok, log = _run(tree, tests, args.timeout)
        if not ok:
            print(f"the unmutated tree fails the selection {tests}:\n{log}")
            return 2
        pool = candidates(original)
        chosen = sorted(random.Random(args.seed).sample(pool, min(args.count, len(pool))), key=lambda m: m.start)
        print(f"{args.module}: {len(pool)} candidate edits, running {len(chosen)}; tests: {' '.join(tests)}")
        survivors, invalid = [], 0
        try:
            for m in chosen:
                mutated = m.apply(original)
                try:
                    compile(mutated, str(target), "exec")
                except SyntaxError:
                    print(f"  invalid  {m.label}")
                    invalid += 1
                    continue
                target.write_text(mutated)
                passed, _ = _run(tree, tests, args.timeout)
                print(f"  {'SURVIVED' if passed else 'killed  '} {m.label}", flush=True)
                if passed:
                    survivors.append((m, mutated))
        finally:
            target.write_text(original)
        valid = len(chosen) - invalid
        print(f"\n{args.module}: killed {valid - len(survivors)} of {valid}, {len(survivors)} survived")
        for m, mutated in survivors:
            diff = difflib.unified_diff(original.splitlines(), mutated.splitlines(), lineterm="", n=0)
            print(f"\n--- survivor: {m.label}\n" + "\n".join(list(diff)[2:]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
