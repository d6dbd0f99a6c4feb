"""Checks of the other TD-family theorems of [W25a]: T1a TD(λ), T1b residual gradient, T1c average-reward TD."""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction
from typing import Any, TypeVar

import numpy as np
from numpy.typing import NDArray

from icrl_verify import constructions
from icrl_verify.algorithms import differential_rewards, eligibility_traces, residual_directions
from icrl_verify.arith.base import Backend
from icrl_verify.attention import LinearAttentionWeights
from icrl_verify.checks.td_family import (
    Construction,
    PromptBuilder,
    TaskBlocks,
    TD0Check,
    describe_task,
    rational_grid,
)
from icrl_verify.prompts import average_reward_prompt
from icrl_verify.tasks import TDInstance

M = TypeVar("M")

CLAIM_AR_ROWS = "rows 0..2d = (phi, phi', r) of the task"
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


def grid_instance(rng: np.random.Generator, d: int, n: int, depth: int, gamma: Fraction | None = None) -> TDInstance:
    """An exact task with every entry on the Schwartz–Zippel grid, discount ``gamma`` (None: average
    reward) and L = ``depth`` preconditioners C_l."""
    phi, phi_next, r, q = (rational_grid(rng, shape) for shape in ((n, d), (n, d), (n,), (d,)))
    return TDInstance(phi, phi_next, r, q, gamma, tuple(rational_grid(rng, (d, d)) for _ in range(depth)))


class TDLambdaCheck(TD0Check):
    """T1a [W25a, Cor. 3]: θ*_TD with the mask M_λ is batch TD(λ), traces e_i = Σ_{k≤i} λ^{i−k} φ_k.

    λ is a parameter of the check, held as an exact Fraction (a float λ is taken at its exact binary
    value). The reference forms the traces by their own recursion e_i = λe_{i−1} + φ_i, never from the
    mask; a float backend counts the rounding of every mask entry λ^k and of every product by λ.
    """

    key = "T1a"

    def __init__(
        self,
        lam: float | Fraction = Fraction(1, 2),
        construction: Construction | None = None,
        *,
        prompt: PromptBuilder | None = None,
        **sizes: int,
    ) -> None:
        """``sizes``: ``d``, ``n``, ``depth``, ``float_n``, ``float_depth`` of :class:`TD0Check`."""
        self.lam = _fraction("lam", lam)
        super().__init__(construction, prompt=prompt, **sizes)
        self.title = f"linear attention with mask M_λ = batch TD(λ), λ = {self.lam}"

    def default_construction(self, d: int, preconditioners: Sequence[Any], n: int) -> list[LinearAttentionWeights]:
        return constructions.td_lambda(d, preconditioners, n, self.lam)

    def directions(self, bk: Backend[M], blocks: TaskBlocks[M]) -> M:
        """u_i = e_i, the traces of TD(λ)."""
        return eligibility_traces(bk, blocks.features, self.lam)

    def describe(self, instance: TDInstance) -> str:
        return describe_task(instance, self.lam)


class ResidualGradientCheck(TD0Check):
    """T1b [W25a]: θ*_RG (Q block [[−Cᵀ, Cᵀ], [Cᵀ, −Cᵀ]]) is batch residual gradient."""

    key = "T1b"
    title = "linear attention = batch residual gradient"

    def default_construction(self, d: int, preconditioners: Sequence[Any], n: int) -> list[LinearAttentionWeights]:
        return constructions.residual_gradient(d, preconditioners, n)

    def directions(self, bk: Backend[M], blocks: TaskBlocks[M]) -> M:
        """u_i = φ_i − γφ'_i."""
        return residual_directions(bk, blocks.features, blocks.next_features)


class AverageRewardCheck(TD0Check):
    """T1c [W25a]: the two-head layer on the (2d+2)-row prompt ``average_reward_prompt`` is
    average-reward TD.

    Instances are tasks without a discount (γ = None). Claims at every layer l: rows 0..2d equal the
    task's (φ, φ', r) with query column (φ_q, 0, 0); Z_l[2d+1, i] = −(φ'_i − φ_i)ᵀ w_l for i < n;
    Z_l[2d+1, n] = +φ_qᵀ w_l (plus sign, unlike T1). The reference forms r_i − r̄_i from running sums
    of the rewards, never from the running-average operator of the construction.
    """

    key = "T1c"
    title = "two-head linear attention = average-reward TD"
    claims = (CLAIM_AR_ROWS, CLAIM_AR_CONTEXT, CLAIM_AR_QUERY)
    readout_sign = +1
    discounted = False

    def default_construction(self, d: int, preconditioners: Sequence[Any], n: int) -> list[LinearAttentionWeights]:
        return constructions.average_reward_td(d, preconditioners, n)

    def default_prompt(self) -> PromptBuilder:
        return average_reward_prompt

    def build_prompt(self, inst: TDInstance) -> NDArray[Any]:
        if inst.gamma is not None:
            raise ValueError(f"gamma: {self.key} has no discount, expected gamma=None, got {inst.gamma!r}")
        return self._shaped(inst, self.prompt(inst.features, inst.next_features, inst.rewards, inst.query))

    def sample_float(self, rng: np.random.Generator, batch: int) -> TDInstance:
        """The published verification's average-reward setting: Gaussian φ, φ', r, φ_q and a Gaussian
        C_l ~ N(0, 1)^{d×d} per layer and task (not PSD, so the iterates grow by orders of magnitude)."""
        d, n = self.d, self.float_n
        phi, phi_next, r, q = (rng.standard_normal(s) for s in ((batch, n, d), (batch, n, d), (batch, n), (batch, d)))
        Cs = tuple(rng.standard_normal((batch, d, d)) for _ in range(self.float_depth))
        return TDInstance(phi, phi_next, r, q, None, Cs)

    def reward_terms(self, bk: Backend[M], rewards: M) -> M:
        """r_i − r̄_i, r̄_i the running mean of r_0..r_i."""
        return differential_rewards(bk, rewards)

    def layout(self, bk: Backend[M], blocks: TaskBlocks[M]) -> M:
        """(Φ | φ_q) over (Φ' | 0) over (r | 0): rows 0..2d, which the layers never change."""
        return bk.concat([super().layout(bk, blocks), bk.concat([blocks.rewards, bk.zeros(1, 1)], axis=1)], axis=0)

    def context(self, bk: Backend[M], w: M, blocks: TaskBlocks[M]) -> M:
        """−(φ'_i − φ_i)ᵀ w on the context columns of the accumulator row."""
        return bk.matmul(bk.transpose(w), bk.sub(blocks.features, blocks.next_features))
