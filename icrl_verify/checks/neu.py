"""Checks of T2 [W25b]: value iteration through the transformer, the vanishing NEU, contrasts, general features.

Each ``check_*`` function returns one :class:`ClaimResult` and takes the construction (and, for the
gradient claim, the update function) under test, so mutants run through the same code.
``docs/theorems/neu.md`` derives every tolerance used here.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from fractions import Fraction
from functools import partial
from pathlib import Path
from typing import Any, ClassVar, TypeVar

import numpy as np
import torch
from flint import fmpq, fmpq_mat
from hypothesis.strategies import SearchStrategy
from numpy.typing import NDArray

from icrl_verify import constructions, mrp, strategies
from icrl_verify.algorithms import expected_td, td_errors
from icrl_verify.arith.absolute_program import BoundBackend
from icrl_verify.arith.base import Backend, to_fraction
from icrl_verify.arith.exact import ExactBackend, to_fmpq
from icrl_verify.arith.float64 import Float64Backend
from icrl_verify.arith.running_error import RunningErrorBackend
from icrl_verify.arith.torch_backend import intra_op_threads
from icrl_verify.attention import Head, LinearAttentionWeights, linear_attention, run_transformer, standard_mask
from icrl_verify.certify import ClaimPair, ClaimResult, ladder_verdict, tracked_verdict
from icrl_verify.checks.base import FLOAT64_UNIT_ROUNDOFF, Figure, Provable, TheoremCheck, float_kind
from icrl_verify.checks.td_family import rational_grid
from icrl_verify.neu import (
    ExpectedUpdates,
    exact_directional_derivatives,
    expected_updates,
    parameter_count,
    task_prompts,
    value_gradients,
    value_iteration_layers,
)
from icrl_verify.prompts import expected_feature_prompts
from icrl_verify.reports import save_figure

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

DEPTHS = (1, 2, 5, 10, 15, 20, 25, 30, 40, 50, 60, 80, 100, 120, 140, 160, 180, 200)
"""Depth grid of the limit claim (dense enough for three fit points at every γ in [0.5, 0.9])."""
FIT_FLOOR = 1e-10
"""Rates are fitted where (predicted rate)^L ≥ FIT_FLOOR, five orders above the ~1e-15 float64 floor of
the TD residual, over the second half of those depths (NEU is not monotone for small L)."""
GAMMA_RANGE = (0.5, 0.9)
"""Discounts of the limit claim: γ ≤ 0.9 reaches 1e-6 by L = 200; γ ≥ 0.5 leaves three fit points on the grid."""
NEU_TARGET = 1e-6
"""NEU_TD and NEU_MC at θ*_200 must be below this on every task (γ ≤ 0.9)."""
RATE_TOLERANCE = 0.1
"""Fitted rate within 10% of the predicted one, and its exponent log(rate) within 10% of the predicted exponent."""
GRADIENT_SETTLED = 1e-3
"""max_s ‖∇TF_L(s)‖ at the last two grid depths agree to this relative tolerance (a bounded, converging sequence)."""
CONTRAST_DEPTHS = (40, 80, 120, 160, 200)
"""Depths at which the perturbed θ must keep its NEU away from zero."""
SMALL_STEP_DEPTHS = tuple(range(10, 201, 10))
"""Depths of the smaller-step curve (three fit points for every predicted rate in [0.75, 0.95])."""
AWAY_FROM_ZERO = 1e-3
"""Off θ*, the multi-task NEU_TD and NEU_MC stay above this (three orders above the 1e-6 θ*_200 meets)."""
SMALL_STEP = 0.5
"""The contrast's smaller positive step: C = 0.5·S·I."""
FLOAT_DIGITS = (7, 15)
"""Decimal digits of float32 and float64 (24 and 53 bits, floored): the rungs of the autograd ladder."""
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


def _updates_on(device: str, updates: UpdateFn | None) -> UpdateFn:
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


@dataclass(frozen=True)
class ExpectedTDInstance:
    """T2 task data: transition matrix P (S, S), rewards r (S,), features Φ (S, S) (d = S, the size the
    construction θ*_TD(S·I) is built for; Φ = I is the tabular case), γ and depth L; or the arrays
    with a leading task axis B (γ and L shared)."""

    transition: NDArray[Any]
    rewards: NDArray[Any]
    features: NDArray[Any]
    gamma: float | Fraction
    depth: int

    @property
    def num_states(self) -> int:
        """S (the context length n of every enumerated prompt)."""
        return int(self.transition.shape[-1])

    def rational(self) -> ExpectedTDInstance:
        """The same task in exact rationals (every float is one; P must stay row-stochastic exactly)."""
        F = np.vectorize(to_fraction, otypes=[object])
        return ExpectedTDInstance(
            F(self.transition), F(self.rewards), F(self.features), to_fraction(self.gamma), self.depth
        )


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
        f = np.asarray
        return ExpectedTDInstance(
            f(instance.transition, dtype=np.float64)[None], f(instance.rewards, dtype=np.float64)[None],
            f(instance.features, dtype=np.float64)[None], float(instance.gamma), instance.depth,
        )  # fmt: skip

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


