"""The catalogue of theorems, walked row by row: each theorem has its check, theorem module, contract section,
docs page and docs/index.md row, mutants file, report and benchmark; and docs/adding-a-theorem.md, followed
for a toy theorem, puts the toy's rows into ``icrl-verify prove --json``."""

from __future__ import annotations

import dataclasses
import inspect
import json
import re
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from icrl_verify import catalogue
from icrl_verify.arith.kinds import KINDS
from icrl_verify.checks.base import Provable, TheoremCheck
from icrl_verify.cli import app

ROOT = Path(__file__).resolve().parents[1]
ROW = re.compile(r"^\| (T\w+) \| (.+?) \| .+? \| `(.+?)` \| \[.+?\]\((.+?)\) \|$", re.M)
"""A row of docs/index.md's theorem catalogue: key | theorem | source | `module` | [page](path)."""


def index_rows(root: Path) -> list[tuple[str, str, str, str]]:
    """(key, title, module, page) of every row of the catalogue table in ``root``/docs/index.md."""
    text = (root / "docs" / "index.md").read_text(encoding="utf-8")
    return [(key, title, module, f"docs/{page}") for key, title, module, page in ROW.findall(text)]


def problems(t: catalogue.Theorem, root: Path) -> list[str]:
    """What theorem ``t`` is missing of the steps of docs/adding-a-theorem.md, for a repository at ``root``."""
    found: list[str] = []
    factory = t.factory()
    if not (inspect.isclass(factory) and issubclass(factory, Provable)):
        found.append(f"check {t.check} is not a Provable class")
    elif getattr(factory, "key", None) != t.key:
        found.append(f"check {t.check} has key {getattr(factory, 'key', None)!r}")
    else:
        is_theorem_check = issubclass(factory, TheoremCheck)
        if t.user_construction != is_theorem_check:
            found.append(f"user_construction={t.user_construction} but TheoremCheck: {is_theorem_check}")
        if is_theorem_check:
            certified = tuple(k for k in KINDS if k != "exact" or factory.exact_certifiable)
            if t.kinds != certified:
                found.append(f"kinds {t.kinds} but the check certifies {certified}")
    if not t.kinds or not set(t.kinds) <= set(KINDS):
        found.append(f"kinds {t.kinds} are not backend kinds")
    module = root / t.module
    if not module.is_file() or not module.read_text(encoding="utf-8").startswith(f'"""{t.key} '):
        found.append(f"no theorem module {t.module} whose docstring starts with {t.key}")
    if not (root / t.page).is_file():
        found.append(f"no docs page {t.page}")
    if (t.key, t.title, t.module, t.page) not in index_rows(root):
        found.append(f"no row ({t.key} | {t.title} | `{t.module}` | {t.page}) in docs/index.md")
    contract = (root / "docs" / "contract.md").read_text(encoding="utf-8")
    if not re.search(rf"^## {re.escape(t.key)} ", contract, re.M):
        found.append(f"no section '## {t.key} ' in docs/contract.md")
    mutants = root / t.mutants
    if not mutants.is_file() or "mutant" not in mutants.read_text(encoding="utf-8").lower():
        found.append(f"no mutants file {t.mutants}")
    for ref in (t.report, t.bench):
        if ref is not None and not callable(catalogue.load(ref.path)):
            found.append(f"{ref.name}: {ref.path} is not a function")
    return found


@pytest.mark.parametrize("theorem", catalogue.CATALOGUE, ids=catalogue.keys())
def test_each_theorem_has_every_part(theorem: catalogue.Theorem) -> None:
    assert problems(theorem, ROOT) == []


def test_docs_index_lists_exactly_the_catalogue() -> None:
    assert index_rows(ROOT) == [(t.key, t.title, t.module, t.page) for t in catalogue.CATALOGUE]


def test_keys_are_unique_and_shared_reports_and_benchmarks_agree() -> None:
    assert len(set(catalogue.keys())) == len(catalogue.CATALOGUE)
    for field, named in (("report", catalogue.reports()), ("bench", catalogue.benchmarks())):
        for name, ref in named.items():
            paths = {r.path for t in catalogue.CATALOGUE if (r := getattr(t, field)) is not None and r.name == name}
            assert paths == {ref.path}, f"{field} {name} names two functions"


def test_a_statistical_check_prints_no_rows_outside_its_kinds() -> None:
    """Checks that are not TheoremChecks declare their kinds in the catalogue; outside them prove is empty."""
    for t in catalogue.CATALOGUE:
        outside = [k for k in KINDS if k not in t.kinds]
        if outside and not issubclass(t.factory(), TheoremCheck):  # type: ignore[arg-type]
            assert t.factory()().prove(outside, np.random.default_rng(0)) == [], t.key


def test_lookup_and_load_refuse_bad_names() -> None:
    with pytest.raises(ValueError, match=r"^theorem: expected one of T1, T1a"):
        catalogue.theorem("T9")
    with pytest.raises(ValueError, match=r"^path: expected 'package.module:attribute'"):
        catalogue.load("icrl_verify.catalogue")
    check = catalogue.theorem("T1").factory()()
    with pytest.raises(ValueError, match=r"^kind: expected one of exact, ball, mpmath, float64, torch, torch-cuda"):
        check.prove(["quantum"], np.random.default_rng(0))


