"""Prompt mutants of T2 (enumerated prompt), T3 (CoT) and T4 (softmax kernel TD): wrong prompt builders.

Each mutant wraps the shipped builder and corrupts one thing. The checks build the prompt with the
builder under test and compare against references computed from the task data, so every mutant must
be rejected on every backend that certifies the theorem: exact, ball, mpmath, float64 and torch for
T2 and T3; ball, mpmath, float64 and torch for T4 (exp has no exact level).
"""

from __future__ import annotations

from collections.abc import Callable
from fractions import Fraction
from typing import Any

import numpy as np
import pytest
from numpy.typing import NDArray

from icrl_verify import neu
from icrl_verify.certify import ClaimResult
from icrl_verify.checks import neu as t2
from icrl_verify.checks.base import TheoremCheck
from icrl_verify.checks.cot import CLAIM_PROMPT, CLAIM_TOKEN, CoTCheck, cot_instance
from icrl_verify.checks.kernel_td import CLAIM_FIXED, KernelTDCheck, KernelTDInstance
from icrl_verify.mrp import FiniteMRP
from icrl_verify.prompts import cot_prompt, expected_feature_prompts, kernel_td_prompt
from icrl_verify.testing import assert_certified, assert_rejected

F = Fraction
Builder = Callable[..., NDArray[Any]]


def _exact(values: Any) -> NDArray[Any]:
    return np.array(values, dtype=object)


def run_on(check: TheoremCheck[Any], instance: Any, backend: str) -> list[ClaimResult]:
    """Every claim of ``check`` on one instance, on one backend."""
    if backend == "exact":
        return check.run_exact([instance])
    if backend == "ball":
        return check.run_ball([instance])
    if backend == "mpmath":
        return check.run_ladder([instance])
    return check.run_float(check.batch_of(instance), backend)


def failed_claims(results: list[ClaimResult]) -> set[str]:
    """The claims some comparison rejected; the base case (layer or thought 0, where the prompt is
    compared with the documented layout of the task data) must be among the rejections."""
    assert_rejected(results)
    failed = [r for r in results if not r.passed]
    assert any(r.detail.startswith("layer 0") for r in failed), [r.detail for r in failed]
    return {r.claim for r in failed}


# --- T3: the chain-of-thought prompt (features, next_features, rewards, γ) ------------------------


def _cot_d(features: Any) -> int:
    return int(np.asarray(features).shape[-1])


def cot_gamma_twice(features: Any, next_features: Any, rewards: Any, gamma: Any) -> NDArray[Any]:
    """γ²φ' in the next-feature block."""
    Z, d, n = cot_prompt(features, next_features, rewards, gamma), _cot_d(features), np.shape(rewards)[-1]
    Z[..., d : 2 * d, :n] = Z[..., d : 2 * d, :n] * gamma
    return Z


def cot_rewards_shifted(features: Any, next_features: Any, rewards: Any, gamma: Any) -> NDArray[Any]:
    """Token i carries r_{i−1} (cyclically)."""
    Z, d, n = cot_prompt(features, next_features, rewards, gamma), _cot_d(features), np.shape(rewards)[-1]
    Z[..., 2 * d, :n] = np.roll(Z[..., 2 * d, :n], 1, axis=-1)
    return Z


def cot_features_swapped(features: Any, next_features: Any, rewards: Any, gamma: Any) -> NDArray[Any]:
    """φ_i and γφ'_i exchanged in every context token."""
    Z, d, n = cot_prompt(features, next_features, rewards, gamma), _cot_d(features), np.shape(rewards)[-1]
    phi, nxt = Z[..., :d, :n].copy(), Z[..., d : 2 * d, :n].copy()
    Z[..., :d, :n], Z[..., d : 2 * d, :n] = nxt, phi
    return Z


def cot_first_thought_rewarded(features: Any, next_features: Any, rewards: Any, gamma: Any) -> NDArray[Any]:
    """The first thought (T3's last column, where T1 has its query) carries the reward r_0."""
    Z, d, n = cot_prompt(features, next_features, rewards, gamma), _cot_d(features), np.shape(rewards)[-1]
    Z[..., 2 * d, n] = np.asarray(rewards)[..., 0]
    return Z


