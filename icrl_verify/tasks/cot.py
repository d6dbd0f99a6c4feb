"""T3 task data: the CoT instance, its empirical TD system A_n w = b_n and fixed point w_n."""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Any, TypeVar

import numpy as np
from numpy.typing import NDArray

from icrl_verify.algorithms import context_blocks
from icrl_verify.arith.base import Backend, to_fraction
from icrl_verify.arith.exact import ExactBackend
from icrl_verify.arith.float64 import Float64Backend
from icrl_verify.tasks import ContextSizes, exact_array, float_batch_of_one

M = TypeVar("M")


@dataclass(frozen=True)
class CoTInstance(ContextSizes):
    """T3 task data: a context, a query, a preconditioner C used by every thought, the number of
    thoughts K and the empirical fixed point w_n (None when A_n is singular). Arrays are (n, d),
    (n, d), (n,), (d,), (d, d), (d,), or batched with a leading axis B; ``next_features`` is φ'_i
    (γ is applied by the prompt builder and, separately, by the reference). Fractions (with a
    Fraction γ) keep an instance exact; exact checks convert float entries to the rationals they are."""

    features: NDArray[Any]
    next_features: NDArray[Any]
    rewards: NDArray[Any]
    query: NDArray[Any]
    gamma: float | Fraction
    C: NDArray[Any]
    thoughts: int
    fixed_point: NDArray[Any] | None

    def take(self, rows: slice) -> CoTInstance:
        """The batch entries ``rows`` of a batched instance."""
        fp = None if self.fixed_point is None else self.fixed_point[rows]
        return CoTInstance(
            self.features[rows], self.next_features[rows], self.rewards[rows], self.query[rows], self.gamma,
            self.C[rows], self.thoughts, fp,
        )  # fmt: skip

    def as_batch(self) -> CoTInstance:
        """A single instance as a float64 batch of one (float backends are batched)."""
        f = float_batch_of_one
        fp = None if self.fixed_point is None else f(self.fixed_point)
        return CoTInstance(
            f(self.features), f(self.next_features), f(self.rewards), f(self.query), float(self.gamma),
            f(self.C), self.thoughts, fp,
        )  # fmt: skip

    def rational(self) -> CoTInstance:
        """The same task in exact rationals (every float is one), with its exact fixed point; itself
        when already exact."""
        if all(_is_rational(a) for a in (self.features, self.next_features, self.rewards, self.query, self.C)) and (
            isinstance(self.gamma, Fraction)
        ):
            return self
        R = exact_array
        return cot_instance(
            R(self.features), R(self.next_features), R(self.rewards), R(self.query), to_fraction(self.gamma),
            R(self.C), self.thoughts,
        )  # fmt: skip


def _is_rational(a: NDArray[Any]) -> bool:
    return a.dtype == object and all(isinstance(x, Fraction) for x in a.flat)


def empirical_td_system(bk: Backend[M], features: M, next_features: M, rewards: M) -> tuple[M, M]:
    """A_n = (1/n) Σ_i φ_i (φ_i − γφ'_i)ᵀ and b_n = (1/n) Σ_i r_i φ_i from the d×n blocks of a context
    (``next_features`` holds γφ'_i, ``rewards`` is 1×n). The empirical fixed point solves A_n w = b_n;
    as n → ∞ on an ergodic chain A_n → −A and b_n → b of docs (note the sign of A)."""
    _, n = bk.shape(features)
    A = bk.scale(bk.matmul(features, bk.transpose(bk.sub(features, next_features))), Fraction(1, n))
    b = bk.scale(bk.matmul(features, bk.transpose(rewards)), Fraction(1, n))
    return A, b


def empirical_fixed_point(
    features: Any, next_features: Any, rewards: Any, gamma: float | Fraction
) -> NDArray[Any] | None:
    """w_n with A_n w_n = b_n, from task data: exact Fractions for Fraction inputs (None when A_n is
    singular); for float inputs (batched or not) the least-squares solution in float64, which the
    float checks use only in residual form (valid for any w)."""
    if all(_is_rational(np.asarray(a)) for a in (features, next_features, rewards)) and isinstance(gamma, Fraction):
        ex = ExactBackend()
        Ae, be = empirical_td_system(ex, *context_blocks(ex, features, next_features, rewards, gamma))
        if Ae.det() == 0:
            return None
        x = Ae.solve(be)
        return np.array([Fraction(int(x[i, 0].p), int(x[i, 0].q)) for i in range(x.nrows())], dtype=object)
    fl = Float64Backend()
    F, G, r = (np.asarray(a, dtype=np.float64) for a in (features, next_features, rewards))
    Af, bf = empirical_td_system(fl, *context_blocks(fl, F, G, r, float(gamma)))
    with np.errstate(over="ignore", divide="ignore"):  # pinv of A_n = 0 (an empty context) is 0
        return np.asarray(np.linalg.pinv(Af) @ bf, dtype=np.float64)[..., 0]


def cot_instance(
    features: Any, next_features: Any, rewards: Any, query: Any, gamma: float | Fraction, C: Any, thoughts: int
) -> CoTInstance:
    """An instance with its empirical fixed point computed (exactly for Fraction inputs)."""
    fixed_point = empirical_fixed_point(features, next_features, rewards, gamma)
    return CoTInstance(features, next_features, rewards, query, gamma, C, thoughts, fixed_point)
