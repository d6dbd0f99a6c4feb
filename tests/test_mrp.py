"""Task generators and TD quantities of FiniteMRP against their definitions (docs/contract.md §0)."""

from __future__ import annotations

import numpy as np
import pytest

from icrl_verify import mrp


def test_boyan_chain_structure() -> None:
    task = mrp.boyan_chain(10, 4, 0.9, np.random.default_rng(0))
    P, S = task.P, 10
    for i in range(S - 2):
        nonzero = set(np.flatnonzero(P[i]))
        assert nonzero <= {i + 1, i + 2}
        assert 0.01 <= P[i, i + 1] <= 0.99
    assert P[S - 2, S - 1] == 1.0
    assert np.all(P[S - 1] > 0)
    assert np.all((task.features >= -1) & (task.features <= 1))
    assert np.all(np.abs(task.r) <= 1)


def test_representable_rewards_make_value_linear() -> None:
    task = mrp.boyan_chain(8, 3, 0.8, np.random.default_rng(1), representable=True)
    w, *_ = np.linalg.lstsq(task.features, task.value, rcond=None)
    np.testing.assert_allclose(task.features @ w, task.value, atol=1e-10)


def test_loop_mrp_has_ring_and_no_self_loops() -> None:
    task = mrp.loop_mrp(7, 2, 0.5, np.random.default_rng(2))
    S = task.num_states
    assert np.all(np.diag(task.P) == 0)
    assert all(task.P[i, (i + 1) % S] > 0 for i in range(S))


def test_td_quantities_match_definitions() -> None:
    task = mrp.random_mrp(5, 3, 0.7, np.random.default_rng(3))
    mu, P, Phi, g = task.stationary, task.P, task.features, task.gamma
    np.testing.assert_allclose(mu @ P, mu, atol=1e-12)
    np.testing.assert_allclose(task.value, task.r + g * P @ task.value, atol=1e-12)
    D = np.diag(mu)
    np.testing.assert_allclose(task.A, Phi.T @ D @ (g * P - np.eye(5)) @ Phi, atol=1e-12)
    np.testing.assert_allclose(task.b, Phi.T @ D @ task.r, atol=1e-12)
    w = task.td_fixed_point()
    np.testing.assert_allclose(task.A @ w + task.b, 0, atol=1e-10)


def test_tabular_td_fixed_point_is_the_value() -> None:
    task = mrp.random_mrp(4, 4, 0.6, np.random.default_rng(4), tabular=True)
    np.testing.assert_allclose(task.td_fixed_point(), task.value, atol=1e-10)


def test_trajectory_follows_transitions_and_initial_distribution() -> None:
    task = mrp.boyan_chain(5, 2, 0.9, np.random.default_rng(5))
    rng = np.random.default_rng(6)
    starts = np.bincount([task.trajectory(0, rng)[0] for _ in range(4000)], minlength=5) / 4000
    np.testing.assert_allclose(starts, task.initial, atol=0.03)
    states = task.trajectory(2000, rng)
    counts = np.zeros((5, 5))
    np.add.at(counts, (states[:-1], states[1:]), 1)
    empirical = counts / counts.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(empirical, task.P, atol=0.1)


def test_transitions_reject_bad_states() -> None:
    task = mrp.boyan_chain(5, 2, 0.9, np.random.default_rng(0))
    with pytest.raises(ValueError, match="states"):
        task.transitions(np.array([0, 9]))
