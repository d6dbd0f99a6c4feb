"""T3's claims that are not equalities: an exact contraction certificate of I − C A_n, the floor of ‖w_n − w_TD‖."""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction

import numpy as np
import scipy.linalg
import scipy.stats
from flint import fmpq_mat
from numpy.typing import NDArray

from icrl_verify.arith.exact import ExactBackend, to_fmpq
from icrl_verify.mrp import FiniteMRP, boyan_chain

FLOOR_LEVEL = 0.99
"""Confidence level of the floor-slope interval."""
FLOOR_LENGTHS = (256, 512, 1024, 2048, 4096, 8192, 16384)
"""Context lengths n of the floor fit: a geometric grid, each a prefix of the same trajectory."""
CERTIFICATE_GRID = 2**20
"""The certified contraction factor s is a multiple of 2^-20 just above (1 + ρ(I − C A_n))/2, below 1."""


def _positive_definite(S: fmpq_mat) -> bool:
    """Sylvester's criterion in exact arithmetic: every leading principal minor is positive."""
    d = S.nrows()
    return all(fmpq_mat(k, k, [S[i, j] for i in range(k) for j in range(k)]).det() > 0 for k in range(1, d + 1))


def contraction_certificate(T: fmpq_mat) -> tuple[fmpq_mat, Fraction] | str:
    """A rational quadratic norm in which T contracts: (P, s) with P ≻ 0 and s²P − TᵀPT ≻ 0, both
    verified exactly, so ‖T x‖_P ≤ s ‖x‖_P and ρ(T) ≤ s < 1. s is a multiple of 2^-20 just above
    (1 + ρ)/2 (ρ estimated in float), P the float solution of the Stein equation
    (T/s)ᵀ P (T/s) − P = −I (then s²P − TᵀPT = s²I up to its rounding). Returns a reason when
    ρ(T) ≥ 1 or the rounded P fails the exact test."""
    d = T.nrows()
    Tf = ExactBackend().to_numpy(T)
    rho = float(np.max(np.abs(np.linalg.eigvals(Tf))))
    s = Fraction(math.ceil((1 + rho) / 2 * CERTIFICATE_GRID) + 1, CERTIFICATE_GRID)
    if s >= 1:
        return f"rho(I - C A_n) = {rho:.6g} is not below 1 (the hypothesis fails)"
    X = scipy.linalg.solve_discrete_lyapunov((Tf / float(s)).T, np.eye(d))
    X = (X + X.T) / 2
    P = ExactBackend().asmatrix(X)
    gap = P * to_fmpq(s * s) - T.transpose() * P * T
    if not (_positive_definite(P) and _positive_definite(gap)):
        return f"the rounded Stein solution is not an exact certificate (rho = {rho:.6g}, s = {float(s):.6g})"
    return P, s


@dataclass(frozen=True)
class FloorFit:
    """Per-seed least-squares slopes of log ‖w_n − w_TD‖ against log n, and their confidence interval.

    Each seed is an independent task and trajectory (stationary start); the floors at the lengths
    are nested prefixes of that one trajectory, so only seeds are independent: the interval is a
    Student-t interval over the per-seed slopes."""

    lengths: NDArray[np.int64]
    floors: NDArray[np.float64]  # (seeds, lengths)
    level: float = FLOOR_LEVEL

    @property
    def slopes(self) -> NDArray[np.float64]:
        """OLS slope per seed."""
        x = np.log(self.lengths.astype(np.float64))
        c = (x - x.mean()) / np.sum((x - x.mean()) ** 2)
        return np.asarray(np.log(self.floors) @ c, dtype=np.float64)

    @property
    def mean(self) -> float:
        """Mean slope over seeds."""
        return float(np.mean(self.slopes))

    @property
    def interval(self) -> tuple[float, float]:
        """Two-sided Student-t interval for the expected slope at ``level``."""
        s = self.slopes
        half = float(scipy.stats.t.ppf(0.5 + self.level / 2, s.size - 1)) * float(np.std(s, ddof=1)) / math.sqrt(s.size)
        return self.mean - half, self.mean + half

    def passes(self) -> bool:
        """The interval contains −1/2 and excludes both 0 (no shrinkage) and −1 (a 1/n rate)."""
        lo, hi = self.interval
        return lo <= -0.5 <= hi and lo > -1.0 and hi < 0.0

    def summary(self) -> str:
        """One line for the certificate."""
        lo, hi = self.interval
        return (
            f"mean slope {self.mean:.3f}, {self.level:.0%} CI [{lo:.3f}, {hi:.3f}] over {self.floors.shape[0]} seeds, "
            f"n = {int(self.lengths[0])}..{int(self.lengths[-1])}"
        )


