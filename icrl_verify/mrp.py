"""Finite Markov reward processes, the task generators of [W25a]/[W25b], trajectories and TD quantities."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
from numpy.typing import NDArray

from icrl_verify import _validate

FloatArray = NDArray[np.float64]


@dataclass(frozen=True, eq=False)
class FiniteMRP:
    """A finite MRP: transition matrix ``P`` (S×S), reward ``r(s)`` received on leaving ``s``,
    discount ``gamma`` in [0, 1), features ``Φ`` (S×d, row s is φ(s)) and an initial distribution.

    Names follow the Lean formalisation ``rl-theory-in-lean``: ``A``, ``b``, ``td_fixed_point``.
    """

    P: FloatArray
    r: FloatArray
    gamma: float
    features: FloatArray
    initial: FloatArray

    def __post_init__(self) -> None:
        P = _validate.stochastic_matrix("P", self.P)
        S = P.shape[0]
        object.__setattr__(self, "P", P)
        object.__setattr__(self, "r", _validate.array("r", self.r, (S,)).astype(np.float64))
        object.__setattr__(self, "gamma", _validate.gamma(self.gamma))
        object.__setattr__(self, "features", _validate.array("features", self.features, (S, None)).astype(np.float64))
        init = _validate.array("initial", self.initial, (S,)).astype(np.float64)
        if np.any(init < 0) or abs(init.sum() - 1.0) > 1e-9:
            raise ValueError("initial: expected a probability vector (non-negative, sums to 1)")
        object.__setattr__(self, "initial", init)

    @property
    def num_states(self) -> int:
        """Number of states S."""
        return int(self.P.shape[0])

    @property
    def dim(self) -> int:
        """Feature dimension d."""
        return int(self.features.shape[1])

    @cached_property
    def stationary(self) -> FloatArray:
        """Stationary distribution μ (left Perron vector); ValueError if it is not unique."""
        S = self.num_states
        system = np.vstack([(np.eye(S) - self.P).T, np.ones((1, S))])
        if np.linalg.matrix_rank(system[:-1], tol=1e-10) < S - 1:
            raise ValueError("P: the chain is reducible, its stationary distribution is not unique")
        rhs = np.zeros(S + 1)
        rhs[-1] = 1.0
        mu, *_ = np.linalg.lstsq(system, rhs, rcond=None)
        mu = np.clip(mu, 0.0, None)
        return np.asarray(mu / mu.sum(), dtype=np.float64)

    @cached_property
    def value(self) -> FloatArray:
        """True value v = (I − γP)^{-1} r."""
        return np.asarray(np.linalg.solve(np.eye(self.num_states) - self.gamma * self.P, self.r), dtype=np.float64)

    @cached_property
    def A(self) -> FloatArray:
        """TD matrix A = Φᵀ D (γP − I) Φ with D = diag(μ)."""
        Phi, D = self.features, np.diag(self.stationary)
        return np.asarray(Phi.T @ D @ (self.gamma * self.P - np.eye(self.num_states)) @ Phi, dtype=np.float64)

    @cached_property
    def b(self) -> FloatArray:
        """TD vector b = Φᵀ D r."""
        return np.asarray(self.features.T @ (self.stationary * self.r), dtype=np.float64)

    def td_fixed_point(self) -> FloatArray:
        """TD fixed point w_TD = −A^{-1} b (ValueError when A is singular)."""
        if np.linalg.cond(self.A) > 1e12:
            raise ValueError("features: A = ΦᵀD(γP − I)Φ is singular, the TD fixed point is not unique")
        return np.asarray(-np.linalg.solve(self.A, self.b), dtype=np.float64)

    def trajectory(self, length: int, rng: np.random.Generator, start: int | None = None) -> NDArray[np.int64]:
        """States s_0..s_length of one roll-out; s_0 ~ initial distribution unless ``start`` is given."""
        length = _validate.positive_int("length", length, minimum=0)
        S = self.num_states
        states = np.empty(length + 1, dtype=np.int64)
        states[0] = rng.choice(S, p=self.initial) if start is None else start
        cumulative = np.cumsum(self.P, axis=1)
        draws = rng.random(length)
        for t in range(length):
            row = cumulative[states[t]]
            states[t + 1] = min(int(np.searchsorted(row, draws[t] * row[-1], side="right")), S - 1)
        return states

    def transitions(self, states: NDArray[np.int64]) -> tuple[FloatArray, FloatArray, FloatArray]:
        """Context of a trajectory: (φ(s_i), φ(s_{i+1}), r(s_i)) for i < len(states) − 1, as (n,d),(n,d),(n,)."""
        states = np.asarray(states, dtype=np.int64)
        if states.ndim != 1 or states.size < 2 or states.min() < 0 or states.max() >= self.num_states:
            raise ValueError("states: expected a 1-D array of at least 2 valid state indices")
        return self.features[states[:-1]], self.features[states[1:]], self.r[states[:-1]]


def _probability_vector(rng: np.random.Generator, size: int) -> FloatArray:
    u = rng.uniform(0.01, 0.99, size)
    return np.asarray(u / u.sum(), dtype=np.float64)


def _features(rng: np.random.Generator, num_states: int, dim: int, tabular: bool) -> FloatArray:
    if tabular:
        if dim != num_states:
            raise ValueError(f"dim: tabular features need dim == num_states, got {dim} != {num_states}")
        return np.eye(num_states)
    return rng.uniform(-1.0, 1.0, (num_states, dim))


def _finish(
    P: FloatArray, gamma: float, features: FloatArray, rng: np.random.Generator, representable: bool
) -> FiniteMRP:
    S = P.shape[0]
    if representable:
        w_star = rng.standard_normal(features.shape[1])
        r: FloatArray = (np.eye(S) - gamma * P) @ (features @ w_star)
    else:
        r = np.asarray(rng.uniform(-1.0, 1.0, S), dtype=np.float64)
    return FiniteMRP(P=P, r=r, gamma=gamma, features=features, initial=_probability_vector(rng, S))


def boyan_chain(
    num_states: int,
    dim: int,
    gamma: float,
    rng: np.random.Generator,
    representable: bool = False,
    tabular: bool = False,
) -> FiniteMRP:
    """Ergodic Boyan chain of [W25a]: i → i+1 w.p. p_i ~ U(0.01, 0.99), else i → i+2; S−2 → S−1;
    the last row is a random probability vector. Features U(−1,1) (or tabular), rewards U(−1,1)
    or representable (r = (I − γP)Φw*, w* ~ N(0, I))."""
    S = _validate.positive_int("num_states", num_states, minimum=3)
    _validate.positive_int("dim", dim)
    gamma = _validate.gamma(gamma)
    P = np.zeros((S, S))
    p = rng.uniform(0.01, 0.99, S - 2)
    for i in range(S - 2):
        P[i, i + 1], P[i, i + 2] = p[i], 1.0 - p[i]
    P[S - 2, S - 1] = 1.0
    P[S - 1] = _probability_vector(rng, S)
    return _finish(P, gamma, _features(rng, S, dim, tabular), rng, representable)


def loop_mrp(
    num_states: int,
    dim: int,
    gamma: float,
    rng: np.random.Generator,
    threshold: float = 0.5,
    representable: bool = False,
    tabular: bool = False,
) -> FiniteMRP:
    """Loop MRP of [W25b]: ring edges i → i+1 (mod S) always, other non-self edges kept when a
    U(0.01, 0.99) draw exceeds ``threshold``; random positive weights; rows normalised."""
    S = _validate.positive_int("num_states", num_states, minimum=2)
    _validate.positive_int("dim", dim)
    gamma = _validate.gamma(gamma)
    if not 0.0 <= _validate.real("threshold", threshold) <= 1.0:
        raise ValueError(f"threshold: expected a number in [0, 1], got {threshold!r}")
    keep = rng.uniform(0.01, 0.99, (S, S)) > threshold
    np.fill_diagonal(keep, False)
    keep[np.arange(S), (np.arange(S) + 1) % S] = True
    weights = rng.uniform(0.01, 0.99, (S, S)) * keep
    P = weights / weights.sum(axis=1, keepdims=True)
    return _finish(P, gamma, _features(rng, S, dim, tabular), rng, representable)


def random_mrp(
    num_states: int,
    dim: int,
    gamma: float,
    rng: np.random.Generator,
    tabular: bool = False,
    concentration: float = 1.0,
    representable: bool = False,
) -> FiniteMRP:
    """Random dense MRP: Dirichlet(concentration) rows (ergodic almost surely), for property tests."""
    S = _validate.positive_int("num_states", num_states)
    _validate.positive_int("dim", dim)
    gamma = _validate.gamma(gamma)
    if not _validate.real("concentration", concentration) > 0:
        raise ValueError(f"concentration: expected a positive number, got {concentration!r}")
    P = rng.dirichlet(np.full(S, concentration), size=S)
    return _finish(P, gamma, _features(rng, S, dim, tabular), rng, representable)