def cot_first_thought_with_features(features: Any, next_features: Any, rewards: Any, gamma: Any) -> NDArray[Any]:
    """T3 has no query column; the analogue of query features in a wrong place: the first thought
    holds φ_{n−1} in its φ-block (a thought then acts as a source)."""
    Z, d, n = cot_prompt(features, next_features, rewards, gamma), _cot_d(features), np.shape(rewards)[-1]
    Z[..., :d, n] = np.asarray(features)[..., -1, :]
    return Z


COT_MUTANTS: dict[str, Builder] = {
    "gamma applied twice": cot_gamma_twice,
    "rewards shifted by one position": cot_rewards_shifted,
    "features and next features swapped": cot_features_swapped,
    "first-thought column carries a reward": cot_first_thought_rewarded,
    "features in the first thought (no query column)": cot_first_thought_with_features,
}
COT_INSTANCE = cot_instance(
    _exact([[F(1), F(-1, 2)], [F(1, 4), F(1)], [F(-3, 4), F(1, 2)]]),
    _exact([[F(1, 2), F(1)], [F(-1), F(1, 4)], [F(1), F(-1, 2)]]),
    _exact([F(1), F(-1, 2), F(3, 4)]),
    _exact([F(1, 2), F(-1)]),
    F(1, 2),
    _exact([[F(1), F(1, 4)], [F(-1, 2), F(3, 4)]]),
    2,
)
COT_BACKENDS = ("exact", "ball", "mpmath", "float64", "torch")


@pytest.mark.parametrize("backend", COT_BACKENDS)
@pytest.mark.parametrize("name", list(COT_MUTANTS))
def test_cot_prompt_mutant_rejected(name: str, backend: str) -> None:
    failed = failed_claims(run_on(CoTCheck(prompt=COT_MUTANTS[name]), COT_INSTANCE, backend))
    assert failed & {CLAIM_PROMPT, CLAIM_TOKEN}, failed  # the base case: context tokens or c_0


@pytest.mark.parametrize("backend", COT_BACKENDS)
def test_cot_shipped_prompt_passes_the_same_instance(backend: str) -> None:
    assert_certified(run_on(CoTCheck(), COT_INSTANCE, backend))


# --- T4: the softmax-TD prompt (features x(S_0..S_n), rewards R_1..R_n) -----------------------------


def kernel_rewards_discounted(features: Any, rewards: Any) -> NDArray[Any]:
    """The T4 prompt carries no γ (it enters only through head 2's weights), so "γ applied twice" has
    no literal meaning; its analogue is a discount applied where none belongs: R_k halved."""
    Z, d, n = kernel_td_prompt(features, rewards), np.shape(features)[-1], np.shape(rewards)[-1]
    Z[..., d, :n] = Z[..., d, :n] * F(1, 2)
    return Z


def kernel_rewards_shifted(features: Any, rewards: Any) -> NDArray[Any]:
    """R_k at column k (cyclically within the context) instead of k−1."""
    Z, d, n = kernel_td_prompt(features, rewards), np.shape(features)[-1], np.shape(rewards)[-1]
    Z[..., d, :n] = np.roll(Z[..., d, :n], 1, axis=-1)
    return Z


def kernel_next_state_features(features: Any, rewards: Any) -> NDArray[Any]:
    """T4 has no next-feature rows; the analogue of swapping features and next features: column j < n
    holds x(S_{j+1}), the next state's features, instead of x(S_j)."""
    Z, d, n = kernel_td_prompt(features, rewards), np.shape(features)[-1], np.shape(rewards)[-1]
    Z[..., :d, :n] = Z[..., :d, 1 : n + 1].copy()
    return Z


def kernel_query_rewarded(features: Any, rewards: Any) -> NDArray[Any]:
    """The query column's reward row holds R_n instead of 0."""
    Z, d, n = kernel_td_prompt(features, rewards), np.shape(features)[-1], np.shape(rewards)[-1]
    Z[..., d, n] = np.asarray(rewards)[..., -1]
    return Z


