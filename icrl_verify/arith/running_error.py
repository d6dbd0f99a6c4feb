"""Running error analysis: a float backend whose matrices carry a rigorous bound on their rounding error.

Each value is a triple (computed, bound, depth) with |computed − exact| ≤ bound entrywise, exact
meaning the same program in real arithmetic on the same inputs (inputs are exact: they are the
numbers a check is about). The rules are the standard model fl(a ∘ b) = (a ∘ b)(1 + δ), |δ| ≤ u
(Higham, *Accuracy and Stability of Numerical Algorithms*, §2.2, §3.1): an inner product of length
m has error ≤ γ_m Σ|a_k||b_k| in any summation order, γ_m = m u / (1 − m u). Propagated errors use
the exact product rule |AB − ÂB̂| ≤ |Â| E_B + E_A |B̂| + E_A E_B; a matrix product's bound is
evaluated as (|Â| + E_A)(γ_m |B̂| + E_B) + E_A |B̂|, which dominates the sum of the four terms.

Bounds are sums and products of non-negative numbers, so evaluating them in the same floating point
can only under-estimate, by at most a factor (1 − u)^k after k roundings along any path (through a
product the counts of both factors add); ``depth`` counts k, and
:meth:`RunningErrorBackend.certified_bound` inflates by (1 + 2γ_{k+2}) once, at the comparison.
exp relies on libm being within 2 ulp (docs/precision.md). Overflow and underflow are not modelled:
a non-finite value or bound makes a comparison fail.
"""

from __future__ import annotations

from abc import abstractmethod
from dataclasses import dataclass
from typing import Any, Generic, Literal, TypeVar

import numpy as np
from numpy.typing import NDArray

from icrl_verify.arith.base import Backend, Certifies, Scalar, to_fraction

A = TypeVar("A")


@dataclass(frozen=True)
class Tracked(Generic[A]):
    """A computed matrix, an entrywise error bound (None: known exact) and the bound's rounding depth."""

    value: A
    bound: A | None = None
    depth: int = 0


class TrackedBackend(Backend[Tracked[A]]):
    """A batched float backend (float64 numpy or torch) whose matrices carry a certified rounding bound.

    Subclasses define how bounds propagate and :meth:`certified_bound`; the structural operations
    (shape, blocks, transposes, negation) move values and bounds together and are shared here.
    """

    certifies: Certifies = "bound"
    batched = True

    def __init__(self, inner: Backend[A], unit_roundoff: float) -> None:
        self.inner = inner
        self.u = unit_roundoff
        self.name = inner.name

    def gamma(self, m: int) -> float:
        """γ_m = m u / (1 − m u)."""
        if m * self.u >= 0.5:
            raise ValueError(f"rounding depth {m} too large for a meaningful bound")
        return m * self.u / (1 - m * self.u)

    @abstractmethod
    def certified_bound(self, t: Tracked[A]) -> A:
        """An entrywise bound on |t.value − exact| that accounts for its own rounding."""

    def _uncontrolled(self, t: Tracked[A]) -> bool:
        return (t.depth + 2) * self.u >= 0.5  # the bound's own rounding is no longer controlled: fail safe

    def exact_input(self, value: A) -> Tracked[A]:
        """Treat a float matrix as an exact input."""
        return Tracked(value)

    def asmatrix(self, arr: NDArray[Any] | Any) -> Tracked[A]:
        return Tracked(self.inner.asmatrix(arr))

    def to_numpy(self, a: Tracked[A]) -> Any:
        return self.inner.to_numpy(a.value)

    def zeros(self, rows: int, cols: int) -> Tracked[A]:
        return Tracked(self.inner.zeros(rows, cols))

    def neg(self, a: Tracked[A]) -> Tracked[A]:
        return Tracked(self.inner.neg(a.value), a.bound, a.depth)

    def transpose(self, a: Tracked[A]) -> Tracked[A]:
        t = self.inner.transpose
        return Tracked(t(a.value), None if a.bound is None else t(a.bound), a.depth)

    def shape(self, a: Tracked[A]) -> tuple[int, int]:
        return self.inner.shape(a.value)

    def block(self, a: Tracked[A], rows: slice, cols: slice) -> Tracked[A]:
        blk = self.inner.block
        return Tracked(blk(a.value, rows, cols), None if a.bound is None else blk(a.bound, rows, cols), a.depth)


