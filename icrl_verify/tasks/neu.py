"""Task data of T2 (the enumerated expected-feature prompt): P, rewards, features, γ and the depth."""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import numpy as np
from numpy.typing import NDArray

from icrl_verify.arith.base import to_fraction


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
