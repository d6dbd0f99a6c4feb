"""T1 — the forward pass of a linear transformer implements batch TD(0).

Source: [W25a] J. Wang, E. Blaser, H. Daneshmand, S. Zhang, *Transformers Can Learn Temporal Difference
Methods for In-Context Reinforcement Learning*, ICLR 2025, arXiv:2405.13861, Theorem 1.

Statement. Let Z_0 ∈ R^{(2d+1)×(n+1)} hold context columns (φ_i, γφ'_i, r_i) and the query column
(φ_q, 0, 0), with arbitrary real entries. For any real C_0, …, C_{L−1} ∈ R^{d×d} (not necessarily
symmetric) take θ*_TD: P_l = e_{2d}e_{2d}ᵀ, Q_l[0:d, 0:d] = −C_lᵀ, Q_l[0:d, d:2d] = +C_lᵀ, and run
Z_{l+1} = Z_l + (1/n) P_l Z_l M (Z_lᵀ Q_l Z_l) with M = diag(1, …, 1, 0). With batch TD(0)
w_0 = 0, w_{l+1} = w_l + (1/n) C_l Σ_{i<n} δ_i(w_l) φ_i, δ_i(w) = r_i + wᵀγφ'_i − wᵀφ_i, for every l:
  1. rows 0..2d−1 of Z_l equal those of Z_0;
  2. Z_l[2d, i] = δ_i(w_l) for i < n;
  3. Z_l[2d, n] = −φ_qᵀ w_l, so the prediction TF = −Z_L[2d, n] = φ_qᵀ w_L.

How it is checked (docs/theorems/td0.md, docs/precision.md): an instance is the task data (φ, φ', r,
φ_q, γ, C_l), drawn by ``TD0Check.strategy``. The transformer side builds Z_0 with the prompt builder
under test and runs the generic layer on the construction; the reference side forms Φ, γΦ', r, φ_q
from the same data and runs batch TD(0), never reading the prompt. Exact rational equality at every
layer (a Schwartz–Zippel certificate for random grid points), rigorous ball containment, an mpmath
precision ladder, and, in float64 and batched torch, the base case (the built prompt is the layout of
the task) and the inductive step at every layer of the reference trajectory within certified rounding
bounds. Hypothesis covers d = 1, n = 1, L = 0, γ = 0, non-symmetric C_l, and tasks with arbitrary
entries or drawn from MRP trajectories.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np

from icrl_verify import constructions
from icrl_verify.arith import ExactBackend
from icrl_verify.attention import run_transformer
from icrl_verify.checks.td_family import TD0Check, schwartz_zippel_bound
from icrl_verify.prompts import td_prompt
from icrl_verify.testing import WORKED_EXAMPLE, BackendSuite, assert_certified, exact_row, torch_batches

CHECK = TD0Check()


test_backends = BackendSuite(CHECK, torch_batches(TD0Check(float_n=30, float_depth=10), 1000)).tests()
"""Exact equality at every layer, ball containment, the mpmath ladder, and the float64 / batched torch
inductive step within running bounds (1000 tasks of d = 3, n = 30, L = 10 per torch batch)."""


def test_default_certificate_sampler_has_negligible_false_pass_probability() -> None:
    rng = np.random.default_rng(1)
    instances = [CHECK.sample_exact(rng) for _ in range(20)]
    assert_certified(CHECK.run_exact(instances))
    assert schwartz_zippel_bound(CHECK.depth, 20) < 1e-40


def test_worked_example_of_the_spec() -> None:
    """d = 1, n = 2, C = 1, φ = (1, 2), γφ' = (1, 0.5) (γ = 1/2, φ' = (2, 1)), r = (1, −1), φ_q = 3 (contract, T1)."""
    F = Fraction
    one = np.array([[F(1)]], dtype=object)
    bk = ExactBackend()
    Z0 = td_prompt(*WORKED_EXAMPLE)
    states = run_transformer(bk, bk.asmatrix(Z0), constructions.td0(1, [one] * 3, n=2))
    assert exact_row(states, 2, (1, 2, 3)) == [[1, F(-1, 4), F(3, 2)], [1, F(-5, 8), F(3, 4)], [1, F(-7, 16), F(9, 8)]]
