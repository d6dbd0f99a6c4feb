"""T3 — one linear-attention layer, decoded with chain of thought, implements batch TD.

Source: [X26a] Z. Xie, X. Liu, R. Chandra, S. Zhang, *Convergence and Emergence of In-Context RL with
Chain of Thought*, arXiv:2605.07123. The paper's text was not available: the token layout and the
weights below are OUR reconstruction, built to realise the paper's stated claim (CoT steps are batch-TD
iterations over the fixed context; the error decays geometrically in CoT length down to a floor set
by the context length). See docs/theorems/cot.md.

Statement. Tokens live in R^{3d+2} with blocks (φ, γφ', r, w, e). Context token i is
(φ_i, γφ'_i, r_i, 0, 0), the first thought is c_0 = (0, 0, 0, w_0 = 0, 1). Take θ*_CoT(C):
Q[φ, w] = −I, Q[γφ', w] = +I, Q[r, e] = 1 and P[w, φ] = C (any real d×d C, not necessarily symmetric).
One layer reads every token so far, Z = [context, c_0, …, c_k] (no mask), and appends

    c_{k+1} = c_k + (1/n) · P · Z · (Zᵀ Q c_k),     n = the number of context tokens.

With batch TD w_{k+1} = w_k + (1/n) C Σ_{i<n} δ_i(w_k) φ_i, w_0 = 0, for every k ≤ K:
  1. c_k = (0, 0, 0, w_k, 1): the w-block of thought k is the batch-TD iterate w_k (exact);
  2. ⟨φ_q, w_k⟩ equals the k-layer T1 transformer with C_l = C (exact, cross-theorem): depth L ⇔
     thoughts K, and K thoughts cost one layer's weights;
  3. with A_n = (1/n) Σ φ_i(φ_i − γφ'_i)ᵀ and A_n w_n = (1/n) Σ r_i φ_i, w_k − w_n = (I − C A_n)^k (w_0 − w_n)
     (exact), so the error decays geometrically when ρ(I − C A_n) < 1 (certified exactly by a
     rational quadratic norm in which I − C A_n contracts);
  4. statistically, on stationary trajectories of ergodic MRPs the floor ‖w_n − w_TD‖ shrinks like
     n^(−1/2): the 99% confidence interval of the fitted log–log slope contains −1/2 and excludes 0
     and −1.

How it is checked (docs/theorems/cot.md, docs/precision.md): an instance is task data (φ, φ', r, φ_q, γ,
C, K); the check builds the token matrix with the prompt builder under test and compares with batch TD,
the T1 transformer and A_n, w_n computed from the task data, the context tokens with their documented
layout (a wrong builder fails the base case). Exact rational equality at every thought
(a Schwartz–Zippel certificate: claims 1–2 are polynomial identities of degree ≤ 3K+1), rigorous ball
containment, an mpmath precision ladder, and the inductive step at every thought of the float64 /
batched-torch reference trajectory within running error bounds. Hypothesis covers d = 1, n = 1, K = 0,
γ = 0, non-symmetric C, arbitrary contexts and trajectory-shaped ones.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from icrl_verify import constructions, cot
from icrl_verify.arith import ExactBackend
from icrl_verify.attention import Head, LinearAttentionWeights, Mask, linear_attention, linear_attention_last
from icrl_verify.checks.cot import CLAIM_ERROR, CoTCheck, cot_instance, floor_fit
from icrl_verify.checks.td_family import schwartz_zippel_bound
from icrl_verify.prompts import cot_prompt
from icrl_verify.strategies import decoding_steps, matrices
from icrl_verify.testing import (
    BUDGETS,
    WORKED_EXAMPLE,
    BackendSuite,
    assert_certified,
    budget,
    torch_batches,
)

CHECK = CoTCheck()


test_backends = BackendSuite(
    CHECK, torch_batches(CoTCheck(float_n=30, float_thoughts=10), 1000), {**BUDGETS, "ball": 6, "mpmath": 3}
).tests()
"""Exact equality at every thought, balls, the mpmath ladder, and the float64 / batched torch inductive
step within running bounds (1000 tasks of d = 3, n = 30, K = 10 per torch batch)."""


@budget(3)
@given(st.integers(0, 2**32 - 1))
def test_geometric_decay_certified_exactly(seed: int) -> None:
    rng = np.random.default_rng(seed)
    results = CHECK.run_decay([CHECK.sample_decay(rng) for _ in range(4)])
    assert_certified(results)
    assert results[0].instances == 4


def test_floor_shrinks_like_inverse_sqrt_of_context_length() -> None:
    fit = floor_fit(np.random.default_rng(2026), seeds=200)
    assert fit.passes(), fit.summary()


def test_exact_checks_accept_float_task_data() -> None:
    """Float inputs are exact rationals (dyadic): the exact, ball and decay checks convert every entry,
    γ = 0.9 and C (a float C, and an α-scaled float C) before computing, so the correct construction is
    certified exactly, the error claim included (its fixed point is solved over ℚ, not by float pinv)."""
    rng = np.random.default_rng(3)
    phi, nxt = rng.standard_normal((5, 2)), rng.standard_normal((5, 2))
    r, q = rng.standard_normal(5), rng.standard_normal(2)
    for C in (np.array([[1.0, 0.3], [-0.2, 0.7]]), 0.3 * np.array([[1.0, 0.2], [-0.1, 1.0]])):
        instance = cot_instance(phi, nxt, r, q, 0.9, C, 3)
        assert instance.fixed_point is not None and instance.fixed_point.dtype == np.float64
        for results in (CHECK.run_exact([instance]), CHECK.run_ball([instance])):
            assert_certified(results)
            assert next(res for res in results if res.claim == CLAIM_ERROR).instances == 1
    decay = CHECK.sample_decay(np.random.default_rng(4))
    task = (decay.features, decay.next_features, decay.rewards, decay.query, decay.C)
    phi, nxt, r, q, alpha_scaled = (np.asarray(a, dtype=np.float64) for a in task)  # dyadic: the same numbers
    float_decay = cot_instance(phi, nxt, r, q, 0.9, alpha_scaled, decay.thoughts)
    assert_certified(CHECK.run_decay([float_decay]))


def test_default_certificate_sampler_has_negligible_false_pass_probability() -> None:
    rng = np.random.default_rng(1)
    instances = [CHECK.sample_exact(rng) for _ in range(20)]
    assert_certified(CHECK.run_exact(instances))
    assert schwartz_zippel_bound(CHECK.thoughts, 20) < 1e-40


@budget(10)
@given(
    decoding_steps(),
    st.data(),
)
def test_decoding_step_is_the_last_column_of_the_generic_layer(
    sizes: tuple[int, int, int, Any, Any], data: st.DataObject
) -> None:
    """linear_attention_last(Z, P, Q, n) = column N−1 of linear_attention with every column a source,
    for any P, Q and any N = n + 1 + k: the dense mask (N−1)/n · I turns the layer's 1/(N−1) into 1/n."""
    d, n, k, P, Q = sizes
    rows, cols = 3 * d + 2, n + 1 + k
    Z = data.draw(matrices((rows, cols), exact=True), label="Z")
    bk = ExactBackend()
    mask = np.empty((cols, cols), dtype=object)
    mask[...] = Fraction(0)
    for j in range(cols):
        mask[j, j] = Fraction(cols - 1, n)
    layer = LinearAttentionWeights((Head(P, Q, Mask(cols - 1, mask)),))
    full = linear_attention(bk, bk.asmatrix(Z), layer)
    last = bk.block(full, slice(None), slice(cols - 1, cols))
    assert linear_attention_last(bk, bk.asmatrix(Z), P, Q, n) == last


