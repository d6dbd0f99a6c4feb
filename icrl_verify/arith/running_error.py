"""Running error analysis: a float backend whose matrices carry a rigorous bound on their rounding error.

Each value is a triple (computed, bound, depth) with |computed − exact| ≤ bound entrywise, exact
meaning the same program in real arithmetic on the same inputs (inputs are exact: they are the
numbers a check is about). The model is the standard one with gradual underflow (Higham, *Accuracy and
Stability of Numerical Algorithms*, §2.1–2.2, §3.1): fl(a ∘ b) = (a ∘ b)(1 + δ) + η with |δ| ≤ u and
|η| ≤ η₀ = 2^-1075 (half the smallest subnormal) for a product, a quotient or an FMA, while a sum or
difference is exact when its result is subnormal, so fl(a ± b) = (a ± b)(1 + δ). An inner product of
length m then has error ≤ γ_m (Σ|a_k||b_k| + mλ), γ_m = m u / (1 − m u), λ = η₀/u the smallest normal,
in any summation order. Propagated errors use the exact product rule |AB − ÂB̂| ≤ |Â| E_B + E_A |B̂| +
E_A E_B; docs/precision.md states every rule and derives it.

Bounds are sums and products of non-negative numbers evaluated in the same floating point. Every
rounding there loses at most a factor (1 − u) and every product at most η₀ more; each rule adds a
small multiple of the smallest subnormal σ = 2η₀ that covers its underflow terms, so the computed bound
is at least (1 − u)^k times the true one, ``depth`` counts k (through a product the counts of both
factors add), and :meth:`TrackedBackend.certified_bound` inflates by (1 + 2γ_{k+6}) once, at the
comparison. exp relies on the libm exp being within 2 ulp (docs/precision.md). Overflow is not
modelled: a non-finite value or bound makes a comparison fail, and the verdict says so.
"""

from __future__ import annotations

from abc import abstractmethod
from dataclasses import dataclass
from typing import Any, Generic, Literal, TypeVar

import numpy as np
from numpy.typing import NDArray

from icrl_verify.arith.base import Backend, Certifies, Scalar, to_fraction

A = TypeVar("A")

FLOAT64_SUBNORMAL = 2.0**-1074
"""σ of binary64, the smallest subnormal; η₀ = σ/2 = 2^-1075 (not representable) is the largest absolute
error of a product whose result is subnormal (round to nearest)."""


@dataclass(frozen=True)
class Tracked(Generic[A]):
    """A computed matrix, an entrywise bound (None: known exact), the number of roundings in the bound's
    own evaluation (``depth``) and, for the absolute program only, the rounding count N of the value."""

    value: A
    bound: A | None = None
    depth: int = 0
    order: int = 0


def _floor_to_inf(x: Any, below: Any, floor: float) -> Any:
    """x where below ≥ floor, +inf elsewhere (also where ``below`` is NaN): a fail-safe."""
    if isinstance(x, np.ndarray):
        return np.where(below >= floor, x, np.inf)
    return x.where(below >= floor, float("inf"))


