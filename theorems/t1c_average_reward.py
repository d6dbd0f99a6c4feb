"""T1c — a two-head linear transformer implements batch average-reward TD.

Source: [W25a] J. Wang, E. Blaser, H. Daneshmand, S. Zhang, *Transformers Can Learn Temporal Difference
Methods for In-Context Reinforcement Learning*, ICLR 2025, arXiv:2405.13861 (average-reward
construction of its verification).

Statement. Prompt Z_0 ∈ R^{(2d+2)×(n+1)} with context columns (φ_i, φ'_i, r_i, 0) (no discount) and
query column (φ_q, 0, 0, 0). Let R = U·diag(1/1, …, 1/(n+1)) − I (U upper-triangular all-ones, so
(yR)_j = mean(y_0..y_j) − y_j) and M = diag(1, …, 1, 0). ``constructions.average_reward_td`` is one
layer per C_l with two ordinary heads sharing Q_l (the T1 block −C_lᵀ, +C_lᵀ padded): head 1 with
selector P_1 = e_{2d}e_{2d}ᵀ and right factor R·M, head 2 with P_2 = e_{2d+1}e_{2d+1}ᵀ and M, and an
output projection W writing both selected rows into row 2d+1. With r̄_i = mean(r_0..r_i),
δ_i(w) = r_i − r̄_i + wᵀφ'_i − wᵀφ_i and w_0 = 0, w_{l+1} = w_l + (1/n) C_l Σ_{i<n} δ_i(w_l) φ_i,
for every l:
  1. rows 0..2d of Z_l equal those of Z_0 (only the accumulator row 2d+1 changes);
  2. Z_l[2d+1, i] = −(φ'_i − φ_i)ᵀ w_l for i < n;
  3. Z_l[2d+1, n] = +φ_qᵀ w_l — a plus sign, unlike T1's −Z_L[2d, n] (docs/theorems/average_reward.md).

How it is checked: as T1 (instances are task data without a discount; exact, balls, mpmath ladder, the
base case and the float64 and batched torch inductive step within certified rounding bounds). The
transformer side multiplies by the construction's running-average operator R; the reference forms
r_i − r̄_i from running sums of the rewards, and a float backend counts the rounding of each 1/(j+1). With the published
Gaussian C_l the iterates grow by many orders of magnitude over 40 layers; the running bound scales
with them (``test_growing_iterates_within_the_derived_bound``).
"""

from __future__ import annotations

from collections.abc import Callable
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from icrl_verify import constructions
from icrl_verify.algorithms import batch_average_reward_td, differential_rewards
from icrl_verify.arith import ExactBackend, Float64Backend
from icrl_verify.attention import run_transformer, running_average_operator, standard_mask
from icrl_verify.checks.td_variants import AverageRewardCheck, grid_instance
from icrl_verify.prompts import average_reward_prompt
from icrl_verify.strategies import matrices
from icrl_verify.tasks import TDInstance
from icrl_verify.testing import (
    BackendSuite,
    assert_certified,
    assert_tied_stack_is_untied,
    torch_batches,
)

CHECK = AverageRewardCheck()
EDGES = [(1, 1, 0), (1, 1, 3), (2, 1, 2), (1, 3, 2)]
"""(d, n, L) edge configurations run on every backend."""


test_backends = BackendSuite(CHECK, torch_batches(AverageRewardCheck(float_n=30, float_depth=10), 256)).tests()
"""Every backend as T1 (torch batches of 256 tasks of d = 3, n = 30, L = 10; 1000 on CUDA)."""


def test_growing_iterates_within_the_derived_bound() -> None:
    """The published setting (d = 3, n = 100, L = 40, Gaussian C_l): iterates grow by many orders of
    magnitude, the absolute float64 errors with them ([W25a]'s plot reaches ~1e-3), and the running
    bound follows — nothing is loosened."""
    batch = CHECK.sample_float(np.random.default_rng(0), 32)
    bk = Float64Backend()
    ws = CHECK.reference(bk, batch, CHECK.task_blocks(bk, batch))
    assert np.max(np.abs(ws[-1])) / np.max(np.abs(ws[1])) > 1e9
    results = CHECK.run_float(batch, "float64")
    assert_certified(results)
    assert max(r.worst_error or 0.0 for r in results) > 1e-6  # absolute error of a certified pass


@pytest.mark.parametrize(("d", "n", "depth"), EDGES)
def test_edges_on_every_backend(d: int, n: int, depth: int) -> None:
    """d = 1, n = 1, L = 0, whatever Hypothesis happens to draw."""
    instance = grid_instance(np.random.default_rng(depth), d, n, depth)
    assert_certified([*CHECK.run_exact([instance]), *CHECK.run_ball([instance]), *CHECK.run_ladder([instance])])
    batch = CHECK.batch_of(instance)
    assert_certified([*CHECK.run_float(batch, "float64"), *CHECK.run_float(batch, "torch")])