# --- claim 1: |TF_L − v| ≤ γ^L ‖v‖∞ ----------------------------------------------------------------


def check_bound_exact(
    construction: Construction,
    tasks: Sequence[RationalTask],
    depth: int,
    prompt: PromptBuilder = expected_feature_prompts,
) -> ClaimResult:
    """Claim 1 in exact rationals at every l = 0..depth: v solved over ℚ, TF from the generic layer on
    the prompt ``prompt`` (the builder under test) makes from the task, which must first equal the
    documented layout built from the task data; the inequality decided exactly. worst_error = max over
    l ≥ 1 of |TF − v| / (γ^l ‖v‖∞) (at l = 0 the bound is attained: TF_0 = 0)."""
    res = ClaimResult(KEY, CLAIM_BOUND, "exact")
    bk = ExactBackend()
    for k, task in enumerate(tasks):
        S = task.num_states
        eye = np.array([[Fraction(int(i == j)) for j in range(S)] for i in range(S)], dtype=object)
        prompts = np.asarray(prompt(task.P, task.r, eye, task.gamma))
        F, G, r_row = expected_blocks(bk, task.P, task.r, eye, task.gamma)
        v = task.value()
        v_inf = max(abs(x) for x in v)
        layers = construction(S, depth)
        for s in range(S):
            Z0 = bk.asmatrix(prompts[s])
            layout = enumerated_layout(bk, F, G, r_row, bk.block(F, slice(None), slice(s, s + 1)))
            if layout != Z0:
                res.record(float("inf"), False, f"task {k}, state {s}: the prompt is not the documented layout")
                continue
            for l, Z in enumerate(run_transformer(bk, Z0, layers)):
                entry = Z[2 * S, S]
                err = abs(-Fraction(int(entry.p), int(entry.q)) - v[s])
                bound = task.gamma**l * v_inf
                ratio = float(err / bound) if bound else (0.0 if err == 0 else float("inf"))
                msg = f"task {k}, state {s}, L = {l}: |TF - v| = {float(err):.3g} > {float(bound):.3g}"
                res.record(ratio if l else None, err <= bound, msg)
        res.instances += 1
    return res


def _fmpq(x: float) -> fmpq:
    return to_fmpq(float(x))


def _discounted_transitions(Z0: FloatArray) -> fmpq_mat:
    """G̃ = fl(γP) (S×S) as a tabular float prompt stores it, exactly (read only after the prompt is
    certified to be the documented layout of the task data)."""
    S = Z0.shape[-1] - 1
    return fmpq_mat(S, S, [_fmpq(Z0[S + j, i]) for i in range(S) for j in range(S)])


def float_layout_verdict(prompts: FloatArray, task: mrp.FiniteMRP) -> tuple[bool, float]:
    """Whether float prompts (S, 2d+1, S+1) are the documented enumerated layout of ``task`` within
    the certified rounding bound of computing that layout from the task data (running error
    analysis): (every prompt passes, the largest |prompt − layout| / bound)."""
    bk = RunningErrorBackend(Float64Backend(), FLOAT64_UNIT_ROUNDOFF)
    F, G, r_row = expected_blocks(bk, task.P, task.r, task.features, task.gamma)
    layouts = enumerated_layout(bk, F, G, r_row, bk.asmatrix(task.features[:, :, None]))
    ok, _, ratio = tracked_verdict(bk, bk.asmatrix(prompts), layouts)
    return bool(np.all(ok)), float(np.max(ratio))


