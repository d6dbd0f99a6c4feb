"""Task data of the TD-family theorems: features, next features, rewards, query, γ and the C_l (docs/contract.md)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from fractions import Fraction
from typing import Any

import numpy as np
from numpy.typing import NDArray

from icrl_verify.arith.base import to_fraction


class ContextSizes:
    """The sizes of task data whose ``features`` are (n, d), or (B, n, d) for a batch."""

    features: NDArray[Any]

    @property
    def d(self) -> int:
        """Feature dimension."""
        return int(self.features.shape[-1])

    @property
    def n(self) -> int:
        """Context length (number of transitions, one context token each)."""
        return int(self.features.shape[-2])


@dataclass(frozen=True)
class TDInstance(ContextSizes):
    """One task of T1–T1c as data, never as a prompt: the prompt is built from it by the builder under
    test and the reference algorithm is computed from it by a separate path.

    ``features`` φ_i and ``next_features`` φ'_i (undiscounted) are (n, d), ``rewards`` (n,), ``query``
    φ_q (d,), each preconditioner C_l (d, d); or all with a leading batch axis B. ``gamma`` is the
    discount (one for the whole batch), None for average-reward TD (T1c). Arrays of Fractions (with a
    Fraction γ) keep an instance exact.
    """

    features: NDArray[Any]
    next_features: NDArray[Any]
    rewards: NDArray[Any]
    query: NDArray[Any]
    gamma: Fraction | float | None
    preconditioners: tuple[NDArray[Any], ...]

    def __post_init__(self) -> None:
        batch, (n, d) = self.features.shape[:-2], self.features.shape[-2:]
        expected = {
            "next_features": (self.next_features, (*batch, n, d)),
            "rewards": (self.rewards, (*batch, n)),
            "query": (self.query, (*batch, d)),
        }
        for name, (arr, shape) in expected.items():
            if arr.shape != shape:
                raise ValueError(f"{name}: expected shape {shape} (features: {self.features.shape}), got {arr.shape}")
        for l, C in enumerate(self.preconditioners):
            if C.shape != (*batch, d, d):
                raise ValueError(f"preconditioners[{l}]: expected shape {(*batch, d, d)}, got {C.shape}")

    @property
    def depth(self) -> int:
        """Number of layers L."""
        return len(self.preconditioners)

    @property
    def batch(self) -> int | None:
        """Number of tasks of a batched instance, None for a single one."""
        return int(self.features.shape[0]) if self.features.ndim == 3 else None

    def take(self, rows: slice | int) -> TDInstance:
        """Batch entries ``rows`` (a slice keeps the batch axis, an index gives a single instance)."""
        return replace(
            self,
            features=self.features[rows],
            next_features=self.next_features[rows],
            rewards=self.rewards[rows],
            query=self.query[rows],
            preconditioners=tuple(C[rows] for C in self.preconditioners),
        )

    def _converted(self, array: Callable[[NDArray[Any]], NDArray[Any]], scalar: Callable[[Any], Any]) -> TDInstance:
        """Every array through ``array`` and γ (when there is one) through ``scalar``."""
        return TDInstance(
            array(self.features), array(self.next_features), array(self.rewards), array(self.query),
            None if self.gamma is None else scalar(self.gamma), tuple(array(C) for C in self.preconditioners),
        )  # fmt: skip

    def as_float_batch(self) -> TDInstance:
        """A single instance as a float64 batch of one (entries rounded to the nearest double)."""
        if self.batch is not None:
            raise ValueError("instance: already a batch")
        return self._converted(float_batch_of_one, float)

    def as_exact(self) -> TDInstance:
        """The same single task in exact rationals (every float is one): Fraction arrays and a Fraction γ."""
        if self.batch is not None:
            raise ValueError("instance: exact arithmetic takes a single instance, not a batch")
        return self._converted(exact_array, to_fraction)

    def reductions(self, keep_d: bool = False, keep_depth: bool = False) -> list[TDInstance]:
        """Smaller single tasks, for shrinking a counterexample: one transition dropped, the last layer
        dropped, one feature coordinate dropped (unless ``keep_d`` / ``keep_depth`` fix those sizes), and
        the γ = 0 task."""
        if self.batch is not None:
            raise ValueError("instance: reductions take a single instance, not a batch")
        out = []
        for i in range(self.n if self.n > 1 else 0):
            rows = np.arange(self.n) != i
            out.append(replace(self, features=self.features[rows], next_features=self.next_features[rows],
                               rewards=self.rewards[rows]))  # fmt: skip
        if self.depth > 0 and not keep_depth:
            out.append(replace(self, preconditioners=self.preconditioners[:-1]))
        for j in range(self.d if self.d > 1 and not keep_d else 0):
            cols = np.arange(self.d) != j
            out.append(replace(
                self, features=self.features[:, cols], next_features=self.next_features[:, cols],
                query=self.query[cols], preconditioners=tuple(C[cols][:, cols] for C in self.preconditioners),
            ))  # fmt: skip
        if self.gamma:
            out.append(replace(self, gamma=type(self.gamma)(0)))
        return out


def float_batch_of_one(a: Any) -> NDArray[np.float64]:
    """``a`` as a float64 batch of one (a leading axis of size 1; entries rounded to the nearest double)."""
    return np.asarray(a, dtype=np.float64)[None]


def exact_array(a: NDArray[Any]) -> NDArray[Any]:
    """An object array of Fractions with the exact values of ``a`` (ints, Fractions or floats)."""
    out = np.empty(a.shape, dtype=object)
    for idx, v in np.ndenumerate(a):
        out[idx] = to_fraction(v)
    return out