@given(CHECK.strategy("exact"), st.data())
def test_weight_tied_stack_equals_untied_stack(instance: TDInstance, data: st.DataObject) -> None:
    """One layer applied L times is the untied stack with L equal layers, exactly, and it is
    average-reward TD with C_l = C."""
    depth = data.draw(st.integers(0, 4), label="L")
    C = data.draw(matrices((instance.d, instance.d), exact=True), label="C")
    assert_tied_stack_is_untied(constructions.average_reward_td, AverageRewardCheck, instance, C, depth)


@given(st.integers(1, 10), st.data())
def test_running_average_operator_gives_the_reference_offsets(n: int, data: st.DataObject) -> None:
    """The two sides agree where they meet: r·R with the construction's operator R is −(r_i − r̄_i) of
    the reference, and both are r_i − mean(r_0..r_i) (current reward included) written out directly."""
    r = data.draw(matrices((n,), exact=True), label="rewards")
    bk = ExactBackend()
    direct = bk.asmatrix(np.array([[r[i] - sum(r[: i + 1], Fraction(0)) / (i + 1) for i in range(n)]], dtype=object))
    row = bk.asmatrix(r[None, :])
    assert differential_rewards(bk, row) == direct
    assert bk.neg(bk.matmul(row, bk.asmatrix(running_average_operator(n)))) == direct


def test_heads_are_ordinary_heads() -> None:
    """Two heads with one-hot selectors on rows 2d and 2d+1, shared Q, and a 0/1 output projection."""
    d, n = 2, 4
    layer = constructions.average_reward_td(d, [np.arange(4.0).reshape(2, 2)], n)[0]
    size = 2 * d + 2
    head1, head2 = layer.heads
    assert np.count_nonzero(head1.P) == 1 and head1.P[2 * d, 2 * d] == 1
    assert np.count_nonzero(head2.P) == 1 and head2.P[2 * d + 1, 2 * d + 1] == 1
    assert np.array_equal(head1.Q, head2.Q) and head2.mask == standard_mask(n)
    assert layer.out is not None and layer.out.shape == (size, 2 * size)
    rows, cols = np.nonzero(layer.out)
    assert rows.tolist() == [2 * d + 1] * 2 and cols.tolist() == [2 * d, size + 2 * d + 1]
    assert np.all(layer.out[rows, cols] == 1)


def test_worked_example() -> None:
    """d = 1, n = 2, C = 1, φ = (1, 2), φ' = (1, 1/2), r = (1, −1) (so r − r̄ = (0, −1)), φ_q = 3:
    w_1 = −1, w_2 = −1/2; the accumulator row after layers 1 and 2 is (0, −3/2, −3) and (0, −3/4, −3/2)."""
    F = Fraction
    Z0 = average_reward_prompt(
        np.array([[F(1)], [F(2)]], dtype=object),
        np.array([[F(1)], [F(1, 2)]], dtype=object),
        np.array([F(1), F(-1)], dtype=object),
        np.array([F(3)], dtype=object),
    )
    one = np.array([[F(1)]], dtype=object)
    bk = ExactBackend()
    states = run_transformer(bk, bk.asmatrix(Z0), constructions.average_reward_td(1, [one] * 2, n=2))
    rows = [[F(int(states[l][3, j].p), int(states[l][3, j].q)) for j in range(3)] for l in (1, 2)]
    assert rows == [[0, F(-3, 2), -3], [0, F(-3, 4), F(-3, 2)]]


@pytest.mark.parametrize(
    ("call", "argument"),
    [
        (lambda: average_reward_prompt(np.zeros((3, 2)), np.zeros((3, 1)), np.zeros(3), np.zeros(2)), "next_features"),
        (lambda: average_reward_prompt(np.zeros((0, 2)), np.zeros((0, 2)), np.zeros(0), np.zeros(2)), "features"),
        (lambda: constructions.average_reward_td(2, [np.eye(3)], 4), "preconditioners"),
        (lambda: constructions.average_reward_td(1, [np.eye(1)], 0), "n"),
        (lambda: batch_average_reward_td(np.zeros((3, 2)), np.zeros((3, 2)), np.zeros(4), [np.eye(2)]), "rewards"),
    ],
)
def test_bad_input_names_the_argument(call: Callable[[], object], argument: str) -> None:
    with pytest.raises(ValueError, match=f"^{argument}"):
        call()
