"""Checks of T4 [X26b]: softmax attention implements kernel TD (values, target invariant, population contraction)."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, ClassVar, TypeVar

import numpy as np
import torch
from flint import arb, arb_mat, ctx, fmpq, fmpq_mat
from hypothesis.strategies import SearchStrategy
from numpy.typing import NDArray

from icrl_verify import constructions, strategies
from icrl_verify.algorithms import (
    kernel_td,
    kernel_td_step,
    population_kernel_td,
    population_softmax_kernel,
    softmax_kernel,
)
from icrl_verify.arith.absolute_program import BoundBackend
from icrl_verify.arith.ball import BallBackend
from icrl_verify.arith.base import Backend, to_fraction
from icrl_verify.arith.exact import to_fmpq
from icrl_verify.arith.float64 import Float64Backend
from icrl_verify.arith.torch_backend import TorchBackend, cuda_available
from icrl_verify.attention import (
    AttentionKernel,
    SoftmaxAttentionWeights,
    column_softmax,
    run_softmax_transformer,
    softmax_attention,
)
from icrl_verify.certify import ClaimPair, ClaimResult
from icrl_verify.checks.base import FloatBound, TheoremCheck
from icrl_verify.mrp import FiniteMRP
from icrl_verify.prompts import kernel_td_prompt

M = TypeVar("M")
Construction = Callable[[int, Any, Any], SoftmaxAttentionWeights]
PromptBuilder = Callable[[Any, Any], NDArray[Any]]
"""(features x(S_0..S_n), rewards R_1..R_n) ↦ the softmax-TD prompt (like ``prompts.kernel_td_prompt``)."""

CLAIM_FIXED = "rows 0..d = documented layout (x(S_j), R_{j+1})"
CLAIM_VALUES = "value row = v_l of weighted softmax TD"
CLAIM_INVARIANT = "target row = gamma * (value row shifted)"
CLAIM_CONTRACTION = "population: ||I - M + gamma M P||_inf <= 1 - 2c"
CLAIM_POPULATION_RATE = "population: ||v_k - v_pi||_inf <= (1 - 2c)^k ||v_pi||_inf"

FEATURE_DENOMINATOR = 8
FEATURE_NUMERATOR = 10
"""Exact instances draw features from {k/8 : |k| ≤ 10} (scores |x_iᵀx_j| ≤ 1.6 d) and rewards from {k/8 : |k| ≤ 8}."""


@dataclass(frozen=True)
class KernelTDInstance:
    """T4 task data: the features x(S_0..S_n) of a trajectory ((n+1, d); row n is the query state),
    the rewards R_1..R_n ((n,), R_k = r(S_{k−1})), step size α, discount γ and depth L; or the arrays
    with a leading batch axis B (α, γ, L shared).

    Float instances use dyadic α and γ with short mantissas, so the construction's weight γα is an exact
    float and the weights are the exact numbers the theorem is about.
    """

    features: NDArray[Any]
    rewards: NDArray[Any]
    alpha: Fraction | float
    gamma: Fraction | float
    depth: int

    @property
    def d(self) -> int:
        """Feature dimension."""
        return int(self.features.shape[-1])

    @property
    def n(self) -> int:
        """Number of transitions (the query is column n)."""
        return int(self.features.shape[-2]) - 1

    def rational(self) -> KernelTDInstance:
        """The same task in exact rationals (every float is one)."""
        F = np.vectorize(to_fraction, otypes=[object])
        alpha, gamma = to_fraction(self.alpha), to_fraction(self.gamma)
        return KernelTDInstance(F(self.features), F(self.rewards), alpha, gamma, self.depth)


def documented_layout(bk: Backend[M], features: M, rewards: M) -> M:
    """The softmax-TD prompt the documented layout (docs/theorems/kernel_td.md) says, from task data:
    rows x(S_j), then R_k at column k−1 (0 at the query), then the target and value rows at 0."""
    _, cols = bk.shape(features)
    reward_row = bk.concat([rewards, bk.zeros(1, 1)], axis=1)
    return bk.concat([features, reward_row, bk.zeros(2, cols)], axis=0)


def _grid(rng: np.random.Generator, shape: tuple[int, ...], numerator: int) -> NDArray[Any]:
    ks = rng.integers(-numerator, numerator + 1, size=shape)
    out = np.empty(shape, dtype=object)
    for idx, k in np.ndenumerate(ks):
        out[idx] = Fraction(int(k), FEATURE_DENOMINATOR)
    return out


def trajectory_features(rng: np.random.Generator, table: NDArray[Any], n: int) -> NDArray[Any]:
    """x(S_0..S_n) for a uniformly random state sequence over the rows of ``table`` (states repeat)."""
    states = rng.integers(0, table.shape[0], size=n + 1)
    return table[states]


class KernelTDCheck(TheoremCheck[KernelTDInstance]):
    """T4: the forward pass of the kernel-TD softmax construction is weighted softmax TD, and the
    population operator contracts at rate 1 − 2c under min_s M_π(s, s) ≥ (1+γ)/2 + c."""

    key = "T4"
    title = "softmax attention = kernel TD"
    claims = (CLAIM_FIXED, CLAIM_VALUES, CLAIM_INVARIANT)
    exact_certifiable = False  # exp(x_iᵀx_j) is irrational at rational points: no exact certificate exists
    float_bound: FloatBound = "running"  # exp and 1/x have no absolute-program bound
    counts: ClassVar[dict[str, int]] = {
        "exact": 0, "ball": 4, "mpmath": 2, "float64": 1000, "torch": 1000, "torch-cuda": 1000, "population": 3
    }

    def __init__(
        self,
        construction: Construction | None = None,
        kernel: AttentionKernel = column_softmax,
        d: int = 2,
        n: int = 8,
        depth: int = 6,
        float_n: int = 40,
        float_depth: int = 20,
        population_states: int = 4,
        population_depth: int = 12,
        prompt: PromptBuilder = kernel_td_prompt,
    ) -> None:
        self.construction: Construction = construction or constructions.kernel_td
        self.prompt = prompt
        self.kernel = kernel
        self.d, self.n, self.depth = d, n, depth
        self.float_n, self.float_depth = float_n, float_depth
        self.population_states, self.population_depth = population_states, population_depth

    def layers(self, inst: KernelTDInstance) -> list[SoftmaxAttentionWeights]:
        """The construction under test, tied over the instance's depth."""
        return [self.construction(inst.d, inst.alpha, inst.gamma)] * inst.depth

    # -- sampling --------------------------------------------------------------------------------
    def sample_exact(self, rng: np.random.Generator) -> KernelTDInstance:
        """Rational features of a random trajectory over 2..n+1 states (so states repeat), rational
        rewards, α ∈ {1/8, …, 1}, γ ∈ {0, 1/16, …, 15/16}."""
        d, n = self.d, self.n
        table = _grid(rng, (int(rng.integers(2, n + 2)), d), FEATURE_NUMERATOR)
        features, rewards = trajectory_features(rng, table, n), _grid(rng, (n,), FEATURE_DENOMINATOR)
        alpha = Fraction(int(rng.integers(1, 9)), 8)
        gamma = Fraction(int(rng.integers(0, 16)), 16)
        return KernelTDInstance(features, rewards, alpha, gamma, self.depth)

    def sample_float(self, rng: np.random.Generator, batch: int) -> KernelTDInstance:
        """Gaussian features (states repeat along each trajectory), Gaussian rewards, dyadic α, γ."""
        d, n = self.d, self.float_n
        states = rng.integers(0, max(2, n // 4), size=(batch, n + 1))
        tables = rng.standard_normal((batch, max(2, n // 4), d))
        features = np.take_along_axis(tables, states[..., None], axis=1)
        alpha = int(rng.integers(8, 33)) / 32
        gamma = int(rng.integers(0, 64)) / 64
        return KernelTDInstance(features, rng.standard_normal((batch, n)), alpha, gamma, self.float_depth)

    def strategy(self, kind: str, d: int | None = None, depth: int | None = None) -> SearchStrategy[KernelTDInstance]:
        if d is not None or depth is not None:
            raise ValueError(f"{self.key} draws its own sizes: fixed d or depth is not supported")
        return strategies.kernel_td_instances(kind)

    def batch_of(self, instance: KernelTDInstance) -> KernelTDInstance:
        f = np.asarray
        return KernelTDInstance(
            f(instance.features, dtype=np.float64)[None], f(instance.rewards, dtype=np.float64)[None],
            float(instance.alpha), float(instance.gamma), instance.depth,
        )  # fmt: skip

    def single(self, batch: KernelTDInstance, k: int) -> KernelTDInstance:
        return KernelTDInstance(batch.features[k], batch.rewards[k], batch.alpha, batch.gamma, batch.depth)

    def describe(self, instance: KernelTDInstance) -> str:
        f = strategies.format_numbers
        return (
            f"d={instance.d}, n={instance.n}, L={instance.depth}, alpha={f(instance.alpha)}, "
            f"gamma={f(instance.gamma)}\nx(S_0..S_n)={f(instance.features)}\nR_1..R_n={f(instance.rewards)}"
        )

    # -- the claims ------------------------------------------------------------------------------
    def _inputs(self, bk: Backend[M], inst: KernelTDInstance) -> tuple[M, M]:
        """X (d×(n+1)) and R (1×n) from the task data, never from a prompt."""
        return bk.asmatrix(np.swapaxes(inst.features, -1, -2)), bk.asmatrix(inst.rewards[..., None, :])

    def _prompt(self, bk: Backend[M], inst: KernelTDInstance) -> M:
        """The prompt the builder under test makes from the task data."""
        return bk.asmatrix(np.asarray(self.prompt(inst.features, inst.rewards)))

    def _pairs(self, bk: Backend[M], layer: int, Z: M, layout: M, v: M, gamma: Any) -> list[ClaimPair[M]]:
        rows, cols = bk.shape(Z)
        d = rows - 3
        values = bk.block(Z, slice(d + 2, d + 3), slice(None))
        shifted = bk.concat([bk.block(values, slice(None), slice(1, cols)), bk.zeros(1, 1)], axis=1)
        fixed = slice(0, d + 1)
        return [
            ClaimPair(CLAIM_FIXED, layer, bk.block(Z, fixed, slice(None)), bk.block(layout, fixed, slice(None))),
            ClaimPair(CLAIM_VALUES, layer, values, v),
            ClaimPair(CLAIM_INVARIANT, layer, bk.block(Z, slice(d + 1, d + 2), slice(None)), bk.scale(shifted, gamma)),
        ]

    def composed_pairs(self, bk: Backend[M], instance: KernelTDInstance) -> list[ClaimPair[M]]:
        inst = instance.rational()  # ball and mpmath compute on the task's exact rationals
        X, R = self._inputs(bk, inst)
        layout = documented_layout(bk, X, R)
        Zs = run_softmax_transformer(bk, self._prompt(bk, inst), self.layers(inst), self.kernel)
        vs = kernel_td(bk, X, R, inst.gamma, inst.alpha, inst.depth)
        return [p for l, (Z, v) in enumerate(zip(Zs, vs)) for p in self._pairs(bk, l, Z, layout, v, inst.gamma)]

    def seat(self, bk: Backend[M], Z0: M, v: M, gamma: Any) -> M:
        """The prompt the theorem says layer l holds for values v: Z_0 with τ = γ·(v shifted) and u = v."""
        rows, cols = bk.shape(Z0)
        target = bk.scale(bk.concat([bk.block(v, slice(None), slice(1, cols)), bk.zeros(1, 1)], axis=1), gamma)
        return bk.concat([bk.block(Z0, slice(0, rows - 2), slice(None)), target, v], axis=0)

    def step_pairs(self, bk: BoundBackend, batch: KernelTDInstance) -> list[ClaimPair[Any]]:
        """Base case: the builder's prompt against the documented layout of the task data (rows 0..d)
        and v_0 = 0; step: from the seat of the float reference values v_l (on the builder's prompt),
        one layer must give v_{l+1} of kernel TD on the task data."""
        inner = bk.inner
        X_f, R_f = self._inputs(inner, batch)
        vs = kernel_td(inner, X_f, R_f, batch.gamma, batch.alpha, batch.depth)
        X, R = self._inputs(bk, batch)
        layout = documented_layout(bk, X, R)
        kappa = softmax_kernel(bk, X)
        Z0 = self._prompt(bk, batch)
        pairs = self._pairs(bk, 0, Z0, layout, bk.zeros(1, batch.n + 1), batch.gamma)
        for l, layer in enumerate(self.layers(batch)):
            v = bk.exact_input(vs[l])
            Z_next = softmax_attention(bk, self.seat(bk, Z0, v, batch.gamma), layer, self.kernel)
            v_next = kernel_td_step(bk, v, kappa, R, batch.gamma, batch.alpha)
            pairs += self._pairs(bk, l + 1, Z_next, layout, v_next, batch.gamma)
        return pairs

    # -- the population claim (rigorous balls) --------------------------------------------------
    def prove(self, kinds: Sequence[str], rng: np.random.Generator, budget: float = 1.0) -> list[ClaimResult]:
        out = super().prove(kinds, rng, budget)
        if "ball" in kinds:
            count = max(1, round(self.counts["population"] * budget))
            tasks = [tabular_kernel_mrp(self.population_states, Fraction(3, 5), rng) for _ in range(count)]
            out += self.run_population(tasks)
        return out

    def run_population(self, tasks: Sequence[TabularKernelMRP], prec: int = 256) -> list[ClaimResult]:
        """Certify the contraction inequality and the rate of the population iteration in balls."""
        contraction = ClaimResult(self.key, CLAIM_CONTRACTION, "ball")
        rate = ClaimResult(self.key, CLAIM_POPULATION_RATE, "ball")
        notes = []
        for task in tasks:
            cert = certify_population(task, self.population_depth, prec)
            contraction.instances += 1
            rate.instances += 1
            contraction.record(cert.norm_radius, cert.contraction_ok, cert.summary())
            rate.record(cert.rate_radius, cert.rate_ok, cert.summary())
            if not (cert.contraction_ok and cert.rate_ok) and not contraction.counterexample:
                contraction.counterexample = rate.counterexample = repr(task)[:2000]
            notes.append(f"c >= {cert.c:.4f}, norm <= {cert.norm_upper:.4f} < 1 - 2c = {1 - 2 * cert.c:.4f}")
        for r in (contraction, rate):
            if r.passed:
                r.detail = "; ".join(notes)
        return [contraction, rate]


# --- population MRPs with a diagonally dominant softmax kernel -------------------------------------


@dataclass(frozen=True, eq=False)
class TabularKernelMRP:
    """A rational MRP with tabular features scaled by √τ (x(s) = scale·e_s, scale = √τ rational).

    All entries are Fractions, so P, r, μ and v_π are exact and only the kernel needs balls.
    """

    P: NDArray[Any]
    r: NDArray[Any]
    gamma: Fraction
    scale: Fraction

    @property
    def num_states(self) -> int:
        """Number of states S."""
        return int(self.P.shape[0])

    def features(self) -> NDArray[Any]:
        """scale · I (S×S, Fractions)."""
        S = self.num_states
        X = np.empty((S, S), dtype=object)
        X[...] = Fraction(0)
        for s in range(S):
            X[s, s] = self.scale
        return X

    def stationary(self) -> fmpq_mat:
        """μ as an exact 1×S row: the solution of μ(P − I) = 0, Σμ = 1 (P has positive entries)."""
        S = self.num_states
        P = fmpq_mat(S, S, [to_fmpq(v) for v in self.P.flat])
        system = P.transpose() - fmpq_mat(S, S, [fmpq(int(i == j)) for i in range(S) for j in range(S)])
        for j in range(S):
            system[S - 1, j] = fmpq(1)
        rhs = fmpq_mat(S, 1, [fmpq(0)] * (S - 1) + [fmpq(1)])
        return system.solve(rhs).transpose()

    def value(self) -> fmpq_mat:
        """v_π = (I − γP)^{-1} r as an exact S×1 column."""
        S = self.num_states
        g = to_fmpq(self.gamma)
        system = fmpq_mat(
            S, S, [fmpq(int(i == j)) - g * to_fmpq(self.P[i, j]) for i in range(S) for j in range(S)]
        )
        return system.solve(fmpq_mat(S, 1, [to_fmpq(v) for v in self.r]))

    def finite_mrp(self) -> FiniteMRP:
        """The float64 FiniteMRP (features scale·I, uniform initial distribution) for trajectories."""
        S = self.num_states
        return FiniteMRP(
            P=self.P.astype(np.float64),
            r=self.r.astype(np.float64),
            gamma=float(self.gamma),
            features=float(self.scale) * np.eye(S),
            initial=np.full(S, 1.0 / S),
        )


def tabular_kernel_mrp(
    num_states: int, gamma: Fraction, rng: np.random.Generator, margin_fraction: float = 0.5
) -> TabularKernelMRP:
    """Random dense rational MRP whose tabular softmax kernel meets min_s M_π(s,s) ≥ (1+γ)/2 + c with
    c ≈ ``margin_fraction`` · (1−γ)/2: √τ is the smallest multiple of 1/4 that achieves it in float
    (M_π(s,s) = μ_s e^τ / (μ_s e^τ + 1 − μ_s) for tabular features); the balls then certify it."""
    if num_states < 2:
        raise ValueError(f"num_states: expected an integer >= 2, got {num_states!r}")
    if not 0 < margin_fraction < 1:
        raise ValueError(f"margin_fraction: expected a number in (0, 1), got {margin_fraction!r}")
    if not 0 <= gamma < 1:
        raise ValueError(f"gamma: expected a Fraction in [0, 1), got {gamma!r}")
    S = num_states
    weights = rng.integers(1, 10, size=(S, S))
    P = np.empty((S, S), dtype=object)
    for i in range(S):
        total = int(weights[i].sum())
        for j in range(S):
            P[i, j] = Fraction(int(weights[i, j]), total)
    r = np.array([Fraction(int(k), 8) for k in rng.integers(-8, 9, size=S)], dtype=object)
    q = (1 + float(gamma)) / 2 + margin_fraction * (1 - float(gamma)) / 2
    probe = TabularKernelMRP(P, r, gamma, Fraction(1))
    mu = np.array([float(probe.stationary()[0, s]) for s in range(S)])
    tau = max(0.0, float(np.max(np.log(q * (1 - mu) / (mu * (1 - q))))))
    scale = Fraction(math.ceil(4 * math.sqrt(tau)) + 1, 4)
    return TabularKernelMRP(P, r, gamma, scale)


@dataclass(frozen=True)
class PopulationCertificate:
    """Rigorous outcome for one MRP: the certified c, the norm bound, and the iteration's rate."""

    c: float  # the exact rational c that was certified (as a float for display)
    norm_upper: float
    norm_radius: float
    contraction_ok: bool
    rate_ok: bool
    rate_radius: float
    worst_rate_ratio: float  # max_k ‖v_k − v_π‖ / ((1 − 2c)^k ‖v_π‖), upper bounds

    def summary(self) -> str:
        """One line for the certificate table."""
        return (
            f"c = {self.c:.4f}, ||I - M + gM P|| <= {self.norm_upper:.4f} vs 1 - 2c = {1 - 2 * self.c:.4f}, "
            f"contraction {'certified' if self.contraction_ok else 'NOT certified'}, rate "
            f"{'certified' if self.rate_ok else 'NOT certified'} (worst ratio {self.worst_rate_ratio:.3f})"
        )


def population_operator(bk: Backend[M], kernel: M, P: M, gamma: Any) -> M:
    """T = I − M_π + γ M_π P: the linear part of one population step (v ← T v + M_π r)."""
    S, _ = bk.shape(P)
    return bk.add(bk.sub(bk.eye(S), kernel), bk.scale(bk.matmul(kernel, P), gamma))


def _row_abs_sums(T: arb_mat) -> list[arb]:
    return [sum((abs(T[i, j]) for j in range(T.ncols())), arb(0)) for i in range(T.nrows())]


def certify_population(task: TabularKernelMRP, depth: int, prec: int = 256) -> PopulationCertificate:
    """In balls at ``prec`` bits: c := a rational just below min_s M_π(s,s) − (1+γ)/2, then certify
    c > 0, M_π(s,s) ≥ (1+γ)/2 + c for every s, ‖I − M_π + γM_πP‖_∞ < 1 − 2c, and
    ‖v_k − v_π‖_∞ ≤ (1 − 2c)^k ‖v_π‖_∞ for k = 1..depth (v_π exact)."""
    bk = BallBackend(prec)
    with ctx.workprec(prec):
        X = bk.asmatrix(task.features())
        mu = bk.from_exact(task.stationary())
        P = bk.asmatrix(task.P)
        kernel = population_softmax_kernel(bk, X, mu)
        half = arb(to_fmpq((1 + task.gamma) / 2))
        excess = [kernel[s, s] - half for s in range(task.num_states)]
        lowest = min(float(e.lower()) for e in excess)
        grid = 2**40
        c = Fraction(math.floor(lowest * grid) - 1, grid)
        c_ball = arb(to_fmpq(c))
        assumption = c > 0 and all(e >= c_ball for e in excess)
        rows = _row_abs_sums(population_operator(bk, kernel, P, task.gamma))
        limit = 1 - 2 * c_ball
        contraction_ok = assumption and all(row < limit for row in rows)
        norm_upper = max(float(row.upper()) for row in rows)
        norm_radius = max(float(row.rad()) for row in rows)
        v_pi = bk.from_exact(task.value())
        r = bk.asmatrix(task.r.reshape(-1, 1))
        iterates = population_kernel_td(bk, kernel, P, r, task.gamma, depth)
        start = max(abs(v_pi[s, 0]) for s in range(task.num_states))
        rate_ok, worst, radius = assumption, 0.0, 0.0
        for k in range(1, depth + 1):
            err = max(abs(iterates[k][s, 0] - v_pi[s, 0]) for s in range(task.num_states))
            envelope = limit**k * start
            rate_ok = rate_ok and bool(err <= envelope)
            worst = max(worst, float(err.upper()) / max(float(envelope.lower()), 1e-300))
            radius = max(radius, float(err.rad()))
    return PopulationCertificate(float(c), norm_upper, norm_radius, contraction_ok, rate_ok, radius, worst)


# --- statistics over trajectories ----------------------------------------------------------------


def full_coverage_trajectory(
    task: FiniteMRP, n: int, rng: np.random.Generator, attempts: int = 1000
) -> NDArray[np.int64]:
    """States S_0..S_n of a roll-out whose sources S_0..S_{n−1} visit every state (resampled until so)."""
    for _ in range(attempts):
        states = task.trajectory(n, rng)
        if np.unique(states[:-1]).size == task.num_states:
            return states
    raise ValueError(f"n: {attempts} roll-outs of length {n} never covered all {task.num_states} states; increase n")


def sup_error_curves(
    task: FiniteMRP,
    n: int,
    depth: int,
    seeds: int,
    rng: np.random.Generator,
    backend: Backend[Any] | None = None,
    chunk_entries: int = 2_000_000,
) -> NDArray[np.float64]:
    """(seeds, L+1) array: sup_j |Z_l[d+2, j] − v_π(S_j)| of the transformer (generic softmax layer, α = 1)
    on independent full-coverage trajectories, batched (float64 numpy by default, or a torch backend)."""
    bk: Backend[Any] = backend if backend is not None else Float64Backend()
    layer = constructions.kernel_td(task.dim, 1.0, task.gamma)
    v_pi = task.value
    out = np.empty((seeds, depth + 1))
    per_chunk = max(1, chunk_entries // (n + 1) ** 2)
    for start in range(0, seeds, per_chunk):
        size = min(per_chunk, seeds - start)
        trajs = np.stack([full_coverage_trajectory(task, n, rng) for _ in range(size)])
        Z0 = kernel_td_prompt(task.features[trajs], task.r[trajs[:, :-1]])
        states = run_softmax_transformer(bk, bk.asmatrix(Z0), [layer] * depth)
        for l, Z in enumerate(states):
            values = bk.to_numpy(Z)[:, task.dim + 2, :]
            out[start : start + size, l] = np.max(np.abs(values - v_pi[trajs]), axis=1)
    return out


def population_rate(task: FiniteMRP) -> tuple[float, float]:
    """(c, ‖I − M_π + γM_πP‖_∞) in float64, c = min_s M_π(s,s) − (1+γ)/2 (for plots and reports)."""
    bk = Float64Backend()
    kernel = population_softmax_kernel(bk, task.features, task.stationary[None, :])
    c = float(np.min(np.diag(kernel)) - (1 + task.gamma) / 2)
    T = population_operator(bk, kernel, task.P, task.gamma)
    return c, float(np.max(np.abs(T).sum(axis=1)))


def bench_kernel_td(
    batch: int = 512, n: int = 64, depth: int = 10, certified: int = 500
) -> list[tuple[str, float, str]]:
    """Throughput of the T4 construction: the batched forward pass (generic softmax layer, float64) on
    torch CPU (and CUDA when present), and certification of the inductive step on numpy."""
    rng = np.random.default_rng(0)
    Z0 = kernel_td_prompt(rng.standard_normal((batch, n + 1, 4)), rng.standard_normal((batch, n)))
    layers = [constructions.kernel_td(4, 1.0, 0.9)] * depth
    devices = ["cpu", "cuda"] if cuda_available() else ["cpu"]
    figures: list[tuple[str, float, str]] = []
    for device in devices:
        bk = TorchBackend(device=device)
        Z = bk.asmatrix(Z0)
        run_softmax_transformer(bk, Z, layers[:1])  # warm-up
        start = time.perf_counter()
        run_softmax_transformer(bk, Z, layers)
        if device == "cuda":
            torch.cuda.synchronize()
        seconds = time.perf_counter() - start
        label = f"torch-{device}: forward, {batch} trajectories (d=4, n={n}, L={depth})"
        figures.append((label, batch / seconds, "traj/s"))
    check = KernelTDCheck(d=4, float_n=n, float_depth=depth)
    sample = check.sample_float(rng, certified)
    start = time.perf_counter()
    results = check.run_float(sample, "float64")
    seconds = time.perf_counter() - start
    if not all(r.passed for r in results):
        raise RuntimeError(f"T4 failed during the benchmark: {[r.detail for r in results if not r.passed]}")
    figures.append((f"float64: certified inductive step, {certified} trajectories (n={n}, L={depth})",
                    certified / seconds, "traj/s"))
    return figures