def test_worked_example_matches_t1() -> None:
    """The T1 worked example of docs/contract.md (d = 1, n = 2, C = 1, φ = (1, 2), φ' = (2, 1), γ = 1/2,
    r = (1, −1), φ_q = 3): thoughts carry w = −1/2, −1/4, −3/8, so ⟨φ_q, w_k⟩ = −3/2, −3/4, −9/8,
    the negated query entries (3/2, 3/4, 9/8) of the three-layer T1 transformer."""
    F = Fraction
    features, next_features, rewards, _, gamma = WORKED_EXAMPLE
    Z0 = cot_prompt(features, next_features, rewards, gamma)
    bk = ExactBackend()
    Z = cot.generate(bk, bk.asmatrix(Z0), constructions.cot_td(1, np.array([[F(1)]], dtype=object)), 3)
    tokens = [[F(int(Z[i, 2 + k].p), int(Z[i, 2 + k].q)) for i in range(5)] for k in range(4)]
    assert tokens == [[0, 0, 0, 0, 1], [0, 0, 0, F(-1, 2), 1], [0, 0, 0, F(-1, 4), 1], [0, 0, 0, F(-3, 8), 1]]
    three = bk.asmatrix(np.array([[F(3)]], dtype=object))
    values = [cot.value(bk, three, cot.read_weights(bk, cot.thought(bk, Z, k, 2)))[0, 0] for k in (1, 2, 3)]
    assert [F(int(v.p), int(v.q)) for v in values] == [F(-3, 2), F(-3, 4), F(-9, 8)]
