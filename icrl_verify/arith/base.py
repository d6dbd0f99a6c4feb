"""The small matrix interface every layer and reference algorithm is written against, once."""

from __future__ import annotations

from abc import ABC, abstractmethod
from fractions import Fraction
from typing import Any, Generic, Literal, TypeVar

import numpy as np
from numpy.typing import NDArray

M = TypeVar("M")
Scalar = int | float | Fraction
Certifies = Literal["exact", "ball", "ladder", "bound"]


class Backend(ABC, Generic[M]):
    """Matrix arithmetic over one number type.

    Batched backends (float64, torch) accept a leading batch axis on any operand; shapes,
    blocks and concatenations always refer to the last two axes, and (r, c) operands broadcast
    against (B, r, c) ones. ``certifies`` says what a passing comparison on this backend means
    (see ``icrl_verify.certify`` and ``docs/precision.md``).
    """

    name: str
    certifies: Certifies
    batched: bool = False

    @abstractmethod
    def asmatrix(self, arr: NDArray[Any]) -> M:
        """Convert a numpy array (float64, or objects holding int/Fraction) to a backend matrix."""

    @abstractmethod
    def to_numpy(self, a: M) -> NDArray[np.float64]:
        """Nearest float64 array (for reports and plots, never for certification)."""

    @abstractmethod
    def zeros(self, rows: int, cols: int) -> M:
        """The rows × cols zero matrix."""

    @abstractmethod
    def matmul(self, a: M, b: M) -> M:
        """Matrix product a · b."""

    @abstractmethod
    def add(self, a: M, b: M) -> M:
        """Entrywise sum."""

    @abstractmethod
    def sub(self, a: M, b: M) -> M:
        """Entrywise difference."""

    @abstractmethod
    def scale(self, a: M, s: Scalar) -> M:
        """Multiply by a scalar (a Fraction is converted exactly where the backend can)."""

    @abstractmethod
    def transpose(self, a: M) -> M:
        """Transpose of the last two axes."""

    @abstractmethod
    def shape(self, a: M) -> tuple[int, int]:
        """(rows, cols) of the last two axes."""

    @abstractmethod
    def block(self, a: M, rows: slice, cols: slice) -> M:
        """Sub-matrix a[rows, cols] (contiguous slices)."""

    @abstractmethod
    def concat(self, blocks: list[M], axis: Literal[0, 1]) -> M:
        """Stack matrices vertically (axis 0) or horizontally (axis 1)."""

    @abstractmethod
    def hadamard(self, a: M, b: M) -> M:
        """Entrywise product."""

    @abstractmethod
    def reciprocal(self, a: M) -> M:
        """Entrywise 1/a."""

    def exp(self, a: M) -> M:
        """Entrywise exponential; exact rationals cannot represent it."""
        raise ValueError(f"backend {self.name!r} cannot represent exp (the result is irrational)")

    def neg(self, a: M) -> M:
        """Entrywise negation (exact in every arithmetic)."""
        return self.scale(a, -1)

    def eye(self, n: int) -> M:
        """The n × n identity."""
        return self.asmatrix(np.eye(n))

    def colsum(self, a: M) -> M:
        """1 × c row of column sums."""
        rows, _ = self.shape(a)
        return self.matmul(self.asmatrix(np.ones((1, rows))), a)

    def softmax_shift(self, a: M) -> M | None:
        """Per-column shifts c_j for a stable softmax over the rows of ``a``, broadcast to a's shape
        (entry [i, j] is c_j), or None when this backend needs none.

        Softmax is invariant under the shift, so c is a constant of the computation, not a rounded
        result: any value gives the same exact softmax. Backends with unbounded exponent range
        (exact, ball, mpmath) return None; float backends return the column maximum, so the largest
        exponential is exp(0) = 1 and none overflows.
        """
        return None


def to_fraction(x: Any) -> Fraction:
    """Exact rational value of an int, Fraction or finite float (every float is a dyadic rational)."""
    if isinstance(x, Fraction):
        return x
    if isinstance(x, (int, np.integer)):
        return Fraction(int(x))
    return Fraction(float(x))
