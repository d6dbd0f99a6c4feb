"""Checking a user's construction: verify, assert_implements and `icrl-verify check`, with minimal counterexamples."""

from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from icrl_verify import constructions, prompts, verify
from icrl_verify.cli import app
from icrl_verify.testing import assert_implements
from icrl_verify.verification import load_weights, save_weights, weight_arrays

runner = CliRunner()
MAX_LINES = 25
"""A failed claim is explained in at most this many lines."""


def _theta(d: int = 2) -> list[Any]:
    return constructions.td0(d, [np.eye(d), 0.5 * np.eye(d) + np.triu(np.ones((d, d)), 1) / 4], n=8)


def _broken(d: int = 2) -> list[tuple[Any, Any]]:
    pairs = [(layer.P, layer.Q.copy()) for layer in _theta(d)]
    pairs[1][1][0, d] += 0.25  # the top-middle block of layer 1: C_1ᵀ there no longer matches −(top-left)ᵀ
    return pairs


def _failure_lines(text: str) -> list[list[str]]:
    """The explanation of each failed claim: from its 'FAIL' header to the next header."""
    blocks: list[list[str]] = []
    for line in text.splitlines():
        if line.rstrip().endswith(": FAIL"):
            blocks.append([])
        if blocks:
            blocks[-1].append(line)
    return blocks


@pytest.mark.parametrize("kind", ["exact", "ball", "mpmath", "float64", "torch"])
def test_shipped_weights_pass_and_one_perturbed_entry_fails_minimally(tmp_path: Path, kind: str) -> None:
    save_weights(tmp_path / "theta.npz", _theta())
    save_weights(tmp_path / "broken.npz", _broken())
    good = verify("T1", layers=np.load(tmp_path / "theta.npz"), backends=[kind], examples=2)
    assert good.passed and good.results, good.explanation()
    bad = verify("T1", layers=np.load(tmp_path / "broken.npz"), backends=[kind], examples=2)
    assert not bad.passed
    failed = [r for r in bad.results if not r.passed]
    for r in failed:
        assert r.shrink_note.startswith("shrunk"), r.shrink_note
        head = r.counterexample.splitlines()[0]
        assert head.startswith("d=2, n=") and ", L=2" in head, "the weights fix d = 2 and L = 2"
        assert int(head.split("n=")[1].split(",")[0]) <= 2, "shrunk to one or two transitions"
        assert r.witness is not None and r.witness.layer == 2, "layer 1's perturbation shows after layer 2"
        assert len(r.explanation()) <= MAX_LINES


def test_preconditioners_in_the_file_are_the_claim(tmp_path: Path) -> None:
    """C given explicitly is what the weights must implement: the right θ* with another C fails."""
    theta = _theta()
    save_weights(tmp_path / "other_c.npz", theta, preconditioners=[2 * np.eye(2), np.eye(2)])
    certificate = verify("T1", layers=load_weights(tmp_path / "other_c.npz"), backends=["exact"], examples=2)
    assert not certificate.passed


