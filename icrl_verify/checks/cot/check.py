"""T3's check: K thoughts of one linear-attention layer carry batch TD and agree with T1 ([X26a]; our construction)."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from fractions import Fraction
from typing import Any, ClassVar, TypeVar

import numpy as np
from hypothesis.strategies import SearchStrategy
from numpy.typing import NDArray

from icrl_verify import constructions, cot, strategies
from icrl_verify.algorithms import context_blocks, preconditioned_td, td_errors, td_step
from icrl_verify.arith.absolute_program import BoundBackend
from icrl_verify.arith.base import Backend
from icrl_verify.arith.exact import ExactBackend, to_fmpq
from icrl_verify.arith.float64 import Float64Backend
from icrl_verify.attention import linear_attention, run_transformer
from icrl_verify.certify import ClaimPair, ClaimResult
from icrl_verify.checks.base import Figure, TheoremCheck, certification_figures
from icrl_verify.checks.cot.decay import FLOOR_LENGTHS, contraction_certificate, floor_fit
from icrl_verify.checks.td_family import rational_grid
from icrl_verify.prompts import cot_prompt, td_prompt
from icrl_verify.tasks.cot import CoTInstance, cot_instance, empirical_fixed_point, empirical_td_system

M = TypeVar("M")
Construction = Callable[[int, Any], cot.CoTWeights]
PromptBuilder = Callable[[Any, Any, Any, Any], NDArray[Any]]
"""(features, next_features, rewards, γ) ↦ the CoT prompt, like :func:`icrl_verify.prompts.cot_prompt`."""
Readout = Callable[[Backend[Any], Any], Any]

CLAIM_PROMPT = "context tokens = (phi_i, gamma phi'_i, r_i, 0, 0)"
CLAIM_W = "w-block of thought k = batch-TD w_k"
CLAIM_TOKEN = "thought k = (0, 0, 0, w_k, 1)"
CLAIM_VALUE = "<phi_q, w_k> = T1 value after k layers"
CLAIM_ERROR = "w_k - w_n = (I - C A_n)^k (w_0 - w_n)"
CLAIM_DECAY = "geometric decay when rho(I - C A_n) < 1"
CLAIM_FLOOR = "floor ||w_n - w_TD|| ~ n^(-1/2)"


def documented_context(bk: Backend[M], blocks: tuple[M, M, M]) -> M:
    """The context tokens the documented layout (docs/theorems/cot.md) says a CoT prompt holds, built
    from task data: column i is (φ_i, γφ'_i, r_i, 0, 0), (3d+2)×n."""
    features, next_features, rewards = blocks
    d, n = bk.shape(features)
    return bk.concat([features, next_features, rewards, bk.zeros(d + 1, n)], axis=0)


def _thought_token(bk: Backend[M], w: M) -> M:
    """The token the theorem says thought k is: (0, 0, 0, w, 1)."""
    d, _ = bk.shape(w)
    return bk.concat([bk.zeros(2 * d + 1, 1), w, bk.asmatrix(np.ones((1, 1)))], axis=0)


class CoTCheck(TheoremCheck[CoTInstance]):
    """T3: K thoughts of θ*_CoT(C) carry the batch-TD iterates w_0..w_K, agree with the K-layer T1
    transformer, and follow w_k − w_n = (I − C A_n)^k (w_0 − w_n).

    The transformer side decodes the prompt that ``prompt`` (the builder under test, default
    :func:`icrl_verify.prompts.cot_prompt`) makes from the task data, with the generic layer on
    ``construction``; the reference runs batch TD on the task data itself. ``readout`` and ``step``
    are the other parts a mutant replaces.
    """

    key = "T3"
    title = "one layer + chain of thought = batch TD"
    claims = (CLAIM_PROMPT, CLAIM_W, CLAIM_TOKEN, CLAIM_VALUE, CLAIM_ERROR)
    #: plus the certified-decay instances (exact) and the floor-fit seeds (float64)
    counts: ClassVar[dict[str, int]] = {**TheoremCheck.counts, "decay": 20, "floor": 200}

    def __init__(
        self,
        construction: Construction = constructions.cot_td,
        prompt: PromptBuilder = cot_prompt,
        readout: Readout = cot.read_weights,
        step: cot.Step = cot.next_thought,
        d: int = 3,
        n: int = 20,
        thoughts: int = 8,
        float_n: int = 100,
        float_thoughts: int = 40,
    ) -> None:
        self.construction, self.prompt, self.readout, self.step = construction, prompt, readout, step
        self.d, self.n, self.thoughts = d, n, thoughts
        self.float_n, self.float_thoughts = float_n, float_thoughts

    # -- sampling --------------------------------------------------------------------------------
    def sample_exact(self, rng: np.random.Generator) -> CoTInstance:
        """Every entry from the grid S = {k/4096 : |k| ≤ 4096}, γ = 9/10, a non-symmetric grid C."""
        d, n = self.d, self.n
        return cot_instance(
            rational_grid(rng, (n, d)), rational_grid(rng, (n, d)), rational_grid(rng, (n,)),
            rational_grid(rng, (d,)), Fraction(9, 10), rational_grid(rng, (d, d)), self.thoughts,
        )  # fmt: skip

    def sample_float(self, rng: np.random.Generator, batch: int) -> CoTInstance:
        """The T1 float tasks (Gaussian φ, independent φ', γ = 0.9), one C = I + 0.2·G per task."""
        d, n = self.d, self.float_n
        return cot_instance(
            rng.standard_normal((batch, n, d)), rng.standard_normal((batch, n, d)),
            rng.standard_normal((batch, n)), rng.standard_normal((batch, d)), 0.9,
            np.eye(d) + 0.2 * rng.standard_normal((batch, d, d)), self.float_thoughts,
        )  # fmt: skip

    def sample_decay(self, rng: np.random.Generator) -> CoTInstance:
        """An instance meeting the hypothesis ρ(I − C A_n) < 1: a cyclic trajectory-shaped context
        (φ'_i = φ_{i+1}, φ'_{n−1} = φ_0, γ = 9/10, so A_n has a positive definite symmetric part),
        C = α(I + G/4) with G from the grid and α the largest power of 2 below min Re λ/|λ|² over
        the eigenvalues λ of (I + G/4)A_n, so |1 − αλ|² ≤ 1 − α Re λ < 1. Resampled until that holds."""
        d, n = self.d, self.n
        while True:
            phi = rational_grid(rng, (n, d))
            inst = cot_instance(
                phi, np.roll(phi, -1, axis=0), rational_grid(rng, (n,)), rational_grid(rng, (d,)), Fraction(9, 10),
                np.eye(d, dtype=np.int64) + rational_grid(rng, (d, d)) / 4, self.thoughts,
            )  # fmt: skip
            if inst.fixed_point is None:
                continue
            F = np.asarray(phi, dtype=np.float64)
            A = F.T @ (F - 0.9 * np.roll(F, -1, axis=0)) / n
            lam = np.linalg.eigvals(np.asarray(inst.C, dtype=np.float64) @ A)
            if np.min(lam.real) <= 0:
                continue
            alpha = Fraction(2) ** -math.ceil(-math.log2(float(np.min(lam.real / np.abs(lam) ** 2))))
            return replace(inst, C=inst.C * alpha)

    def strategy(self, kind: str, d: int | None = None, depth: int | None = None) -> SearchStrategy[CoTInstance]:
        """T3 task data; ``depth`` is ignored (one layer is reused for every thought, K is free)."""
        return strategies.cot_instances(kind, d=d)

    def batch_of(self, instance: CoTInstance) -> CoTInstance:
        return instance.as_batch()

    def single(self, batch: CoTInstance, k: int) -> CoTInstance:
        one = batch.take(slice(k, k + 1))
        fp = None if one.fixed_point is None else one.fixed_point[0]
        return CoTInstance(
            one.features[0], one.next_features[0], one.rewards[0], one.query[0], one.gamma, one.C[0],
            one.thoughts, fp,
        )  # fmt: skip

    def chunks(self, batch: CoTInstance, size: int) -> list[CoTInstance]:
        return [batch.take(slice(s, s + size)) for s in range(0, batch.features.shape[0], size)]

    def describe(self, instance: CoTInstance) -> str:
        f = strategies.format_numbers
        return (
            f"d={instance.d}, n={instance.n}, K={instance.thoughts}, gamma={f(instance.gamma)}\n"
            f"phi={f(instance.features)}\nphi'={f(instance.next_features)}\nr={f(instance.rewards)}\n"
            f"phi_q={f(instance.query)}\nC={f(instance.C)}"
        )

    # -- the claims ------------------------------------------------------------------------------
    def _prompt(self, inst: CoTInstance) -> NDArray[Any]:
        """The CoT prompt the builder under test makes from the task data."""
        return np.asarray(self.prompt(inst.features, inst.next_features, inst.rewards, inst.gamma))

    def _decode(self, bk: Backend[M], inst: CoTInstance) -> M:
        """The token matrix after K thoughts, from the generic layer on the construction under test."""
        Z0 = bk.asmatrix(self._prompt(inst))
        return cot.generate(bk, Z0, self.construction(inst.d, inst.C), inst.thoughts, self.step)

    def _t1_prompt(self, bk: Backend[M], inst: CoTInstance) -> M:
        """The T1 prompt of the same task, from the shipped T1 builder."""
        return bk.asmatrix(td_prompt(inst.features, inst.next_features, inst.rewards, inst.query, inst.gamma))

    def _error_operator(
        self, bk: Backend[M], inst: CoTInstance, blocks: tuple[M, M, M], fixed_point: NDArray[Any]
    ) -> tuple[M, M, M, M]:
        """(T = I − C A_n, A_n, b_n, w) on this backend, for the fixed point ``fixed_point`` ((d,) or (B, d))."""
        A, b = empirical_td_system(bk, *blocks)
        T = bk.sub(bk.eye(inst.d), bk.matmul(bk.asmatrix(inst.C), A))
        return T, A, b, bk.asmatrix(fixed_point[..., None])

    def composed_pairs(self, bk: Backend[M], instance: CoTInstance) -> list[ClaimPair[M]]:
        inst = instance.rational()  # exact, ball and mpmath compute on the task's exact rationals
        d, n, K = inst.d, inst.n, inst.thoughts
        blocks = context_blocks(bk, inst.features, inst.next_features, inst.rewards, inst.gamma)
        features, next_features, rewards = blocks
        query = bk.asmatrix(inst.query[:, None])
        Z = self._decode(bk, inst)
        C = bk.asmatrix(inst.C)
        ws = preconditioned_td(bk, features, features, next_features, rewards, [C] * K)
        t1 = run_transformer(bk, self._t1_prompt(bk, inst), constructions.td0(d, [inst.C] * K, n))
        read = [self.readout(bk, cot.thought(bk, Z, k, n)) for k in range(K + 1)]
        pairs: list[ClaimPair[M]] = [
            ClaimPair(CLAIM_PROMPT, 0, bk.block(Z, slice(None), slice(0, n)), documented_context(bk, blocks))
        ]
        for k in range(K + 1):
            pairs += [
                ClaimPair(CLAIM_W, k, read[k], ws[k]),
                ClaimPair(CLAIM_TOKEN, k, cot.thought(bk, Z, k, n), _thought_token(bk, ws[k])),
                ClaimPair(CLAIM_VALUE, k, cot.value(bk, query, read[k]), _t1_value(bk, t1[k], d, n)),
            ]
        if inst.fixed_point is not None:
            T, A, b, w_n = self._error_operator(bk, inst, blocks, inst.fixed_point)
            pairs.append(ClaimPair(CLAIM_ERROR, 0, bk.matmul(A, w_n), b))
            error = bk.sub(read[0], w_n)
            for k in range(K + 1):
                pairs.append(ClaimPair(CLAIM_ERROR, k, bk.sub(read[k], w_n), error))
                error = bk.matmul(T, error)
        return pairs

    def step_pairs(self, bk: BoundBackend, batch: CoTInstance) -> list[ClaimPair[Any]]:
        """From the seat [context, c_0, (0,0,0,w_1,1), …, (0,0,0,w_k,1)] of the float reference iterates
        (the context and c_0 from the builder under test), one decoding step must give thought k+1;
        the reference runs on the task data. The error claim is checked in residual form
        w_{k+1} − w = T(w_k − w) + C(b_n − A_n w), an identity for any w (the computed w_n here)."""
        d, n, K = batch.d, batch.n, batch.thoughts
        inner = bk.inner
        task = (batch.features, batch.next_features, batch.rewards, batch.gamma)
        inner_blocks = context_blocks(inner, *task)
        ws = preconditioned_td(inner, inner_blocks[0], *inner_blocks, [inner.asmatrix(batch.C)] * K)
        blocks = context_blocks(bk, *task)
        features, next_features, rewards = blocks
        query = bk.asmatrix(batch.query[..., None])
        C = bk.asmatrix(batch.C)
        weights = self.construction(d, batch.C)
        Zc = bk.asmatrix(self._prompt(batch))
        first = bk.block(Zc, slice(None), slice(n, n + 1))
        Zt = self._t1_prompt(bk, batch)
        t1_layer = constructions.td0(d, [batch.C], n)[0]
        fixed_point = batch.fixed_point
        if fixed_point is None:
            fixed_point = empirical_fixed_point(*task)
        assert fixed_point is not None  # a float context always has a least-squares solution
        # the residual form holds for any w: where the solution is not a float (A_n subnormal, w_n beyond
        # the overflow threshold) take w = 0 instead of an infinite one
        fixed_point = np.where(np.isfinite(fixed_point), fixed_point, 0.0)
        T, A, b, w_n = self._error_operator(bk, batch, blocks, fixed_point)
        residual = bk.matmul(C, bk.sub(b, bk.matmul(A, w_n)))
        w0 = self.readout(bk, first)
        pairs: list[ClaimPair[Any]] = [
            ClaimPair(CLAIM_PROMPT, 0, bk.block(Zc, slice(None), slice(0, n)), documented_context(bk, blocks)),
            ClaimPair(CLAIM_W, 0, w0, bk.zeros(d, 1)),
            ClaimPair(CLAIM_TOKEN, 0, first, _thought_token(bk, bk.zeros(d, 1))),
            ClaimPair(CLAIM_VALUE, 0, cot.value(bk, query, w0), _t1_value(bk, Zt, d, n)),
        ]
        seat = Zc  # context and c_0; each step appends the exact token of the reference iterate
        for k in range(K):
            w = bk.exact_input(ws[k])
            nxt = self.step(bk, seat, weights, n)
            w_next = td_step(bk, w, C, features, td_errors(bk, w, features, next_features, rewards), n)
            read = self.readout(bk, nxt)
            t1_next = linear_attention(bk, _t1_seat(bk, Zt, w, blocks, query), t1_layer)
            pairs += [
                ClaimPair(CLAIM_W, k + 1, read, w_next),
                ClaimPair(CLAIM_TOKEN, k + 1, nxt, _thought_token(bk, w_next)),
                ClaimPair(CLAIM_VALUE, k + 1, cot.value(bk, query, read), _t1_value(bk, t1_next, d, n)),
                ClaimPair(CLAIM_ERROR, k + 1, bk.sub(read, w_n), bk.add(bk.matmul(T, bk.sub(w, w_n)), residual)),
            ]
            seat = bk.concat([seat, _thought_token(bk, bk.exact_input(ws[k + 1]))], axis=1)
        return pairs

    # -- the claims that are not equalities ------------------------------------------------------
    def run_decay(self, instances: Sequence[CoTInstance]) -> list[ClaimResult]:
        """Exact: for each instance a rational certificate (P, s) of ρ(I − C A_n) ≤ s < 1 and, for the
        decoded thoughts, ‖w_k − w_n‖²_P ≤ s^{2k} ‖w_0 − w_n‖²_P at every k ≤ K."""
        res = ClaimResult(self.key, CLAIM_DECAY, "exact")
        bk = ExactBackend()
        for instance in instances:
            inst = instance.rational()
            res.instances += 1
            if inst.fixed_point is None:
                res.record(None, False, "A_n is singular: no empirical fixed point")
                continue
            blocks = context_blocks(bk, inst.features, inst.next_features, inst.rewards, inst.gamma)
            T, _, _, w_n = self._error_operator(bk, inst, blocks, inst.fixed_point)
            cert = contraction_certificate(T)
            if isinstance(cert, str):
                res.record(None, False, cert)
                res.counterexample = res.counterexample or self.describe(inst)
                continue
            P, s = cert
            Z = self._decode(bk, inst)
            errors = [bk.sub(self.readout(bk, cot.thought(bk, Z, k, inst.n)), w_n) for k in range(inst.thoughts + 1)]
            norms = [(e.transpose() * P * e)[0, 0] for e in errors]
            for k, sq in enumerate(norms):
                bound = norms[0] * to_fmpq(s ** (2 * k))
                if sq > bound:
                    if res.passed:
                        res.counterexample = self.describe(inst)
                    res.record(
                        None,
                        False,
                        f"thought {k}: ||w_k - w_n||_P^2 = {float(sq):.4g} > s^(2k) ||w_0 - w_n||_P^2 = "
                        f"{float(bound):.4g} (s = {float(s):.6g})",
                    )
                    break
        return [res]

    def run_floor(self, rng: np.random.Generator, seeds: int) -> ClaimResult:
        """Statistical: the slope of log ‖w_n − w_TD‖ against log n (see :class:`FloorFit`)."""
        fit = floor_fit(rng, seeds)
        res = ClaimResult(self.key, CLAIM_FLOOR, "float64 (statistical)", instances=seeds)
        res.record(abs(fit.mean + 0.5), fit.passes(), fit.summary())
        res.detail = fit.summary()
        return res

    def prove(self, kinds: Sequence[str], rng: np.random.Generator, budget: float = 1.0) -> list[ClaimResult]:
        out = super().prove(kinds, rng, budget)
        if "exact" in kinds:
            count = max(1, round(self.counts["decay"] * budget))
            out += self.run_decay([self.sample_decay(rng) for _ in range(count)])
        if "float64" in kinds:
            out.append(self.run_floor(rng, max(20, round(self.counts["floor"] * budget))))
        return out


def _t1_seat(bk: Backend[M], Z0: M, w: M, blocks: tuple[M, M, M], query: M) -> M:
    """The T1 prompt the T1 theorem says layer l holds for iterate w: Z_0 with last row (δ(w), −φ_qᵀw),
    δ from the task data."""
    features, next_features, rewards = blocks
    rows, _ = bk.shape(Z0)
    last = bk.concat([td_errors(bk, w, features, next_features, rewards), bk.neg(cot.value(bk, query, w))], axis=1)
    return bk.concat([bk.block(Z0, slice(0, rows - 1), slice(None)), last], axis=0)


def _t1_value(bk: Backend[M], Z: M, d: int, n: int) -> M:
    """The T1 prediction −Z[2d, n] (1×1)."""
    return bk.neg(bk.block(Z, slice(2 * d, 2 * d + 1), slice(n, n + 1)))


def bench_cot(tasks: int = 2000, exact_certificates: int = 100) -> list[Figure]:
    """Throughput of T3 certification (float: d = 3, n = 100, K = 40; exact: d = 3, n = 20, K = 8),
    uncertified decoding of a long context, and the floor fit of the default certificate."""
    check = CoTCheck()
    rng = np.random.default_rng(0)
    batch = check.sample_float(rng, tasks)
    exact = [check.sample_exact(rng) for _ in range(exact_certificates)]
    figures = certification_figures(
        check, batch, tasks, "4 claims x 41 thoughts (d=3, n=100, K=40)", exact, "d=3, n=20, K=8"
    )
    n = 10_000
    Z0 = cot_prompt(rng.standard_normal((n, 4)), rng.standard_normal((n, 4)), rng.standard_normal(n), 0.9)
    start = time.perf_counter()
    cot.generate(Float64Backend(), Z0, constructions.cot_td(4, np.eye(4)), 100)
    label = f"float64: decode 100 thoughts over n={n} context tokens (d=4), uncertified"
    figures.append((label, time.perf_counter() - start, "s"))
    seeds = CoTCheck.counts["floor"]
    start = time.perf_counter()
    fit = floor_fit(rng, seeds)
    figures += [
        (f"floor fit: {seeds} seeds, n up to {FLOOR_LENGTHS[-1]}", time.perf_counter() - start, "s"),
        ("floor fit: mean slope of log ||w_n - w_TD|| vs log n", fit.mean, "slope"),
    ]
    return figures
