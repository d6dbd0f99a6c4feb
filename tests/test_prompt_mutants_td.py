"""Prompt mutants of T1, T1a, T1b and T1c: each wrong prompt builder must be rejected on exact, ball, mpmath,
float64 and torch, at the base case (layer 0), because the reference is computed from the task data.

Each mutant wraps the shipped builder. Every mutant also has a blind spot, a task on which it builds the
correct prompt; the controls at the end run it there and require a pass, so a rejection is caused by what
the mutant changes and by nothing else.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from fractions import Fraction
from typing import Any

import numpy as np
import pytest
from numpy.typing import NDArray

from icrl_verify.certify import ClaimResult
from icrl_verify.checks.td_family import TD0Check
from icrl_verify.checks.td_variants import AverageRewardCheck, ResidualGradientCheck, TDLambdaCheck
from icrl_verify.prompts import average_reward_prompt, td_prompt
from icrl_verify.tasks import TDInstance
from icrl_verify.testing import assert_certified, assert_rejected

F = Fraction
Builder = Callable[..., NDArray[Any]]
BACKENDS = ("exact", "ball", "mpmath", "float64", "torch")
STRAY_DISCOUNT = F(9, 10)
"""The discount the average-reward mutant applies to a task that has none."""


# -- discounted builders (T1, T1a, T1b): td_prompt(features, next_features, rewards, query, gamma) ---
def gamma_twice(phi: Any, phi_next: Any, r: Any, q: Any, gamma: Any) -> NDArray[Any]:
    return td_prompt(phi, gamma * phi_next, r, q, gamma)


def rewards_rolled(phi: Any, phi_next: Any, r: Any, q: Any, gamma: Any) -> NDArray[Any]:
    return td_prompt(phi, phi_next, np.roll(r, 1, axis=-1), q, gamma)


def features_swapped(phi: Any, phi_next: Any, r: Any, q: Any, gamma: Any) -> NDArray[Any]:
    return td_prompt(phi_next, phi, r, q, gamma)


def query_carries_reward(phi: Any, phi_next: Any, r: Any, q: Any, gamma: Any) -> NDArray[Any]:
    Z = td_prompt(phi, phi_next, r, q, gamma)
    Z[..., -1, -1] = r[..., -1]
    return Z


def query_in_next_feature_rows(phi: Any, phi_next: Any, r: Any, q: Any, gamma: Any) -> NDArray[Any]:
    Z = td_prompt(phi, phi_next, r, q, gamma)
    d = q.shape[-1]
    Z[..., d : 2 * d, -1] = q
    Z[..., :d, -1] = 0
    return Z


# -- average-reward builders (T1c): average_reward_prompt(features, next_features, rewards, query) -----
def stray_discount(phi: Any, phi_next: Any, r: Any, q: Any) -> NDArray[Any]:
    """T1c has no γ, so 'γ applied twice' (γ = 1) is the identity: its analogue is a discount where none belongs."""
    return average_reward_prompt(phi, _times(STRAY_DISCOUNT, phi_next), r, q)


def ar_rewards_rolled(phi: Any, phi_next: Any, r: Any, q: Any) -> NDArray[Any]:
    return average_reward_prompt(phi, phi_next, np.roll(r, 1, axis=-1), q)


def ar_features_swapped(phi: Any, phi_next: Any, r: Any, q: Any) -> NDArray[Any]:
    return average_reward_prompt(phi_next, phi, r, q)


def ar_query_carries_reward(phi: Any, phi_next: Any, r: Any, q: Any) -> NDArray[Any]:
    Z = average_reward_prompt(phi, phi_next, r, q)
    Z[..., -2, -1] = r[..., -1]
    return Z


def ar_query_in_next_feature_rows(phi: Any, phi_next: Any, r: Any, q: Any) -> NDArray[Any]:
    Z = average_reward_prompt(phi, phi_next, r, q)
    d = q.shape[-1]
    Z[..., d : 2 * d, -1] = q
    Z[..., :d, -1] = 0
    return Z


def running_average_lags(phi: Any, phi_next: Any, r: Any, q: Any) -> NDArray[Any]:
    """The reward row lags one step, (0, r_0, …, r_{n−2}): the running mean the layer forms at column i
    is then over (0, r_0, …, r_{i−1}), the average shifted by one. (The average excluding the current
    reward itself, r_i − mean(r_0..r_{i−1}), cannot come from any prompt: the layer forms
    mean(y_0..y_j) − y_j from one row y, which is 0 at j = 0 for every y; that off-by-one is the operator
    mutant in test_mutants_td_variants.py.)"""
    lagged = np.roll(r, 1, axis=-1)
    lagged[..., 0] = 0
    return average_reward_prompt(phi, phi_next, lagged, q)


def _times(s: Fraction, a: NDArray[Any]) -> NDArray[Any]:
    return s * a if a.dtype == object else float(s) * a


DISCOUNTED: dict[str, Builder] = {
    "gamma applied twice": gamma_twice,
    "rewards shifted by one": rewards_rolled,
    "features and next features swapped": features_swapped,
    "query column carries a reward": query_carries_reward,
    "query features in the next-feature rows": query_in_next_feature_rows,
}
AVERAGE_REWARD: dict[str, Builder] = {
    "discount applied (no gamma in T1c)": stray_discount,
    "rewards shifted by one": ar_rewards_rolled,
    "features and next features swapped": ar_features_swapped,
    "query column carries a reward": ar_query_carries_reward,
    "query features in the next-feature rows": ar_query_in_next_feature_rows,
    "running average shifted by one": running_average_lags,
}
CHECKS: dict[str, Callable[[Builder], TD0Check]] = {
    "T1": lambda prompt: TD0Check(prompt=prompt),
    "T1a": lambda prompt: TDLambdaCheck(F(1, 2), prompt=prompt),
    "T1b": lambda prompt: ResidualGradientCheck(prompt=prompt),
    "T1c": lambda prompt: AverageRewardCheck(prompt=prompt),
}
CASES = [(key, name) for key in CHECKS for name in (AVERAGE_REWARD if key == "T1c" else DISCOUNTED)]


def _array(values: list[Any]) -> NDArray[Any]:
    return np.array([[F(v) for v in row] for row in values] if isinstance(values[0], list) else [F(v) for v in values])


def task(key: str) -> TDInstance:
    """d = 2, n = 3, L = 2 with distinct non-zero entries, γ = 1/2 (none for T1c), non-symmetric C_l:
    no mutant builds the right prompt on it."""
    phi = _array([[1, 2], [-1, 3], [2, -2]])
    phi_next = _array([[-1, 3], [2, -2], [3, 1]])
    Cs = (_array([[1, F(1, 2)], [0, 1]]), _array([[F(3, 4), 0], [F(-1, 4), 1]]))
    return TDInstance(phi, phi_next, _array([1, -2, 3]), _array([2, -1]), None if key == "T1c" else F(1, 2), Cs)


def run(check: TD0Check, kind: str, inst: TDInstance) -> list[ClaimResult]:
    """All claims of ``check`` on one instance, on backend ``kind``."""
    if kind == "exact":
        return check.run_exact([inst])
    if kind == "ball":
        return check.run_ball([inst])
    if kind == "mpmath":
        return check.run_ladder([inst])
    return check.run_float(check.batch_of(inst), kind)


def _mutant(key: str, name: str) -> Builder:
    return (AVERAGE_REWARD if key == "T1c" else DISCOUNTED)[name]


@pytest.mark.parametrize("kind", BACKENDS)
@pytest.mark.parametrize(("key", "name"), CASES, ids=[f"{k}: {n}" for k, n in CASES])
def test_prompt_mutant_rejected_at_the_base_case(key: str, name: str, kind: str) -> None:
    results = run(CHECKS[key](_mutant(key, name)), kind, task(key))
    assert_rejected(results)
    failed = [r for r in results if not r.passed]
    assert any(r.detail.startswith("layer 0") for r in failed), [r.detail for r in failed]


@pytest.mark.parametrize("kind", BACKENDS)
@pytest.mark.parametrize("key", CHECKS)
def test_shipped_builders_pass_the_same_runs(key: str, kind: str) -> None:
    """Control: the task that rejects the mutants certifies the shipped prompt builder and construction."""
    shipped = average_reward_prompt if key == "T1c" else td_prompt
    assert_certified(run(CHECKS[key](shipped), kind, task(key)))


def blind_task(key: str, name: str) -> TDInstance:
    """A task on which the mutant ``name`` builds the correct prompt."""
    inst = task(key)
    zero = inst.query * 0
    blind: dict[str, dict[str, Any]] = {
        "gamma applied twice": {"gamma": F(0)},
        "discount applied (no gamma in T1c)": {"next_features": inst.next_features * 0},
        "rewards shifted by one": {"rewards": inst.rewards * 0 + F(5, 2)},
        "features and next features swapped": {"next_features": inst.features},
        "query column carries a reward": {"rewards": np.concatenate([inst.rewards[:-1], [F(0)]])},
        "query features in the next-feature rows": {"query": zero},
        "running average shifted by one": {"rewards": inst.rewards * 0},
    }
    return replace(inst, **blind[name])


@pytest.mark.parametrize("kind", ["exact", "float64"])
@pytest.mark.parametrize(("key", "name"), CASES, ids=[f"{k}: {n}" for k, n in CASES])
def test_prompt_mutant_passes_on_its_blind_spot(key: str, name: str, kind: str) -> None:
    """Control, like the Cᵀ control of T1: where the mutant's change vanishes (γ = 0; φ' = 0 for the
    stray discount; constant rewards; φ' = φ; r_{n−1} = 0; φ_q = 0; all rewards 0) it must pass — so the
    suite draws tasks away from these sets, and a rejection above is due to the mutant's change."""
    assert_certified(run(CHECKS[key](_mutant(key, name)), kind, blind_task(key, name)))


def test_gamma_one_applied_twice_is_the_average_reward_builder() -> None:
    """The literal 'γ applied twice' of T1c, with its γ = 1, changes nothing: the blind spot that makes
    the stray-discount mutant its analogue."""
    inst = task("T1c")
    assert np.array_equal(
        average_reward_prompt(inst.features, 1 * inst.next_features, inst.rewards, inst.query),
        average_reward_prompt(inst.features, inst.next_features, inst.rewards, inst.query),
    )


def test_wrong_shaped_prompt_and_missing_discount_are_named() -> None:
    """A builder that returns the other layout, or a task of the other kind, is refused with the argument named."""
    with pytest.raises(ValueError, match=r"^prompt: the builder under test returned"):
        run(CHECKS["T1"](lambda phi, nxt, r, q, gamma: average_reward_prompt(phi, nxt, r, q)), "exact", task("T1"))
    with pytest.raises(ValueError, match=r"^gamma: T1 needs a discounted task"):
        run(CHECKS["T1"](td_prompt), "exact", task("T1c"))
    with pytest.raises(ValueError, match=r"^gamma: T1c has no discount"):
        run(CHECKS["T1c"](average_reward_prompt), "float64", task("T1"))
