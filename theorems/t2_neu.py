"""T2 — the norm of the expected update vanishes at θ* (provable emergence of in-context TD).

Source: [W25b] J. Wang, R. Chandra, S. Zhang, *Towards Provable Emergence of In-Context Reinforcement
Learning*, NeurIPS 2025, arXiv:2509.18389. The full text was not available to us: the statement below is
reconstructed from the abstract and third-party summaries, and the checks realise the paper's stated
claim (docs/theorems/neu.md says what was reconstructed and derives every tolerance).

Setting. A finite MRP (P, r, γ) with S states and stationary distribution μ. The enumerated
expected-feature prompt for query state q has n = S context columns (φ(i), γ Σ_{s'} P[i, s'] φ(s'), r(i))
and the query column (φ(q), 0, 0). θ*_L = θ*_TD(C, …, C) of [W25a] with C = S·I over L untied layers;
TF_θ(s) = −Z_L[2d, n] for the prompt of s.

Statement (tabular features Φ = I, d = S):
  1. the forward pass is value iteration, w_{l+1} = r + γP w_l, so |TF_L(s) − v(s)| ≤ γ^L ‖v‖∞ for every s;
  2. NEU_TD(θ) = ‖Σ_s μ(s) Σ_{s'} P[s,s'] (r(s) + γTF_θ(s') − TF_θ(s)) ∇_θ TF_θ(s)‖ and
     NEU_MC(θ) = ‖Σ_s μ(s) (v(s) − TF_θ(s)) ∇_θ TF_θ(s)‖, the gradient over every P_l, Q_l, tend to 0 at
     θ*_L as L → ∞, geometrically at rate γ, while ‖∇_θ TF‖ stays bounded: θ*_L is a limiting global
     minimiser of both objectives (NEU ≥ 0), also for the mean over a finite set of tasks;
  3. (contrast) at a random θ and at θ* with the step's sign flipped (which is θ* with Q's two blocks
     swapped) the NEU stays away from 0, while a smaller positive step C = 0.5·S·I still converges;
  4. (general features) expected TD under the prompt's uniform weighting, w_{l+1} = w_l +
     (1/S) C Φᵀ(r + γPΦw_l − Φw_l), converges from every start iff ρ(I − (1/S) C Φᵀ(I − γP)Φ) < 1, and
     some feature maps violate it for every positive step.

How it is checked: the forward pass itself — on the enumerated prompt the builder makes from (P, r, Φ, γ),
layer l of θ*_TD(S·I) holds w_l of expected TD computed from the task data (value iteration at Φ = I), and
the prompt is the documented layout — in exact rationals, balls, the mpmath ladder and, as an inductive
step within running error bounds, float64 and torch; claim 1 in exact rationals (v solved over ℚ) up to
L = 20 and in float64 up to L = 200 with a derived running error bound; claims 2 and 3 with torch autograd
in float64, the gradients cross-checked against exact forward-mode derivatives over ℚ; claim 4 in float64
against the spectral radius. The transformer side always runs the generic layer on the constructed weights.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from icrl_verify import neu
from icrl_verify.arith.torch_backend import intra_op_threads
from icrl_verify.checks import neu as t2
from icrl_verify.mrp import FiniteMRP, random_mrp
from icrl_verify.strategies import finite_mrps
from icrl_verify.testing import BUDGETS, BackendSuite, assert_certified, budget, torch_batches

seeds = st.integers(0, 2**32 - 1)
FORWARD = t2.ExpectedTDCheck()


test_forward_pass_is_expected_td = BackendSuite(
    FORWARD, torch_batches(FORWARD, 100, cuda_size=100), {**BUDGETS, "ball": 4, "mpmath": 3}
).tests()
"""θ*_TD(S·I) on the enumerated prompt is expected TD from (P, r, Φ, γ) (value iteration at Φ = I): exact
rationals, balls, the mpmath ladder, and the inductive step in float64 and on torch batches of 100 tasks."""


@budget(6)
@given(finite_mrps(max_states=5, tabular=True))
def test_value_iteration_bound_in_exact_rationals(task: FiniteMRP) -> None:
    assert_certified([t2.check_bound_exact(neu.value_iteration_layers, [t2.rational_task(task)], depth=20)])


@budget(6)
@given(finite_mrps(max_states=6, tabular=True))
def test_value_iteration_bound_in_float64_to_depth_200(task: FiniteMRP) -> None:
    assert_certified([t2.check_bound_float(neu.value_iteration_layers, [task], depth=200)])


@budget(2)
@given(seeds, st.integers(3, 8))
def test_neu_vanishes_at_theta_star(seed: int, num_states: int) -> None:
    tasks = t2.sample_tasks(np.random.default_rng(seed), 3, num_states)
    assert_certified([t2.check_limit(neu.value_iteration_layers, tasks)])


def test_reference_run_shape() -> None:
    """S = d = 5, γ = 0.9: NEU_TD rises then falls (not monotone), NEU_MC/NEU_TD → 1/(1 − γ) = 10."""
    with intra_op_threads(1):
        task = random_mrp(5, 5, 0.9, np.random.default_rng(0), tabular=True)
        runs = {L: neu.expected_updates(neu.value_iteration_layers(5, L), task) for L in (1, 10, 20, 40, 80, 200)}
    td = {L: u.neu_td for L, u in runs.items()}
    assert td[10] > td[1], "NEU_TD is not monotone for small L: it first grows"
    assert td[200] < td[80] < td[40] < td[20] < td[10]
    assert runs[200].neu_mc / runs[200].neu_td == pytest.approx(1 / (1 - 0.9), rel=1e-3)


@budget(1)
@given(seeds)
def test_neu_stays_away_from_zero_off_theta_star(seed: int) -> None:
    rng = np.random.default_rng(seed)
    assert_certified([t2.check_contrast(t2.sample_tasks(rng, 3, 4), rng)])


def test_swapping_q_blocks_is_flipping_the_step() -> None:
    """θ* with Q's top-left and top-middle blocks swapped has exactly the weights of θ*_TD(−C)."""
    swapped = t2.blocks_swapped(neu.value_iteration_layers(4, 3))
    flipped = neu.value_iteration_layers(4, 3, step=-1.0)
    assert all(np.array_equal(a.Q, b.Q) and np.array_equal(a.P, b.P) for a, b in zip(swapped, flipped))


