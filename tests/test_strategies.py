"""Meta-tests: the Hypothesis strategies produce what they claim (stochastic rows, ergodic chains, shapes)."""

from __future__ import annotations

import itertools
from fractions import Fraction

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from icrl_verify import mrp
from icrl_verify.checks.td_family import TDInstance
from icrl_verify.strategies import finite_mrps, shapes, td_instances
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


@given(td_instances(exact=True))
def test_exact_instances_have_rational_entries_and_matching_shapes(inst: TDInstance) -> None:
    assert inst.Z0.shape == (2 * inst.d + 1, inst.n + 1)
    assert all(isinstance(v, (int, Fraction)) for v in inst.Z0.flat)
    assert all(C.shape == (inst.d, inst.d) for C in inst.preconditioners)
    assert all(v == 0 for v in inst.Z0[inst.d :, inst.n]), "query column is (φ_q, 0, 0)"


@given(td_instances(exact=False))
def test_float_instances_are_finite(inst: TDInstance) -> None:
    assert np.all(np.isfinite(inst.Z0.astype(float)))
    assert inst.Z0[inst.d :, inst.n].tolist() == [0.0] * (inst.d + 1)


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
