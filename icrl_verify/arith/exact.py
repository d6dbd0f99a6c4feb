"""Exact rational backend on python-flint ``fmpq_mat``: a pass means the two sides are equal."""

from __future__ import annotations

from fractions import Fraction
from typing import Any, Literal

import numpy as np
from flint import fmpq, fmpq_mat
from numpy.typing import NDArray

from icrl_verify.arith.base import Backend, Certifies, Scalar, to_fraction


def to_fmpq(x: Any) -> fmpq:
    """Exact conversion of an int, Fraction or float to ``fmpq``."""
    if isinstance(x, Fraction):
        return fmpq(x.numerator, x.denominator)
    if isinstance(x, int):
        return fmpq(x)
    f = to_fraction(x)
    return fmpq(f.numerator, f.denominator)


class ExactBackend(Backend[fmpq_mat]):
    """Rational matrices; floats are converted exactly (as dyadic rationals)."""

    name = "exact"
    certifies: Certifies = "exact"

    def asmatrix(self, arr: NDArray[Any]) -> fmpq_mat:
        a = np.asarray(arr, dtype=object)
        if a.ndim != 2:
            raise ValueError(f"exact backend: expected a 2-D array, got shape {a.shape}")
        return fmpq_mat(a.shape[0], a.shape[1], [to_fmpq(v) for v in a.flat])

    def to_numpy(self, a: fmpq_mat) -> NDArray[np.float64]:
        return np.array([[float(a[i, j].p) / float(a[i, j].q) for j in range(a.ncols())] for i in range(a.nrows())])

    def zeros(self, rows: int, cols: int) -> fmpq_mat:
        return fmpq_mat(rows, cols)

    def matmul(self, a: fmpq_mat, b: fmpq_mat) -> fmpq_mat:
        return a * b

    def add(self, a: fmpq_mat, b: fmpq_mat) -> fmpq_mat:
        return a + b

    def sub(self, a: fmpq_mat, b: fmpq_mat) -> fmpq_mat:
        return a - b

    def scale(self, a: fmpq_mat, s: Scalar) -> fmpq_mat:
        return a * to_fmpq(s)

    def transpose(self, a: fmpq_mat) -> fmpq_mat:
        return a.transpose()

    def shape(self, a: fmpq_mat) -> tuple[int, int]:
        return a.nrows(), a.ncols()

    def block(self, a: fmpq_mat, rows: slice, cols: slice) -> fmpq_mat:
        r = range(*rows.indices(a.nrows()))
        c = range(*cols.indices(a.ncols()))
        return fmpq_mat(len(r), len(c), [a[i, j] for i in r for j in c])

    def concat(self, blocks: list[fmpq_mat], axis: Literal[0, 1]) -> fmpq_mat:
        if axis == 0:
            cols = blocks[0].ncols()
            entries = [b[i, j] for b in blocks for i in range(b.nrows()) for j in range(cols)]
            return fmpq_mat(sum(b.nrows() for b in blocks), cols, entries)
        return self.transpose(self.concat([b.transpose() for b in blocks], 0))

    def hadamard(self, a: fmpq_mat, b: fmpq_mat) -> fmpq_mat:
        rows, cols = a.nrows(), a.ncols()
        return fmpq_mat(rows, cols, [a[i, j] * b[i, j] for i in range(rows) for j in range(cols)])

    def reciprocal(self, a: fmpq_mat) -> fmpq_mat:
        rows, cols = a.nrows(), a.ncols()
        return fmpq_mat(rows, cols, [1 / a[i, j] for i in range(rows) for j in range(cols)])

    def neg(self, a: fmpq_mat) -> fmpq_mat:
        return -a
