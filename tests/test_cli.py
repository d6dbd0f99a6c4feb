"""The icrl-verify command: prove prints the certificate and fails on a failure; bad arguments are refused;
``--help`` reads the catalogue and loads no torch, scipy or matplotlib."""

from __future__ import annotations

import dataclasses
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from typer.testing import CliRunner

from icrl_verify import catalogue
from icrl_verify.arith.kinds import KINDS
from icrl_verify.checks.td_family import TD0Check
from icrl_verify.cli import app

runner = CliRunner()
ROOT = Path(__file__).resolve().parents[1]
HEAVY = ("torch", "scipy", "matplotlib")
"""Modules ``--help`` must not load."""


def _only(monkeypatch: pytest.MonkeyPatch, *rows: catalogue.Theorem) -> None:
    """Make ``rows`` the whole catalogue for one test."""
    monkeypatch.setattr(catalogue, "CATALOGUE", rows)


def _flat(output: str) -> str:
    """The output with the box drawing and line breaks of rich's panels turned into single spaces."""
    return " ".join(output.replace("│", " ").split())


def test_prove_t1_prints_table_and_writes_json(tmp_path: Path) -> None:
    out = tmp_path / "cert.json"
    # 0.34: the smallest budget that gives T1 at least one instance on every backend (mpmath: 3 x 0.34 >= 1)
    result = runner.invoke(app, ["prove", "-t", "T1", "--budget", "0.34", "--json", str(out)])
    assert result.exit_code == 0, result.output
    assert "T1" in result.output and "exact" in result.output and "0 failed" in result.output
    payload = json.loads(out.read_text())
    backends = {r["backend"] for r in payload["results"]}
    assert {"exact", "ball", "mpmath", "float64", "torch"} <= backends
    assert all(r["verdict"] == "pass" for r in payload["results"])


def broken() -> TD0Check:
    """T1's check with the readout sign flipped: the query claim fails."""
    check = TD0Check(depth=3)
    check.readout_sign = +1
    return check