def check_bound_float(
    construction: Construction,
    tasks: Sequence[mrp.FiniteMRP],
    depth: int,
    prompt: PromptBuilder = expected_feature_prompts,
) -> ClaimResult:
    """Claim 1 in float64 at every l = 0..depth, on the prompt ``prompt`` (the builder under test)
    makes from the task: first the prompt must be the documented layout of the task data within the
    rounding bound of fl(γ·PΦ) (:func:`float_layout_verdict`); then the transformer is compared with
    the task that prompt encodes exactly (G̃ = fl(γP) as stored, rewards from the task data, its
    value ṽ = (I − G̃)^{-1} r over ℚ, γ̃ = ‖G̃‖∞):

        |TF̂_l(s) − ṽ(s)| ≤ γ̃^l ‖ṽ‖∞ + F_l(s),

    F_l the float error bound of docs/theorems/neu.md: each layer's local error is certified by the
    running-error backend from the computed state, and propagated through the exact layer map of θ*
    (context y ↦ G̃y, query q ↦ q − y_s) in exact rationals. worst_error = max over l ≥ 1 of
    |TF̂ − ṽ| / (γ̃^l ‖ṽ‖∞ + F_l).
    """
    res = ClaimResult(KEY, CLAIM_BOUND, "float64")
    bk = RunningErrorBackend(Float64Backend(), FLOAT64_UNIT_ROUNDOFF)
    for k, task in enumerate(tasks):
        S = task.num_states
        layers = construction(S, depth)
        Z = np.asarray(prompt(task.P, task.r, task.features, task.gamma), dtype=np.float64)
        laid_out, ratio = float_layout_verdict(Z, task)
        if not laid_out:
            msg = f"task {k}: the prompt is not the documented layout ({ratio:.3g}x the bound)"
            res.record(float("inf"), False, msg)
            continue
        fixed = Z[:, : 2 * S, :].copy()
        G, r = _discounted_transitions(Z[0]), fmpq_mat(S, 1, [_fmpq(x) for x in task.r])
        gamma_t = max(sum((G[i, j] for j in range(S)), fmpq(0)) for i in range(S))
        v_mat = (fmpq_mat(S, S, [int(i == j) for i in range(S) for j in range(S)]) - G).solve(r)
        v = [v_mat[i, 0] for i in range(S)]
        reach = max(abs(x) for x in v)  # γ̃^l ‖ṽ‖∞
        ctx_err = fmpq(0)  # E_l ≥ ‖ŷ_l − G̃^l r‖∞ (context row)
        query_err = [fmpq(0)] * S  # F_l(s) ≥ |q̂_l(s) − q_l(s)|
        ok = True
        for l in range(depth + 1):
            for s in range(S):
                err = abs(-_fmpq(Z[s, 2 * S, S]) - v[s])
                bound = reach + query_err[s]
                ratio = float(err / bound) if bound != 0 else (0.0 if err == 0 else float("inf"))
                msg = f"task {k}, state {s}, L = {l}: |TF - v| = {float(err):.3g} > {float(bound):.3g}"
                res.record(ratio if l else None, bool(err <= bound), msg)
            if l == depth:
                break
            out = linear_attention(bk, bk.exact_input(Z), layers[l])
            local = bk.certified_bound(out)
            new_Z = out.value
            finite = np.all(np.isfinite(new_Z)) and np.all(np.isfinite(local))
            if not finite or not np.array_equal(new_Z[:, : 2 * S, :], fixed):
                res.record(float("inf"), False, f"task {k}, layer {l}: feature rows changed or a value overflowed")
                ok = False
                break
            query_err = [query_err[s] + ctx_err + _fmpq(local[s, 2 * S, S]) for s in range(S)]
            ctx_err = gamma_t * ctx_err + _fmpq(np.max(local[:, 2 * S, :S]))
            reach *= gamma_t
            Z = new_Z
        res.instances += int(ok)
    return res


# --- claim 2: the NEU vanishes at θ*_L -------------------------------------------------------------


@dataclass(frozen=True)
class NEUCurve:
    """NEU along the depth grid for one set of tasks: per depth, per task and multi-task."""

    depths: tuple[int, ...]
    td: FloatArray  # (len(depths), T)
    mc: FloatArray  # (len(depths), T)
    multi_td: FloatArray  # (len(depths),): norm of the mean update over tasks
    multi_mc: FloatArray
    value_error: FloatArray  # (len(depths), T): max_s |TF_L(s) − v(s)|
    gradient: FloatArray  # (len(depths), T): max_s ‖∇TF_L(s)‖ (NaN when not computed)


