"""Meta-tests: the Hypothesis strategies produce what they claim (stochastic rows, ergodic chains, shapes,
the hard IEEE numbers)."""

from __future__ import annotations

import dataclasses
import itertools
import math
from fractions import Fraction
from typing import Any

import numpy as np
import pytest
from hypothesis import find, given, settings
from hypothesis import strategies as st
from hypothesis.strategies import SearchStrategy

from icrl_verify import mrp
from icrl_verify.checks.cot import CoTCheck
from icrl_verify.checks.kernel_td import KernelTDCheck
from icrl_verify.checks.neu import ExpectedTDCheck
from icrl_verify.checks.td_family import TD0Check
from icrl_verify.checks.td_variants import AverageRewardCheck
from icrl_verify.strategies import NEAR_ONE, SMALLEST_NORMAL, finite_mrps, gammas, hard_floats, shapes, td_instances
from icrl_verify.tasks import TDInstance
from icrl_verify.testing import budget


@given(finite_mrps())
def test_mrps_are_stochastic_and_ergodic(task: mrp.FiniteMRP) -> None:
    assert np.all(task.P >= 0)
    np.testing.assert_allclose(task.P.sum(axis=1), 1.0, atol=1e-12)
    mu = task.stationary
    assert np.all(mu > 0), "an ergodic chain has a positive stationary distribution"
    np.testing.assert_allclose(mu @ task.P, mu, atol=1e-9)
    reach = np.linalg.matrix_power(np.eye(task.num_states) + task.P, task.num_states) > 0
    assert reach.all(), "irreducible: every state reaches every state"


def _entries(inst: TDInstance) -> list[object]:
    arrays = [inst.features, inst.next_features, inst.rewards, inst.query, *inst.preconditioners]
    return [v for a in arrays for v in a.flat]


@given(td_instances(exact=True))
def test_exact_instances_are_rational_task_data_of_matching_shapes(inst: TDInstance) -> None:
    d, n = inst.d, inst.n
    assert (inst.features.shape, inst.next_features.shape, inst.rewards.shape, inst.query.shape) == (
        (n, d), (n, d), (n,), (d,),
    )  # fmt: skip
    assert all(C.shape == (d, d) for C in inst.preconditioners)
    assert all(isinstance(v, (int, Fraction)) for v in _entries(inst))
    assert isinstance(inst.gamma, Fraction) and 0 <= inst.gamma < 1


@given(td_instances(exact=False))
def test_float_instances_are_finite(inst: TDInstance) -> None:
    assert all(np.isfinite(float(v)) for v in _entries(inst))
    assert isinstance(inst.gamma, float) and 0 <= inst.gamma < 1


@given(AverageRewardCheck().strategy("exact"))
def test_average_reward_instances_have_no_discount(inst: TDInstance) -> None:
    assert inst.gamma is None


@given(TD0Check().strategy("float64"))
def test_batch_of_one_and_back(inst: TDInstance) -> None:
    """batch_of and single are inverse on float instances; describe stays compact."""
    check = TD0Check()
    batch = check.batch_of(inst)
    assert batch.batch == 1 and batch.d == inst.d and batch.n == inst.n and batch.depth == inst.depth
    again = check.single(batch, 0)
    for a, b in zip(
        [again.features, again.next_features, again.rewards, again.query, *again.preconditioners],
        [inst.features, inst.next_features, inst.rewards, inst.query, *inst.preconditioners],
    ):
        np.testing.assert_array_equal(a, b)
    assert again.gamma == inst.gamma
    assert len(check.describe(inst).splitlines()) <= 8


def test_strategies_shrink_to_the_smallest_task() -> None:
    """The minimal instance is d = n = 1, L = 0 with zero entries (what a shrunk counterexample shows)."""
    for kind in ("exact", "float64"):
        smallest = find(TD0Check().strategy(kind), lambda inst: True)
        assert (smallest.d, smallest.n, smallest.depth) == (1, 1, 0)
        assert all(v == 0 for v in _entries(smallest)) and smallest.gamma == 0


@budget(200)
@given(st.data())
def test_edge_cases_are_reachable(data: st.DataObject) -> None:
    d, n, depth = data.draw(shapes())
    assert 1 <= d <= 3 and 1 <= n <= 8 and 0 <= depth <= 4


def test_edge_cases_are_generated() -> None:
    seen: set[str] = set()

    @settings(max_examples=300, database=None)  # a coverage guarantee, not a budget: fixed
    @given(td_instances(exact=True))
    def collect(inst: TDInstance) -> None:
        if inst.d == 1:
            seen.add("d=1")
        if inst.n == 1:
            seen.add("n=1")
        if inst.depth == 0:
            seen.add("L=0")
        if any(not np.array_equal(C, C.T) for C in inst.preconditioners):
            seen.add("non-symmetric C")

    collect()
    assert seen == {"d=1", "n=1", "L=0", "non-symmetric C"}


