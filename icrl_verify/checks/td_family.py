"""Checks of the TD family on the discounted prompt: T1 (batch TD(0)) [W25a, Thm 1].

An instance is task data (:class:`~icrl_verify.tasks.TDInstance`). The transformer side builds Z_0 with
the prompt builder under test and runs the generic layer on the construction under test; the reference
side computes the task's blocks (Φ, γΦ' formed in the backend's own arithmetic, r, φ_q) and the
algorithm's iterates from the same data, never from the prompt. The claims compare Z_l with quantities
of the task data only, so a wrong prompt builder fails them at layer 0 on every backend.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, Generic, TypeVar

import numpy as np
from hypothesis.strategies import SearchStrategy
from numpy.typing import NDArray

from icrl_verify import constructions
from icrl_verify.algorithms import preconditioned_td, td_errors, td_step
from icrl_verify.arith.absolute_program import AbsoluteProgramBackend, BoundBackend
from icrl_verify.arith.base import Backend
from icrl_verify.arith.float64 import Float64Backend
from icrl_verify.arith.running_error import RunningErrorBackend, Tracked, TrackedBackend
from icrl_verify.attention import LinearAttentionWeights, linear_attention, run_transformer
from icrl_verify.certify import ClaimPair
from icrl_verify.checks.base import Figure, TheoremCheck, certification_figures
from icrl_verify.prompts import td_prompt
from icrl_verify.strategies import exact_kind, td_instances
from icrl_verify.tasks import TDInstance

__all__ = ["TD0Check", "TDInstance", "TaskBlocks", "bench_td0", "rational_grid", "schwartz_zippel_bound"]

M = TypeVar("M")
Construction = Callable[[int, Sequence[Any], int], list[LinearAttentionWeights]]
PromptBuilder = Callable[..., NDArray[Any]]
"""A prompt builder: ``td_prompt(features, next_features, rewards, query, gamma)`` or, without γ,
``average_reward_prompt(features, next_features, rewards, query)``."""

GRID_DENOMINATOR = 4096
GRID_NUMERATOR = 4096
"""Exact instances draw every entry uniformly from S = {k/4096 : |k| ≤ 4096} ⊂ [−1, 1], |S| = 8193
(the set of the Schwartz–Zippel bound)."""

STRATEGY_SIZES = {"ball": (5, 3), "mpmath": (4, 2)}
"""(max n, max L) of the Hypothesis instances per backend kind (default 8 and 4; ball and mpmath are slow)."""

CLAIM_ROWS = "rows 0..2d-1 = (phi, gamma phi') of the task"
CLAIM_CONTEXT = "context row = TD errors"
CLAIM_QUERY = "query entry = -phi_q^T w_l"


@dataclass(frozen=True)
class TaskBlocks(Generic[M]):
    """The task data on a backend, as the reference reads it: Φ (d×n), the next-feature block (γΦ',
    or Φ' without discount), r (1×n), φ_q (d×1), and the reward term of the TD error (r, or r − r̄)."""

    features: M
    next_features: M
    rewards: M
    query: M
    reward_terms: M


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


# -- float inputs that no double represents -----------------------------------------------------
class _RoundsRationals(TrackedBackend[Any]):
    """A tracked backend whose ``asmatrix`` counts the rounding of exact rationals that no double holds.

    Converting a Fraction to the nearest double is one correctly rounded operation, |fl(x) − x| ≤ u|x|:
    it is recorded as a sum with zero, whose rule (running: γ_1|x̂|; absolute program: one rounding on
    |x̂|) bounds exactly that. Masks and operators with entries such as λ^k or 1/(j+1) then enter the
    float certificate as the exact numbers the theorem is about, not as their doubles.
    """

    def __init__(self, inner: Backend[Any], unit_roundoff: float) -> None:
        super().__init__(inner, unit_roundoff)
        self._representable: dict[int, tuple[NDArray[Any], bool]] = {}

    def asmatrix(self, arr: NDArray[Any] | Any) -> Tracked[Any]:
        converted = super().asmatrix(arr)
        if isinstance(arr, np.ndarray) and arr.dtype == object and not self._is_representable(arr):
            rows, cols = self.shape(converted)
            return self.add(converted, self.zeros(rows, cols))
        return converted

    def _is_representable(self, arr: NDArray[Any]) -> bool:
        cache = self._representable
        if id(arr) not in cache:  # the array is kept alive by the cache, so its id cannot be reused
            cache[id(arr)] = (arr, all(bool(Fraction(float(v)) == v) for v in arr.flat))
        return cache[id(arr)][1]


class _RationalAbsolute(_RoundsRationals, AbsoluteProgramBackend[Any]):
    """Absolute-program bounds with rounded rational inputs."""


class _RationalRunning(_RoundsRationals, RunningErrorBackend[Any]):
    """Running error bounds with rounded rational inputs."""


def counting_rational_inputs(bk: BoundBackend) -> BoundBackend:
    """The same tracked backend, with the rounding of inexact Fraction inputs counted (see _RoundsRationals)."""
    if isinstance(bk, _RoundsRationals):
        return bk
    if isinstance(bk, AbsoluteProgramBackend):
        return _RationalAbsolute(bk.inner, bk.u)
    if isinstance(bk, RunningErrorBackend):
        return _RationalRunning(bk.inner, bk.u)
    raise ValueError(f"bk: expected a tracked float backend, got {type(bk).__name__}")


# -- describing an instance ---------------------------------------------------------------------
def _number(v: Any) -> str:
    if isinstance(v, (Fraction, int, np.integer)):
        return str(v)
    return f"{float(v):.4g}"


def _numbers(a: Any, width: int = 150) -> str:
    arr = np.asarray(a, dtype=object)
    text = np.array2string(arr, formatter={"all": _number}, separator=", ", max_line_width=10**6).replace("\n", "")
    return text if len(text) <= width else text[: width - 1] + "…"


def describe_task(inst: TDInstance, lam: Fraction | None = None) -> str:
    """At most 7 lines: d, n, L, γ (and λ), then φ, φ', r, φ_q and the C_l (long arrays truncated)."""
    if inst.batch is not None:
        return f"a batch of {inst.batch} tasks; task 0:\n" + describe_task(inst.take(0), lam)
    gamma = "none (average reward)" if inst.gamma is None else _number(inst.gamma)
    head = f"d={inst.d}, n={inst.n}, L={inst.depth}, gamma={gamma}" + ("" if lam is None else f", lambda={lam}")
    Cs = "[" + ", ".join(_numbers(C, 60) for C in inst.preconditioners) + "]"
    return "\n".join(
        [
            head,
            f"phi   = {_numbers(inst.features)}",
            f"phi'  = {_numbers(inst.next_features)}",
            f"r     = {_numbers(inst.rewards)}",
            f"phi_q = {_numbers(inst.query)}",
            f"C_l   = {Cs if len(Cs) <= 150 else Cs[:149] + '…'}",
        ]
    )


class TD0Check(TheoremCheck[TDInstance]):
    """T1: the forward pass of θ*_TD(C_0..C_{L−1}) on the prompt ``td_prompt`` is batch TD(0) with
    preconditioners C_l.

    ``construction`` (default θ*_TD) and ``prompt`` (default :func:`~icrl_verify.prompts.td_prompt`)
    are the artifacts under test; the reference never touches either.
    """

    key = "T1"
    title = "linear attention = batch TD(0)"
    claims = (CLAIM_ROWS, CLAIM_CONTEXT, CLAIM_QUERY)
    #: the query entry holds readout_sign·φ_qᵀw_l (−1: the prediction is −Z_L[2d, n])
    readout_sign = -1
    #: whether the task has a discount γ (False: average-reward TD, instances carry γ = None)
    discounted = True

    def __init__(
        self,
        construction: Construction | None = None,
        d: int = 3,
        n: int = 20,
        depth: int = 8,
        float_n: int = 100,
        float_depth: int = 40,
        *,
        prompt: PromptBuilder | None = None,
    ) -> None:
        self.construction: Construction = construction or self.default_construction
        self.prompt: PromptBuilder = prompt or self.default_prompt()
        self.d, self.n, self.depth = d, n, depth
        self.float_n, self.float_depth = float_n, float_depth

    # -- the parts a variant of the TD family changes -------------------------------------------
    def default_construction(self, d: int, preconditioners: Sequence[Any], n: int) -> list[LinearAttentionWeights]:
        """θ* of this theorem (the construction checked unless a mutant is given)."""
        return constructions.td0(d, preconditioners, n)

    def default_prompt(self) -> PromptBuilder:
        """The shipped prompt builder of this theorem (checked unless another is given)."""
        return td_prompt

    def build_prompt(self, inst: TDInstance) -> NDArray[Any]:
        """Z_0 of the task, from the prompt builder under test."""
        if inst.gamma is None:
            raise ValueError(f"gamma: {self.key} needs a discounted task, got gamma=None")
        return self._shaped(inst, self.prompt(inst.features, inst.next_features, inst.rewards, inst.query, inst.gamma))

    def _shaped(self, inst: TDInstance, Z0: Any) -> NDArray[Any]:
        rows = 2 * inst.d + 1 + int(not self.discounted)
        expected = (*inst.features.shape[:-2], rows, inst.n + 1)
        if not isinstance(Z0, np.ndarray) or Z0.shape != expected:
            got = Z0.shape if isinstance(Z0, np.ndarray) else type(Z0).__name__
            raise ValueError(f"prompt: the builder under test returned {got}, expected an array of shape {expected}")
        return Z0

    def directions(self, bk: Backend[M], blocks: TaskBlocks[M]) -> M:
        """u_i of the reference update: φ_i for TD(0)."""
        return blocks.features

    def reward_terms(self, bk: Backend[M], rewards: M) -> M:
        """The reward term of the TD error: r_i."""
        return rewards

    def layers(self, inst: TDInstance) -> list[LinearAttentionWeights]:
        """The construction under test, on this instance."""
        return self.construction(inst.d, inst.preconditioners, inst.n)

    # -- sampling --------------------------------------------------------------------------------
    def sample_exact(self, rng: np.random.Generator) -> TDInstance:
        d, n = self.d, self.n
        phi, phi_next, r, q = (rational_grid(rng, shape) for shape in ((n, d), (n, d), (n,), (d,)))
        Cs = tuple(rational_grid(rng, (d, d)) for _ in range(self.depth))
        return TDInstance(phi, phi_next, r, q, Fraction(9, 10) if self.discounted else None, Cs)

    def sample_float(self, rng: np.random.Generator, batch: int) -> TDInstance:
        """The published verification's tasks (Gaussian φ, independent φ', r, φ_q, γ = 0.9) with
        non-symmetric C_l = I + 0.2·G_l, G_l Gaussian, one per layer and task."""
        d, n = self.d, self.float_n
        phi, phi_next, r, q = (rng.standard_normal(s) for s in ((batch, n, d), (batch, n, d), (batch, n), (batch, d)))
        Cs = tuple(np.eye(d) + 0.2 * rng.standard_normal((batch, d, d)) for _ in range(self.float_depth))
        return TDInstance(phi, phi_next, r, q, 0.9 if self.discounted else None, Cs)

    def strategy(self, kind: str, d: int | None = None, depth: int | None = None) -> SearchStrategy[TDInstance]:
        max_n, max_depth = STRATEGY_SIZES.get(kind, (8, 4))
        exact = exact_kind(kind)
        return td_instances(exact, max_n=max_n, max_depth=max_depth, discounted=self.discounted, d=d, depth=depth)

    def reductions(self, instance: TDInstance, keep_d: bool = False, keep_depth: bool = False) -> list[TDInstance]:
        return instance.reductions(keep_d, keep_depth)

    def batch_of(self, instance: TDInstance) -> TDInstance:
        return instance.as_float_batch()

    def single(self, batch: TDInstance, k: int) -> TDInstance:
        size = batch.batch
        if size is None or not 0 <= k < size:
            raise ValueError(f"k: expected an index into a batch of {size} tasks, got {k}")
        return batch.take(k)

    def chunks(self, batch: TDInstance, size: int) -> list[TDInstance]:
        return [batch.take(slice(s, s + size)) for s in range(0, batch.batch or 1, size)]

    def describe(self, instance: TDInstance) -> str:
        return describe_task(instance)

    # -- the reference side: task data only -------------------------------------------------------
    def task_blocks(self, bk: Backend[M], inst: TDInstance) -> TaskBlocks[M]:
        """Φ, γΦ' (γ applied here, in the backend's arithmetic), r, φ_q and the reward terms of the task."""
        next_features = bk.asmatrix(np.swapaxes(inst.next_features, -1, -2))
        if self.discounted:
            if inst.gamma is None:
                raise ValueError(f"gamma: {self.key} needs a discounted task, got gamma=None")
            next_features = bk.scale(next_features, inst.gamma)
        elif inst.gamma is not None:
            raise ValueError(f"gamma: {self.key} has no discount, expected gamma=None, got {inst.gamma!r}")
        rewards = bk.asmatrix(inst.rewards[..., None, :])
        return TaskBlocks(
            bk.asmatrix(np.swapaxes(inst.features, -1, -2)),
            next_features,
            rewards,
            bk.asmatrix(inst.query[..., :, None]),
            self.reward_terms(bk, rewards),
        )

    def reference(self, bk: Backend[M], inst: TDInstance, blocks: TaskBlocks[M]) -> list[M]:
        """w_0..w_L of the reference algorithm."""
        Cs = [bk.asmatrix(C) for C in inst.preconditioners]
        U = self.directions(bk, blocks)
        return preconditioned_td(bk, U, blocks.features, blocks.next_features, blocks.reward_terms, Cs)

    def layout(self, bk: Backend[M], blocks: TaskBlocks[M]) -> M:
        """The rows the layers never change, laid out from the task data: (Φ | φ_q) over (γΦ' | 0)."""
        d, _ = bk.shape(blocks.features)
        return bk.concat(
            [
                bk.concat([blocks.features, blocks.query], axis=1),
                bk.concat([blocks.next_features, bk.zeros(d, 1)], axis=1),
            ],
            axis=0,
        )

    def context(self, bk: Backend[M], w: M, blocks: TaskBlocks[M]) -> M:
        """The context entries of the written row for iterate w: the TD errors δ_i(w)."""
        return td_errors(bk, w, blocks.features, blocks.next_features, blocks.reward_terms)

    def readout(self, bk: Backend[M], query: M, w: M) -> M:
        """The query entry of the written row for iterate w: readout_sign·φ_qᵀw."""
        value = bk.matmul(bk.transpose(query), w)
        return bk.neg(value) if self.readout_sign < 0 else value

    def seat(self, bk: Backend[M], blocks: TaskBlocks[M], w: M) -> M:
        """The state the theorem says a layer holds at iterate w, from the task data alone: the layout
        rows, then the written row (context(w) | readout(w)). At w = 0 it is the prompt Z_0."""
        written = bk.concat([self.context(bk, w, blocks), self.readout(bk, blocks.query, w)], axis=1)
        return bk.concat([self.layout(bk, blocks), written], axis=0)

    # -- the claims ------------------------------------------------------------------------------
    def _pairs(self, bk: Backend[M], layer: int, Z: M, w: M, blocks: TaskBlocks[M]) -> list[ClaimPair[M]]:
        rows, cols = bk.shape(Z)
        n, last, everything = cols - 1, slice(rows - 1, rows), slice(None)
        claim_rows, claim_context, claim_query = self.claims
        return [
            ClaimPair(claim_rows, layer, bk.block(Z, slice(0, rows - 1), everything), self.layout(bk, blocks)),
            ClaimPair(claim_context, layer, bk.block(Z, last, slice(0, n)), self.context(bk, w, blocks)),
            ClaimPair(claim_query, layer, bk.block(Z, last, slice(n, n + 1)), self.readout(bk, blocks.query, w)),
        ]

    def composed_pairs(self, bk: Backend[M], instance: TDInstance) -> list[ClaimPair[M]]:
        """Layer 0 (the prompt against the task data) and every later layer of the whole stack against
        the whole reference. Exact, ball and mpmath take the task in exact rationals."""
        inst = instance if bk.batched else instance.as_exact()
        Zs = run_transformer(bk, bk.asmatrix(self.build_prompt(inst)), self.layers(inst))
        blocks = self.task_blocks(bk, inst)
        ws = self.reference(bk, inst, blocks)
        return [p for l, (Z, w) in enumerate(zip(Zs, ws)) for p in self._pairs(bk, l, Z, w, blocks)]

    def step_pairs(self, bk: BoundBackend, batch: TDInstance) -> list[ClaimPair[Any]]:
        """Base case: the prompt built by the builder under test is the layout of the task (layer 0).
        Step: from the seat of every float reference iterate w_l (task data and w_l, exact inputs), one
        layer of the construction gives the seat of w_{l+1}, within certified rounding bounds."""
        bk = counting_rational_inputs(bk)
        inner = bk.inner
        ws = self.reference(inner, batch, self.task_blocks(inner, batch))
        blocks = self.task_blocks(bk, batch)
        U = self.directions(bk, blocks)
        pairs = self._pairs(bk, 0, bk.asmatrix(self.build_prompt(batch)), bk.zeros(batch.d, 1), blocks)
        for l, layer in enumerate(self.layers(batch)):
            w = bk.exact_input(ws[l])
            Z_next = linear_attention(bk, self.seat(bk, blocks, w), layer)
            deltas = td_errors(bk, w, blocks.features, blocks.next_features, blocks.reward_terms)
            w_next = td_step(bk, w, bk.asmatrix(batch.preconditioners[l]), U, deltas, batch.n)
            pairs += self._pairs(bk, l + 1, Z_next, w_next, blocks)
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
    states = run_transformer(bk, bk.asmatrix(check.build_prompt(batch)), check.layers(batch))
    blocks = check.task_blocks(bk, batch)
    ws = check.reference(bk, batch, blocks)
    measured = max(
        float(np.max(np.abs(Z[:, -1:, -1:] - check.readout(bk, blocks.query, w)))) for Z, w in zip(states, ws)
    )
    return [
        *figures,
        ("float64: composed forward + reference, uncertified", time.perf_counter() - start, "s"),
        ("float64: composed stack, max |TF - reference| over all layers (measured)", measured, "abs"),
    ]
