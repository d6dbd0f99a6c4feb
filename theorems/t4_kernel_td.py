"""T4 — softmax attention implements kernel TD.

Source: [X26b] Z. Xie, X. Liu, C. Chen, S. Liu, R. Chandra, S. Zhang, *Beyond Linear Attention: Softmax
Transformers Implement In-Context Reinforcement Learning*, arXiv:2605.07333 (Theorem 1: the forward pass
is weighted softmax TD; Assumption 5.1 and Theorem 2: convergence). The full text was not available to us:
the prompt layout follows docs/contract.md T4, and **the two-head layer with the shift Π is our own
construction**, built to realise the paper's stated claim (the paper's Lemma 1 describes an equivalent
single head followed by a parameter-free target refill).

Statement. A trajectory S_0..S_n with features x(S_j) ∈ R^d and rewards R_k = r(S_{k−1}) gives the prompt
Z_0 ∈ R^{(d+3)×(n+1)}: rows 0..d−1 features, row d reward R_k at column k−1, row d+1 targets τ, row d+2
values u (both 0). Layer (both heads A = diag(I_d, 0, 0, 0), the query never a source,
K[i, j] = exp(x_iᵀx_j) / Σ_{m<n} exp(x_mᵀx_j) for i < n, K[n, :] = 0, δ_row = ρ + τ − u):

    u ← u + α δ_row K          (head 1)
    τ ← τ + γα (δ_row K) Π     (head 2; (yΠ)_k = y_{k+1}, (yΠ)_n = 0)

Weighted softmax TD (batch, synchronous, v_0 = 0): δ_k = R_k + γ v_l(S_k) − v_l(S_{k−1}),
v_{l+1}(S_j) = v_l(S_j) + α Σ_k κ(S_{k−1}, S_j) δ_k. Claims, for every l and every column j:
  1. row d+2 of Z_l equals v_l (rows 0..d never change);
  2. the invariant τ = γ·(u shifted) holds at every layer;
  3. population: if min_s M_π(s,s) ≥ (1+γ)/2 + c, M_π(s,s') = μ(s')e^{x(s)ᵀx(s')} / Σ_u μ(u)e^{x(s)ᵀx(u)},
     then ‖I − M_π + γM_πP‖_∞ ≤ 1 − 2c, and v ← v + M_π(r + γPv − v) converges to v_π at that rate;
  4. statistically, on full-coverage trajectories the transformer's sup error against v_π decays
     geometrically, then plateaus at a floor that shrinks with n.

How it is checked (docs/theorems/kernel_td.md): an instance is task data (x(S_0..S_n), R, α, γ, L); the
check builds Z_0 with the prompt builder under test and compares with kernel TD and the documented layout
computed from the task data (a wrong builder fails the base case). exp makes the kernel irrational at
rational points, so there is **no exact-rational certificate**; claims 1–2 are certified rigorously with
arb balls (the ball of the difference contains 0, radius < 2^-100 at 256 bits), by an mpmath precision
ladder, and by the inductive step at every layer of the float64 / batched-torch reference trajectory within
running error bounds; claim 3 rigorously in balls; claim 4 with confidence intervals over seeds.
"""

from __future__ import annotations

import functools
import itertools
from fractions import Fraction
from typing import Any

import numpy as np
import pytest
from flint import arb, arb_mat, ctx
from hypothesis import given
from numpy.typing import NDArray
from scipy import stats

from icrl_verify import constructions
from icrl_verify.algorithms import kernel_td, online_kernel_td_step
from icrl_verify.arith import BallBackend, ExactBackend
from icrl_verify.attention import run_softmax_transformer
from icrl_verify.certify import ball_verdict, certify_balls, tracked_verdict
from icrl_verify.checks.base import tracked_backend
from icrl_verify.checks.kernel_td import (
    CLAIM_CONTRACTION,
    CLAIM_POPULATION_RATE,
    CLAIM_VALUES,
    KernelTDCheck,
    KernelTDInstance,
    population_rate,
    sup_error_curves,
    tabular_kernel_mrp,
)
from icrl_verify.prompts import kernel_td_prompt
from icrl_verify.strategies import kernel_population_parameters
from icrl_verify.testing import BackendSuite, assert_certified, budget

CHECK = KernelTDCheck()


def claim(results: list[Any], name: str) -> Any:
    """The result of one claim."""
    (found,) = [r for r in results if r.claim == name]
    return found


# --- claims 1 and 2: the forward pass is weighted softmax TD, the target invariant holds ------------


test_backends = BackendSuite(
    CHECK,
    {
        "torch": (KernelTDCheck(float_n=16, float_depth=6), 100),
        "torch-cuda": (KernelTDCheck(float_n=30, float_depth=10), 1000),
    },
    {"ball": 10, "mpmath": 3, "float64": 25, "torch": 1, "torch-cuda": 1},
).tests()
"""Claims 1 and 2 in balls, on the mpmath ladder, and as the float64 / batched torch inductive step (no exact
kind: exp makes the kernel irrational, see ``test_exact_rationals_cannot_certify_softmax``)."""


