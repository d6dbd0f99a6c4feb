"""T1a — with the mask M_λ, the forward pass of a linear transformer implements batch TD(λ).

Source: [W25a] J. Wang, E. Blaser, H. Daneshmand, S. Zhang, *Transformers Can Learn Temporal Difference
Methods for In-Context Reinforcement Learning*, ICLR 2025, arXiv:2405.13861, Corollary 3 (mask M_TD(λ)).

Statement. Same prompt and weights as T1 (``constructions.td_lambda`` = θ*_TD(C_0, …, C_{L−1}) with a
different mask): M_λ[i, j] = λ^{i−j} for 0 ≤ j ≤ i < n, zero elsewhere (row n and column n zero),
λ ∈ [0, 1]. With traces e_i = Σ_{k≤i} λ^{i−k} φ_k and batch TD(λ)
w_0 = 0, w_{l+1} = w_l + (1/n) C_l Σ_{i<n} δ_i(w_l) e_i, δ_i(w) = r_i + wᵀγφ'_i − wᵀφ_i, for every l:
  1. rows 0..2d−1 of Z_l equal those of Z_0;
  2. Z_l[2d, i] = δ_i(w_l) for i < n;
  3. Z_l[2d, n] = −φ_qᵀ w_l.
The trace decays by λ, not γλ: textbook TD(λ_std) is λ = γ·λ_std (docs/theorems/td_lambda.md).

How it is checked: as T1 (instances are task data; exact equality, balls, mpmath ladder, the base case
and the inductive step in float64 and batched torch within certified rounding bounds). λ is a
parameter of the check, an exact Fraction: the transformer side multiplies by the mask M_λ of the
construction, the reference forms the traces by their own recursion e_i = λe_{i−1} + φ_i, and a float
backend counts the rounding of each λ^k and each product by λ. Hypothesis covers λ = 0 and λ = 1, γ = 0, d = 1,
n = 1, L = 0 and non-symmetric C_l. Cross-theorem: TD(λ = 0) is T1, state for state; a weight-tied
stack equals the untied stack with equal layers.
"""

from __future__ import annotations

from fractions import Fraction
from functools import partial
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from icrl_verify import constructions
from icrl_verify.algorithms import eligibility_traces
from icrl_verify.arith import ExactBackend
from icrl_verify.attention import run_transformer, td_lambda_mask
from icrl_verify.checks.base import FloatBound, tracked_backend
from icrl_verify.checks.td_family import TD0Check, counting_rational_inputs
from icrl_verify.checks.td_variants import TDLambdaCheck, grid_instance
from icrl_verify.strategies import lambdas, matrices
from icrl_verify.tasks import TDInstance
from icrl_verify.testing import BackendSuite, assert_certified, assert_tied_stack_is_untied, torch_batches

CHECK = TDLambdaCheck()
"""Draws the instances (task data do not depend on λ); each test builds the check of its λ."""


def with_lambda(check: TDLambdaCheck, lam: Any) -> TDLambdaCheck:
    """The check of trace parameter ``lam`` with the float sizes of ``check``."""
    return TDLambdaCheck(lam, float_n=check.float_n, float_depth=check.float_depth)


test_backends = BackendSuite(
    CHECK,
    torch_batches(TDLambdaCheck(float_n=30, float_depth=10), 256),
    variant=lambdas,
    with_variant=with_lambda,
).tests()
"""Every backend as T1, each example with its own λ (exact rationals for the exact kinds)."""


def test_published_configuration_float64() -> None:
    """[W25a]'s verification setting (λ = 1/2, d = 3, n = 100, L = 40), here with non-symmetric C_l."""
    check = TDLambdaCheck(Fraction(1, 2))
    assert_certified(check.run_float(check.sample_float(np.random.default_rng(0), 64), "float64"))


EDGES = [(1, 1, 0, Fraction(0)), (1, 1, 3, Fraction(0)), (2, 1, 2, Fraction(1, 2))]
"""(d, n, L, γ) edge configurations run on every backend."""


@pytest.mark.parametrize("lam", [Fraction(0), Fraction(1)])
@pytest.mark.parametrize(("d", "n", "depth", "gamma"), EDGES)
def test_edges_on_every_backend(lam: Fraction, d: int, n: int, depth: int, gamma: Fraction) -> None:
    """λ ∈ {0, 1} with d = 1, n = 1, L = 0, γ = 0, whatever Hypothesis happens to draw."""
    instance = grid_instance(np.random.default_rng(depth), d, n, depth, gamma)
    check = TDLambdaCheck(lam)
    assert_certified([*check.run_exact([instance]), *check.run_ball([instance]), *check.run_ladder([instance])])
    batch = CHECK.batch_of(instance)
    assert_certified([*check.run_float(batch, "float64"), *check.run_float(batch, "torch")])


