"""Rigorous ball backend on python-flint ``arb_mat``: every result is a ball guaranteed to hold the true value."""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
from flint import arb, arb_mat, ctx, fmpq_mat
from numpy.typing import NDArray

from icrl_verify.arith.base import Backend, Certifies, Scalar
from icrl_verify.arith.exact import ExactBackend, to_fmpq


class BallBackend(Backend[arb_mat]):
    """Midpoint-radius matrices at ``prec`` bits; inputs are converted from exact rationals."""

    certifies: Certifies = "ball"

    def __init__(self, prec: int = 256) -> None:
        if not isinstance(prec, int) or prec < 53:
            raise ValueError(f"prec: expected an integer number of bits >= 53, got {prec!r}")
        self.prec = prec
        self.name = f"ball-{prec}"
        self._exact = ExactBackend()

    def _ctx(self) -> Any:
        return ctx.workprec(self.prec)

    def asmatrix(self, arr: NDArray[Any]) -> arb_mat:
        with self._ctx():
            return arb_mat(self._exact.asmatrix(arr))

    def to_numpy(self, a: arb_mat) -> NDArray[np.float64]:
        return np.array([[float(a[i, j].mid()) for j in range(a.ncols())] for i in range(a.nrows())])

    def zeros(self, rows: int, cols: int) -> arb_mat:
        return arb_mat(rows, cols)

    def matmul(self, a: arb_mat, b: arb_mat) -> arb_mat:
        with self._ctx():
            return a * b

    def add(self, a: arb_mat, b: arb_mat) -> arb_mat:
        with self._ctx():
            return a + b

    def sub(self, a: arb_mat, b: arb_mat) -> arb_mat:
        with self._ctx():
            return a - b

    def scale(self, a: arb_mat, s: Scalar) -> arb_mat:
        with self._ctx():
            return a * arb(to_fmpq(s))

    def transpose(self, a: arb_mat) -> arb_mat:
        return a.transpose()

    def shape(self, a: arb_mat) -> tuple[int, int]:
        return a.nrows(), a.ncols()

    def block(self, a: arb_mat, rows: slice, cols: slice) -> arb_mat:
        r = range(*rows.indices(a.nrows()))
        c = range(*cols.indices(a.ncols()))
        return arb_mat(len(r), len(c), [a[i, j] for i in r for j in c])

    def concat(self, blocks: list[arb_mat], axis: Literal[0, 1]) -> arb_mat:
        if axis == 0:
            cols = blocks[0].ncols()
            entries = [b[i, j] for b in blocks for i in range(b.nrows()) for j in range(cols)]
            return arb_mat(sum(b.nrows() for b in blocks), cols, entries)
        return self.transpose(self.concat([b.transpose() for b in blocks], 0))

    def hadamard(self, a: arb_mat, b: arb_mat) -> arb_mat:
        rows, cols = a.nrows(), a.ncols()
        with self._ctx():
            return arb_mat(rows, cols, [a[i, j] * b[i, j] for i in range(rows) for j in range(cols)])

    def reciprocal(self, a: arb_mat) -> arb_mat:
        rows, cols = a.nrows(), a.ncols()
        with self._ctx():
            return arb_mat(rows, cols, [1 / a[i, j] for i in range(rows) for j in range(cols)])

    def exp(self, a: arb_mat) -> arb_mat:
        rows, cols = a.nrows(), a.ncols()
        with self._ctx():
            return arb_mat(rows, cols, [a[i, j].exp() for i in range(rows) for j in range(cols)])

    def neg(self, a: arb_mat) -> arb_mat:
        return -a

    def from_exact(self, a: fmpq_mat) -> arb_mat:
        """Enclose an exact rational matrix."""
        with self._ctx():
            return arb_mat(a)