def _safe_norm(x: FloatArray, axis: int | None = None) -> Any:
    """Euclidean norm without overflow in the squares (inf only when an entry is)."""
    top = np.max(np.abs(x), axis=axis, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        scaled = np.where(top > 0, x / np.where(top > 0, top, 1), 0)
    out = np.squeeze(top, axis=axis) * np.linalg.norm(scaled, axis=axis)
    return out


def neu_curve(
    construction: Construction,
    tasks: Sequence[mrp.FiniteMRP],
    depths: Sequence[int] = DEPTHS,
    updates: UpdateFn | None = None,
    gradients: bool = True,
    device: str = "cpu",
) -> NEUCurve:
    """NEU_TD, NEU_MC (per task and multi-task), max|TF − v| and max‖∇TF‖ at every grid depth."""
    compute = _updates_on(device, updates)
    S = tasks[0].num_states
    rows: list[tuple[Any, ...]] = []
    v = np.stack([t.value for t in tasks])
    for L in depths:
        layers = construction(S, L)
        with np.errstate(over="ignore", invalid="ignore"), intra_op_threads(1):
            u = compute(layers, tasks, torch.float64)
            grad = np.full(len(tasks), np.nan)
            if gradients:
                _, g = value_gradients(layers, tasks, device=device)
                grad = np.max(_safe_norm(g, axis=-1), axis=-1)
            rows.append(
                (
                    _safe_norm(u.td, axis=1),
                    _safe_norm(u.mc, axis=1),
                    float(_safe_norm(u.td.mean(axis=0))),
                    float(_safe_norm(u.mc.mean(axis=0))),
                    np.max(np.abs(u.values - v), axis=1),
                    grad,
                )
            )
    td, mc, mtd, mmc, err, grad = (np.array(col, dtype=np.float64) for col in zip(*rows))
    return NEUCurve(tuple(depths), td, mc, mtd, mmc, err, grad)


def fitted_rate(depths: Sequence[int], values: FloatArray, predicted: float) -> tuple[float, tuple[int, int]]:
    """Geometric rate exp(b) of the least-squares line log value ≈ a + bL, fitted over the depths L with
    L_hi/2 ≤ L ≤ L_hi, L_hi = min(max depth, log(FIT_FLOOR)/log(predicted)) (all depths ≥ max/2 when
    predicted ≥ 1). Returns (rate, (first, last) depth used); NaN with fewer than three usable points."""
    L = np.asarray(depths, dtype=np.float64)
    hi = float(L.max())
    if 0 < predicted < 1:
        hi = min(hi, np.log(FIT_FLOOR) / np.log(predicted))
    use = (hi / 2 <= L) & (hi >= L) & np.isfinite(values) & (values > 0)
    if use.sum() < 3:
        return float("nan"), (0, 0)
    slope = np.polyfit(L[use], np.log(values[use]), 1)[0]
    return float(np.exp(slope)), (int(L[use][0]), int(L[use][-1]))


def rate_agrees(rate: float, predicted: float) -> bool:
    """|rate − predicted| ≤ 10%·predicted and |log rate − log predicted| ≤ 10%·|log predicted|."""
    if not (np.isfinite(rate) and rate > 0 and 0 < predicted < 1):
        return False
    close = abs(rate - predicted) <= RATE_TOLERANCE * predicted
    return bool(close and abs(np.log(rate / predicted)) <= RATE_TOLERANCE * abs(np.log(predicted)))


def check_limit(
    construction: Construction,
    tasks: Sequence[mrp.FiniteMRP],
    updates: UpdateFn | None = None,
    device: str = "cpu",
) -> ClaimResult:
    """Claim 2 on every task and on the multi-task mean: NEU_TD, NEU_MC < 1e-6 at L = 200, fitted rate
    within 10% of γ (rate and exponent), and max_s‖∇TF_L(s)‖ settled (last two grid depths agree to 1e-3).

    worst_error = the largest NEU at L = 200."""
    if any(not GAMMA_RANGE[0] <= t.gamma <= GAMMA_RANGE[1] for t in tasks):
        raise ValueError(f"tasks: the limit claim needs gamma in {list(GAMMA_RANGE)} (see docs/theorems/neu.md)")
    res = ClaimResult(KEY, CLAIM_LIMIT, float_kind("torch", device))
    curve = neu_curve(construction, tasks, DEPTHS, updates, device=device)
    last = len(DEPTHS) - 1
    for k, task in enumerate(tasks):
        for name, series in (("NEU_TD", curve.td[:, k]), ("NEU_MC", curve.mc[:, k])):
            msg = f"task {k}: {name}(L = 200) = {series[last]:.3g}"
            res.record(float(series[last]), bool(series[last] < NEU_TARGET), msg)
            rate, used = fitted_rate(DEPTHS, series, task.gamma)
            msg = f"task {k}: {name} rate {rate:.4g} over L in {used}, gamma = {task.gamma:.4g}"
            res.record(None, rate_agrees(rate, task.gamma), msg)
        g = curve.gradient[:, k]
        settled = bool(np.all(np.isfinite(g)) and abs(g[last] - g[last - 1]) <= GRADIENT_SETTLED * g[last])
        res.record(None, settled, f"task {k}: max grad norm {g[last - 1]:.6g} -> {g[last]:.6g} has not settled")
        res.instances += 1
    gamma = max(t.gamma for t in tasks)  # the mean update decays like its slowest task
    for name, series in (("multi-task NEU_TD", curve.multi_td), ("multi-task NEU_MC", curve.multi_mc)):
        res.record(float(series[last]), bool(series[last] < NEU_TARGET), f"{name}(L = 200) = {series[last]:.3g}")
        rate, used = fitted_rate(DEPTHS, series, gamma)
        res.record(None, rate_agrees(rate, gamma), f"{name} rate {rate:.4g} over L in {used}, max gamma = {gamma:.4g}")
    return res


# --- claim 3: contrast ----------------------------------------------------------------------------


def contrast_constructions(rng: np.random.Generator) -> dict[str, Construction]:
    """The perturbations of θ* whose NEU must stay away from zero."""
    return {
        "random theta": lambda S, L: random_layers(S, L, rng),
        "step sign flipped (C = -S I)": lambda S, L: value_iteration_layers(S, L, step=-1.0),
        "Q blocks swapped": lambda S, L: blocks_swapped(value_iteration_layers(S, L)),
    }


def _small_step(num_states: int, depth: int) -> list[LinearAttentionWeights]:
    return value_iteration_layers(num_states, depth, step=SMALL_STEP)


def check_contrast(
    tasks: Sequence[mrp.FiniteMRP],
    rng: np.random.Generator,
    perturbations: dict[str, Construction] | None = None,
    small_step: Construction = _small_step,
    device: str = "cpu",
) -> ClaimResult:
    """Claim 3: off θ* the multi-task NEU_TD and NEU_MC stay above 1e-3 at L = 40, 80, …, 200 (a
    float64 overflow is a divergence and counts as away from zero); with the smaller step
    C = 0.5·S·I the NEU still vanishes, at the fitted rate 1 − 0.5(1 − γ) within 10%.
    ``perturbations`` defaults to :func:`contrast_constructions`; ``small_step`` to θ*_TD(0.5·S·I).

    worst_error = the smallest NEU seen off θ*."""
    res = ClaimResult(KEY, CLAIM_CONTRAST, float_kind("torch", device))
    depths = CONTRAST_DEPTHS
    smallest = float("inf")
    chosen = contrast_constructions(rng) if perturbations is None else perturbations
    for name, construction in chosen.items():
        curve = neu_curve(construction, tasks, depths, gradients=False, device=device)
        for label, series in (("NEU_TD", curve.multi_td), ("NEU_MC", curve.multi_mc)):
            away = np.where(np.isfinite(series), series, np.inf)
            smallest = min(smallest, float(np.min(away)))
            msg = f"{name}: {label} = {np.min(away):.3g} < {AWAY_FROM_ZERO}"
            res.record(None, bool(np.all(away >= AWAY_FROM_ZERO)), msg)
    res.worst_error = smallest
    small = neu_curve(small_step, tasks, SMALL_STEP_DEPTHS, gradients=False, device=device)
    for k, task in enumerate(tasks):
        predicted = 1 - SMALL_STEP * (1 - task.gamma)
        for label, series in (("NEU_TD", small.td[:, k]), ("NEU_MC", small.mc[:, k])):
            rate, used = fitted_rate(SMALL_STEP_DEPTHS, series, predicted)
            converging = rate_agrees(rate, predicted) and rate < 1
            msg = f"C = 0.5 S I, task {k}: {label} rate {rate:.4g} over L in {used}, predicted {predicted:.4g}"
            res.record(None, converging, msg)
        res.instances += 1
    return res


# --- claim 4: general features ---------------------------------------------------------------------


@dataclass(frozen=True)
class FeatureInstance:
    """A task with general features and a preconditioner C for expected TD under uniform weighting."""

    task: mrp.FiniteMRP
    C: FloatArray

    def iteration_matrix(self) -> FloatArray:
        """I − (1/S) C Φᵀ(I − γP)Φ: w_{l+1} − w̄ = (this)·(w_l − w̄)."""
        t = self.task
        A = t.features.T @ (np.eye(t.num_states) - t.gamma * t.P) @ t.features
        return np.asarray(np.eye(t.dim) - self.C @ A / t.num_states, dtype=np.float64)

    def fixed_point(self) -> FloatArray:
        """w̄ with Φᵀ(r + γPΦw̄ − Φw̄) = 0 (uniform weighting)."""
        t = self.task
        A = t.features.T @ (np.eye(t.num_states) - t.gamma * t.P) @ t.features
        return np.asarray(np.linalg.solve(A, t.features.T @ t.r), dtype=np.float64)

    def spectral_radius(self) -> float:
        """ρ(I − (1/S) C Φᵀ(I − γP)Φ)."""
        return float(np.max(np.abs(np.linalg.eigvals(self.iteration_matrix()))))


def divergent_instance() -> FeatureInstance:
    """Two states, φ = (1, 2), state 0 → 1, state 1 → 1 w.p. 0.95 (→ 0 w.p. 0.05), γ = 0.9, C = S·I:
    Φᵀ(I − γP)Φ = −0.31 < 0, so ρ > 1 for every positive step (yet ΦᵀD(γP − I)Φ < 0 under μ)."""
    P = np.array([[0.0, 1.0], [0.05, 0.95]])
    features, uniform = np.array([[1.0], [2.0]]), np.array([0.5, 0.5])
    task = mrp.FiniteMRP(P=P, r=np.array([1.0, 0.5]), gamma=0.9, features=features, initial=uniform)
    return FeatureInstance(task, 2.0 * np.eye(1))


def convergent_instance(rng: np.random.Generator, num_states: int = 6, dim: int = 3) -> FeatureInstance:
    """A random dense task with U(−1, 1) features and C = η·S·I, η chosen so that ρ < 1 when the
    eigenvalues of Φᵀ(I − γP)Φ have positive real parts (η = 1/|λ|_max of that matrix)."""
    task = mrp.random_mrp(num_states, dim, 0.9, rng)
    A = task.features.T @ (np.eye(num_states) - task.gamma * task.P) @ task.features
    eta = 1.0 / float(np.max(np.abs(np.linalg.eigvals(A))))
    return FeatureInstance(task, eta * num_states * np.eye(dim))


FEATURE_DEPTH = 200


TDConstruction = Callable[[int, Sequence[Any], int], list[LinearAttentionWeights]]
"""(d, preconditioners, n) -> layers, like :func:`icrl_verify.constructions.td0`."""


def feature_errors(
    inst: FeatureInstance, depth: int = FEATURE_DEPTH, construction: TDConstruction = constructions.td0
) -> FloatArray:
    """max_s |TF_L(s) − φ(s)ᵀw̄| for L = 0..depth: the generic transformer θ*_TD(C, …, C) on the
    enumerated prompt, in float64 (one run of the stack, read after every layer)."""
    t = inst.task
    target = t.features @ inst.fixed_point()
    layers = construction(t.dim, [inst.C] * depth, t.num_states)
    with np.errstate(over="ignore", invalid="ignore"):
        states = run_transformer(Float64Backend(), task_prompts(t), layers)
        return np.array([float(np.max(np.abs(-Z[:, 2 * t.dim, -1] - target))) for Z in states])


def check_features(
    instances: Sequence[FeatureInstance], construction: TDConstruction = constructions.td0
) -> ClaimResult:
    """Claim 4: for each instance the transformer's error max_s|TF_L − φᵀw̄| follows ρ^L, with
    ρ = ρ(I − (1/S)CΦᵀ(I − γP)Φ): the fitted rate is within 10% of ρ and on the same side of 1, and
    the error at L = 200 is below its L = 0 value when ρ < 1, above 1e3 times it when ρ > 1.
    worst_error = the largest relative rate deviation."""
    res = ClaimResult(KEY, CLAIM_FEATURES, "float64")
    worst = 0.0
    for k, inst in enumerate(instances):
        rho = inst.spectral_radius()
        errs = feature_errors(inst, construction=construction)
        rate, used = fitted_rate(range(len(errs)), errs, rho)
        deviation = abs(rate - rho) / rho if np.isfinite(rate) else float("inf")
        worst = max(worst, deviation)
        same_side = np.isfinite(rate) and (rate < 1) == (rho < 1)
        msg = f"instance {k}: fitted rate {rate:.4g} over L in {used} vs rho = {rho:.4g}"
        res.record(None, bool(deviation <= RATE_TOLERANCE and same_side), msg)
        if rho < 1:
            msg = f"instance {k}: rho = {rho:.4g} < 1 but the error grew to {errs[-1]:.3g}"
            res.record(None, bool(errs[-1] < errs[0]), msg)
        else:
            grew = bool(not np.isfinite(errs[-1]) or errs[-1] >= 1e3 * errs[0])
            res.record(None, grew, f"instance {k}: rho = {rho:.4g} > 1 but the error stayed at {errs[-1]:.3g}")
        res.instances += 1
    res.worst_error = worst
    return res


# --- autograd against the exact derivative ---------------------------------------------------------


def check_gradients(
    tasks: Sequence[mrp.FiniteMRP],
    layer_sets: Sequence[Sequence[LinearAttentionWeights]],
    rng: np.random.Generator,
    updates: UpdateFn | None = None,
    directions: int = 2,
    device: str = "cpu",
) -> ClaimResult:
    """Autograd's ∇TF(s), u_TD and u_MC against exact forward-mode derivatives in rationals, along
    random directions V (entries k/4, |k| ≤ 4): the relative error |ĝ·V − g·V| / (‖ĝ‖‖V‖) must behave like
    the unit roundoff on the float32/float64 ladder (``certify.ladder_verdict`` with 7 and 15 digits).
    worst_error = the largest float64 relative error."""
    res = ClaimResult(KEY, CLAIM_GRADIENT, float_kind("torch", device))
    compute = _updates_on(device, updates)
    worst = 0.0
    for task in tasks:
        for layers in layer_sets:
            p = parameter_count(layers)
            V = [rng.integers(-4, 5, p) / 4 for _ in range(directions)]
            exact = exact_directional_derivatives(layers, task, V)
            logs: dict[str, list[float]] = {}
            for dtype in (torch.float32, torch.float64):
                with intra_op_threads(1):
                    u = compute(layers, [task], dtype)
                    _, g = value_gradients(layers, [task], device=device, dtype=dtype)
                for j, Vj in enumerate(V):
                    norm_v = float(np.linalg.norm(Vj))
                    pairs = [(f"u_TD.V{j}", u.td[0], exact.td[j]), (f"u_MC.V{j}", u.mc[0], exact.mc[j])]
                    pairs += [
                        (f"grad TF({s}).V{j}", g[0, s], exact.value_derivatives[j][s]) for s in range(task.num_states)
                    ]
                    for name, vec, ex in pairs:
                        scale = max(float(np.linalg.norm(vec)) * norm_v, 1e-300)
                        err = abs(Fraction(float(vec @ Vj)) - ex) / Fraction(scale)
                        logs.setdefault(name, []).append(float(np.log10(float(err))) if err else -np.inf)
            for name, log_errors in logs.items():
                worst = max(worst, 10.0 ** log_errors[-1])
                shown = ", ".join(f"{e:.1f}" for e in log_errors)
                msg = f"L = {len(layers)}, {name}: log10 relative errors ({shown}) at float32, float64"
                res.record(None, ladder_verdict(log_errors, FLOAT_DIGITS), msg)
            res.instances += 1
    res.worst_error = worst
    return res


# --- prove, bench, report ------------------------------------------------------------------------


class NEUCheck(Provable):
    """T2 [W25b]: at θ*_L (C = S·I, tabular features, enumerated expected-feature prompt) the
    transformer is value iteration and the norm of the expected TD / MC update vanishes as L → ∞.

    ``construction`` and ``prompt`` (the enumerated-prompt builder) are the parts under test: the
    forward-pass identity (:class:`ExpectedTDCheck`, every backend) and the value bound (exact,
    float64) run both against references built from the task data."""

    key = KEY
    title = "NEU vanishes at theta* (provable emergence)"

    def __init__(
        self,
        construction: Construction = value_iteration_layers,
        updates: UpdateFn | None = None,
        num_states: int = 5,
        exact_depth: int = 20,
        float_depth: int = 200,
        prompt: PromptBuilder = expected_feature_prompts,
    ) -> None:
        self.construction, self.prompt = construction, prompt
        self.forward = ExpectedTDCheck(construction, prompt)
        self.updates = updates
        self.num_states, self.exact_depth, self.float_depth = num_states, exact_depth, float_depth

    #: task counts of the default certificate, per claim
    counts: ClassVar[dict[str, int]] = {"exact": 3, "float64": 6, "torch": 4, "features": 3, "gradient": 2}

    def _forward(self, kind: str, rng: np.random.Generator, budget: float) -> list[ClaimResult]:
        """The forward-pass identity of :class:`ExpectedTDCheck` on backend ``kind``."""
        check, count = self.forward, max(1, round(ExpectedTDCheck.counts.get(kind, 200) * budget))
        if kind == "exact":
            return check.run_exact([check.sample_exact(rng) for _ in range(count)])
        if kind == "ball":
            return check.run_ball([check.sample_exact(rng) for _ in range(count)])
        if kind == "mpmath":
            return check.run_ladder([check.sample_exact(rng) for _ in range(count)])
        if kind not in ("float64", "torch", "torch-cuda"):
            return []
        device = "cuda" if kind == "torch-cuda" else "cpu"
        return check.run_float(check.sample_float(rng, count), "float64" if kind == "float64" else "torch", device)

    def prove(self, kinds: Sequence[str], rng: np.random.Generator, budget: float = 1.0) -> list[ClaimResult]:
        def count(name: str) -> int:
            return max(1, round(self.counts[name] * budget))

        S, out = self.num_states, []
        for kind in kinds:
            out += self._forward(kind, rng, budget)
            if kind == "exact":
                exact_tasks = [rational_task(t) for t in sample_tasks(rng, count("exact"), S)]
                out.append(check_bound_exact(self.construction, exact_tasks, self.exact_depth, self.prompt))
            elif kind == "float64":
                float_tasks = sample_tasks(rng, count("float64"), S)
                out.append(check_bound_float(self.construction, float_tasks, self.float_depth, self.prompt))
                feats = [divergent_instance()] + [convergent_instance(rng) for _ in range(count("features"))]
                out.append(check_features(feats))
            elif kind in ("torch", "torch-cuda"):
                device = "cpu" if kind == "torch" else "cuda"
                tasks = sample_tasks(rng, count("torch"), S)
                out.append(check_limit(self.construction, tasks, self.updates, device))
                out.append(check_contrast(tasks, rng, device=device))
                grad_tasks = sample_tasks(rng, count("gradient"), 3)
                layer_sets = [self.construction(3, 6), random_layers(3, 3, rng)]
                out.append(check_gradients(grad_tasks, layer_sets, rng, self.updates, device=device))
        return out


BENCH_STATES = 10
BENCH_DEPTH = 100
BENCH_TASKS = 100


def bench_neu() -> list[Figure]:
    """Time the multi-task NEU_TD and NEU_MC with full gradients over every P_l, Q_l (S = d = 10,
    L = 100, 100 tasks, float64; target ≤ 30 s on 2 cores): the mean update with θ shared, on one
    intra-op thread and on torch's default, and the per-task updates (100 copies of θ) on one thread."""
    rng = np.random.default_rng(0)
    tasks = sample_tasks(rng, BENCH_TASKS, BENCH_STATES)
    layers = value_iteration_layers(BENCH_STATES, BENCH_DEPTH)
    label = f"S=d={BENCH_STATES}, L={BENCH_DEPTH}, {BENCH_TASKS} tasks, {parameter_count(layers)} parameters"

    def timed(per_task: bool) -> tuple[float, ExpectedUpdates]:
        start = time.perf_counter()
        u = expected_updates(layers, tasks, per_task=per_task)
        return time.perf_counter() - start, u

    threads = torch.get_num_threads()
    default_time, _ = timed(per_task=False)
    with intra_op_threads(1):
        one_time, u = timed(per_task=False)
        per_task_time, per = timed(per_task=True)
    return [
        (f"multi-task NEU_TD and NEU_MC, full gradients ({label}), 1 thread", one_time, "s"),
        (f"the same on torch's default {threads} threads", default_time, "s"),
        ("per-task updates (one copy of theta per task), 1 thread", per_task_time, "s"),
        (f"multi-task NEU_TD at theta*_{BENCH_DEPTH}", u.neu_td, ""),
        (f"multi-task NEU_MC at theta*_{BENCH_DEPTH}", u.neu_mc, ""),
        ("|mean per-task update| - |shared update| (NEU_TD)", abs(per.neu_td - u.neu_td), ""),
    ]


REPORT_SEED = 0
REPORT_TASKS = 8


def report_neu(out_dir: Path) -> list[Path]:
    """NEU_TD, NEU_MC and max|TF − v| at θ*_L against L (log scale) with the γ^L·‖v‖∞ line: 8 tabular
    tasks (S = d = 5, γ = 0.9, seed 0), multi-task NEU and the worst task's value error."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rng = np.random.default_rng(REPORT_SEED)
    tasks = sample_tasks(rng, REPORT_TASKS, 5, gammas=(0.9, 0.9))
    depths = (1, 2, 5, *range(10, 201, 10))
    curve = neu_curve(value_iteration_layers, tasks, depths, gradients=False)
    L = np.asarray(depths)
    v_inf = max(float(np.max(np.abs(t.value))) for t in tasks)
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    ax.semilogy(L, curve.multi_td, label="NEU_TD (multi-task)")
    ax.semilogy(L, curve.multi_mc, label="NEU_MC (multi-task)")
    ax.semilogy(L, np.max(curve.value_error, axis=1), "o", markersize=4, label="max |TF_L(s) - v(s)| (tasks, s)")
    ax.semilogy(L, 0.9**L * v_inf, "k--", linewidth=1, label=r"$\gamma^L \max \|v\|_\infty$ (bound)")
    ax.set_xlabel("depth L")
    ax.set_ylabel("norm of the expected update / value error")
    ax.set_title(r"T2: NEU at $\theta^*_L$ ($|S| = d = 5$, $\gamma = 0.9$, 8 tasks)")
    ax.legend()
    ax.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    paths = save_figure(fig, out_dir, "neu")
    plt.close(fig)
    return paths
