"""Checks of the TD family on the discounted prompt: T1 (batch TD(0)) [W25a, Thm 1]."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, TypeVar

import numpy as np
from numpy.typing import NDArray

from icrl_verify import constructions
from icrl_verify.algorithms import preconditioned_td, td_errors, td_step
from icrl_verify.arith.absolute_program import BoundBackend
from icrl_verify.arith.base import Backend
from icrl_verify.arith.float64 import Float64Backend
from icrl_verify.attention import LinearAttentionWeights, linear_attention, run_transformer
from icrl_verify.certify import ClaimPair
from icrl_verify.checks.base import Figure, TheoremCheck, certification_figures
from icrl_verify.prompts import split_td_prompt, td_prompt

M = TypeVar("M")
Construction = Callable[[int, Sequence[Any], int], list[LinearAttentionWeights]]

GRID_DENOMINATOR = 4096
GRID_NUMERATOR = 4096
"""Exact instances draw every entry uniformly from S = {k/4096 : |k| ≤ 4096} ⊂ [−1, 1], |S| = 8193
(the set of the Schwartz–Zippel bound)."""

CLAIM_ROWS = "rows 0..2d-1 unchanged"
CLAIM_CONTEXT = "context row = TD errors"
CLAIM_QUERY = "query entry = -phi_q^T w_l"


@dataclass(frozen=True)
class TDInstance:
    """A prompt Z_0 ((2d+1)×(n+1), or batched (B, 2d+1, n+1)) and per-layer preconditioners C_l."""

    Z0: NDArray[Any]
    preconditioners: tuple[NDArray[Any], ...]

    @property
    def d(self) -> int:
        """Feature dimension."""
        return (int(self.Z0.shape[-2]) - 1) // 2

    @property
    def n(self) -> int:
        """Context length."""
        return int(self.Z0.shape[-1]) - 1

    @property
    def depth(self) -> int:
        """Number of layers L."""
        return len(self.preconditioners)

    def take(self, rows: slice) -> TDInstance:
        """The sub-batch ``rows`` of a batched instance."""
        return TDInstance(self.Z0[rows], tuple(C[rows] for C in self.preconditioners))


def rational_grid(rng: np.random.Generator, shape: tuple[int, ...]) -> NDArray[Any]:
    """Independent uniform draws from the grid S = {k/4096 : |k| ≤ 4096} as an object array of Fractions."""
    ks = rng.integers(-GRID_NUMERATOR, GRID_NUMERATOR + 1, size=shape)
    out = np.empty(shape, dtype=object)
    for idx, k in np.ndenumerate(ks):
        out[idx] = Fraction(int(k), GRID_DENOMINATOR)
    return out


def schwartz_zippel_bound(depth: int, instances: int) -> float:
    """Probability that a false polynomial identity of degree 3L+1 passes ``instances`` independent grid draws."""
    return float(((3 * depth + 1) / (2 * GRID_NUMERATOR + 1)) ** instances)


class TD0Check(TheoremCheck[TDInstance]):
    """T1: the forward pass of θ*_TD(C_0..C_{L−1}) is batch TD(0) with preconditioners C_l."""

    key = "T1"
    title = "linear attention = batch TD(0)"
    claims = (CLAIM_ROWS, CLAIM_CONTEXT, CLAIM_QUERY)
    #: the query entry holds readout_sign·φ_qᵀw_l (−1: the prediction is −Z_L[2d, n])
    readout_sign = -1

    def __init__(
        self,
        construction: Construction | None = None,
        d: int = 3,
        n: int = 20,
        depth: int = 8,
        float_n: int = 100,
        float_depth: int = 40,
    ) -> None:
        self.construction: Construction = construction or self.default_construction
        self.d, self.n, self.depth = d, n, depth
        self.float_n, self.float_depth = float_n, float_depth

    # -- the parts a variant of the TD family changes -------------------------------------------
    def default_construction(self, d: int, preconditioners: Sequence[Any], n: int) -> list[LinearAttentionWeights]:
        """θ* of this theorem (the construction checked unless a mutant is given)."""
        return constructions.td0(d, preconditioners, n)

    def directions(self, bk: Backend[M], features: M, next_features: M) -> M:
        """u_i of the reference update: φ_i for TD(0)."""
        return features

    def layers(self, inst: TDInstance) -> list[LinearAttentionWeights]:
        """The construction under test, on this instance."""
        return self.construction(inst.d, inst.preconditioners, inst.n)

    # -- sampling --------------------------------------------------------------------------------
    def sample_exact(self, rng: np.random.Generator) -> TDInstance:
        d, n = self.d, self.n
        phi, nxt = rational_grid(rng, (n, d)), rational_grid(rng, (n, d))
        Z0 = td_prompt(phi, nxt, rational_grid(rng, (n,)), rational_grid(rng, (d,)), Fraction(9, 10))
        Cs = tuple(rational_grid(rng, (d, d)) for _ in range(self.depth))
        return TDInstance(Z0, Cs)

    def sample_float(self, rng: np.random.Generator, batch: int) -> TDInstance:
        """The published verification's prompts (Gaussian φ, independent φ', γ = 0.9) with
        non-symmetric C_l = I + 0.2·G_l, G_l Gaussian, one per layer and task."""
        d, n = self.d, self.float_n
        Z0 = td_prompt(
            rng.standard_normal((batch, n, d)),
            rng.standard_normal((batch, n, d)),
            rng.standard_normal((batch, n)),
            rng.standard_normal((batch, d)),
            0.9,
        )
        Cs = tuple(np.eye(d) + 0.2 * rng.standard_normal((batch, d, d)) for _ in range(self.float_depth))
        return TDInstance(Z0, Cs)

    def chunks(self, batch: TDInstance, size: int) -> list[TDInstance]:
        return [batch.take(slice(s, s + size)) for s in range(0, batch.Z0.shape[0], size)]

    def describe(self, instance: TDInstance) -> str:
        Cs = [c.tolist() for c in instance.preconditioners]
        return f"d={instance.d}, n={instance.n}, L={instance.depth}, Z0={instance.Z0.tolist()}, C={Cs}"

    # -- the claims ------------------------------------------------------------------------------
    def _pairs(
        self, bk: Backend[M], layer: int, Z: M, Z0: M, w: M, blocks: tuple[M, M, M, M]
    ) -> list[ClaimPair[M]]:
        features, next_features, rewards, query = blocks
        rows, cols = bk.shape(Z)
        d2, n = rows - 1, cols - 1
        last, top, everything = slice(d2, d2 + 1), slice(0, d2), slice(None)
        deltas = td_errors(bk, w, features, next_features, rewards)
        return [
            ClaimPair(CLAIM_ROWS, layer, bk.block(Z, top, everything), bk.block(Z0, top, everything)),
            ClaimPair(CLAIM_CONTEXT, layer, bk.block(Z, last, slice(0, n)), deltas),
            ClaimPair(CLAIM_QUERY, layer, bk.block(Z, last, slice(n, n + 1)), self._readout(bk, query, w)),
        ]

    def _readout(self, bk: Backend[M], query: M, w: M) -> M:
        value = bk.matmul(bk.transpose(query), w)
        return bk.neg(value) if self.readout_sign < 0 else value

    def _blocks(self, bk: Backend[M], inst: TDInstance) -> tuple[M, M, M, M]:
        features, next_features, rewards, query = split_td_prompt(inst.Z0)
        return bk.asmatrix(features), bk.asmatrix(next_features), bk.asmatrix(rewards), bk.asmatrix(query)

    def reference(self, bk: Backend[M], inst: TDInstance, blocks: tuple[M, M, M, M]) -> list[M]:
        """w_0..w_L of the reference algorithm."""
        features, next_features, rewards, _ = blocks
        U = self.directions(bk, features, next_features)
        Cs = [bk.asmatrix(C) for C in inst.preconditioners]
        return preconditioned_td(bk, U, features, next_features, rewards, Cs)

    def composed_pairs(self, bk: Backend[M], instance: TDInstance) -> list[ClaimPair[M]]:
        blocks = self._blocks(bk, instance)
        Z0 = bk.asmatrix(instance.Z0)
        Zs = run_transformer(bk, Z0, self.layers(instance))
        ws = self.reference(bk, instance, blocks)
        return [p for l, (Z, w) in enumerate(zip(Zs, ws)) for p in self._pairs(bk, l, Z, Z0, w, blocks)]

    def seat(self, bk: Backend[M], Z0: M, w: M, blocks: tuple[M, M, M, M]) -> M:
        """The prompt the theorem says layer l holds for iterate w: Z_0 with last row (δ(w), −φ_qᵀw)."""
        features, next_features, rewards, query = blocks
        rows, _ = bk.shape(Z0)
        last = bk.concat([td_errors(bk, w, features, next_features, rewards), self._readout(bk, query, w)], axis=1)
        return bk.concat([bk.block(Z0, slice(0, rows - 1), slice(None)), last], axis=0)

    def step_pairs(self, bk: BoundBackend, batch: TDInstance) -> list[ClaimPair[Any]]:
        inner = bk.inner
        ws = self.reference(inner, batch, self._blocks(inner, batch))
        blocks = self._blocks(bk, batch)
        Z0 = bk.asmatrix(batch.Z0)
        features, next_features, rewards, _ = blocks
        U = self.directions(bk, features, next_features)
        n = batch.n
        pairs = self._pairs(bk, 0, Z0, Z0, bk.zeros(batch.d, 1), blocks)
        for l, layer in enumerate(self.layers(batch)):
            w = bk.exact_input(ws[l])
            Z_next = linear_attention(bk, self.seat(bk, Z0, w, blocks), layer)
            C = bk.asmatrix(batch.preconditioners[l])
            w_next = td_step(bk, w, C, U, td_errors(bk, w, features, next_features, rewards), n)
            pairs += self._pairs(bk, l + 1, Z_next, Z0, w_next, blocks)
        return pairs


def bench_td0(tasks: int = 10_000, exact_certificates: int = 200) -> list[Figure]:
    """Throughput of T1 certification in the published verification configuration (d = 3, n = 100,
    L = 40) on numpy and torch, exact certificates for d = 3, n = 20, L = 8, and the uncertified
    composed forward pass with its measured float error, for scale."""
    check = TD0Check()
    rng = np.random.default_rng(0)
    batch = check.sample_float(rng, tasks)
    exact = [TD0Check(d=3, n=20, depth=8).sample_exact(rng) for _ in range(exact_certificates)]
    figures = certification_figures(
        check, batch, tasks, "3 claims x 41 layers (d=3, n=100, L=40)", exact, "d=3, n=20, L=8"
    )
    bk = Float64Backend()
    start = time.perf_counter()
    states = run_transformer(bk, bk.asmatrix(batch.Z0), check.layers(batch))
    ws = check.reference(bk, batch, check._blocks(bk, batch))
    query = bk.asmatrix(batch.Z0[:, : batch.d, -1:])
    measured = max(float(np.max(np.abs(Z[:, -1:, -1:] - check._readout(bk, query, w)))) for Z, w in zip(states, ws))
    return [
        *figures,
        ("float64: composed forward + reference, uncertified", time.perf_counter() - start, "s"),
        ("float64: composed stack, max |TF - reference| over all layers (measured)", measured, "abs"),
    ]