def kernel_query_row_shifted(features: Any, rewards: Any) -> NDArray[Any]:
    """The query features x(S_n) one row down (rows 1..d, the last one being the reward row)."""
    Z, d, n = kernel_td_prompt(features, rewards), np.shape(features)[-1], np.shape(rewards)[-1]
    query = Z[..., :d, n].copy()
    Z[..., :d, n] = 0
    Z[..., 1 : d + 1, n] = query
    return Z


KERNEL_MUTANTS: dict[str, Builder] = {
    "discount on the reward row (no gamma in the prompt)": kernel_rewards_discounted,
    "rewards shifted by one position": kernel_rewards_shifted,
    "next-state features in place of features": kernel_next_state_features,
    "query column carries a reward": kernel_query_rewarded,
    "query features in the wrong rows": kernel_query_row_shifted,
}
KERNEL_INSTANCE = KernelTDInstance(
    _exact([[F(1, 2), F(-1, 4)], [F(-1), F(1, 2)], [F(1, 4), F(1)], [F(1, 2), F(-1, 4)]]),
    _exact([F(1), F(-1, 2), F(3, 4)]),
    F(1, 2),
    F(1, 2),
    2,
)
KERNEL_BACKENDS = ("ball", "mpmath", "float64", "torch")


@pytest.mark.parametrize("backend", KERNEL_BACKENDS)
@pytest.mark.parametrize("name", list(KERNEL_MUTANTS))
def test_kernel_td_prompt_mutant_rejected(name: str, backend: str) -> None:
    check = KernelTDCheck(prompt=KERNEL_MUTANTS[name])
    assert CLAIM_FIXED in failed_claims(run_on(check, KERNEL_INSTANCE, backend))


@pytest.mark.parametrize("backend", KERNEL_BACKENDS)
def test_kernel_td_shipped_prompt_passes_the_same_instance(backend: str) -> None:
    assert_certified(run_on(KernelTDCheck(), KERNEL_INSTANCE, backend))


# --- T2: the enumerated expected-feature prompt (P, r, Φ, γ) -------------------------------------


def _blocks(features: Any) -> tuple[int, int]:
    """(d, S) of an enumerated prompt built from ``features`` (S, d)."""
    return int(np.shape(features)[-1]), int(np.shape(features)[-2])


def neu_gamma_twice(transition: Any, rewards: Any, features: Any, gamma: Any) -> NDArray[Any]:
    """γ²PΦ in the expected-next-feature block."""
    Z, (d, S) = expected_feature_prompts(transition, rewards, features, gamma), _blocks(features)
    Z[..., d : 2 * d, :S] = Z[..., d : 2 * d, :S] * gamma
    return Z


def neu_rewards_shifted(transition: Any, rewards: Any, features: Any, gamma: Any) -> NDArray[Any]:
    """Column i carries r(i−1) (cyclically)."""
    Z, (d, S) = expected_feature_prompts(transition, rewards, features, gamma), _blocks(features)
    Z[..., 2 * d, :S] = np.roll(Z[..., 2 * d, :S], 1, axis=-1)
    return Z


def neu_features_swapped(transition: Any, rewards: Any, features: Any, gamma: Any) -> NDArray[Any]:
    """φ(i) and γ(PΦ)(i) exchanged in every context column."""
    Z, (d, S) = expected_feature_prompts(transition, rewards, features, gamma), _blocks(features)
    phi, nxt = Z[..., :d, :S].copy(), Z[..., d : 2 * d, :S].copy()
    Z[..., :d, :S], Z[..., d : 2 * d, :S] = nxt, phi
    return Z


def neu_query_rewarded(transition: Any, rewards: Any, features: Any, gamma: Any) -> NDArray[Any]:
    """The query column of prompt q carries r(q)."""
    Z, (d, S) = expected_feature_prompts(transition, rewards, features, gamma), _blocks(features)
    Z[..., 2 * d, S] = rewards
    return Z