@budget(3)
@given(seeds)
def test_uniform_expected_td_converges_iff_spectral_radius_below_one(seed: int) -> None:
    rng = np.random.default_rng(seed)
    instances = [t2.divergent_instance()] + [t2.convergent_instance(rng) for _ in range(2)]
    assert_certified([t2.check_features(instances)])


def test_no_positive_step_saves_uniform_weighting_on_the_counterexample() -> None:
    """Φᵀ(I − γP)Φ < 0 on the two-state example: ρ > 1 for every step c > 0, although TD under the
    stationary weighting (ΦᵀD(γP − I)Φ < 0) converges for small steps."""
    task = t2.divergent_instance().task
    Phi, P, g = task.features, task.P, task.gamma
    uniform = float((Phi.T @ (np.eye(2) - g * P) @ Phi)[0, 0])
    stationary = float((Phi.T @ np.diag(task.stationary) @ (g * P - np.eye(2)) @ Phi)[0, 0])
    assert uniform < 0 and stationary < 0
    for c in (1e-3, 1e-2, 0.1, 1.0, 10.0):
        instance = t2.FeatureInstance(task, np.array([[c * task.num_states]]))
        assert instance.spectral_radius() == pytest.approx(1 - c * uniform)
        assert 1 - c * uniform > 1
    for c in (1e-3, 1e-2, 0.1, 1.0):  # w ← w + c(ΦᵀD(γPΦw − Φw) + ΦᵀDr): factor 1 + c·stationary
        assert abs(1 + c * stationary) < 1


@budget(3)
@given(seeds)
def test_autograd_gradients_match_exact_forward_mode(seed: int) -> None:
    rng = np.random.default_rng(seed)
    tasks = t2.sample_tasks(rng, 1, 3)
    layer_sets = [neu.value_iteration_layers(3, 6), t2.random_layers(3, 2, rng)]
    assert_certified([t2.check_gradients(tasks, layer_sets, rng)])


@pytest.mark.cuda
def test_expected_updates_on_cuda_match_cpu() -> None:
    tasks = t2.sample_tasks(np.random.default_rng(0), 3, 4)
    layers = neu.value_iteration_layers(4, 10)
    cpu, gpu = neu.expected_updates(layers, tasks), neu.expected_updates(layers, tasks, device="cuda")
    assert np.allclose(cpu.td, gpu.td, rtol=1e-10, atol=1e-14) and np.allclose(cpu.mc, gpu.mc, rtol=1e-10, atol=1e-14)
