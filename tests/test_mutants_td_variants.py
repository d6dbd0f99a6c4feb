"""Mutants of T1a–T1c: each small wrong construction (or readout) must be rejected by the exact and float64 checks."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from fractions import Fraction
from typing import Any

import numpy as np
import pytest

from icrl_verify import constructions
from icrl_verify.attention import Head, LinearAttentionWeights, Mask, standard_mask, td_lambda_mask
from icrl_verify.checks.td_family import TD0Check
from icrl_verify.checks.td_variants import AverageRewardCheck, ResidualGradientCheck, TDLambdaCheck
from icrl_verify.testing import assert_certified, assert_rejected

Layers = list[LinearAttentionWeights]
Construction = Callable[[int, Sequence[Any], int], Layers]

LAM = Fraction(1, 2)
GAMMA = Fraction(9, 10)
"""The discount of the samplers' discounted prompts (exact 9/10, float 0.9)."""
SIZES: dict[str, Any] = {"depth": 4, "float_n": 30, "float_depth": 6}


def _edit_heads(layers: Layers, edit: Callable[[int, Head], Head]) -> Layers:
    return [replace(layer, heads=tuple(edit(h, head) for h, head in enumerate(layer.heads))) for layer in layers]


def _selector(like: Any, row: int) -> Any:
    P = np.zeros_like(like)
    P[..., row, row] = 1
    return P


# -- T1a ------------------------------------------------------------------------------------------
def gamma_lambda_mask(d: int, Cs: Sequence[Any], n: int) -> Layers:
    return constructions.td_lambda(d, Cs, n, GAMMA * LAM)


def upper_triangular_mask(d: int, Cs: Sequence[Any], n: int) -> Layers:
    return constructions.td0(d, Cs, n, mask=Mask(n, td_lambda_mask(n, LAM).dense().T.copy()))


def lambda_ignored(d: int, Cs: Sequence[Any], n: int) -> Layers:
    return constructions.td0(d, Cs, n)


# -- T1b ------------------------------------------------------------------------------------------
def rg_with_td0_q(d: int, Cs: Sequence[Any], n: int) -> Layers:
    return constructions.td0(d, Cs, n)


def rg_transposed_c(d: int, Cs: Sequence[Any], n: int) -> Layers:
    return constructions.residual_gradient(d, [np.swapaxes(C, -1, -2) for C in Cs], n)


# -- T1c ------------------------------------------------------------------------------------------
def average_excluding_current(d: int, Cs: Sequence[Any], n: int) -> Layers:
    """Head 1 reads (yR')_j = mean(y_0..y_{j−1}) − y_j (an empty mean is 0)."""
    R = np.empty((n + 1, n + 1), dtype=object)
    for i in range(n + 1):
        for j in range(n + 1):
            R[i, j] = (Fraction(1, j) if i < j else Fraction(0)) - int(i == j)
    R[:, n] = Fraction(0)
    return constructions.average_reward_td(d, Cs, n, averaging=Mask(n, R))


def head1_standard_mask(d: int, Cs: Sequence[Any], n: int) -> Layers:
    return constructions.average_reward_td(d, Cs, n, averaging=standard_mask(n))


def head2_selects_reward_row(d: int, Cs: Sequence[Any], n: int) -> Layers:
    layers = constructions.average_reward_td(d, Cs, n)
    return _edit_heads(layers, lambda h, head: replace(head, P=_selector(head.P, 2 * d)) if h == 1 else head)


def head1_selects_accumulator_row(d: int, Cs: Sequence[Any], n: int) -> Layers:
    layers = constructions.average_reward_td(d, Cs, n)
    return _edit_heads(layers, lambda h, head: replace(head, P=_selector(head.P, 2 * d + 1)) if h == 0 else head)


def projection_negated(d: int, Cs: Sequence[Any], n: int) -> Layers:
    negated = -constructions.average_reward_projection(d)
    return [replace(layer, out=negated) for layer in constructions.average_reward_td(d, Cs, n)]


def _negated_readout(**sizes: Any) -> AverageRewardCheck:
    check = AverageRewardCheck(**sizes)
    check.readout_sign = -1  # the discounted habit: expect −φ_qᵀw at the query
    return check


def _mutants(**sizes: Any) -> dict[str, TD0Check]:
    return {
        "TD(lambda): gamma*lambda in the mask": TDLambdaCheck(LAM, gamma_lambda_mask, **sizes),
        "TD(lambda): upper-triangular trace mask": TDLambdaCheck(LAM, upper_triangular_mask, **sizes),
        "TD(lambda): standard mask": TDLambdaCheck(LAM, lambda_ignored, **sizes),
        "RG: T1 Q block": ResidualGradientCheck(rg_with_td0_q, **sizes),
        "RG: C in place of C^T": ResidualGradientCheck(rg_transposed_c, **sizes),
        "avg: running average excludes the current reward": AverageRewardCheck(average_excluding_current, **sizes),
        "avg: head 1 without running average": AverageRewardCheck(head1_standard_mask, **sizes),
        "avg: readout negated": _negated_readout(**sizes),
        "avg: head 2 selector on the reward row": AverageRewardCheck(head2_selects_reward_row, **sizes),
        "avg: head 1 selector on the accumulator row": AverageRewardCheck(head1_selects_accumulator_row, **sizes),
        "avg: output projection negated": AverageRewardCheck(projection_negated, **sizes),
    }


MUTANTS = _mutants(**SIZES)
GROWING = {
    name: check
    for name, check in _mutants(float_n=100, float_depth=40).items()
    if isinstance(check, (ResidualGradientCheck, AverageRewardCheck))
}
"""RG and average-reward mutants in the published setting, where the iterates grow by orders of magnitude."""


@pytest.mark.parametrize("name", MUTANTS)
def test_mutant_rejected_by_exact_check(name: str) -> None:
    check = MUTANTS[name]
    rng = np.random.default_rng(7)
    assert_rejected(check.run_exact([check.sample_exact(rng) for _ in range(3)]))


@pytest.mark.parametrize("name", MUTANTS)
def test_mutant_rejected_by_float64_check(name: str) -> None:
    check = MUTANTS[name]
    assert_rejected(check.run_float(check.sample_float(np.random.default_rng(7), 50), "float64"))


@pytest.mark.parametrize("name", GROWING)
def test_mutant_rejected_on_growing_iterates(name: str) -> None:
    """The bound scales with the iterates, but not enough to hide a wrong construction."""
    check = GROWING[name]
    assert_rejected(check.run_float(check.sample_float(np.random.default_rng(11), 8), "float64"))


@pytest.mark.parametrize(
    "correct",
    [TDLambdaCheck(LAM, **SIZES), ResidualGradientCheck(**SIZES), AverageRewardCheck(**SIZES)],
    ids=["T1a", "T1b", "T1c"],
)
def test_unmutated_constructions_pass_the_same_runs(correct: TD0Check) -> None:
    """Control: the instances that reject the mutants certify the correct constructions."""
    rng = np.random.default_rng(7)
    assert_certified(correct.run_exact([correct.sample_exact(rng) for _ in range(3)]))
    assert_certified(correct.run_float(correct.sample_float(np.random.default_rng(7), 50), "float64"))


def test_gamma_lambda_mutant_is_invisible_at_lambda_zero() -> None:
    """Control: at λ = 0 the γλ mask is the λ mask, so the mutant must pass — the suite draws λ ≠ 0."""
    check = TDLambdaCheck(0, lambda d, Cs, n: constructions.td_lambda(d, Cs, n, GAMMA * 0), depth=3)
    assert_certified(check.run_exact([check.sample_exact(np.random.default_rng(3))]))
