"""A priori rounding bounds for polynomial programs: the same program run on absolute values.

For a straight-line program of +, −, × and scalings on exact inputs, the computed result is
x̂ = Σ_m c_m Π_{k ≤ N}(1 + δ_k) over the monomials c_m of the exact result x, each carrying at most N
rounding factors |δ_k| ≤ u, so |x̂ − x| ≤ γ_N · x_abs with γ_N = N u / (1 − N u) and x_abs the same
program evaluated on |inputs| with every subtraction turned into an addition (Higham, *Accuracy and
Stability of Numerical Algorithms*, §3.1 and §3.5). N counts roundings along the worst path: an
inner product of length m adds m in any summation order (with or without FMA), a sum or an inexact
scaling adds 1, and through a product the counts of both factors add.

Each matrix here is a ``Tracked(value, magnitude, depth)``; the magnitude x_abs is itself computed in
floating point from non-negative numbers, so it is under-estimated by at most (1 − u)^depth and
:meth:`AbsoluteProgramBackend.certified_bound` returns γ_N · x_abs · (1 + 2γ_{N+2}). This costs one
extra evaluation of the program on magnitudes (about twice the plain program), a third of the running
error analysis of :mod:`icrl_verify.arith.running_error`, which is kept for exp and 1/x (softmax),
where no such polynomial bound exists.
"""

from __future__ import annotations

from typing import Any, Literal, TypeVar

from icrl_verify.arith.base import Scalar, to_fraction
from icrl_verify.arith.running_error import Tracked, TrackedBackend

A = TypeVar("A")


class AbsoluteProgramBackend(TrackedBackend[A]):
    """The absolute-program bound: ``bound`` holds x_abs, the program on magnitudes (None: exact)."""

    def _magnitude(self, t: Tracked[A]) -> A:
        return abs(t.value) if t.bound is None else t.bound  # type: ignore[arg-type]

    def certified_bound(self, t: Tracked[A]) -> A:
        """γ_N · x_abs, inflated for the rounding of x_abs itself; zeros when exact."""
        if t.bound is None or t.depth == 0:
            return self.inner.scale(t.value, 0)
        if self._uncontrolled(t):
            return self.inner.scale(t.bound, float("inf"))
        return self.inner.scale(t.bound, self.gamma(t.depth) * (1 + 2 * self.gamma(t.depth + 2)))

    def matmul(self, a: Tracked[A], b: Tracked[A]) -> Tracked[A]:
        ib = self.inner
        m = ib.shape(a.value)[1]
        magnitude = ib.matmul(self._magnitude(a), self._magnitude(b))
        return Tracked(ib.matmul(a.value, b.value), magnitude, a.depth + b.depth + m)

    def _sum(self, a: Tracked[A], b: Tracked[A], value: A) -> Tracked[A]:
        magnitude = self.inner.add(self._magnitude(a), self._magnitude(b))
        return Tracked(value, magnitude, max(a.depth, b.depth) + 1)

    def add(self, a: Tracked[A], b: Tracked[A]) -> Tracked[A]:
        return self._sum(a, b, self.inner.add(a.value, b.value))

    def sub(self, a: Tracked[A], b: Tracked[A]) -> Tracked[A]:
        return self._sum(a, b, self.inner.sub(a.value, b.value))

    def scale(self, a: Tracked[A], s: Scalar) -> Tracked[A]:
        exact_s = to_fraction(s)
        value = self.inner.scale(a.value, s)
        magnitude = self.inner.scale(self._magnitude(a), abs(float(s)))
        power_of_two = exact_s.denominator & (exact_s.denominator - 1) == 0 and abs(exact_s.numerator) <= 1
        # ±2^-k scales exactly; otherwise fl(s) and the product round once each
        return Tracked(value, magnitude, a.depth + (0 if power_of_two else 2))

    def concat(self, blocks: list[Tracked[A]], axis: Literal[0, 1]) -> Tracked[A]:
        value = self.inner.concat([b.value for b in blocks], axis)
        if all(b.bound is None for b in blocks):
            return Tracked(value)
        magnitudes = self.inner.concat([self._magnitude(b) for b in blocks], axis)
        return Tracked(value, magnitudes, max(b.depth for b in blocks))

    def hadamard(self, a: Tracked[A], b: Tracked[A]) -> Tracked[A]:
        magnitude = self.inner.hadamard(self._magnitude(a), self._magnitude(b))
        return Tracked(self.inner.hadamard(a.value, b.value), magnitude, a.depth + b.depth + 1)

    def reciprocal(self, a: Tracked[A]) -> Tracked[A]:
        raise ValueError("the absolute-program bound covers polynomial programs only: use RunningErrorBackend")

    def exp(self, a: Tracked[A]) -> Tracked[A]:
        raise ValueError("the absolute-program bound covers polynomial programs only: use RunningErrorBackend")


BoundBackend = TrackedBackend[Any]
"""A float backend whose matrices carry certified rounding-error bounds."""
