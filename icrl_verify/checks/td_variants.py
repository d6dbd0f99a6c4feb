"""Checks of the other TD-family theorems of [W25a]: T1a TD(λ), T1b residual gradient, T1c average-reward TD."""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction
from typing import Any, TypeVar

import numpy as np

from icrl_verify import constructions
from icrl_verify.algorithms import differential_rewards, eligibility_traces, residual_directions
from icrl_verify.arith.base import Backend
from icrl_verify.attention import LinearAttentionWeights
from icrl_verify.certify import ClaimPair
from icrl_verify.checks.td_family import Construction, TD0Check, TDInstance, rational_grid
from icrl_verify.prompts import average_reward_prompt, split_td_prompt, td_prompt

M = TypeVar("M")

CLAIM_AR_ROWS = "rows 0..2d unchanged"
CLAIM_AR_CONTEXT = "accumulator context = -(phi'-phi)^T w_l"
CLAIM_AR_QUERY = "accumulator query = +phi_q^T w_l"


def _fraction(name: str, value: Any) -> Fraction:
    try:
        f = Fraction(value)
    except (TypeError, ValueError, OverflowError) as exc:
        raise ValueError(f"{name}: expected a finite real number in [0, 1], got {value!r}") from exc
    if not 0 <= f <= 1:
        raise ValueError(f"{name}: expected a number in [0, 1], got {value!r}")
    return f


def grid_instance(
    rng: np.random.Generator, d: int, n: int, depth: int, gamma: Fraction | None = None
) -> TDInstance:
    """An exact instance with every entry on the Schwartz–Zippel grid: a discounted prompt with
    discount ``gamma``, or the average-reward prompt when ``gamma`` is None, and L = ``depth`` C_l."""
    phi, phi_next, r, q = (rational_grid(rng, shape) for shape in ((n, d), (n, d), (n,), (d,)))
    Z0 = average_reward_prompt(phi, phi_next, r, q) if gamma is None else td_prompt(phi, phi_next, r, q, gamma)
    return TDInstance(Z0, tuple(rational_grid(rng, (d, d)) for _ in range(depth)))


class TDLambdaCheck(TD0Check):
    """T1a [W25a, Cor. 3]: θ*_TD with the mask M_λ is batch TD(λ), traces e_i = Σ_{k≤i} λ^{i−k} φ_k.

    λ is held as an exact Fraction (a float λ is taken at its exact binary value): the mask is exact,
    and every backend reads its entries λ^k in its own arithmetic on both sides of the claim, so the
    float checks compare the transformer and the reference on the same mask numbers.
    """

    key = "T1a"

    def __init__(
        self,
        lam: float | Fraction = Fraction(1, 2),
        construction: Construction | None = None,
        d: int = 3,
        n: int = 20,
        depth: int = 8,
        float_n: int = 100,
        float_depth: int = 40,
    ) -> None:
        self.lam = _fraction("lam", lam)
        super().__init__(construction, d, n, depth, float_n, float_depth)
        self.title = f"linear attention with mask M_λ = batch TD(λ), λ = {self.lam}"

    def default_construction(self, d: int, preconditioners: Sequence[Any], n: int) -> list[LinearAttentionWeights]:
        return constructions.td_lambda(d, preconditioners, n, self.lam)

    def directions(self, bk: Backend[M], features: M, next_features: M) -> M:
        """u_i = e_i, the traces of TD(λ)."""
        return eligibility_traces(bk, features, self.lam)


class ResidualGradientCheck(TD0Check):
    """T1b [W25a]: θ*_RG (Q block [[−Cᵀ, Cᵀ], [Cᵀ, −Cᵀ]]) is batch residual gradient."""

    key = "T1b"
    title = "linear attention = batch residual gradient"

    def default_construction(self, d: int, preconditioners: Sequence[Any], n: int) -> list[LinearAttentionWeights]:
        return constructions.residual_gradient(d, preconditioners, n)

    def directions(self, bk: Backend[M], features: M, next_features: M) -> M:
        """u_i = φ_i − γφ'_i."""
        return residual_directions(bk, features, next_features)


