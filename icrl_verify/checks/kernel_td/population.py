"""T4 claims 3 and 4: the population contraction certified in balls, the sup error over trajectories."""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, TypeVar

import numpy as np
from flint import arb, arb_mat, ctx, fmpq, fmpq_mat
from numpy.typing import NDArray

from icrl_verify import constructions
from icrl_verify.algorithms import (
    population_kernel_td,
    population_softmax_kernel,
)
from icrl_verify.arith.ball import BallBackend
from icrl_verify.arith.base import Backend
from icrl_verify.arith.exact import to_fmpq
from icrl_verify.arith.float64 import Float64Backend
from icrl_verify.attention import (
    run_softmax_transformer,
)
from icrl_verify.mrp import FiniteMRP
from icrl_verify.prompts import kernel_td_prompt

M = TypeVar("M")


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
        system = fmpq_mat(S, S, [fmpq(int(i == j)) - g * to_fmpq(self.P[i, j]) for i in range(S) for j in range(S)])
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


def _population_operator(bk: Backend[M], kernel: M, P: M, gamma: Any) -> M:
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
        rows = _row_abs_sums(_population_operator(bk, kernel, P, task.gamma))
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


def _full_coverage_trajectory(
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
        trajs = np.stack([_full_coverage_trajectory(task, n, rng) for _ in range(size)])
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
    T = _population_operator(bk, kernel, task.P, task.gamma)
    return c, float(np.max(np.abs(T).sum(axis=1)))
