"""Task data of T4 (softmax kernel TD): a trajectory's features and rewards, α, γ and the depth."""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import numpy as np
from numpy.typing import NDArray

from icrl_verify.arith.base import to_fraction


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