def ergodic_tasks(
    rng: np.random.Generator, count: int, num_states: int = 10, dim: int = 4, gamma: float = 0.9
) -> list[FiniteMRP]:
    """Boyan chains of [W25a] (ergodic by construction) whose TD fixed point is well defined."""
    tasks: list[FiniteMRP] = []
    while len(tasks) < count:
        task = boyan_chain(num_states, dim, gamma, rng)
        try:
            task.td_fixed_point()
        except ValueError:
            continue
        tasks.append(task)
    return tasks


def empirical_fixed_points(
    tasks: Sequence[FiniteMRP], lengths: Sequence[int], rng: np.random.Generator
) -> NDArray[np.float64]:
    """w_n at each length n (nested prefixes) of one stationary trajectory per task, all tasks stepped
    together: (tasks, lengths, d). Tasks must share S, d and γ."""
    ns = [int(n) for n in lengths]
    if not ns or ns[0] < 1 or any(b <= a for a, b in itertools.pairwise(ns)):
        raise ValueError(f"lengths: expected an increasing sequence of positive integers, got {lengths!r}")
    count, S, d, gamma = len(tasks), tasks[0].num_states, tasks[0].dim, tasks[0].gamma
    if any(t.num_states != S or t.dim != d or t.gamma != gamma for t in tasks):
        raise ValueError("tasks: expected the same number of states, feature dimension and discount")
    rows = np.arange(count)
    cumulative = np.stack([np.cumsum(t.P, axis=1) for t in tasks])
    Phi, r = np.stack([t.features for t in tasks]), np.stack([t.r for t in tasks])
    state = np.array([rng.choice(S, p=t.stationary) for t in tasks])
    A, b = np.zeros((count, d, d)), np.zeros((count, d))
    out = np.empty((count, len(ns), d))
    done = 0
    for j, n in enumerate(ns):
        states = np.empty((count, n - done + 1), dtype=np.int64)
        states[:, 0] = state
        draws = rng.random((count, n - done))
        for t in range(n - done):
            cdf = cumulative[rows, states[:, t]]
            states[:, t + 1] = np.minimum((cdf <= draws[:, t, None] * cdf[:, -1:]).sum(axis=1), S - 1)
        f, f_next = Phi[rows[:, None], states[:, :-1]], Phi[rows[:, None], states[:, 1:]]
        A += np.einsum("mti,mtj->mij", f, f - gamma * f_next)
        b += np.einsum("mti,mt->mi", f, r[rows[:, None], states[:, :-1]])
        out[:, j] = np.linalg.solve(A / n, (b / n)[..., None])[..., 0]
        state, done = states[:, -1], n
    return out


def floor_fit(rng: np.random.Generator, seeds: int, lengths: Sequence[int] = FLOOR_LENGTHS) -> FloorFit:
    """‖w_n − w_TD‖ on ``seeds`` independent Boyan chains (S = 10, d = 4, γ = 0.9), stationary starts."""
    tasks = ergodic_tasks(rng, seeds)
    w_td = np.stack([t.td_fixed_point() for t in tasks])
    w_n = empirical_fixed_points(tasks, lengths, rng)
    floors = np.linalg.norm(w_n - w_td[:, None, :], axis=-1)
    return FloorFit(np.asarray(lengths, dtype=np.int64), floors)