class TrackedBackend(Backend[Tracked[A]]):
    """A batched float backend (float64 numpy or torch) whose matrices carry a certified rounding bound.

    Subclasses define how bounds propagate and :meth:`certified_bound`; the structural operations
    (shape, blocks, transposes, negation) move values and bounds together and are shared here.
    ``subnormal`` is σ, the smallest subnormal of the arithmetic (2^-1074 in binary64); a product that
    underflows is off by at most η₀ = σ/2. Passing 0 drops every underflow term (tests use it to show
    that they are needed).
    """

    certifies: Certifies = "bound"
    batched = True

    def __init__(self, inner: Backend[A], unit_roundoff: float, subnormal: float = FLOAT64_SUBNORMAL) -> None:
        self.inner = inner
        self.u = unit_roundoff
        self.subnormal = subnormal  # σ = 2η₀
        self.normal = subnormal / (2 * unit_roundoff)  # λ = η₀/u, the smallest normal
        self.name = inner.name

    def gamma(self, m: int) -> float:
        """γ_m = m u / (1 − m u)."""
        if m * self.u >= 0.5:
            raise ValueError(f"rounding depth {m} too large for a meaningful bound")
        return m * self.u / (1 - m * self.u)

    def pad(self, count: int) -> float:
        """The smallest multiple of σ that is at least ``count``·η₀ (exactly representable)."""
        return (count + 1) // 2 * self.subnormal

    def _shift(self, x: A, c: float) -> A:
        """x + c, in place: every caller passes a matrix it has just computed."""
        if isinstance(x, np.ndarray):
            return np.add(x, c, out=x)  # type: ignore[return-value]
        return x.add_(c)  # type: ignore[attr-defined,no-any-return]

    def _inflate(self, bound: A, depth: int, factor: float) -> A:
        """fl(fl(bound · factor·(1 + 2γ_{depth+6})) + σ) ≥ factor · (the bound before its own rounding)."""
        return self._shift(self.inner.scale(bound, factor * (1 + 2 * self.gamma(depth + 6))), self.subnormal)

    @abstractmethod
    def certified_bound(self, t: Tracked[A]) -> A:
        """An entrywise bound on |t.value − exact| that accounts for its own rounding."""

    def _uncontrolled(self, t: Tracked[A]) -> bool:
        return (t.depth + 6) * self.u >= 0.5  # the bound's own rounding is no longer controlled: fail safe

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
        return Tracked(self.inner.neg(a.value), a.bound, a.depth, a.order)

    def transpose(self, a: Tracked[A]) -> Tracked[A]:
        t = self.inner.transpose
        return Tracked(t(a.value), None if a.bound is None else t(a.bound), a.depth, a.order)

    def shape(self, a: Tracked[A]) -> tuple[int, int]:
        return self.inner.shape(a.value)

    def block(self, a: Tracked[A], rows: slice, cols: slice) -> Tracked[A]:
        blk = self.inner.block
        bound = None if a.bound is None else blk(a.bound, rows, cols)
        return Tracked(blk(a.value, rows, cols), bound, a.depth, a.order)


def scale_kind(s: Scalar) -> Literal["zero", "unit", "power", "inexact"]:
    """How a scaling by s rounds: 0 and ±1 are exact, ±2^-k (k ≥ 1) only underflows, any other s rounds."""
    exact_s = to_fraction(s)
    if exact_s == 0:
        return "zero"
    if abs(exact_s) == 1:
        return "unit"
    if exact_s.denominator.bit_count() == 1 and abs(exact_s.numerator) == 1:
        return "power"
    return "inexact"


