"""The generic attention layers: linear attention with any mask, multi-head with an output projection."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any, TypeVar

import numpy as np
from numpy.typing import NDArray

from icrl_verify import _validate
from icrl_verify.arith.base import Backend

M = TypeVar("M")
Weight = Any  # numpy array (float64 or Fraction objects) or torch tensor, shape (D, D) or (B, D, D)


@dataclass(frozen=True)
class Mask:
    """Right factor M of a head, (n+1)×(n+1). ``standard`` is diag(1, …, 1, 0): the query is never a source.

    A standard mask is applied by zeroing the query column (O(Dn)); a dense one by a product.
    """

    n: int
    matrix: NDArray[Any] | None = None  # None means the standard mask

    def apply(self, bk: Backend[M], Z: M) -> M:
        """Z · M."""
        rows, cols = bk.shape(Z)
        if cols != self.n + 1:
            raise ValueError(f"Z: expected {self.n + 1} columns for a mask over n = {self.n}, got {cols}")
        if self.matrix is None:
            return bk.concat([bk.block(Z, slice(None), slice(0, self.n)), bk.zeros(rows, 1)], axis=1)
        return bk.matmul(Z, bk.asmatrix(self.matrix))

    def dense(self) -> NDArray[Any]:
        """The mask as an explicit matrix."""
        if self.matrix is not None:
            return self.matrix
        m = np.eye(self.n + 1)
        m[self.n, self.n] = 0.0
        return m


def standard_mask(n: int) -> Mask:
    """M = diag(1, …, 1, 0) over n context columns and the query."""
    return Mask(_validate.positive_int("n", n))


def td_lambda_mask(n: int, lam: float | Fraction) -> Mask:
    """M_λ[i, j] = λ^{i−j} for 0 ≤ j ≤ i < n, zero elsewhere (row and column n are zero) [W25a, Cor. 3].

    A Fraction λ gives an exact (object) matrix. The trace decays by λ, not γλ.
    """
    n = _validate.positive_int("n", n)
    exact = isinstance(lam, Fraction)
    lam_value: Any = lam if exact else float(lam)
    if not 0 <= lam_value <= 1:
        raise ValueError(f"lam: expected a number in [0, 1], got {lam!r}")
    m = np.zeros((n + 1, n + 1), dtype=object if exact else np.float64)
    if exact:
        m[:] = Fraction(0)
    for i in range(n):
        for j in range(i + 1):
            m[i, j] = lam_value ** (i - j)
    return Mask(n, m)


@dataclass(frozen=True)
class Head:
    """One linear-attention head: P · Z · mask · (Zᵀ Q Z)."""

    P: Weight
    Q: Weight
    mask: Mask


@dataclass(frozen=True)
class LinearAttentionWeights:
    """One layer: heads and an optional output projection ``out`` (D × H·D, None = sum of heads).

    Z_{l+1} = Z_l + (1/n) · out · [head_1; …; head_H](Z_l).
    """

    heads: tuple[Head, ...]
    out: Weight | None = field(default=None)

    @property
    def P(self) -> Weight:
        """P of a single-head layer."""
        return self.heads[0].P

    @property
    def Q(self) -> Weight:
        """Q of a single-head layer."""
        return self.heads[0].Q


def linear_attention(bk: Backend[M], Z: M, layer: LinearAttentionWeights) -> M:
    """One residual linear-attention layer, at O(D²n) per head for standard masks.

    Each head contributes (W_h P_h (Z M_h Zᵀ) Q_h) · Z: the D×D matrix is formed first, Z is
    multiplied once.
    """
    rows, cols = bk.shape(Z)
    n = layer.heads[0].mask.n
    if cols != n + 1:
        raise ValueError(f"Z: expected n + 1 = {n + 1} columns, got {cols}")
    total: M | None = None
    for h, head in enumerate(layer.heads):
        P, Q = bk.asmatrix(head.P), bk.asmatrix(head.Q)
        if bk.shape(P) != (rows, rows) or bk.shape(Q) != (rows, rows):
            raise ValueError(f"P, Q: expected ({rows}, {rows}) for a prompt with {rows} rows")
        gram = bk.matmul(head.mask.apply(bk, Z), bk.transpose(Z))
        kernel = bk.matmul(bk.matmul(P, gram), Q)
        if layer.out is not None:
            W = bk.asmatrix(layer.out)
            kernel = bk.matmul(bk.block(W, slice(None), slice(h * rows, (h + 1) * rows)), kernel)
        total = kernel if total is None else bk.add(total, kernel)
    assert total is not None
    return bk.add(Z, bk.scale(bk.matmul(total, Z), Fraction(1, n)))


def run_transformer(bk: Backend[M], Z0: M, layers: Sequence[LinearAttentionWeights]) -> list[M]:
    """Z_0, Z_1, …, Z_L: the prompt after every layer of the stack."""
    states = [Z0]
    for layer in layers:
        states.append(linear_attention(bk, states[-1], layer))
    return states


def tied(layer: LinearAttentionWeights, depth: int) -> list[LinearAttentionWeights]:
    """A weight-tied (looped) stack: the same layer applied ``depth`` times."""
    return [layer] * _validate.positive_int("depth", depth, minimum=0)
