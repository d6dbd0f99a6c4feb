"""T4's check: a two-head softmax layer implements weighted softmax TD (claims 1 and 2), and its benchmark."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from fractions import Fraction
from typing import Any, ClassVar, TypeVar

import numpy as np
import torch
from hypothesis.strategies import SearchStrategy
from numpy.typing import NDArray

from icrl_verify import constructions, strategies
from icrl_verify.algorithms import (
    kernel_td,
    kernel_td_step,
    softmax_kernel,
)
from icrl_verify.arith.absolute_program import BoundBackend
from icrl_verify.arith.base import Backend
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
from icrl_verify.checks.kernel_td.population import TabularKernelMRP, certify_population, tabular_kernel_mrp
from icrl_verify.prompts import kernel_td_prompt
from icrl_verify.tasks import float_batch_of_one
from icrl_verify.tasks.kernel_td import KernelTDInstance

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


def _trajectory_features(rng: np.random.Generator, table: NDArray[Any], n: int) -> NDArray[Any]:
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
        "exact": 0,
        "ball": 4,
        "mpmath": 2,
        "float64": 1000,
        "torch": 1000,
        "torch-cuda": 1000,
        "population": 3,
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
        features, rewards = _trajectory_features(rng, table, n), _grid(rng, (n,), FEATURE_DENOMINATOR)
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
        features, rewards = float_batch_of_one(instance.features), float_batch_of_one(instance.rewards)
        return KernelTDInstance(features, rewards, float(instance.alpha), float(instance.gamma), instance.depth)

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
    figures.append(
        (
            f"float64: certified inductive step, {certified} trajectories (n={n}, L={depth})",
            certified / seconds,
            "traj/s",
        )
    )
    return figures
