"""Forward-mode differentiation over any backend: dual numbers (value, tangent) with the product rule."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Generic, Literal, TypeVar

import numpy as np
from numpy.typing import NDArray

from icrl_verify.arith.base import Backend, Certifies, Scalar

M = TypeVar("M")


@dataclass(frozen=True)
class Dual(Generic[M]):
    """A matrix and its derivative along one direction of parameter space."""

    value: M
    tangent: M


class DualBackend(Backend[Dual[M]]):
    """Forward-mode differentiation over any backend: every operation carries the product rule.

    Over :class:`ExactBackend` the tangents are exact rational directional derivatives. Constants
    enter through ``asmatrix`` with a zero tangent; parameters through :meth:`seed`.
    """

    def __init__(self, inner: Backend[M]) -> None:
        self.inner = inner
        self.name = f"dual-{inner.name}"
        self.certifies: Certifies = inner.certifies
        self.batched = inner.batched

    def seed(self, value: Any, direction: Any) -> Dual[M]:
        """A parameter with value ``value`` moving along ``direction``."""
        return Dual(self.inner.asmatrix(value), self.inner.asmatrix(direction))

    def _constant(self, value: M) -> Dual[M]:
        return Dual(value, self.inner.scale(value, 0))

    def asmatrix(self, arr: Any) -> Dual[M]:
        return arr if isinstance(arr, Dual) else self._constant(self.inner.asmatrix(arr))

    def to_numpy(self, a: Dual[M]) -> NDArray[np.float64]:
        return self.inner.to_numpy(a.value)

    def zeros(self, rows: int, cols: int) -> Dual[M]:
        return self._constant(self.inner.zeros(rows, cols))

    def matmul(self, a: Dual[M], b: Dual[M]) -> Dual[M]:
        ib = self.inner
        return Dual(ib.matmul(a.value, b.value), ib.add(ib.matmul(a.tangent, b.value), ib.matmul(a.value, b.tangent)))

    def add(self, a: Dual[M], b: Dual[M]) -> Dual[M]:
        return Dual(self.inner.add(a.value, b.value), self.inner.add(a.tangent, b.tangent))

    def sub(self, a: Dual[M], b: Dual[M]) -> Dual[M]:
        return Dual(self.inner.sub(a.value, b.value), self.inner.sub(a.tangent, b.tangent))

    def scale(self, a: Dual[M], s: Scalar) -> Dual[M]:
        return Dual(self.inner.scale(a.value, s), self.inner.scale(a.tangent, s))

    def neg(self, a: Dual[M]) -> Dual[M]:
        return Dual(self.inner.neg(a.value), self.inner.neg(a.tangent))

    def transpose(self, a: Dual[M]) -> Dual[M]:
        return Dual(self.inner.transpose(a.value), self.inner.transpose(a.tangent))

    def shape(self, a: Dual[M]) -> tuple[int, int]:
        return self.inner.shape(a.value)

    def block(self, a: Dual[M], rows: slice, cols: slice) -> Dual[M]:
        return Dual(self.inner.block(a.value, rows, cols), self.inner.block(a.tangent, rows, cols))

    def concat(self, blocks: list[Dual[M]], axis: Literal[0, 1]) -> Dual[M]:
        ib = self.inner
        return Dual(ib.concat([b.value for b in blocks], axis), ib.concat([b.tangent for b in blocks], axis))

    def hadamard(self, a: Dual[M], b: Dual[M]) -> Dual[M]:
        ib = self.inner
        return Dual(
            ib.hadamard(a.value, b.value), ib.add(ib.hadamard(a.tangent, b.value), ib.hadamard(a.value, b.tangent))
        )

    def reciprocal(self, a: Dual[M]) -> Dual[M]:
        ib = self.inner
        inv = ib.reciprocal(a.value)
        return Dual(inv, ib.neg(ib.hadamard(a.tangent, ib.hadamard(inv, inv))))

    def exp(self, a: Dual[M]) -> Dual[M]:
        e = self.inner.exp(a.value)
        return Dual(e, self.inner.hadamard(e, a.tangent))

    def softmax_shift(self, a: Dual[M]) -> Dual[M] | None:
        """The inner backend's shift, as a constant (softmax does not depend on its value)."""
        shift = self.inner.softmax_shift(a.value)
        return None if shift is None else self._constant(shift)