@given(CHECK.strategy("exact"))
def test_lambda_zero_is_td0_state_for_state(instance: TDInstance) -> None:
    """Cross-theorem: with λ = 0 the TD(λ) transformer and T1's produce identical Z_l, and so do the references."""
    bk = ExactBackend()
    Z0 = bk.asmatrix(CHECK.build_prompt(instance))
    with_lambda = run_transformer(bk, Z0, constructions.td_lambda(instance.d, instance.preconditioners, instance.n, 0))
    td0 = run_transformer(bk, Z0, constructions.td0(instance.d, instance.preconditioners, instance.n))
    assert with_lambda == td0
    blocks = TD0Check().task_blocks(bk, instance)
    assert TDLambdaCheck(0).reference(bk, instance, blocks) == TD0Check().reference(bk, instance, blocks)


@given(CHECK.strategy("exact"), st.data())
def test_weight_tied_stack_equals_untied_stack(instance: TDInstance, data: st.DataObject) -> None:
    """One layer applied L times is the untied stack with L equal layers, exactly, and it is TD(λ) with C_l = C."""
    lam = data.draw(lambdas(exact=True), label="lam")
    depth = data.draw(st.integers(0, 4), label="L")
    C = data.draw(matrices((instance.d, instance.d), exact=True), label="C")
    assert_tied_stack_is_untied(
        partial(constructions.td_lambda, lam=lam), partial(TDLambdaCheck, lam), instance, C, depth
    )


@given(st.integers(1, 8), st.integers(1, 3), lambdas(exact=True), st.data())
def test_mask_rows_are_the_trace_coefficients(n: int, d: int, lam: Fraction, data: st.DataObject) -> None:
    """The two sides agree where they meet: Φ times the context block of the construction's mask M_λ
    (transposed) equals the reference's traces by the recursion e_i = λe_{i−1} + φ_i, exactly."""
    phi = data.draw(matrices((d, n), exact=True), label="features")
    bk = ExactBackend()
    mask = bk.asmatrix(td_lambda_mask(n, lam).dense()[:n, :n])
    assert bk.matmul(bk.asmatrix(phi), bk.transpose(mask)) == eligibility_traces(bk, bk.asmatrix(phi), lam)


@given(st.integers(1, 8), st.integers(1, 3), lambdas(exact=True), st.data())
def test_traces_are_the_explicit_sum(n: int, d: int, lam: Fraction, data: st.DataObject) -> None:
    """The reference's traces equal e_i = Σ_{k≤i} λ^{i−k} φ_k written out entry by entry."""
    phi = data.draw(matrices((d, n), exact=True), label="features")
    bk = ExactBackend()
    expected = np.empty((d, n), dtype=object)
    for i in range(n):
        for j in range(d):
            expected[j, i] = sum((lam ** (i - k) * phi[j, k] for k in range(i + 1)), Fraction(0))
    assert eligibility_traces(bk, bk.asmatrix(phi), lam) == bk.asmatrix(expected)


@pytest.mark.parametrize("bound", ["running", "absolute"])
def test_inexact_mask_entries_carry_their_rounding(bound: FloatBound) -> None:
    """Float soundness: the transformer side multiplies by the mask entries λ^k, the reference by λ in its
    recursion. A λ^k that no double holds (λ = 1/3) enters the float certificate with the bound of one
    rounding, never as if its double were exact; a matrix of dyadic entries stays exact."""
    bk = counting_rational_inputs(tracked_backend("float64", bound=bound))
    third = bk.asmatrix(np.array([[Fraction(1, 3), Fraction(1, 2)]], dtype=object))
    error = abs(Fraction(float(third.value[0, 0])) - Fraction(1, 3))
    assert 0 < error <= Fraction(float(bk.certified_bound(third)[0, 0]))
    assert bk.asmatrix(np.array([[Fraction(1, 2), Fraction(-3, 4)]], dtype=object)).bound is None
    check = TDLambdaCheck(Fraction(1, 3), float_n=20, float_depth=6)
    assert_certified(check.run_float(check.sample_float(np.random.default_rng(0), 64), "float64"))


def test_mask_of_the_spec() -> None:
    """n = 3: rows (1,0,0,0), (λ,1,0,0), (λ²,λ,1,0), (0,0,0,0) (docs/contract.md, T1a)."""
    lam = Fraction(1, 3)
    expected = [[1, 0, 0, 0], [lam, 1, 0, 0], [lam**2, lam, 1, 0], [0, 0, 0, 0]]
    assert td_lambda_mask(3, lam).dense().tolist() == expected


def test_lambda_outside_unit_interval_is_rejected() -> None:
    for bad in (-0.1, 1.5, float("nan")):
        with pytest.raises(ValueError, match="lam"):
            TDLambdaCheck(bad)
        with pytest.raises(ValueError, match="lam"):
            constructions.td_lambda(1, [np.eye(1)], 2, bad)