@given(finite_mrps(tabular=True))
def test_tabular_features_are_identity(task: mrp.FiniteMRP) -> None:
    np.testing.assert_array_equal(task.features, np.eye(task.num_states))


def test_trajectory_contexts_chain_next_features() -> None:
    task = mrp.boyan_chain(6, 3, 0.9, np.random.default_rng(0))
    states = task.trajectory(12, np.random.default_rng(1))
    phi, phi_next, _ = task.transitions(states)
    np.testing.assert_array_equal(phi[1:], phi_next[:-1])
    assert all(task.P[a, b] > 0 for a, b in itertools.pairwise(states))


def _numbers(instance: Any) -> list[float]:
    """Every float of an instance's task data (the derived fixed point of T3 excluded)."""
    arrays: list[Any] = []
    for field in dataclasses.fields(instance):
        value = getattr(instance, field.name)
        if field.name != "fixed_point" and isinstance(value, np.ndarray):
            arrays.append(value)
        elif isinstance(value, tuple):
            arrays.extend(value)
    return [float(v) for a in arrays for v in np.asarray(a, dtype=np.float64).ravel().tolist()]


def _kinds_of_numbers(values: list[float]) -> set[str]:
    seen = set()
    for x in values:
        if x == 0 and math.copysign(1.0, x) < 0:
            seen.add("-0.0")
        if 0 < abs(x) < SMALLEST_NORMAL:
            seen.add("subnormal")
        if abs(x) == SMALLEST_NORMAL:
            seen.add("smallest normal")
        if x != 0 and abs(math.frexp(x)[0]) == 0.5 and abs(x) != 1:
            seen.add("power of two")
        if abs(x) >= 2.0**400:
            seen.add("near overflow")
    if "subnormal" in seen and any(abs(x) >= 0.5 for x in values):
        seen.add("mixed magnitudes")
    return seen


HARD = {"-0.0", "subnormal", "smallest normal", "power of two", "near overflow", "mixed magnitudes"}
FLOAT_STRATEGIES: dict[str, SearchStrategy[Any]] = {
    "T1": TD0Check().strategy("float64"),
    "T1c": AverageRewardCheck().strategy("torch"),
    "T2": ExpectedTDCheck().strategy("float64"),
    "T3": CoTCheck().strategy("float64"),
    "T4": KernelTDCheck().strategy("torch"),
}


@pytest.mark.parametrize("key", list(FLOAT_STRATEGIES))
def test_float_strategies_draw_the_hard_numbers(key: str) -> None:
    """Every float strategy draws subnormals, the smallest normal, −0.0, powers of two, magnitudes near the
    overflow threshold and instances mixing tiny and ordinary numbers, and the discount edges."""
    seen: set[str] = set()

    @settings(max_examples=600, database=None)  # a coverage guarantee, not a budget: fixed
    @given(FLOAT_STRATEGIES[key])
    def collect(instance: Any) -> None:
        values = _numbers(instance)
        assert all(math.isfinite(x) for x in values)
        seen.update(_kinds_of_numbers(values))
        gamma = getattr(instance, "gamma", None)
        if gamma is not None:
            seen.add("gamma 0" if gamma == 0 else "gamma 1 - 2^-52" if gamma == NEAR_ONE else "gamma")

    collect()
    expected = HARD | ({"gamma 0", "gamma 1 - 2^-52"} if key != "T1c" else set())
    assert expected <= seen, f"never drawn: {expected - seen}"


def test_float_discounts_reach_both_edges() -> None:
    seen: set[str] = set()

    @settings(max_examples=300, database=None)  # a coverage guarantee, not a budget: fixed
    @given(gammas(exact=False))
    def collect(gamma: float) -> None:
        assert 0 <= gamma < 1
        seen.add(repr(gamma) if gamma in (0.0, NEAR_ONE) else "subnormal" if gamma < SMALLEST_NORMAL else "other")

    collect()
    assert {"0.0", "-0.0", repr(NEAR_ONE), "subnormal"} <= seen


@given(hard_floats(3.0))
def test_hard_floats_stay_within_their_bound(x: float) -> None:
    assert math.isfinite(x) and abs(x) <= 3.0


def test_hard_inputs_shrink_to_the_smallest_task() -> None:
    """A counterexample that needs a subnormal still shrinks to d = n = 1, L = 0."""
    smallest = find(
        TD0Check().strategy("float64"),
        lambda inst: "subnormal" in _kinds_of_numbers(_numbers(inst)),
        settings=settings(database=None, derandomize=True),
    )
    assert (smallest.d, smallest.n, smallest.depth) == (1, 1, 0)
    assert any(0 < abs(v) < SMALLEST_NORMAL for v in _numbers(smallest))