class RunningErrorBackend(TrackedBackend[A]):
    """Running error analysis: ``bound`` is an entrywise bound on |computed − exact|."""

    def _abs(self, a: A) -> A:
        return abs(a)  # type: ignore[arg-type]

    def _plus(self, a: A | None, b: A | None) -> A | None:
        if a is None:
            return b
        return a if b is None else self.inner.add(a, b)

    def _local(self, value: A, g: float) -> A:
        """fl(fl(g·|value|) + σ) ≥ (1 − u)^4 · γ|value| when g = fl(γ): the σ absorbs the product's underflow."""
        return self._shift(self.inner.scale(self._abs(value), g), self.subnormal)

    def certified_bound(self, t: Tracked[A]) -> A:
        """The bound, inflated for the rounding of its own evaluation; zeros when exact."""
        if t.bound is None:
            return self.inner.scale(t.value, 0)
        if self._uncontrolled(t):
            return self.inner.scale(t.bound, float("inf"))
        return self._inflate(t.bound, t.depth, 1.0)

    def matmul(self, a: Tracked[A], b: Tracked[A]) -> Tracked[A]:
        ib = self.inner
        value = ib.matmul(a.value, b.value)
        m = ib.shape(a.value)[1]
        abs_b = self._abs(b.value)
        right = self._plus(self._local(b.value, self.gamma(m)), b.bound)
        assert right is not None
        left = self._abs(a.value) if a.bound is None else ib.add(self._abs(a.value), a.bound)
        bound = ib.matmul(left, right)
        if a.bound is not None:
            bound = ib.add(bound, ib.matmul(a.bound, abs_b))
        # γ_m·mλ of the products' underflows, plus mη₀ lost by each of the two products of bounds
        bound = self._shift(bound, self.pad(2 * m * m + 2 * m))
        return Tracked(value, bound, a.depth + b.depth + m + 8)

    def _sum(self, a: Tracked[A], b: Tracked[A], value: A) -> Tracked[A]:
        bound = self._plus(self._plus(a.bound, b.bound), self._local(value, self.gamma(1)))
        return Tracked(value, bound, max(a.depth, b.depth, 3) + 2)

    def add(self, a: Tracked[A], b: Tracked[A]) -> Tracked[A]:
        return self._sum(a, b, self.inner.add(a.value, b.value))

    def sub(self, a: Tracked[A], b: Tracked[A]) -> Tracked[A]:
        return self._sum(a, b, self.inner.sub(a.value, b.value))

    def scale(self, a: Tracked[A], s: Scalar) -> Tracked[A]:
        ib = self.inner
        value = ib.scale(a.value, s)
        kind = scale_kind(s)
        if kind == "zero":
            return Tracked(value)
        if kind == "unit":
            return Tracked(value, a.bound, a.depth)
        factor = abs(float(s))
        if kind == "power":  # exact unless the result underflows: one η₀
            scaled = ib.scale(a.value, 0) if a.bound is None else ib.scale(a.bound, factor)
            return Tracked(value, self._shift(scaled, self.subnormal), a.depth + 1)
        # fl(s) and the product round: |s|(1 + γ_1)E + γ_2|result| + 2η₀, and 2η₀ lost evaluating it
        local = ib.scale(self._abs(value), self.gamma(2))
        bound = local if a.bound is None else ib.add(ib.scale(a.bound, factor * (1 + self.gamma(1))), local)
        return Tracked(value, self._shift(bound, self.pad(4)), a.depth + 7)

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
        right = self._plus(self._local(b.value, self.gamma(1)), b.bound)
        assert right is not None
        left = abs_a if a.bound is None else ib.add(abs_a, a.bound)
        bound = ib.hadamard(left, right)
        if a.bound is not None:
            bound = ib.add(bound, ib.hadamard(a.bound, abs_b))
        # η₀ of the product's underflow, plus η₀ lost by each of the two products of bounds
        return Tracked(value, self._shift(bound, self.pad(3)), a.depth + b.depth + 9)

    def reciprocal(self, a: Tracked[A]) -> Tracked[A]:
        ib = self.inner
        value = ib.reciprocal(a.value)
        local = ib.scale(self._abs(value), self.gamma(1))  # γ_1|1/x̂| + 2η₀ (1/x̂ may underflow)
        if a.bound is None:
            return Tracked(value, self._shift(local, self.pad(3)), 4)
        # |1/x − 1/x̂| ≤ E / (|x̂| (|x̂| − E)) when E < |x̂|; a denominator below λ (or E ≥ |x̂|) gives inf
        err = self.certified_bound(a)
        abs_a = self._abs(a.value)
        den = ib.hadamard(abs_a, ib.sub(abs_a, err))
        inverse = self._shift(_floor_to_inf(ib.reciprocal(den), den, self.normal), self.subnormal)
        propagated = ib.hadamard(err, inverse)
        return Tracked(value, self._shift(ib.add(propagated, local), self.pad(4)), 8)

    def softmax_shift(self, a: Tracked[A]) -> Tracked[A] | None:
        """The inner backend's shift, as an exact constant (softmax does not depend on its value)."""
        shift = self.inner.softmax_shift(a.value)
        return None if shift is None else Tracked(shift)

    def exp(self, a: Tracked[A]) -> Tracked[A]:
        ib = self.inner
        value = ib.exp(a.value)
        # libm within 2 ulp: |exp(x̂) − fl| ≤ γ_4|fl| + 5η₀ (2 ulp is 4u relative, or 2σ when subnormal)
        local = self._shift(ib.scale(self._abs(value), self.gamma(4)), self.pad(6))
        if a.bound is None:
            return Tracked(value, local, 4)
        # |exp(x̂ + e) − exp(x̂)| ≤ exp(x̂)(exp(E) − 1) ≤ exp(x̂) E exp(E), and exp(x̂) ≤ |fl| + local
        err = self.certified_bound(a)
        growth = self._shift(ib.hadamard(err, ib.exp(err)), self.subnormal)
        propagated = ib.hadamard(ib.add(self._abs(value), local), growth)
        return Tracked(value, self._shift(ib.add(propagated, local), self.subnormal), 14)
