"""T2's vocabulary: claim names, tabular tasks (float and rational), perturbed weights, the enumerated layout."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from fractions import Fraction
from functools import partial
from typing import Any, TypeVar

import numpy as np
import torch
from flint import fmpq_mat
from numpy.typing import NDArray

from icrl_verify import mrp
from icrl_verify.arith.base import Backend
from icrl_verify.arith.exact import to_fmpq
from icrl_verify.attention import Head, LinearAttentionWeights, standard_mask
from icrl_verify.neu import (
    ExpectedUpdates,
    expected_updates,
)

M = TypeVar("M")
FloatArray = NDArray[np.float64]
Construction = Callable[[int, int], list[LinearAttentionWeights]]
"""(number of states S, depth L) -> the L layers under test on the enumerated prompt."""
PromptBuilder = Callable[[Any, Any, Any, Any], NDArray[Any]]
"""(P, r, Φ, γ) ↦ the S enumerated prompts, like :func:`icrl_verify.prompts.expected_feature_prompts`."""
UpdateFn = Callable[[Sequence[LinearAttentionWeights], Sequence[mrp.FiniteMRP], torch.dtype], ExpectedUpdates]
"""(layers, tasks, dtype) -> expected updates; :func:`icrl_verify.neu.expected_updates` by default."""

KEY = "T2"
CLAIM_BOUND = "|TF_L(s) - v(s)| <= gamma^L ||v||_inf"
CLAIM_LIMIT = "NEU_TD, NEU_MC -> 0 at rate gamma, grad TF bounded"
CLAIM_CONTRAST = "NEU away from 0 off theta*, smaller step converges"
CLAIM_FEATURES = "uniform expected TD converges iff rho(I - CA/S) < 1"
CLAIM_GRADIENT = "autograd NEU = exact forward-mode derivative"
CLAIM_LAYOUT = "enumerated prompt rows 0..2d-1 = documented layout of (P, Phi, gamma)"
CLAIM_FORWARD = "last row = (r + gamma P Phi w_l - Phi w_l, -phi_q^T w_l), w_l of expected TD"

GAMMA_RANGE = (0.5, 0.9)
"""Discounts of the limit claim: γ ≤ 0.9 reaches 1e-6 by L = 200; γ ≥ 0.5 leaves three fit points on the grid."""
EXACT_GRID = 32
"""Rational tasks: probabilities and rewards rounded to denominators ≤ 32, rows renormalised exactly."""


# --- tasks and perturbed constructions ----------------------------------------------------------


def sample_tasks(
    rng: np.random.Generator, count: int, num_states: int, gammas: tuple[float, float] = GAMMA_RANGE
) -> list[mrp.FiniteMRP]:
    """Tabular tasks from the three generators in turn (random dense, loop, Boyan chain), γ ~ U(gammas)."""
    families = (mrp.random_mrp, mrp.loop_mrp, mrp.boyan_chain)
    return [
        families[k % 3](num_states, num_states, float(rng.uniform(*gammas)), rng, tabular=True) for k in range(count)
    ]


@dataclass(frozen=True)
class RationalTask:
    """A tabular MRP with exact rational data: P (S×S, rows sum to 1 exactly), r (S,), γ."""

    P: NDArray[Any]
    r: NDArray[Any]
    gamma: Fraction

    @property
    def num_states(self) -> int:
        """S."""
        return int(self.P.shape[0])

    def value(self) -> list[Fraction]:
        """v = (I − γP)^{-1} r, solved exactly over ℚ."""
        S = self.num_states
        system = fmpq_mat(S, S, [int(i == j) - to_fmpq(self.gamma * self.P[i, j]) for i in range(S) for j in range(S)])
        v = system.solve(fmpq_mat(S, 1, [to_fmpq(x) for x in self.r]))
        return [Fraction(int(v[i, 0].p), int(v[i, 0].q)) for i in range(S)]


def rational_task(task: mrp.FiniteMRP, denominator: int = EXACT_GRID) -> RationalTask:
    """Round a task's probabilities, rewards and γ to small rationals; rows renormalised exactly (zeros stay)."""
    rows = []
    for row in task.P:
        fr = [Fraction(x).limit_denominator(denominator) for x in row]
        if sum(fr) == 0:
            fr = [Fraction(1, len(row))] * len(row)
        rows.append([x / sum(fr) for x in fr])
    P = np.array(rows, dtype=object)
    r = np.array([Fraction(x).limit_denominator(denominator) for x in task.r], dtype=object)
    return RationalTask(P, r, Fraction(task.gamma).limit_denominator(100))


def blocks_swapped(layers: Sequence[LinearAttentionWeights]) -> list[LinearAttentionWeights]:
    """Each Q with its top-left and top-middle d×d blocks exchanged (P and the mask unchanged)."""
    out = []
    for layer in layers:
        Q = np.array(layer.Q, copy=True)
        d = (Q.shape[-1] - 1) // 2
        Q[:d, :d], Q[:d, d : 2 * d] = layer.Q[:d, d : 2 * d], layer.Q[:d, :d]
        out.append(LinearAttentionWeights((Head(layer.P, Q, layer.heads[0].mask),)))
    return out


def random_layers(num_states: int, depth: int, rng: np.random.Generator) -> list[LinearAttentionWeights]:
    """Untied layers with iid N(0, 1/D²) entries in every P_l, Q_l (D = 2S+1), standard mask over n = S."""
    D = 2 * num_states + 1
    mask = standard_mask(num_states)
    return [
        LinearAttentionWeights((Head(rng.standard_normal((D, D)) / D, rng.standard_normal((D, D)) / D, mask),))
        for _ in range(depth)
    ]


def _default_updates(
    layers: Sequence[LinearAttentionWeights], tasks: Sequence[mrp.FiniteMRP], dtype: torch.dtype, device: str = "cpu"
) -> ExpectedUpdates:
    return expected_updates(layers, tasks, device=device, dtype=dtype)


def updates_on(device: str, updates: UpdateFn | None) -> UpdateFn:
    """``updates``, or the default one on ``device``."""
    return updates if updates is not None else partial(_default_updates, device=device)


# --- the enumerated prompt from task data, and the forward pass as expected TD ----------------------


def expected_blocks(bk: Backend[M], P: Any, r: Any, features: Any, gamma: Any) -> tuple[M, M, M]:
    """From task data (P (S, S), r (S,), Φ (S, d), or batched): Φᵀ (d×S), the expected next features
    γ(PΦ)ᵀ (d×S) computed by the backend, and r (1×S) — the context of the enumerated prompt."""
    Phi = bk.asmatrix(np.asarray(features))
    G = bk.scale(bk.transpose(bk.matmul(bk.asmatrix(np.asarray(P)), Phi)), gamma)
    return bk.transpose(Phi), G, bk.asmatrix(np.asarray(r)[..., None, :])


def enumerated_layout(bk: Backend[M], features: M, expected_next: M, rewards: M, query: M) -> M:
    """The enumerated prompt the documented layout (docs/theorems/neu.md) says, from
    :func:`expected_blocks` and the query features φ(q) (d×1): context column i is
    (φ(i), γ Σ_{s'} P[i, s'] φ(s'), r(i)), the query column (φ(q), 0, 0)."""
    d, _ = bk.shape(features)
    top = bk.concat([features, query], axis=1)
    middle = bk.concat([expected_next, bk.zeros(d, 1)], axis=1)
    return bk.concat([top, middle, bk.concat([rewards, bk.zeros(1, 1)], axis=1)], axis=0)
