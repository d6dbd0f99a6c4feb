"""The TD prompt builders against their documented layout, entry by entry (docs/contract.md, docs/contract.md §0, T1c).

Written independently of prompts.py: every expected entry is placed by a loop over the transitions i and
the feature index j, never by the block slicing the builders use.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from icrl_verify.prompts import average_reward_prompt, td_prompt
from icrl_verify.strategies import contexts, gammas, matrices
from icrl_verify.testing import budget


def documented_td_prompt(phi: Any, phi_next: Any, r: Any, q: Any, gamma: Any, average_reward: bool) -> list[list[Any]]:
    """docs/contract.md §0: context column i is (φ_i, γφ'_i, r_i), the query column n is (φ_q, 0, 0); with
    ``average_reward`` (T1c) γ = 1 and a last row of zeros (the accumulator), query column (φ_q, 0, 0, 0)."""
    n, d = len(phi), len(q)
    rows = 2 * d + 1 + int(average_reward)
    Z: list[list[Any]] = [[0] * (n + 1) for _ in range(rows)]
    for i in range(n):
        for j in range(d):
            Z[j][i] = phi[i][j]
            Z[d + j][i] = phi_next[i][j] if average_reward else gamma * phi_next[i][j]
        Z[2 * d][i] = r[i]
    for j in range(d):
        Z[j][n] = q[j]
    return Z


def _assert_entries_equal(Z: Any, expected: list[list[Any]], exact: bool) -> None:
    assert Z.shape == (len(expected), len(expected[0])), (Z.shape, len(expected), len(expected[0]))
    for row in range(len(expected)):
        for col in range(len(expected[0])):
            got, want = Z[row, col], expected[row][col]
            if exact:
                assert isinstance(got, (int, Fraction)), f"entry ({row}, {col}) is {type(got).__name__}, not exact"
                assert got == want, f"entry ({row}, {col}): {got} != {want}"
            else:
                assert float(got) == float(want), f"entry ({row}, {col}): {got!r} != {want!r}"


@given(st.booleans(), st.integers(1, 3), st.integers(1, 6), st.data())
def test_td_prompt_matches_the_documented_layout(exact: bool, d: int, n: int, data: st.DataObject) -> None:
    phi, phi_next, r, q, gamma = data.draw(contexts(exact, d, n), label="context")
    expected = documented_td_prompt(phi, phi_next, r, q, gamma if exact else float(gamma), average_reward=False)
    _assert_entries_equal(td_prompt(phi, phi_next, r, q, gamma), expected, exact)


@given(st.booleans(), st.integers(1, 3), st.integers(1, 6), st.data())
def test_average_reward_prompt_matches_the_documented_layout(
    exact: bool, d: int, n: int, data: st.DataObject
) -> None:
    phi, phi_next, r, q, _ = data.draw(contexts(exact, d, n), label="context")
    expected = documented_td_prompt(phi, phi_next, r, q, None, average_reward=True)
    _assert_entries_equal(average_reward_prompt(phi, phi_next, r, q), expected, exact)


@budget(10)
@given(st.booleans(), st.integers(1, 4), st.integers(1, 3), st.integers(1, 5), st.data())
def test_batched_prompts_are_the_single_prompts(
    exact: bool, batch: int, d: int, n: int, data: st.DataObject
) -> None:
    """A leading batch axis B gives entry b = the prompt of task b, for both builders."""
    phi = data.draw(matrices((batch, n, d), exact), label="features")
    phi_next = data.draw(matrices((batch, n, d), exact), label="next_features")
    r = data.draw(matrices((batch, n), exact), label="rewards")
    q = data.draw(matrices((batch, d), exact), label="query")
    gamma = data.draw(gammas(exact), label="gamma")
    discounted, undiscounted = td_prompt(phi, phi_next, r, q, gamma), average_reward_prompt(phi, phi_next, r, q)
    assert discounted.shape == (batch, 2 * d + 1, n + 1) and undiscounted.shape == (batch, 2 * d + 2, n + 1)
    for b in range(batch):
        g = gamma if exact else float(gamma)
        _assert_entries_equal(discounted[b], documented_td_prompt(phi[b], phi_next[b], r[b], q[b], g, False), exact)
        _assert_entries_equal(undiscounted[b], documented_td_prompt(phi[b], phi_next[b], r[b], q[b], None, True), exact)


def test_worked_example_prompt() -> None:
    """docs/contract.md T1's worked example: φ = (1, 2), φ' = (2, 1), γ = 1/2, r = (1, −1), φ_q = 3."""
    F = Fraction
    one_d = [np.array([[F(1)], [F(2)]], dtype=object), np.array([[F(2)], [F(1)]], dtype=object)]
    r, q = np.array([F(1), F(-1)], dtype=object), np.array([F(3)], dtype=object)
    assert td_prompt(*one_d, r, q, F(1, 2)).tolist() == [[1, 2, 3], [1, F(1, 2), 0], [1, -1, 0]]
    assert average_reward_prompt(*one_d, r, q).tolist() == [[1, 2, 3], [2, 1, 0], [1, -1, 0], [0, 0, 0]]


@pytest.mark.parametrize("builder", ["td_prompt", "average_reward_prompt"])
def test_layout_check_can_fail(builder: str) -> None:
    """Control: the entry-by-entry comparison rejects a prompt with one entry moved."""
    F = Fraction
    phi = np.array([[F(1), F(2)]], dtype=object)
    phi_next = np.array([[F(3), F(4)]], dtype=object)
    r, q = np.array([F(5)], dtype=object), np.array([F(6), F(7)], dtype=object)
    average = builder == "average_reward_prompt"
    Z = average_reward_prompt(phi, phi_next, r, q) if average else td_prompt(phi, phi_next, r, q, F(1, 2))
    Z[[0, 1], 1] = Z[[1, 0], 1]  # query features in the wrong order
    with pytest.raises(AssertionError, match="entry"):
        _assert_entries_equal(Z, documented_td_prompt(phi, phi_next, r, q, F(1, 2), average), exact=True)