def neu_query_in_next_rows(transition: Any, rewards: Any, features: Any, gamma: Any) -> NDArray[Any]:
    """φ(q) in the next-feature rows d..2d−1 of the query column instead of rows 0..d−1."""
    Z, (d, S) = expected_feature_prompts(transition, rewards, features, gamma), _blocks(features)
    Z[..., d : 2 * d, S] = Z[..., :d, S]
    Z[..., :d, S] = 0
    return Z


NEU_MUTANTS: dict[str, Builder] = {
    "gamma applied twice": neu_gamma_twice,
    "rewards shifted by one position": neu_rewards_shifted,
    "features and next features swapped": neu_features_swapped,
    "query column carries a reward": neu_query_rewarded,
    "query features in the wrong rows": neu_query_in_next_rows,
}
P3 = _exact([[F(1, 2), F(1, 2), F(0)], [F(1, 4), F(1, 4), F(1, 2)], [F(1, 3), F(0), F(2, 3)]])
R3 = _exact([F(1), F(-1, 2), F(1, 4)])
EYE3 = _exact([[F(int(i == j)) for j in range(3)] for i in range(3)])
NEU_INSTANCE = t2.ExpectedTDInstance(P3, R3, EYE3, F(1, 2), 2)
NEU_BACKENDS = ("exact", "ball", "mpmath", "float64", "torch")


@pytest.mark.parametrize("backend", NEU_BACKENDS)
@pytest.mark.parametrize("name", list(NEU_MUTANTS))
def test_enumerated_prompt_mutant_rejected_by_the_forward_pass(name: str, backend: str) -> None:
    check = t2.ExpectedTDCheck(prompt=NEU_MUTANTS[name])
    assert failed_claims(run_on(check, NEU_INSTANCE, backend)) <= {t2.CLAIM_LAYOUT, t2.CLAIM_FORWARD}


@pytest.mark.parametrize("backend", NEU_BACKENDS)
def test_enumerated_prompt_shipped_passes_the_same_instance(backend: str) -> None:
    assert_certified(run_on(t2.ExpectedTDCheck(), NEU_INSTANCE, backend))


def _float_task() -> FiniteMRP:
    P = np.asarray(P3, dtype=np.float64)
    return FiniteMRP(P=P, r=np.asarray(R3, dtype=np.float64), gamma=0.5, features=np.eye(3), initial=np.full(3, 1 / 3))


@pytest.mark.parametrize("name", list(NEU_MUTANTS))
def test_enumerated_prompt_mutant_rejected_by_the_value_bound(name: str) -> None:
    """|TF_L − v| ≤ γ^L‖v‖∞ (exact and float64) builds its prompts with the builder under test too."""
    exact_task = t2.RationalTask(P3, R3, F(1, 2))
    layers = neu.value_iteration_layers
    assert_rejected([t2.check_bound_exact(layers, [exact_task], depth=6, prompt=NEU_MUTANTS[name])])
    assert_rejected([t2.check_bound_float(layers, [_float_task()], depth=20, prompt=NEU_MUTANTS[name])])


def test_value_bound_accepts_the_shipped_prompt_on_the_same_task() -> None:
    assert_certified([t2.check_bound_exact(neu.value_iteration_layers, [t2.RationalTask(P3, R3, F(1, 2))], 6)])
    assert_certified([t2.check_bound_float(neu.value_iteration_layers, [_float_task()], 20)])


def test_neu_prove_passes_the_builder_under_test_to_every_prompt_claim() -> None:
    """NEUCheck(prompt=...) reaches the forward pass (exact, ball, mpmath, float64) and claim 1."""
    check = t2.NEUCheck(num_states=3, exact_depth=6, float_depth=20, prompt=neu_gamma_twice)
    results = check.prove(["exact", "ball", "mpmath", "float64"], np.random.default_rng(0), budget=0.1)
    failed = {(r.claim, r.backend) for r in results if not r.passed}
    assert (t2.CLAIM_BOUND, "exact") in failed and (t2.CLAIM_BOUND, "float64") in failed
    assert {b for c, b in failed if c == t2.CLAIM_LAYOUT} == {"exact", "ball", "mpmath", "float64"}