class AverageRewardCheck(TD0Check):
    """T1c [W25a]: the two-head layer on the (2d+2)-row prompt is average-reward TD.

    Instances are ``TDInstance`` with an average-reward prompt (γ = 1, accumulator row 2d+1 zero).
    Claims at every layer l: rows 0..2d equal Z_0's; Z_l[2d+1, i] = −(φ'_i − φ_i)ᵀ w_l for i < n;
    Z_l[2d+1, n] = +φ_qᵀ w_l (plus sign, unlike T1). The reward offsets r_i − r̄_i are read through
    the exact running-average operator R, as the transformer's head 1 reads them.
    """

    key = "T1c"
    title = "two-head linear attention = average-reward TD"
    claims = (CLAIM_AR_ROWS, CLAIM_AR_CONTEXT, CLAIM_AR_QUERY)
    readout_sign = +1

    def default_construction(self, d: int, preconditioners: Sequence[Any], n: int) -> list[LinearAttentionWeights]:
        return constructions.average_reward_td(d, preconditioners, n)

    def sample_exact(self, rng: np.random.Generator) -> TDInstance:
        return grid_instance(rng, self.d, self.n, self.depth)

    def sample_float(self, rng: np.random.Generator, batch: int) -> TDInstance:
        """The published verification's average-reward setting: Gaussian φ, φ', r, φ_q and a Gaussian
        C_l ~ N(0, 1)^{d×d} per layer and task (not PSD, so the iterates grow by orders of magnitude)."""
        d, n = self.d, self.float_n
        Z0 = average_reward_prompt(
            rng.standard_normal((batch, n, d)),
            rng.standard_normal((batch, n, d)),
            rng.standard_normal((batch, n)),
            rng.standard_normal((batch, d)),
        )
        return TDInstance(Z0, tuple(rng.standard_normal((batch, d, d)) for _ in range(self.float_depth)))

    def _context(self, bk: Backend[M], w: M, blocks: tuple[M, M, M, M]) -> M:
        features, next_features, _, _ = blocks
        return bk.matmul(bk.transpose(w), bk.sub(features, next_features))  # −(φ'_i − φ_i)ᵀ w

    def _blocks(self, bk: Backend[M], inst: TDInstance) -> tuple[M, M, M, M]:
        """(Φ, Φ', r − r̄, φ_q): the rows 0..2d of the prompt are a discounted prompt with γ = 1."""
        features, next_features, rewards, query = split_td_prompt(inst.Z0[..., :-1, :])
        offsets = differential_rewards(bk, bk.asmatrix(rewards))
        return bk.asmatrix(features), bk.asmatrix(next_features), offsets, bk.asmatrix(query)

    def _pairs(self, bk: Backend[M], layer: int, Z: M, Z0: M, w: M, blocks: tuple[M, M, M, M]) -> list[ClaimPair[M]]:
        rows, cols = bk.shape(Z)
        acc, n = rows - 1, cols - 1
        row, fixed = slice(acc, acc + 1), slice(0, acc)
        return [
            ClaimPair(CLAIM_AR_ROWS, layer, bk.block(Z, fixed, slice(None)), bk.block(Z0, fixed, slice(None))),
            ClaimPair(CLAIM_AR_CONTEXT, layer, bk.block(Z, row, slice(0, n)), self._context(bk, w, blocks)),
            ClaimPair(CLAIM_AR_QUERY, layer, bk.block(Z, row, slice(n, n + 1)), self._readout(bk, blocks[3], w)),
        ]

    def seat(self, bk: Backend[M], Z0: M, w: M, blocks: tuple[M, M, M, M]) -> M:
        """Z_0 with the accumulator row the theorem predicts for w: (−(φ'_i − φ_i)ᵀ w, +φ_qᵀ w)."""
        rows, _ = bk.shape(Z0)
        accumulator = bk.concat([self._context(bk, w, blocks), self._readout(bk, blocks[3], w)], axis=1)
        return bk.concat([bk.block(Z0, slice(0, rows - 1), slice(None)), accumulator], axis=0)
