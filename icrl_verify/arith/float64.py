"""Float64 backend on numpy, batched over a leading axis; passes are judged against a derived error bound."""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from icrl_verify.arith.base import Backend, Certifies, Scalar

Array = NDArray[np.float64]


class Float64Backend(Backend[Array]):
    """IEEE double precision through numpy; operands may carry a leading batch axis."""

    name = "float64"
    certifies: Certifies = "bound"
    batched = True

    def asmatrix(self, arr: NDArray[Any]) -> Array:
        return np.asarray(arr, dtype=np.float64)

    def to_numpy(self, a: Array) -> Array:
        return a

    def zeros(self, rows: int, cols: int) -> Array:
        return np.zeros((rows, cols))

    def matmul(self, a: Array, b: Array) -> Array:
        return np.asarray(np.matmul(a, b), dtype=np.float64)

    def add(self, a: Array, b: Array) -> Array:
        return a + b

    def sub(self, a: Array, b: Array) -> Array:
        return a - b

    def scale(self, a: Array, s: Scalar) -> Array:
        return a * float(s)

    def transpose(self, a: Array) -> Array:
        return np.swapaxes(a, -1, -2)

    def shape(self, a: Array) -> tuple[int, int]:
        return int(a.shape[-2]), int(a.shape[-1])

    def block(self, a: Array, rows: slice, cols: slice) -> Array:
        return a[..., rows, cols]

    def concat(self, blocks: list[Array], axis: Literal[0, 1]) -> Array:
        batch = np.broadcast_shapes(*(b.shape[:-2] for b in blocks))
        full = [np.broadcast_to(b, batch + b.shape[-2:]) for b in blocks]
        return np.concatenate(full, axis=-2 if axis == 0 else -1)

    def hadamard(self, a: Array, b: Array) -> Array:
        return a * b

    def reciprocal(self, a: Array) -> Array:
        return 1.0 / a

    def exp(self, a: Array) -> Array:
        return np.exp(a)

    def softmax_shift(self, a: Array) -> Array:
        return np.broadcast_to(np.max(a, axis=-2, keepdims=True), a.shape)

    def neg(self, a: Array) -> Array:
        return -a