def composed(bk: BallBackend, instance: KernelTDInstance) -> list[Any]:
    """Both sides of every claim at every layer, in balls."""
    return CHECK.composed_pairs(bk, instance)


def test_balls_at_256_bits_have_radius_below_2_to_minus_100() -> None:
    """The spec's rigour target, stated directly: no precision doubling, every radius < 2^-100."""
    rng = np.random.default_rng(4)
    for _ in range(3):
        inst = CHECK.sample_exact(rng)
        judged, prec = certify_balls(functools.partial(composed, instance=inst), 256)
        assert prec == 256
        assert all(verdict == "pass" for _, verdict, _ in judged)
        assert max(radius for _, _, radius in judged) < 2.0**-100


def test_float64_batch_of_trajectories() -> None:
    batch = KernelTDCheck(float_n=24, float_depth=12).sample_float(np.random.default_rng(2), 300)
    results = CHECK.run_float(batch, "float64")
    assert_certified(results)
    assert claim(results, CLAIM_VALUES).instances == 300


def test_max_subtraction_keeps_float64_finite_beyond_exp_range() -> None:
    """Scores near 800 overflow exp in float64; the column-max shift keeps the step inside its bound."""
    rng = np.random.default_rng(5)
    table = 20.0 + 0.05 * rng.standard_normal((4, 2))  # x_iᵀx_j ≈ 800
    instance = KernelTDInstance(table[rng.integers(0, 4, size=(8, 11))], rng.standard_normal((8, 10)), 0.5, 0.875, 6)
    results = CHECK.run_float(instance, "float64")
    assert_certified(results)
    assert np.isfinite(claim(results, CLAIM_VALUES).worst_error)


def test_exact_rationals_cannot_certify_softmax() -> None:
    """exp(x_iᵀx_j) is irrational at rational points (Lindemann): the exact backend refuses, and the
    check says it is not exact-certifiable instead of reporting a vacuous pass."""
    assert not CHECK.exact_certifiable
    with pytest.raises(ValueError, match="exp"):
        CHECK.composed_pairs(ExactBackend(), CHECK.sample_exact(np.random.default_rng(0)))
    assert CHECK.prove(["exact"], np.random.default_rng(0)) == []


def test_trajectory_from_an_mrp_in_balls() -> None:
    """The prompt of a real roll-out (tabular features scaled by √τ, repeated states) in balls."""
    rng = np.random.default_rng(6)
    task = tabular_kernel_mrp(4, Fraction(3, 5), rng)
    states = task.finite_mrp().trajectory(9, rng)
    instance = KernelTDInstance(task.features()[states], task.r[states[:-1]], Fraction(1), task.gamma, 6)
    assert_certified(CHECK.run_ball([instance]))


# --- the online form of the talk is a special case ---------------------------------------------------


def _state_kernel(bk: BallBackend, table: NDArray[Any], sources: NDArray[np.int64]) -> arb_mat:
    """κ(s', s) = exp(x(s')ᵀx(s)) / Σ_k exp(x(S_{k−1})ᵀx(s)) over states (context-normalised)."""
    S = table.shape[0]
    X = bk.asmatrix(table)
    with ctx.workprec(bk.prec):
        E = bk.exp(bk.matmul(X, bk.transpose(X)))
        norm = [sum((E[int(k), s] for k in sources), arb(0)) for s in range(S)]
        return arb_mat(S, S, [E[i, s] / norm[s] for i in range(S) for s in range(S)])


def test_online_increments_at_frozen_values_sum_to_one_batch_step() -> None:
    """v(s) += α δ_t κ(S_t, s) for each context transition, all evaluated at v_l, is v_{l+1} (balls)."""
    rng = np.random.default_rng(8)
    S, n, depth = 3, 7, 3
    table = np.array([[Fraction(int(k), 4) for k in rng.integers(-6, 7, size=2)] for _ in range(S)], dtype=object)
    states = np.concatenate([np.arange(S), rng.integers(0, S, size=n + 1 - S)])
    rewards = np.array([Fraction(int(k), 8) for k in rng.integers(-8, 9, size=n)], dtype=object)
    gamma, alpha = Fraction(3, 4), Fraction(1, 2)
    bk = BallBackend(256)
    batch = kernel_td(bk, bk.asmatrix(table[states].T), bk.asmatrix(rewards[None, :]), gamma, alpha, depth)
    kappa = _state_kernel(bk, table, states[:-1])
    first = [int(np.flatnonzero(states == s)[0]) for s in range(S)]
    for l in range(depth):
        frozen = arb_mat(1, S, [batch[l][0, j] for j in first])
        total = frozen
        for k in range(n):
            transition = (int(states[k]), rewards[k], int(states[k + 1]))
            step = online_kernel_td_step(bk, frozen, kappa, transition, gamma, alpha)
            total = bk.add(total, bk.sub(step, frozen))
        expected = arb_mat(1, n + 1, [total[0, int(s)] for s in states])
        verdict, radius = ball_verdict(bk.sub(batch[l + 1], expected), 256)
        assert verdict == "pass", (l, radius)


