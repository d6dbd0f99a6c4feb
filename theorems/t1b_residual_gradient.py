"""T1b — the forward pass of a linear transformer implements batch residual gradient.

Source: [W25a] J. Wang, E. Blaser, H. Daneshmand, S. Zhang, *Transformers Can Learn Temporal Difference
Methods for In-Context Reinforcement Learning*, ICLR 2025, arXiv:2405.13861 (residual-gradient
construction of its verification).

Statement. Same prompt and mask as T1 (``constructions.residual_gradient``): P_l = e_{2d}e_{2d}ᵀ and
Q_l[0:2d, 0:2d] = [[−C_lᵀ, C_lᵀ], [C_lᵀ, −C_lᵀ]], any real C_l. With batch residual gradient
w_0 = 0, w_{l+1} = w_l + (1/n) C_l Σ_{i<n} δ_i(w_l) (φ_i − γφ'_i) — gradient descent on
(1/2n) Σ_i δ_i(w)² preconditioned by C_l — for every l:
  1. rows 0..2d−1 of Z_l equal those of Z_0;
  2. Z_l[2d, i] = δ_i(w_l) = r_i + wᵀγφ'_i − wᵀφ_i for i < n;
  3. Z_l[2d, n] = −φ_qᵀ w_l.

How it is checked: as T1 (instances are task data; exact, balls, mpmath ladder, the base case and the
float64 and batched torch inductive step within certified rounding bounds;
docs/theorems/residual_gradient.md). The reference forms the directions φ_i − γφ'_i from the task data.
Residual-gradient iterates grow by orders of magnitude over 40 layers in the published setting; the
running bound scales with them, and ``test_growing_iterates_within_the_derived_bound`` shows it.
"""

from __future__ import annotations

from collections.abc import Callable
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from icrl_verify import constructions
from icrl_verify.algorithms import batch_residual_gradient
from icrl_verify.arith import ExactBackend, Float64Backend
from icrl_verify.attention import run_transformer
from icrl_verify.checks.td_variants import ResidualGradientCheck, grid_instance
from icrl_verify.prompts import td_prompt
from icrl_verify.strategies import matrices
from icrl_verify.tasks import TDInstance
from icrl_verify.testing import (
    WORKED_EXAMPLE,
    BackendSuite,
    assert_certified,
    assert_tied_stack_is_untied,
    exact_row,
    torch_batches,
)

CHECK = ResidualGradientCheck()
EDGES = [(1, 1, 0, Fraction(0)), (1, 1, 3, Fraction(0)), (2, 1, 2, Fraction(1, 2))]
"""(d, n, L, γ) edge configurations run on every backend."""


test_backends = BackendSuite(CHECK, torch_batches(ResidualGradientCheck(float_n=30, float_depth=10), 256)).tests()
"""Every backend as T1 (torch batches of 256 tasks of d = 3, n = 30, L = 10; 1000 on CUDA)."""


def growth(check: ResidualGradientCheck, batch: TDInstance) -> float:
    """max |w_L| / max |w_1| of the float64 reference over the batch."""
    bk = Float64Backend()
    ws = check.reference(bk, batch, check.task_blocks(bk, batch))
    return float(np.max(np.abs(ws[-1])) / np.max(np.abs(ws[1])))


def test_growing_iterates_within_the_derived_bound() -> None:
    """The published setting (d = 3, n = 100, L = 40) with C_l = I + 0.2·G_l: the iterates grow by
    orders of magnitude, so do the absolute float64 errors, and the running bound follows them."""
    batch = CHECK.sample_float(np.random.default_rng(0), 32)
    assert growth(CHECK, batch) > 1e6
    results = CHECK.run_float(batch, "float64")
    assert_certified(results)
    assert max(r.worst_error or 0.0 for r in results) > 1e-9  # far above 1e-16 absolute, yet certified


@pytest.mark.parametrize(("d", "n", "depth", "gamma"), EDGES)
def test_edges_on_every_backend(d: int, n: int, depth: int, gamma: Fraction) -> None:
    """d = 1, n = 1, L = 0, γ = 0, whatever Hypothesis happens to draw."""
    instance = grid_instance(np.random.default_rng(depth), d, n, depth, gamma)
    assert_certified([*CHECK.run_exact([instance]), *CHECK.run_ball([instance]), *CHECK.run_ladder([instance])])
    batch = CHECK.batch_of(instance)
    assert_certified([*CHECK.run_float(batch, "float64"), *CHECK.run_float(batch, "torch")])


@given(CHECK.strategy("exact"), st.data())
def test_weight_tied_stack_equals_untied_stack(instance: TDInstance, data: st.DataObject) -> None:
    """One layer applied L times is the untied stack with L equal layers, exactly, and it is RG with C_l = C."""
    depth = data.draw(st.integers(0, 4), label="L")
    C = data.draw(matrices((instance.d, instance.d), exact=True), label="C")
    assert_tied_stack_is_untied(constructions.residual_gradient, ResidualGradientCheck, instance, C, depth)


def test_worked_example() -> None:
    """d = 1, n = 2, C = 1, φ = (1, 2), γφ' = (1, 1/2), r = (1, −1), φ_q = 3: w_1 = −3/4, w_2 = −21/32;
    the last row after layers 1 and 2 is (1, 1/8, 9/4) and (1, −1/64, 63/32)."""
    F = Fraction
    one = np.array([[F(1)]], dtype=object)
    bk = ExactBackend()
    Z0 = td_prompt(*WORKED_EXAMPLE)
    states = run_transformer(bk, bk.asmatrix(Z0), constructions.residual_gradient(1, [one] * 2, n=2))
    assert exact_row(states, 2, (1, 2)) == [[1, F(1, 8), F(9, 4)], [1, F(-1, 64), F(63, 32)]]


@pytest.mark.parametrize(
    ("call", "argument"),
    [
        (lambda: constructions.residual_gradient(2, [np.full((2, 2), np.nan)], 3), "preconditioners"),
        (lambda: constructions.residual_gradient(2, [np.eye(2)], 0), "n"),
        (lambda: batch_residual_gradient(np.zeros((3, 2)), np.zeros((3, 2)), np.zeros(3), 1.0, [np.eye(2)]), "gamma"),
    ],
)
def test_bad_input_names_the_argument(call: Callable[[], object], argument: str) -> None:
    with pytest.raises(ValueError, match=f"^{argument}"):
        call()