def test_prove_exits_nonzero_when_a_claim_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    _only(monkeypatch, dataclasses.replace(catalogue.theorem("T1"), check=f"{__name__}:broken"))
    result = runner.invoke(app, ["prove", "-t", "T1", "-b", "exact", "-b", "float64", "--budget", "0.05"])
    assert result.exit_code == 1
    failures = result.output[result.output.index(": FAIL") :].split("passed,")[0]
    blocks = [b for b in failures.split(": FAIL") if b.strip()]
    assert len(blocks) == 2, "the query claim fails on exact and on float64"
    for block in blocks:
        lines = block.strip().splitlines()
        assert len(lines) <= 25, block
        assert "minimal counterexample (shrunk" in block and "d=1, n=1, L=1" in block, block
        assert "transformer side" in block and "reference side" in block and "allowed" in block
    assert "batch entry" not in result.output, "a float failure names its instance, not its batch index"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["prove", "-t", "T99"], "unknown theorem T99"),
        (["prove", "-b", "quantum"], "unknown backend quantum"),
        (["prove", "--budget", "0"], "--budget must be positive"),
        (["prove", "--budget", "inf"], "--budget must be positive and finite, got inf"),
        (["prove", "--budget", "nan"], "--budget must be positive and finite, got nan"),
        (["prove", "--budget", "-1"], "--budget must be positive and finite, got -1.0"),
        (["prove", "--budget", "1e-9"], "--budget 1e-09 < 0.5: too small for one T4 instance on mpmath"),
        (["prove", "-t", "T1", "--budget", "0.1"], "--budget 0.1 < 0.333: too small for one T1 instance on mpmath"),
        (["prove", "-t", "T1", "-b", "ball", "--budget", "0.1"], "--budget 0.1 < 0.2: too small for one T1"),
        (["prove", "--seed", "-5"], "Invalid value for '--seed'"),
        (["prove", "--json", "TMP/no/such/cert.json"], "--json: folder TMP/no/such does not exist"),
        (["prove", "--json", "TMP"], "--json: TMP is a directory, expected a file path"),
        (["report", "--out", "TMP/file"], "--out: TMP/file is an existing file, expected a directory"),
        (["report", "--out", "TMP/file/figures"], "--out: TMP/file is a file, so TMP/file/figures cannot be created"),
        (["pretrain", "--out", "TMP/file"], "--out: TMP/file is an existing file, expected a directory"),
        (["pretrain", "--gamma", "nan"], "gamma: expected a finite number, got nan"),
        (["pretrain", "--first-seed", "-5"], "seeds: expected a non-empty sequence of non-negative integers"),
        (["bench", "--only", "nope"], "unknown benchmark nope"),
        (["report", "--only", "nope"], "unknown report nope"),
    ],
)
def test_bad_arguments_get_a_clear_message(
    args: list[str], message: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A usage error exits with status 2 and a one-line message, before any theorem is proved."""

    def no_work(*_: object, **__: object) -> None:
        raise AssertionError("a usage error must be reported before any work starts")

    # the same classes (their default instance counts set the minimum budget), but building one fails
    factory = catalogue.Theorem.factory

    def guarded(entry: catalogue.Theorem) -> Any:
        return type(f"NoWork{entry.key}", (factory(entry),), {"__init__": no_work})

    monkeypatch.setattr(catalogue.Theorem, "factory", guarded)
    monkeypatch.setattr("icrl_verify.pretrain.cli.train", no_work)
    monkeypatch.setattr(catalogue, "run_report", no_work)
    monkeypatch.setattr(catalogue, "run_bench", no_work)
    (tmp_path / "file").write_text("not a directory")
    result = runner.invoke(app, [a.replace("TMP", str(tmp_path)) for a in args])
    assert result.exit_code == 2, result.output
    assert message.replace("TMP", str(tmp_path)) in _flat(result.output)
    assert "Traceback" not in result.output


def fake_bench() -> list[tuple[str, float, str]]:
    return [("throughput", 123.0, "tasks/s")]


def fake_report(out: Path) -> list[Path]:
    path = out / "fake.png"
    path.write_bytes(np.zeros(4, dtype=np.uint8).tobytes())
    return [path]


FAKE = dataclasses.replace(
    catalogue.theorem("T1"),
    report=catalogue.Ref("fake", f"{__name__}:fake_report"),
    bench=catalogue.Ref("fake", f"{__name__}:fake_bench"),
)
"""T1 with a report and a benchmark of this module's: bench and report run what the catalogue names."""


def test_bench_prints_the_catalogue_figures(monkeypatch: pytest.MonkeyPatch) -> None:
    _only(monkeypatch, FAKE)
    result = runner.invoke(app, ["bench"])
    assert result.exit_code == 0 and "123" in result.output and "tasks/s" in result.output


def test_report_writes_files(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    _only(monkeypatch, FAKE)
    result = runner.invoke(app, ["report", "--out", str(tmp_path)])
    assert result.exit_code == 0 and (tmp_path / "fake.png").exists()
    assert f"fake: wrote {tmp_path / 'fake.png'}" in _flat(result.output)


def test_prove_help_lists_the_catalogue_keys_and_the_backend_kinds() -> None:
    result = runner.invoke(app, ["prove", "--help"])
    assert result.exit_code == 0, result.output
    text = _flat(result.output)
    assert f"theorem key (repeatable): {', '.join(catalogue.keys())}" in text
    assert f"backend kind (repeatable): {', '.join(KINDS)}" in text


def test_pretrain_forwards_every_argument_to_the_pretrain_command() -> None:
    result = runner.invoke(app, ["pretrain", "--help"])
    assert result.exit_code == 0, result.output
    assert "pretrain [OPTIONS]" in result.output and "--states" in result.output and "--resume" in result.output


def _loaded_by(args: list[str], modules: tuple[str, ...]) -> list[str]:
    """Which of ``modules`` a fresh interpreter has loaded after running ``icrl-verify *args``."""
    probe = (
        "import sys\n"
        "from icrl_verify.cli import app\n"
        "try:\n"
        "    app(args=sys.argv[1:], prog_name='icrl-verify')\n"
        "except SystemExit:\n"
        "    pass\n"
        f"print('LOADED', *[m for m in {modules!r} if m in sys.modules])\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe, *args], cwd=ROOT, capture_output=True, text=True, timeout=300, check=True
    )
    return done.stdout.strip().splitlines()[-1].split()[1:]


@pytest.mark.parametrize("args", [["--help"], ["prove", "--help"], ["check", "--help"], ["report", "--help"]])
def test_help_loads_no_heavy_module(args: list[str]) -> None:
    assert _loaded_by(args, HEAVY) == []


def test_the_module_probe_sees_what_is_loaded() -> None:
    """The probe can fail: it sees numpy (the core maths loads it) and torch once a check is imported."""
    assert _loaded_by(["--help"], ("numpy",)) == ["numpy"]
    assert "torch" in _loaded_by(["prove", "-t", "T1", "--budget", "0"], HEAVY)


def test_a_selection_with_no_certifiable_row_is_a_usage_error() -> None:
    result = runner.invoke(app, ["prove", "-t", "T4", "-b", "exact"])
    assert result.exit_code == 2, result.output
    assert "T4 runs on ball" in " ".join(result.output.split())


def test_a_row_reproduces_when_its_theorem_and_backend_run_alone(tmp_path: Path) -> None:
    """Each (theorem, backend) draws from a stream of (seed, theorem, backend): the T1c rows of a run
    with T1 before it equal those of T1c alone."""
    both, alone = tmp_path / "both.json", tmp_path / "alone.json"
    common = ["-b", "exact", "-b", "float64", "--budget", "0.05", "--seed", "7"]
    assert runner.invoke(app, ["prove", "-t", "T1", "-t", "T1c", *common, "--json", str(both)]).exit_code == 0
    assert runner.invoke(app, ["prove", "-t", "T1c", *common, "--json", str(alone)]).exit_code == 0
    rows = [
        [(r["claim"], r["backend"], r["instances"], r["worst_error"]) for r in json.loads(p.read_text())["results"]
         if r["theorem"] == "T1c"]
        for p in (both, alone)
    ]  # fmt: skip
    assert rows[0] == rows[1] and rows[0]


def test_prove_into_a_pipe_prints_a_line_per_theorem() -> None:
    result = runner.invoke(app, ["prove", "-t", "T1", "-t", "T1b", "-b", "exact", "--budget", "0.05"])
    assert result.exit_code == 0, result.output
    lines = [line for line in result.output.splitlines() if line.startswith(("T1:", "T1b:"))]
    assert [line.split(":")[0] for line in lines] == ["T1", "T1b"]
    assert all(re.fullmatch(r"T1b?: 3 rows, 3 pass, 0 fail, \d+\.\d s", line) for line in lines), lines