def test_online_form_with_indicator_kernel_is_tabular_td0() -> None:
    bk = ExactBackend()
    F = Fraction
    v = bk.asmatrix(np.array([[F(1), F(-2), F(3)]], dtype=object))
    out = online_kernel_td_step(bk, v, bk.eye(3), (1, F(1, 2), 2), F(9, 10), F(1, 4))
    # δ = 1/2 + (9/10)·3 − (−2) = 26/5; only state 1 moves, by α δ = 13/10
    assert out == bk.asmatrix(np.array([[F(1), F(-2) + F(13, 10), F(3)]], dtype=object))


# --- claim 3: population contraction and convergence (rigorous balls) --------------------------------


@budget(6)
@given(kernel_population_parameters())
def test_population_contraction_and_rate_in_balls(params: tuple[int, int, int]) -> None:
    """Generated MRPs meet min_s M_π(s,s) ≥ (1+γ)/2 + c (certified), then ‖I − M_π + γM_πP‖_∞ < 1 − 2c
    and ‖v_k − v_π‖_∞ ≤ (1 − 2c)^k ‖v_π‖_∞ for k ≤ 12 (γ = 0 included)."""
    S, seed, tenths = params
    task = tabular_kernel_mrp(S, Fraction(tenths, 10), np.random.default_rng(seed))
    results = CHECK.run_population([task])
    assert_certified(results)
    assert {r.claim for r in results} == {CLAIM_CONTRACTION, CLAIM_POPULATION_RATE}


def test_population_check_fails_without_the_assumption() -> None:
    """Unscaled tabular features (√τ = 1/4) violate the diagonal assumption: nothing may be certified."""
    task = tabular_kernel_mrp(4, Fraction(3, 5), np.random.default_rng(9))
    weak = type(task)(task.P, task.r, task.gamma, Fraction(1, 4))
    results = CHECK.run_population([weak])
    assert not any(r.passed for r in results)


# --- claim 4: geometric decay to a floor that shrinks with n (statistics over seeds) ---------------

STAT_SIZES = (16, 64, 256)
STAT_SEEDS = 24
STAT_DEPTH = 16


def _interval(samples: NDArray[np.float64], level: float = 0.95) -> tuple[float, float, float]:
    """(mean, lower, upper): Student-t confidence interval of the mean over seeds."""
    mean = float(np.mean(samples))
    half = float(stats.t.ppf(0.5 + level / 2, samples.size - 1) * np.std(samples, ddof=1) / np.sqrt(samples.size))
    return mean, mean - half, mean + half


@pytest.fixture(scope="module")
def error_curves() -> tuple[Any, dict[int, NDArray[np.float64]]]:
    task = tabular_kernel_mrp(5, Fraction(3, 5), np.random.default_rng(7)).finite_mrp()
    return task, {n: sup_error_curves(task, n, STAT_DEPTH, STAT_SEEDS, np.random.default_rng(n)) for n in STAT_SIZES}


def test_sup_error_decays_geometrically_to_a_floor(error_curves: tuple[Any, dict[int, NDArray[np.float64]]]) -> None:
    """Theorem 2's shape on the mean over seeds: error_L ≤ (1 − c)^L ‖v_π‖_∞ + floor_n (upper CI), and the
    curve has flattened (the last five layers move less than the floor's CI half-width)."""
    task, curves = error_curves
    c, _ = population_rate(task)
    start = float(np.max(np.abs(task.value)))
    for n, errors in curves.items():
        mean = errors.mean(axis=0)
        _, low, high = _interval(errors[:, -1])
        envelope = (1 - c) ** np.arange(STAT_DEPTH + 1) * start + high
        assert np.all(mean <= envelope), (n, mean, envelope)
        assert abs(mean[-1] - mean[-6]) <= (high - low) / 2, (n, mean[-6:])
        assert mean[0] == pytest.approx(start)  # v_0 = 0


def test_floor_shrinks_with_context_length(error_curves: tuple[Any, dict[int, NDArray[np.float64]]]) -> None:
    """95% confidence intervals of the plateau do not overlap between n and 4n."""
    _, curves = error_curves
    intervals = [_interval(curves[n][:, -1]) for n in STAT_SIZES]
    for (_, low_small, _), (_, _, high_large) in itertools.pairwise(intervals):
        assert high_large < low_small, intervals


def test_construction_matches_reference_on_numpy_in_five_lines() -> None:
    """The public API on plain float arrays (build, run, compare), judged by the running error bounds."""
    rng = np.random.default_rng(10)
    X, R = rng.standard_normal((9, 2)), rng.standard_normal(8)
    bk = tracked_backend("float64")
    Zs = run_softmax_transformer(bk, bk.asmatrix(kernel_td_prompt(X, R)), [constructions.kernel_td(2, 0.5, 0.9)] * 4)
    vs = kernel_td(bk, bk.asmatrix(X.T), bk.asmatrix(R[None, :]), 0.9, 0.5, 4)
    assert [bk.shape(Z) for Z in Zs] == [(5, 9)] * 5
    ok, _, _ = tracked_verdict(bk, bk.block(Zs[4], slice(4, 5), slice(None)), vs[4])
    assert bool(ok)
