"""Budgets: every property test scales with the selected Hypothesis profile and --max-examples."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

PROBE = '''
from hypothesis import given, strategies as st
from icrl_verify.testing import budget

RUNS = []

@budget(10)
@given(st.integers())
def test_probe(x):
    RUNS.append(x)

def test_report():
    print(f"PROBE-RAN {len(RUNS)}")
'''


def _examples_run(tmp_path: Path, *options: str) -> int:
    probe = tmp_path / "test_probe_budget.py"
    probe.write_text(PROBE)
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-s", "-p", "no:cacheprovider", "-p", "conftest",
         f"--rootdir={tmp_path}", str(probe), *options],
        cwd=ROOT, capture_output=True, text=True, env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    match = re.search(r"PROBE-RAN (\d+)", done.stdout)
    assert match, done.stdout
    return int(match.group(1))


def test_max_examples_option_scales_a_budgeted_test(tmp_path: Path) -> None:
    small = _examples_run(tmp_path, "--max-examples", "25")
    large = _examples_run(tmp_path, "--max-examples", "100")
    assert small == 10, "at the reference budget (25) a budget(10) test runs 10 examples"
    assert large == 40, "four times the budget runs four times the examples"


def test_profiles_reach_budgeted_tests(tmp_path: Path) -> None:
    ci = _examples_run(tmp_path, "--hypothesis-profile", "icrl-ci")
    thorough = _examples_run(tmp_path, "--hypothesis-profile", "thorough")
    assert ci == 10
    assert thorough == 200, "thorough (500 examples) runs 20x the icrl-ci share"


def test_no_property_test_pins_its_budget() -> None:
    pinned = [
        f"{path.relative_to(ROOT)}:{i}"
        for folder in ("theorems", "tests")
        for path in sorted((ROOT / folder).glob("*.py"))
        for i, line in enumerate(path.read_text().splitlines(), 1)
        if re.match(r"\s*@settings\(.*max_examples", line) and "not a budget" not in line
    ]
    assert not pinned, f"use @budget(k) so profiles and --max-examples reach these tests: {pinned}"
