"""High-precision backend: the one typed wrapper around mpmath (which ships no type information)."""

from __future__ import annotations

from typing import Any, Literal

import mpmath
import numpy as np
from numpy.typing import NDArray

from icrl_verify.arith.base import Backend, Certifies, Scalar, to_fraction

MpMatrix = Any  # mpmath.matrix; mpmath has no stubs, so the type is opaque here and nowhere else


class MpmathBackend(Backend[MpMatrix]):
    """mpmath matrices at ``dps`` decimal digits; a pass is an error that falls like 10^(−dps)."""

    certifies: Certifies = "ladder"

    def __init__(self, dps: int = 30) -> None:
        if not isinstance(dps, int) or dps < 15:
            raise ValueError(f"dps: expected an integer number of digits >= 15, got {dps!r}")
        self.dps = dps
        self.name = f"mpmath-{dps}"

    def _ctx(self) -> Any:
        return mpmath.workdps(self.dps)

    def _mpf(self, x: Any) -> Any:
        f = to_fraction(x)
        return mpmath.mpf(f.numerator) / f.denominator

    def asmatrix(self, arr: NDArray[Any]) -> MpMatrix:
        a = np.asarray(arr, dtype=object)
        if a.ndim != 2:
            raise ValueError(f"mpmath backend: expected a 2-D array, got shape {a.shape}")
        with self._ctx():
            m = mpmath.matrix(a.shape[0], a.shape[1])
            for (i, j), v in np.ndenumerate(a):
                m[i, j] = self._mpf(v)
            return m

    def to_numpy(self, a: MpMatrix) -> NDArray[np.float64]:
        return np.array([[float(a[i, j]) for j in range(a.cols)] for i in range(a.rows)])

    def zeros(self, rows: int, cols: int) -> MpMatrix:
        with self._ctx():
            return mpmath.matrix(rows, cols)

    def matmul(self, a: MpMatrix, b: MpMatrix) -> MpMatrix:
        with self._ctx():
            return a * b

    def add(self, a: MpMatrix, b: MpMatrix) -> MpMatrix:
        with self._ctx():
            return a + b

    def sub(self, a: MpMatrix, b: MpMatrix) -> MpMatrix:
        with self._ctx():
            return a - b

    def scale(self, a: MpMatrix, s: Scalar) -> MpMatrix:
        with self._ctx():
            return a * self._mpf(s)

    def transpose(self, a: MpMatrix) -> MpMatrix:
        with self._ctx():
            return a.T

    def shape(self, a: MpMatrix) -> tuple[int, int]:
        return int(a.rows), int(a.cols)

    def _build(self, rows: int, cols: int, entry: Any) -> MpMatrix:
        with self._ctx():
            m = mpmath.matrix(rows, cols)
            for i in range(rows):
                for j in range(cols):
                    m[i, j] = entry(i, j)
        return m

    def block(self, a: MpMatrix, rows: slice, cols: slice) -> MpMatrix:
        r = range(*rows.indices(a.rows))
        c = range(*cols.indices(a.cols))
        return self._build(len(r), len(c), lambda i, j: a[r[i], c[j]])

    def concat(self, blocks: list[MpMatrix], axis: Literal[0, 1]) -> MpMatrix:
        if axis == 1:
            return self.transpose(self.concat([b.T for b in blocks], 0))
        owners = [(b, i) for b in blocks for i in range(b.rows)]
        return self._build(len(owners), blocks[0].cols, lambda i, j: owners[i][0][owners[i][1], j])

    def hadamard(self, a: MpMatrix, b: MpMatrix) -> MpMatrix:
        return self._build(a.rows, a.cols, lambda i, j: a[i, j] * b[i, j])  # _build holds the precision

    def reciprocal(self, a: MpMatrix) -> MpMatrix:
        return self._build(a.rows, a.cols, lambda i, j: 1 / a[i, j])

    def exp(self, a: MpMatrix) -> MpMatrix:
        return self._build(a.rows, a.cols, lambda i, j: mpmath.exp(a[i, j]))

    def neg(self, a: MpMatrix) -> MpMatrix:
        with self._ctx():
            return -a


def log10_max_abs(a: MpMatrix, dps: int) -> float:
    """log10 of the largest |entry| (−inf when all entries are zero); safe far below float range."""
    with mpmath.workdps(dps):
        m = max((abs(a[i, j]) for i in range(a.rows) for j in range(a.cols)), default=mpmath.mpf(0))
        return float("-inf") if m == 0 else float(mpmath.log10(m))