def test_the_walk_catches_a_theorem_with_missing_parts() -> None:
    t1 = catalogue.theorem("T1")
    broken = dataclasses.replace(
        t1, key="T1z", kinds=("exact", "quantum"), mutants="tests/none.py", user_construction=False
    )
    found = " | ".join(problems(broken, ROOT))
    for part in ("has key 'T1'", "no theorem module", "no row", "no section", "no mutants file", "not backend kinds"):
        assert part in found, part
    assert "but the check certifies" in " ".join(problems(dataclasses.replace(t1, kinds=("exact",)), ROOT))
    assert "TheoremCheck: True" in " ".join(problems(dataclasses.replace(t1, user_construction=False), ROOT))


# --- docs/adding-a-theorem.md, followed for a toy theorem ------------------------------------------------

TOY_CHECK = '''
"""A toy theorem: doubling a matrix by adding it to itself equals scaling it by two."""

from fractions import Fraction
from pathlib import Path

import numpy as np
from hypothesis import strategies as st

from icrl_verify.certify import ClaimPair
from icrl_verify.checks.base import TheoremCheck

CLAIM = "x + x = 2 x"


class ToyCheck(TheoremCheck):
    key = "T9"
    title = "x + x = 2x"
    claims = (CLAIM,)
    factor = 2

    def sample_exact(self, rng):
        return np.array([[Fraction(int(rng.integers(-9, 10)), int(rng.integers(1, 5)))]], dtype=object)

    def sample_float(self, rng, batch):
        return rng.standard_normal((batch, 1, 1))

    def composed_pairs(self, bk, x):
        m = bk.asmatrix(x)
        return [ClaimPair(CLAIM, 0, bk.add(m, m), bk.scale(m, self.factor))]

    def step_pairs(self, bk, batch):
        return self.composed_pairs(bk, batch)

    def strategy(self, kind, d=None, depth=None):
        numbers = st.fractions(-9, 9, max_denominator=4) if kind in ("exact", "ball", "mpmath") else st.floats(-9, 9)
        return numbers.map(lambda v: np.array([[v]], dtype=object if isinstance(v, Fraction) else float))

    def batch_of(self, x):
        return np.asarray(x, dtype=float)[None]

    def single(self, batch, k):
        return batch[k]

    def describe(self, x):
        return f"d=1, x = {x[0, 0]}"


class ToyMutant(ToyCheck):
    factor = 3


def report_toy(out):
    path = Path(out) / "toy.txt"
    path.write_text("toy")
    return [path]


def bench_toy():
    return [("toy figure", 1.0, "1")]
'''

TOY_FILES = {
    "theorems/t9_toy.py": '"""T9 — a toy theorem: x + x = 2x."""\n',
    "tests/test_mutants_toy.py": '"""Mutants of T9: ToyMutant (x + x = 3x) is rejected."""\n',
    "docs/theorems/toy.md": "# T9: x + x = 2x\n",
    "docs/contract.md": "## T9 — x + x = 2x\n",
    "docs/index.md": "| T9 | x + x = 2x | ours | `theorems/t9_toy.py` | [toy](theorems/toy.md) |\n",
}


@pytest.fixture
def toy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[catalogue.Theorem, Path]:
    """The toy theorem's check module importable, its files written under a scratch repository root, and its
    catalogue line added: the steps of docs/adding-a-theorem.md."""
    (tmp_path / "toy_theorem.py").write_text(TOY_CHECK)
    monkeypatch.syspath_prepend(str(tmp_path))
    for path, text in TOY_FILES.items():
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_text(text)
    line = catalogue.Theorem(
        "T9", "x + x = 2x", "toy_theorem:ToyCheck", tuple(KINDS),
        catalogue.Ref("toy", "toy_theorem:report_toy"), catalogue.Ref("toy", "toy_theorem:bench_toy"),
        "docs/theorems/toy.md", "theorems/t9_toy.py", "tests/test_mutants_toy.py",
    )  # fmt: skip
    monkeypatch.setattr(catalogue, "CATALOGUE", (*catalogue.CATALOGUE, line))
    return line, tmp_path


def test_a_toy_theorem_added_by_the_documented_steps_is_proved(toy: tuple[catalogue.Theorem, Path]) -> None:
    line, root = toy
    assert problems(line, root) == []
    out = root / "cert.json"
    runner = CliRunner()
    result = runner.invoke(app, ["prove", "-t", "T9", "--budget", "0.34", "--json", str(out)])
    assert result.exit_code == 0, result.output
    rows = [(r["theorem"], r["claim"], r["backend"], r["verdict"]) for r in json.loads(out.read_text())["results"]]
    available = [k for k, kind in KINDS.items() if kind.available()]
    assert rows == [("T9", "x + x = 2 x", kind, "pass") for kind in available]
    assert "T9" in " ".join(runner.invoke(app, ["prove", "--help"]).output.split())
    assert runner.invoke(app, ["report", "--only", "toy", "--out", str(root / "figures")]).exit_code == 0
    assert (root / "figures" / "toy.txt").read_text() == "toy"
    assert "toy figure" in runner.invoke(app, ["bench", "--only", "toy"]).output


def test_the_toy_mutant_fails_with_a_minimal_counterexample(
    toy: tuple[catalogue.Theorem, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    line, _ = toy
    mutant = dataclasses.replace(line, check="toy_theorem:ToyMutant")
    monkeypatch.setattr(catalogue, "CATALOGUE", (mutant,))
    result = CliRunner().invoke(app, ["prove", "-t", "T9", "-b", "exact", "-b", "float64", "--budget", "0.05"])
    assert result.exit_code == 1, result.output
    assert result.output.count(": FAIL") == 2 and "minimal counterexample" in result.output
