"""T2's forward-pass identity on every backend: θ*_TD(S·I) on the enumerated prompt is expected TD."""

from __future__ import annotations

from collections.abc import Callable
from fractions import Fraction
from typing import Any, ClassVar

import numpy as np
from hypothesis.strategies import SearchStrategy

from icrl_verify import strategies
from icrl_verify.algorithms import expected_td, td_errors
from icrl_verify.arith.absolute_program import BoundBackend
from icrl_verify.arith.base import Backend
from icrl_verify.attention import linear_attention, run_transformer
from icrl_verify.certify import ClaimPair
from icrl_verify.checks.base import TheoremCheck
from icrl_verify.checks.neu.tasks import (
    CLAIM_FORWARD,
    CLAIM_LAYOUT,
    KEY,
    Construction,
    M,
    PromptBuilder,
    enumerated_layout,
    expected_blocks,
)
from icrl_verify.checks.td_family import rational_grid
from icrl_verify.neu import (
    value_iteration_layers,
)
from icrl_verify.prompts import expected_feature_prompts
from icrl_verify.tasks import float_batch_of_one
from icrl_verify.tasks.neu import ExpectedTDInstance

# --- the forward pass as expected TD -------------------------------------------------------------


class ExpectedTDCheck(TheoremCheck[ExpectedTDInstance]):
    """T2's forward-pass identity on every backend: on the enumerated prompt of query q (built by
    ``prompt``, the builder under test, from the task data), layer l of ``construction`` (θ*_TD(S·I))
    holds the documented layout in rows 0..2d−1 and, in the last row, (r + γPΦw_l − Φw_l, −φ(q)ᵀw_l)
    with w_l of expected TD computed from P, r, Φ, γ (value iteration when Φ = I)."""

    key = KEY
    title = "theta*_TD(S I) on the enumerated prompt = expected TD (value iteration)"
    claims = (CLAIM_LAYOUT, CLAIM_FORWARD)
    counts: ClassVar[dict[str, int]] = {"exact": 20, "ball": 3, "mpmath": 2, "float64": 200, "torch": 200}

    def __init__(
        self,
        construction: Construction = value_iteration_layers,
        prompt: PromptBuilder = expected_feature_prompts,
        num_states: int = 4,
        depth: int = 6,
        float_depth: int = 20,
    ) -> None:
        self.construction, self.prompt = construction, prompt
        self.num_states, self.depth, self.float_depth = num_states, depth, float_depth

    # -- sampling --------------------------------------------------------------------------------
    def sample_exact(self, rng: np.random.Generator) -> ExpectedTDInstance:
        """P with rational rows (integer weights 0..8, renormalised), rewards k/8, γ = k/16, tabular
        features on every other draw (else grid features)."""
        S = self.num_states
        weights = rng.integers(0, 9, size=(S, S)) + np.eye(S, dtype=np.int64)
        P = np.array([[Fraction(int(w), int(row.sum())) for w in row] for row in weights], dtype=object)
        r = np.array([Fraction(int(k), 8) for k in rng.integers(-8, 9, size=S)], dtype=object)
        tabular = bool(rng.integers(0, 2))
        Phi = np.array([[Fraction(int(i == j)) for j in range(S)] for i in range(S)], dtype=object)
        if not tabular:
            Phi = rational_grid(rng, (S, S))
        return ExpectedTDInstance(P, r, Phi, Fraction(int(rng.integers(0, 16)), 16), self.depth)

    def sample_float(self, rng: np.random.Generator, batch: int) -> ExpectedTDInstance:
        """Dense random P (rows normalised), Gaussian rewards, tabular features, γ = 0.9."""
        S = self.num_states
        weights = rng.random((batch, S, S))
        P = weights / weights.sum(axis=-1, keepdims=True)
        Phi = np.broadcast_to(np.eye(S), (batch, S, S)).copy()
        return ExpectedTDInstance(P, rng.standard_normal((batch, S)), Phi, 0.9, self.float_depth)

    def strategy(self, kind: str, d: int | None = None, depth: int | None = None) -> SearchStrategy[ExpectedTDInstance]:
        if d is not None or depth is not None:
            raise ValueError(f"{self.key} draws its own sizes: fixed d or depth is not supported")
        return strategies.expected_td_instances(kind)

    def batch_of(self, instance: ExpectedTDInstance) -> ExpectedTDInstance:
        P, r, Phi = (float_batch_of_one(a) for a in (instance.transition, instance.rewards, instance.features))
        return ExpectedTDInstance(P, r, Phi, float(instance.gamma), instance.depth)

    def single(self, batch: ExpectedTDInstance, k: int) -> ExpectedTDInstance:
        return ExpectedTDInstance(batch.transition[k], batch.rewards[k], batch.features[k], batch.gamma, batch.depth)

    def describe(self, instance: ExpectedTDInstance) -> str:
        f = strategies.format_numbers
        return (
            f"S=d={instance.num_states}, L={instance.depth}, gamma={f(instance.gamma)}\n"
            f"P={f(instance.transition)}\nr={f(instance.rewards)}\nPhi={f(instance.features)}"
        )

    # -- the claims ------------------------------------------------------------------------------
    def _reference(
        self, bk: Backend[M], inst: ExpectedTDInstance
    ) -> tuple[tuple[M, M, M], Callable[[M], M], Callable[[M, M], M]]:
        """Blocks of the documented layout, and w ↦ w_next, w ↦ the last row (δ(w), −φ_qᵀw) for the
        instance's query features, all from the task data. Both maps read γPΦ from the blocks, rounded
        as the layout rounds it (γ·(PΦ)): a prompt that holds fl(γ·(PΦ)) then meets a reference whose
        bound carries that rounding, including its underflow (γ = 2^−1022 makes γPΦ subnormal)."""
        blocks = expected_blocks(bk, inst.transition, inst.rewards, inst.features, inst.gamma)
        features, expected_next, rewards = blocks

        def step(w: M) -> M:
            deltas = td_errors(bk, w, features, expected_next, rewards)
            return bk.add(w, bk.matmul(features, bk.transpose(deltas)))  # w + Φᵀ(r + γPΦw − Φw)

        def last_row(query: M, w: M) -> M:
            residual = td_errors(bk, w, features, expected_next, rewards)
            return bk.concat([residual, bk.neg(bk.matmul(bk.transpose(query), w))], axis=1)

        return blocks, step, last_row

    def _pairs(self, bk: Backend[M], layer: int, Z: M, layout: M, last: M) -> list[ClaimPair[M]]:
        rows, _ = bk.shape(Z)
        top, bottom, everything = slice(0, rows - 1), slice(rows - 1, rows), slice(None)
        return [
            ClaimPair(CLAIM_LAYOUT, layer, bk.block(Z, top, everything), bk.block(layout, top, everything)),
            ClaimPair(CLAIM_FORWARD, layer, bk.block(Z, bottom, everything), last),
        ]

    def composed_pairs(self, bk: Backend[M], instance: ExpectedTDInstance) -> list[ClaimPair[M]]:
        inst = instance.rational()  # exact, ball and mpmath compute on the task's exact rationals
        S = inst.num_states
        (F, G, r_row), _, last_row = self._reference(bk, inst)
        P, r, Phi = (bk.asmatrix(np.asarray(a)) for a in (inst.transition, inst.rewards[:, None], inst.features))
        ws = expected_td(bk, P, r, Phi, inst.gamma, inst.depth)
        prompts = np.asarray(self.prompt(inst.transition, inst.rewards, inst.features, inst.gamma))
        layers = self.construction(S, inst.depth)
        pairs: list[ClaimPair[M]] = []
        for q in range(S):
            query = bk.block(F, slice(None), slice(q, q + 1))
            layout = enumerated_layout(bk, F, G, r_row, query)
            for l, (Z, w) in enumerate(zip(run_transformer(bk, bk.asmatrix(prompts[q]), layers), ws)):
                pairs += self._pairs(bk, l, Z, layout, last_row(query, w))
        return pairs

    def step_pairs(self, bk: BoundBackend, batch: ExpectedTDInstance) -> list[ClaimPair[Any]]:
        """Base case: every enumerated prompt of every task is the documented layout (within the
        rounding bound of γ·PΦ) with last row (r, 0); step: from the seat of the float reference
        iterate w_l, one layer gives the last row of w_{l+1}. Prompts are flattened to one batch entry
        per (task, query) pair, with the task data repeated alongside."""
        B, S = batch.transition.shape[0], batch.num_states
        prompts = np.asarray(self.prompt(batch.transition, batch.rewards, batch.features, batch.gamma))
        Z0 = bk.asmatrix(prompts.reshape(B * S, *prompts.shape[-2:]))
        tasks, queries = np.repeat(np.arange(B), S), np.tile(np.arange(S), B)
        flat = ExpectedTDInstance(
            batch.transition[tasks], batch.rewards[tasks], batch.features[tasks], batch.gamma, batch.depth
        )
        inner = bk.inner
        P_f, r_f, Phi_f = (inner.asmatrix(a) for a in (flat.transition, flat.rewards[..., None], flat.features))
        ws = expected_td(inner, P_f, r_f, Phi_f, flat.gamma, flat.depth)
        (F, G, r_row), step, last_row = self._reference(bk, flat)
        query = bk.asmatrix(batch.features[tasks, queries][..., None])
        layout = enumerated_layout(bk, F, G, r_row, query)
        rows = bk.shape(Z0)[0]
        pairs = self._pairs(bk, 0, Z0, layout, last_row(query, bk.zeros(S, 1)))
        for l, layer in enumerate(self.construction(S, batch.depth)):
            w = bk.exact_input(ws[l])
            seat = bk.concat([bk.block(Z0, slice(0, rows - 1), slice(None)), last_row(query, w)], axis=0)
            pairs += self._pairs(bk, l + 1, linear_attention(bk, seat, layer), layout, last_row(query, step(w)))
        return pairs