class RunningErrorBackend(TrackedBackend[A]):
    """Running error analysis: ``bound`` is an entrywise bound on |computed − exact|."""

    def _abs(self, a: A) -> A:
        return abs(a)  # type: ignore[arg-type]

    def _plus(self, a: A | None, b: A | None) -> A | None:
        if a is None:
            return b
        return a if b is None else self.inner.add(a, b)

    def certified_bound(self, t: Tracked[A]) -> A:
        """The bound, inflated for the rounding of its own evaluation; zeros when exact."""
        if t.bound is None:
            return self.inner.scale(t.value, 0)
        if self._uncontrolled(t):
            return self.inner.scale(t.bound, float("inf"))
        return self.inner.scale(t.bound, 1 + 2 * self.gamma(t.depth + 2))

    def matmul(self, a: Tracked[A], b: Tracked[A]) -> Tracked[A]:
        ib = self.inner
        value = ib.matmul(a.value, b.value)
        m = ib.shape(a.value)[1]
        abs_b = self._abs(b.value)
        right = self._plus(ib.scale(abs_b, self.gamma(m)), b.bound)
        assert right is not None
        left = self._abs(a.value) if a.bound is None else ib.add(self._abs(a.value), a.bound)
        bound = ib.matmul(left, right)
        if a.bound is not None:
            bound = ib.add(bound, ib.matmul(a.bound, abs_b))
        return Tracked(value, bound, a.depth + b.depth + m + 4)

    def _sum(self, a: Tracked[A], b: Tracked[A], value: A) -> Tracked[A]:
        local = self.inner.scale(self._abs(value), self.gamma(1))
        bound = self._plus(self._plus(a.bound, b.bound), local)
        return Tracked(value, bound, max(a.depth, b.depth) + 3)

    def add(self, a: Tracked[A], b: Tracked[A]) -> Tracked[A]:
        return self._sum(a, b, self.inner.add(a.value, b.value))

    def sub(self, a: Tracked[A], b: Tracked[A]) -> Tracked[A]:
        return self._sum(a, b, self.inner.sub(a.value, b.value))

    def scale(self, a: Tracked[A], s: Scalar) -> Tracked[A]:
        ib = self.inner
        exact_s = to_fraction(s)
        value = ib.scale(a.value, s)
        if exact_s.denominator & (exact_s.denominator - 1) == 0 and abs(exact_s.numerator) <= 1:
            scaled = None if a.bound is None else ib.scale(a.bound, abs(exact_s))  # ±2^-k or 0: exact
            return Tracked(value, scaled, a.depth + 1)
        local = ib.scale(self._abs(value), self.gamma(2))  # s itself is rounded, then the product
        propagated = None if a.bound is None else ib.scale(a.bound, abs(float(s)) * (1 + self.gamma(1)))
        return Tracked(value, self._plus(propagated, local), a.depth + 3)

    def concat(self, blocks: list[Tracked[A]], axis: Literal[0, 1]) -> Tracked[A]:
        ib = self.inner
        value = ib.concat([b.value for b in blocks], axis)
        if all(b.bound is None for b in blocks):
            return Tracked(value)
        bounds = [b.bound if b.bound is not None else ib.scale(b.value, 0) for b in blocks]
        return Tracked(value, ib.concat(bounds, axis), max(b.depth for b in blocks))

    def hadamard(self, a: Tracked[A], b: Tracked[A]) -> Tracked[A]:
        ib = self.inner
        value = ib.hadamard(a.value, b.value)
        abs_a, abs_b = self._abs(a.value), self._abs(b.value)
        right = self._plus(ib.scale(abs_b, self.gamma(1)), b.bound)
        assert right is not None
        left = abs_a if a.bound is None else ib.add(abs_a, a.bound)
        bound = ib.hadamard(left, right)
        if a.bound is not None:
            bound = ib.add(bound, ib.hadamard(a.bound, abs_b))
        return Tracked(value, bound, a.depth + b.depth + 5)

    def reciprocal(self, a: Tracked[A]) -> Tracked[A]:
        ib = self.inner
        value = ib.reciprocal(a.value)
        local = ib.scale(self._abs(value), self.gamma(1))
        if a.bound is None:
            return Tracked(value, local, a.depth + 2)
        # |1/x − 1/x̂| ≤ e / (|x̂| (|x̂| − e)) when e < |x̂|; otherwise the bound is negative or inf: fails
        abs_a = self._abs(a.value)
        gap = ib.sub(abs_a, ib.scale(a.bound, 1 + self.gamma(a.depth + 2)))
        propagated = ib.hadamard(a.bound, ib.reciprocal(ib.hadamard(abs_a, gap)))
        return Tracked(value, ib.add(propagated, local), a.depth + 6)

    def softmax_shift(self, a: Tracked[A]) -> Tracked[A] | None:
        """The inner backend's shift, as an exact constant (softmax does not depend on its value)."""
        shift = self.inner.softmax_shift(a.value)
        return None if shift is None else Tracked(shift)

    def exp(self, a: Tracked[A]) -> Tracked[A]:
        ib = self.inner
        value = ib.exp(a.value)
        # relative 2 ulp, plus an absolute 2^-1073 for a result that underflows to 0 or a subnormal
        underflow = ib.asmatrix(np.full(ib.shape(value), 2.0**-1073))
        local = ib.add(ib.scale(self._abs(value), 2 * self.gamma(1)), underflow)
        if a.bound is None:
            return Tracked(value, local, a.depth + 2)
        # exp(x̂ + e) − exp(x̂) ≤ exp(x̂)(exp(e) − 1) ≤ exp(x̂) e exp(e)
        growth = ib.hadamard(a.bound, ib.exp(a.bound))
        return Tracked(value, ib.add(ib.hadamard(self._abs(value), growth), local), a.depth + 6)