def test_weights_of_every_form_are_read_alike() -> None:
    theta = _theta()
    stacked = weight_arrays({"P": np.stack([l.P for l in theta]), "Q": np.stack([l.Q for l in theta])})
    pairs = weight_arrays([(l.P, l.Q) for l in theta])

    class Layer(torch.nn.Module):
        def __init__(self, P: Any, Q: Any) -> None:
            super().__init__()
            self.P = torch.nn.Parameter(torch.tensor(P))
            self.Q = torch.nn.Parameter(torch.tensor(Q))

    class Model(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.layers = torch.nn.ModuleList([Layer(l.P, l.Q) for l in theta])

    module = weight_arrays(Model())
    for form in (pairs, module):
        assert set(form) == {"P", "Q"}
        np.testing.assert_array_equal(form["P"], stacked["P"])
        np.testing.assert_array_equal(form["Q"], stacked["Q"])
    assert verify("T1", layers=Model(), backends=["exact"], examples=2).passed


def test_pt_files_are_read(tmp_path: Path) -> None:
    theta = _theta()
    path = tmp_path / "theta.pt"
    torch.save(
        {"P": torch.tensor(np.stack([l.P for l in theta])), "Q": torch.tensor(np.stack([l.Q for l in theta]))}, path
    )
    assert verify("T1", layers=load_weights(path), backends=["exact", "float64"], examples=2).passed


def test_t1a_t1b_and_t3_weights() -> None:
    Cs = [np.array([[1.0, 0.5], [0.0, 1.0]]), np.eye(2) / 2]
    lam = Fraction(1, 2)
    assert verify("T1a", layers=constructions.td_lambda(2, Cs, 8, lam), lam=lam, examples=2).passed
    assert verify("T1b", layers=constructions.residual_gradient(2, Cs, 8), examples=2).passed
    cot = constructions.cot_td(2, Cs[0])
    assert verify("T3", layers=[(cot.P, cot.Q)], backends=["exact", "float64"], examples=2).passed
    Q = cot.Q.copy()
    Q[0, 5] = -0.5  # Q[φ, w] should be −I
    broken = verify("T3", layers=[(cot.P, Q)], backends=["exact"], examples=2)
    assert not broken.passed
    assert all(len(r.explanation()) <= MAX_LINES for r in broken.results)


def _gamma_twice(features: Any, next_features: Any, rewards: Any, query: Any, gamma: Any) -> Any:
    return prompts.td_prompt(features, next_features, rewards, query, gamma * gamma)


def test_a_user_prompt_builder_is_checked_against_the_task_data() -> None:
    certificate = verify("T1", prompt=_gamma_twice, backends=["exact", "float64"], examples=3)
    assert not certificate.passed
    assert any("layer 0" in r.detail for r in certificate.results if not r.passed), certificate.explanation()
    assert verify("T1", prompt=prompts.td_prompt, backends=["exact"], examples=3).passed


def test_assert_implements_shows_the_counterexample() -> None:
    assert assert_implements("T1", layers=_theta(), backends=["exact"], examples=2).passed
    with pytest.raises(AssertionError, match="minimal counterexample") as failure:
        assert_implements("T1", layers=_broken(), backends=["exact"], examples=2)
    assert "transformer side" in str(failure.value) and "reference side" in str(failure.value)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: verify("T9", layers=_theta()), r"^theorem: expected one of"),
        (lambda: verify("T2", construction=constructions.td0), r"^theorem: T2 is a limit or statistical claim"),
        (lambda: verify("T1", layers=_theta(), construction=constructions.td0), r"^layers, construction: give"),
        (lambda: verify("T1c", layers=_theta()), r"^layers: fixed weights are read for T1, T1a, T1b, T3"),
        (lambda: verify("T1", layers=[(np.eye(4), np.eye(4))]), r"^layers: the discounted prompt needs D = 3, 5"),
        (lambda: verify("T1", layers=[(np.eye(3), np.eye(5))]), r"^layers: expected P and Q of one shape"),
        (lambda: verify("T1", layers=_theta(), backends=["gpu"]), r"^backends: expected some of"),
        (lambda: verify("T1", layers=_theta(), examples=0), r"^examples: expected an integer >= 1"),
        (lambda: verify("T1", layers="weights.npz"), r"^layers: expected \(P, Q\) pairs, a mapping or a torch module"),
        (lambda: load_weights(Path("/nonexistent/w.npz")), r"^weights: no such file"),
    ],
)
def test_bad_input_is_refused_with_the_argument_named(call: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        call()


def test_check_command_round_trip(tmp_path: Path) -> None:
    save_weights(tmp_path / "theta.npz", _theta())
    save_weights(tmp_path / "broken.npz", _broken())
    common = ["check", "--theorem", "T1", "-b", "exact", "-b", "float64", "--examples", "2"]
    good = runner.invoke(app, [*common, "--weights", str(tmp_path / "theta.npz")])
    assert good.exit_code == 0, good.output
    out = tmp_path / "cert.json"
    bad = runner.invoke(app, [*common, "--weights", str(tmp_path / "broken.npz"), "--json", str(out)])
    assert bad.exit_code == 1, bad.output
    blocks = _failure_lines(bad.output)
    assert blocks and all(len(block) <= MAX_LINES for block in blocks), bad.output
    assert "minimal counterexample" in bad.output
    payload = json.loads(out.read_text())
    failed = [r for r in payload["results"] if r["verdict"] == "FAIL"]
    assert failed and all(r["witness"] and r["shrink"].startswith("shrunk") for r in failed)


def test_check_command_takes_a_prompt_builder_from_a_file(tmp_path: Path) -> None:
    module = tmp_path / "mine.py"
    module.write_text(
        "from icrl_verify import prompts\n"
        "def builder(features, next_features, rewards, query, gamma):\n"
        "    return prompts.td_prompt(features, next_features, rewards, query, gamma * gamma)\n"
    )
    result = runner.invoke(
        app, ["check", "-t", "T1", "--prompt", f"{module}:builder", "-b", "exact", "--examples", "2"]
    )
    assert result.exit_code == 1, result.output
    assert "minimal counterexample" in result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["check", "-t", "T1"], "give --weights, --prompt or both"),
        (["check", "-t", "T1", "--weights", "/nonexistent/w.npz"], "no such file"),
        (["check", "-t", "T1", "--prompt", "no_colon"], "expected module:function"),
        (["check", "-t", "T1", "--prompt", "icrl_verify.prompts:missing"], "cannot import"),
        (["check", "-t", "T1", "--prompt", "icrl_verify.prompts:td_prompt", "--examples", "0"], "at least 1"),
        (
            ["check", "-t", "T1", "--prompt", "icrl_verify.prompts:td_prompt", "--json", "/nonexistent/c.json"],
            "does not exist",
        ),
    ],
)
def test_check_usage_errors_exit_2(args: list[str], message: str) -> None:
    result = runner.invoke(app, args)
    assert result.exit_code == 2, result.output
    assert message in " ".join(result.output.split()), result.output
