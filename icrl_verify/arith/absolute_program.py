"""A priori rounding bounds for polynomial programs: the same program run on absolute values.

For a straight-line program of +, −, × and scalings on exact inputs, the model with gradual underflow
fl(a × b) = ab(1 + δ) + η, fl(a ± b) = (a ± b)(1 + δ), |δ| ≤ u, |η| ≤ η₀ = uλ (λ the smallest normal)
makes the computed result x̂ = Σ_t c_t Π(inputs) Π(η's) Π_{k ≤ N}(1 + δ_k): a polynomial in the inputs
and in one new variable per product that may underflow, each term carrying at most N rounding
factors. Let x_abs be the same program evaluated on |inputs|, every subtraction turned into an
addition and λ added for every such η (mλ for an inner product of length m). The terms without η give
the exact result x, each term with η is at most u(1 + u)^N ≤ γ_N times its share of x_abs, so
|x̂ − x| ≤ γ_N · x_abs with γ_N = N u / (1 − N u) (Higham, *Accuracy and Stability of Numerical
Algorithms*, §2.1, §3.1, §3.5). N counts roundings along the worst path: an inner product of length m
adds m in any summation order (with or without FMA), a sum 1, an inexact scaling 2, a scaling by 2^-k
none (it may only underflow, so N ≥ 1 afterwards), and through a product the counts of both factors add.

Each matrix here is a ``Tracked(value, x_abs, depth, order=N)``. x_abs is itself computed in floating
point from non-negative numbers; the λ added after each product also absorbs that product's own
underflow, so the computed x_abs is at least (1 − u)^depth times the true one, with ``depth`` one more
than N per product. :meth:`AbsoluteProgramBackend.certified_bound` returns γ_N · x_abs ·
(1 + 2γ_{depth+6}) + σ. This costs one extra evaluation of the program on magnitudes (about twice the
plain program), a third of the running error analysis of :mod:`icrl_verify.arith.running_error`, which
is kept for exp and 1/x (softmax), where no such polynomial bound exists.
"""

from __future__ import annotations

from typing import Any, Literal, TypeVar

from icrl_verify.arith.base import Scalar
from icrl_verify.arith.running_error import Tracked, TrackedBackend, scale_kind

A = TypeVar("A")


class AbsoluteProgramBackend(TrackedBackend[A]):
    """The absolute-program bound: ``bound`` holds x_abs, the program on magnitudes (None: exact)."""

    def _magnitude(self, t: Tracked[A]) -> A:
        return abs(t.value) if t.bound is None else t.bound  # type: ignore[arg-type]

    def certified_bound(self, t: Tracked[A]) -> A:
        """γ_N · x_abs, inflated for the rounding of x_abs itself; zeros when exact."""
        if t.bound is None or t.order == 0:
            return self.inner.scale(t.value, 0)
        if self._uncontrolled(t):
            return self.inner.scale(t.bound, float("inf"))
        return self._inflate(t.bound, t.depth, self.gamma(t.order))

    def matmul(self, a: Tracked[A], b: Tracked[A]) -> Tracked[A]:
        ib = self.inner
        m = ib.shape(a.value)[1]
        magnitude = self._shift(ib.matmul(self._magnitude(a), self._magnitude(b)), m * self.normal)
        return Tracked(ib.matmul(a.value, b.value), magnitude, a.depth + b.depth + m + 1, a.order + b.order + m)

    def _sum(self, a: Tracked[A], b: Tracked[A], value: A) -> Tracked[A]:
        magnitude = self.inner.add(self._magnitude(a), self._magnitude(b))
        return Tracked(value, magnitude, max(a.depth, b.depth) + 1, max(a.order, b.order) + 1)

    def add(self, a: Tracked[A], b: Tracked[A]) -> Tracked[A]:
        return self._sum(a, b, self.inner.add(a.value, b.value))

    def sub(self, a: Tracked[A], b: Tracked[A]) -> Tracked[A]:
        return self._sum(a, b, self.inner.sub(a.value, b.value))

    def scale(self, a: Tracked[A], s: Scalar) -> Tracked[A]:
        value = self.inner.scale(a.value, s)
        kind = scale_kind(s)
        if kind == "zero":
            return Tracked(value)
        if kind == "unit":
            return Tracked(value, a.bound, a.depth, a.order)
        magnitude = self._shift(self.inner.scale(self._magnitude(a), abs(float(s))), self.normal)
        if kind == "power":  # ±2^-k scales exactly unless the result underflows (one η, no δ)
            return Tracked(value, magnitude, max(a.depth, 1) + 1, max(a.order, 1))
        # fl(s) and the product round once each
        return Tracked(value, magnitude, a.depth + 3, a.order + 2)

    def concat(self, blocks: list[Tracked[A]], axis: Literal[0, 1]) -> Tracked[A]:
        value = self.inner.concat([b.value for b in blocks], axis)
        if all(b.bound is None for b in blocks):
            return Tracked(value)
        magnitudes = self.inner.concat([self._magnitude(b) for b in blocks], axis)
        return Tracked(value, magnitudes, max(b.depth for b in blocks), max(b.order for b in blocks))

    def hadamard(self, a: Tracked[A], b: Tracked[A]) -> Tracked[A]:
        magnitude = self._shift(self.inner.hadamard(self._magnitude(a), self._magnitude(b)), self.normal)
        value = self.inner.hadamard(a.value, b.value)
        return Tracked(value, magnitude, a.depth + b.depth + 2, a.order + b.order + 1)

    def reciprocal(self, a: Tracked[A]) -> Tracked[A]:
        raise ValueError("the absolute-program bound covers polynomial programs only: use RunningErrorBackend")

    def exp(self, a: Tracked[A]) -> Tracked[A]:
        raise ValueError("the absolute-program bound covers polynomial programs only: use RunningErrorBackend")


BoundBackend = TrackedBackend[Any]
"""A float backend whose matrices carry certified rounding-error bounds."""
