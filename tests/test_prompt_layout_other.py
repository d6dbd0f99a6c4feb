"""Layout checks of the T2, T3 and T4 prompt builders: every entry against the documented layout (docs/theorems).

Each expected entry is written out with explicit loops over the task data, independently of the
builders and of the checks' layout functions.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

import numpy as np
import pytest
from hypothesis import find, given
from hypothesis import strategies as st
from numpy.typing import NDArray

from icrl_verify.arith.base import to_fraction
from icrl_verify.checks.base import TheoremCheck
from icrl_verify.checks.cot import CoTCheck, CoTInstance
from icrl_verify.checks.kernel_td import KernelTDCheck, KernelTDInstance
from icrl_verify.checks.neu import ExpectedTDCheck, ExpectedTDInstance
from icrl_verify.prompts import cot_prompt, expected_feature_prompts, kernel_td_prompt
from icrl_verify.testing import assert_certified, budget

U = 2.0**-53
"""Unit roundoff of float64."""


def _assert_cot_layout(Z: NDArray[Any], inst: CoTInstance) -> None:
    """Contract T3: (3d+2)×(n+1); context token i = (φ_i, γφ'_i, r_i, 0, 0); column n = c_0 = (0, 0, 0, 0, 1)."""
    d, n, g = inst.d, inst.n, inst.gamma
    assert Z.shape == (3 * d + 2, n + 1)
    for i in range(n):
        for k in range(d):
            assert Z[k, i] == inst.features[i, k]
            assert Z[d + k, i] == g * inst.next_features[i, k]
            assert Z[2 * d + 1 + k, i] == 0
        assert Z[2 * d, i] == inst.rewards[i]
        assert Z[3 * d + 1, i] == 0
    for row in range(3 * d + 2):
        assert Z[row, n] == (1 if row == 3 * d + 1 else 0)


@given(CoTCheck().strategy("exact"))
def test_cot_prompt_exact_entries(inst: CoTInstance) -> None:
    Z = cot_prompt(inst.features, inst.next_features, inst.rewards, inst.gamma)
    assert Z.dtype == object and all(isinstance(x, Fraction) for x in Z.flat)
    _assert_cot_layout(Z, inst)


@budget(10)
@given(CoTCheck().strategy("float64"))
def test_cot_prompt_float_entries_and_batch(inst: CoTInstance) -> None:
    """γφ' is the float product fl(γ·φ'), one rounding as the layout specifies; a batch is entrywise."""
    Z = cot_prompt(inst.features, inst.next_features, inst.rewards, inst.gamma)
    _assert_cot_layout(Z, inst)
    phi, nxt, r = (np.stack([a, a[::-1]]) for a in (inst.features, inst.next_features, inst.rewards))
    stacked = cot_prompt(phi, nxt, r, inst.gamma)
    assert np.array_equal(stacked[0], Z)
    flipped = CoTInstance(inst.features[::-1], inst.next_features[::-1], inst.rewards[::-1], inst.query, inst.gamma,
                          inst.C, inst.thoughts, None)  # fmt: skip
    _assert_cot_layout(stacked[1], flipped)


def _assert_kernel_layout(Z: NDArray[Any], inst: KernelTDInstance) -> None:
    """docs/contract.md T4: (d+3)×(n+1); rows 0..d−1 x(S_j); row d R_k at column k−1, 0 at the query;
    rows d+1 (targets) and d+2 (values) zero."""
    d, n = inst.d, inst.n
    assert Z.shape == (d + 3, n + 1)
    for j in range(n + 1):
        for k in range(d):
            assert Z[k, j] == inst.features[j, k]
        assert Z[d, j] == (inst.rewards[j] if j < n else 0)
        assert Z[d + 1, j] == 0 and Z[d + 2, j] == 0


@given(KernelTDCheck().strategy("ball"))
def test_kernel_td_prompt_exact_entries(inst: KernelTDInstance) -> None:
    _assert_kernel_layout(kernel_td_prompt(inst.features, inst.rewards), inst)


@budget(10)
@given(KernelTDCheck().strategy("float64"))
def test_kernel_td_prompt_float_entries_and_batch(inst: KernelTDInstance) -> None:
    Z = kernel_td_prompt(inst.features, inst.rewards)
    _assert_kernel_layout(Z, inst)
    stacked = kernel_td_prompt(np.stack([inst.features] * 2), np.stack([inst.rewards] * 2))
    assert stacked.shape == (2, *Z.shape) and np.array_equal(stacked[1], Z)


def _expected_next(inst: ExpectedTDInstance, i: int, k: int) -> Fraction:
    """γ Σ_{s'} P[i, s'] Φ[s', k], exactly (float entries as the rationals they are)."""
    S = inst.num_states
    total = sum((to_fraction(inst.transition[i, s]) * to_fraction(inst.features[s, k]) for s in range(S)), Fraction(0))
    return to_fraction(inst.gamma) * total


def _float_tolerance(inst: ExpectedTDInstance, i: int, k: int) -> Fraction:
    """Forward error of fl(γ·Σ_s P[i,s]Φ[s,k]) in any summation order, with gradual underflow:
    γ_{S+1}·|γ|·Σ_s |P[i,s]||Φ[s,k]| + (S·|γ|·(1 + γ_{S+1}) + 1)·η₀, η₀ = 2⁻¹⁰⁷⁵ for each of the S
    products and the scaling (Higham, Accuracy and Stability, §2.1–2.2, §3.1; docs/precision.md)."""
    S = inst.num_states
    gamma_m = (S + 1) * U / (1 - (S + 1) * U)
    magnitude = sum(abs(float(inst.transition[i, s]) * float(inst.features[s, k])) for s in range(S))
    g = abs(to_fraction(inst.gamma))
    eta = Fraction(1, 2**1075)
    return Fraction(gamma_m) * g * Fraction(magnitude) + (S * g * (1 + Fraction(gamma_m)) + 1) * eta


def _assert_enumerated_layout(Z: NDArray[Any], inst: ExpectedTDInstance, exact: bool) -> None:
    """docs/contract.md T2: one prompt per query q, (2d+1)×(S+1); context column i = (φ(i), γ Σ_{s'} P[i,s']φ(s'),
    r(i)); query column (φ(q), 0, 0)."""
    S, d = inst.num_states, inst.features.shape[1]
    assert Z.shape == (S, 2 * d + 1, S + 1)
    for q in range(S):
        for i in range(S):
            for k in range(d):
                assert Z[q, k, i] == inst.features[i, k]
                expected = _expected_next(inst, i, k)
                if exact:
                    assert Z[q, d + k, i] == expected
                else:
                    assert abs(to_fraction(Z[q, d + k, i]) - expected) <= _float_tolerance(inst, i, k)
            assert Z[q, 2 * d, i] == inst.rewards[i]
        for k in range(d):
            assert Z[q, k, S] == inst.features[q, k]
            assert Z[q, d + k, S] == 0
        assert Z[q, 2 * d, S] == 0


@given(ExpectedTDCheck().strategy("exact"))
def test_expected_feature_prompts_exact_entries(inst: ExpectedTDInstance) -> None:
    Z = expected_feature_prompts(inst.transition, inst.rewards, inst.features, inst.gamma)
    _assert_enumerated_layout(Z, inst, exact=True)


@budget(10)
@given(ExpectedTDCheck().strategy("float64"))
def test_expected_feature_prompts_float_entries(inst: ExpectedTDInstance) -> None:
    Z = expected_feature_prompts(inst.transition, inst.rewards, inst.features, inst.gamma)
    _assert_enumerated_layout(Z, inst, exact=False)


def test_expected_feature_prompts_float_general_features_and_task_batch() -> None:
    """Dense P and general features (the expected next features are real sums), batched over tasks."""
    rng = np.random.default_rng(0)
    weights = rng.random((2, 4, 4))
    P = weights / weights.sum(axis=-1, keepdims=True)
    r, Phi = rng.standard_normal((2, 4)), rng.standard_normal((2, 4, 3))
    Z = expected_feature_prompts(P, r, Phi, 0.9)
    assert Z.shape == (2, 4, 7, 5)
    for t in range(2):
        _assert_enumerated_layout(Z[t], ExpectedTDInstance(P[t], r[t], Phi[t], 0.9, 0), exact=False)


# --- the instance contract of the three checks: strategy, batch_of, single, describe ---------------


CHECKS = [CoTCheck(), KernelTDCheck(), ExpectedTDCheck()]


@pytest.mark.parametrize("check", CHECKS, ids=["T3", "T4", "T2"])
@budget(3)
@given(data=st.data())
def test_instances_round_trip_through_a_batch_and_describe_compactly(
    check: TheoremCheck[Any], data: st.DataObject
) -> None:
    """batch_of gives a float64 batch of one and single takes it back (the same numbers, as floats);
    describe fits in 8 lines."""
    for kind in ("exact", "float64"):
        instance = data.draw(check.strategy(kind), label=kind)
        again = check.single(check.batch_of(instance), 0)
        for a, b in zip(_arrays(instance), _arrays(again)):
            assert np.array_equal(np.asarray(a, dtype=np.float64), b) and b.dtype == np.float64
        assert len(check.describe(instance).splitlines()) <= 8


@pytest.mark.parametrize("check", CHECKS, ids=["T3", "T4", "T2"])
def test_strategies_shrink_to_the_smallest_task(check: TheoremCheck[Any]) -> None:
    """The minimal example is d = n = 1 (S = 1 for T2), L = K = 0, zero entries, and it is certified."""
    smallest = find(check.strategy("exact"), lambda _: True)
    head = check.describe(smallest).splitlines()[0]
    assert head.startswith(("d=1, n=1, K=0", "d=1, n=1, L=0", "S=d=1, L=0")), head
    assert_certified(check.run_exact([smallest]) if check.exact_certifiable else check.run_ball([smallest]))


def _arrays(instance: Any) -> list[NDArray[Any]]:
    return [v for v in vars(instance).values() if isinstance(v, np.ndarray)]


def test_strategy_rejects_an_unknown_kind() -> None:
    with pytest.raises(ValueError, match="kind"):
        find(CoTCheck().strategy("float32"), lambda _: True)
