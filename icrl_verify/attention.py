"""The generic attention layers: linear attention with any mask, multi-head with an output projection, softmax."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any, TypeVar

import numpy as np
from numpy.typing import NDArray

from icrl_verify import _validate
from icrl_verify.arith.base import Backend
from icrl_verify.arith.float64 import Float64Backend

M = TypeVar("M")

_OBJECT_ENTRY_BYTES = 100
"""Lower estimate of the memory of one exact entry: an object pointer and a small Fraction."""

_SOFTMAX_SQUARES = 3
"""Dense (n+1)×(n+1) arrays a softmax layer holds at once: scores, exponentials, attention matrix."""
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
        _validate.square_fits("n", "a dense mask", self.n)
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
    lam_value: Any = _validate.real("lam", lam)
    if not 0 <= lam_value <= 1:
        raise ValueError(f"lam: expected a number in [0, 1], got {lam!r}")
    exact = isinstance(lam_value, Fraction)
    _validate.square_fits("n", "the TD(λ) mask", n, entry_bytes=_OBJECT_ENTRY_BYTES if exact else 8)
    m = np.zeros((n + 1, n + 1), dtype=object if exact else np.float64)
    if exact:
        m[:] = Fraction(0)
    for i in range(n):
        for j in range(i + 1):
            m[i, j] = lam_value ** (i - j)
    return Mask(n, m)


def running_average_operator(size: int) -> NDArray[Any]:
    """R = U·diag(1/1, …, 1/size) − I (size × size, U the upper-triangular all-ones matrix), so that
    (yR)_j = mean(y_0..y_j) − y_j for a row y [W25a].

    Entries are exact Fractions; each backend reads them in its own arithmetic (a float backend as the
    correctly rounded doubles), so a construction and a reference built from R see the same numbers.
    """
    size = _validate.positive_int("size", size)
    _validate.square_fits("size", "the running-average operator", size - 1, entry_bytes=_OBJECT_ENTRY_BYTES)
    R = np.empty((size, size), dtype=object)
    for i in range(size):
        for j in range(size):
            R[i, j] = Fraction(int(i <= j), j + 1) - int(i == j)
    return R


def running_average_mask(n: int) -> Mask:
    """R·M over n context columns and the query (column n zero): head 1's right factor in average-reward TD."""
    n = _validate.positive_int("n", n)
    _validate.square_fits("n", "the running-average mask", n, entry_bytes=_OBJECT_ENTRY_BYTES)
    R = running_average_operator(n + 1)
    R[:, n] = Fraction(0)
    return Mask(n, R)


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
    return bk.add(Z, bk.matmul(bk.scale(total, Fraction(1, n)), Z))  # (1/n)·(P G Q) is D×D: scale it, not Z


def run_transformer(bk: Backend[M], Z0: M, layers: Sequence[LinearAttentionWeights]) -> list[M]:
    """Z_0, Z_1, …, Z_L: the prompt after every layer of the stack."""
    states = [Z0]
    for layer in layers:
        states.append(linear_attention(bk, states[-1], layer))
    return states


def tied(layer: LinearAttentionWeights, depth: int) -> list[LinearAttentionWeights]:
    """A weight-tied (looped) stack: the same layer applied ``depth`` times."""
    return [layer] * _validate.positive_int("depth", depth, minimum=0)


def linear_attention_last(bk: Backend[M], Z: M, P: Weight, Q: Weight, n: int) -> M:
    """Last column of the unmasked residual linear-attention layer Z + (1/n)·P·Z·Zᵀ·Q·Z, for any P, Q.

    With c = Z[:, N−1] this is c + (1/n)·P·(Z·(Zᵀ·(Q·c))) (D×1): every column of Z is a source, and
    the products run right to left on a vector, O(D² + DN). ``n`` is the normaliser, not the column
    count N: in chain-of-thought decoding it is the number of context tokens, while N grows with the
    thoughts appended after them.
    """
    rows, cols = bk.shape(Z)
    n = _validate.positive_int("n", n)
    Pm, Qm = bk.asmatrix(P), bk.asmatrix(Q)
    if bk.shape(Pm) != (rows, rows) or bk.shape(Qm) != (rows, rows):
        raise ValueError(f"P, Q: expected ({rows}, {rows}) for tokens with {rows} rows")
    last = bk.block(Z, slice(None), slice(cols - 1, cols))
    scores = bk.matmul(bk.transpose(Z), bk.matmul(Qm, last))
    return bk.add(last, bk.scale(bk.matmul(Pm, bk.matmul(Z, scores)), Fraction(1, n)))


# --- softmax attention -------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class AdditiveMask:
    """Additive softmax mask B, (n+1)×(n+1) with real or −inf entries: the scores become S + B.

    ``matrix=None`` is the standard mask for any n: row n (the query) is −inf, every other entry 0,
    so the query is never a source. A −inf entry is applied exactly, as a zero after the
    exponential (exp(−inf) = 0); every column needs at least one finite entry.
    """

    matrix: NDArray[Any] | None = None

    def parts(self, size: int) -> tuple[NDArray[Any], NDArray[np.float64]]:
        """(finite part with −inf replaced by 0, 0/1 indicator of the finite entries) of a dense mask."""
        if self.matrix is None:
            raise ValueError("mask: the standard mask has no dense parts; use it through column_softmax")
        m = np.asarray(self.matrix)
        if m.shape != (size, size):
            raise ValueError(f"mask: expected shape ({size}, {size}) for a prompt with {size} columns, got {m.shape}")
        keep = np.array([not (isinstance(v, float) and v == -np.inf) for v in m.flat]).reshape(m.shape)
        finite = np.where(keep, m, 0)
        if finite.dtype != object and not np.all(np.isfinite(finite)):
            raise ValueError("mask: entries must be finite reals or -inf")
        if not np.all(keep.any(axis=0)):
            raise ValueError("mask: every column needs at least one source (a finite entry)")
        return finite, keep.astype(np.float64)


@dataclass(frozen=True)
class ColumnShift:
    """Fixed right factor Π_s: (YΠ_s)_k = Y_{k+s}, zero where k + s falls outside 0..n.

    ``offset=1`` is the shift of T4 ((yΠ)_k = y_{k+1}, (yΠ)_n = 0). Applied by slicing: exact, O(Dn).
    """

    offset: int = 1

    def apply(self, bk: Backend[M], Y: M) -> M:
        """Y · Π_s."""
        rows, cols = bk.shape(Y)
        s = self.offset
        if abs(s) >= cols:
            return bk.scale(Y, 0)
        if s == 0:
            return Y
        if s > 0:
            return bk.concat([bk.block(Y, slice(None), slice(s, cols)), bk.zeros(rows, s)], axis=1)
        return bk.concat([bk.zeros(rows, -s), bk.block(Y, slice(None), slice(0, cols + s))], axis=1)

    def dense(self, n: int) -> NDArray[np.float64]:
        """Π_s as an explicit (n+1)×(n+1) matrix: Π[k + s, k] = 1."""
        _validate.square_fits("n", "a dense shift", n)
        m = np.zeros((n + 1, n + 1))
        for k in range(n + 1):
            if 0 <= k + self.offset <= n:
                m[k + self.offset, k] = 1.0
        return m


RightFactor = ColumnShift | NDArray[Any]
"""A head's fixed right factor: a column shift, or any dense (n+1)×(n+1) matrix."""


@dataclass(frozen=True, eq=False)
class SoftmaxHead:
    """One softmax head: V · Z · softmax_col(Zᵀ A Z + B) · R (R = ``right``, identity when None)."""

    V: Weight
    A: Weight
    mask: AdditiveMask = field(default_factory=AdditiveMask)
    right: RightFactor | None = None


@dataclass(frozen=True)
class SoftmaxAttentionWeights:
    """One residual softmax layer: Z_{l+1} = Z_l + Σ_h V_h Z_l softmax_col(Z_lᵀ A_h Z_l + B_h) R_h."""

    heads: tuple[SoftmaxHead, ...]


AttentionKernel = Callable[[Backend[Any], Any, AdditiveMask], Any]
"""Maps scores S ((n+1)×(n+1), row i = source, column j = target) and a mask to the attention matrix."""


def _stable_exp(bk: Backend[M], scores: M) -> M:
    shift = bk.softmax_shift(scores)
    return bk.exp(scores if shift is None else bk.sub(scores, shift))


def _normalise_columns(bk: Backend[M], E: M) -> M:
    rows, _ = bk.shape(E)
    inverse = bk.reciprocal(bk.colsum(E))
    return bk.hadamard(E, bk.matmul(bk.asmatrix(np.ones((rows, 1))), inverse))


def column_softmax(bk: Backend[M], scores: M, mask: AdditiveMask) -> M:
    """K[i, j] = exp(S_ij + B_ij) / Σ_m exp(S_mj + B_mj): each target column j is normalised over
    its sources i (the standard mask drops row n before the exponential, so K[n, :] = 0).

    Float backends subtract the column maximum first (exact constant, see Backend.softmax_shift).
    """
    rows, cols = bk.shape(scores)
    if rows != cols:
        raise ValueError(f"scores: expected a square (n+1)×(n+1) matrix, got ({rows}, {cols})")
    if mask.matrix is None:
        if rows < 2:
            raise ValueError("scores: the standard mask needs at least one context column (n >= 1)")
        sources = _normalise_columns(bk, _stable_exp(bk, bk.block(scores, slice(0, rows - 1), slice(None))))
        return bk.concat([sources, bk.zeros(1, cols)], axis=0)
    finite, keep = mask.parts(rows)
    E = bk.hadamard(_stable_exp(bk, bk.add(scores, bk.asmatrix(finite))), bk.asmatrix(keep))
    return _normalise_columns(bk, E)


def attention_scores(bk: Backend[M], Z: M, A: M) -> M:
    """S = Zᵀ A Z, (n+1)×(n+1): S[i, j] scores source column i for target column j."""
    return bk.matmul(bk.transpose(Z), bk.matmul(A, Z))


def _apply_right(bk: Backend[M], Y: M, right: RightFactor | None) -> M:
    if right is None:
        return Y
    if isinstance(right, ColumnShift):
        return right.apply(bk, Y)
    _, cols = bk.shape(Y)
    R = bk.asmatrix(right)
    if bk.shape(R) != (cols, cols):
        raise ValueError(f"right: expected a ({cols}, {cols}) matrix, got {bk.shape(R)}")
    return bk.matmul(Y, R)


def softmax_attention(
    bk: Backend[M], Z: M, layer: SoftmaxAttentionWeights, kernel: AttentionKernel = column_softmax
) -> M:
    """One residual softmax-attention layer, written once for every backend.

    Heads that share the same A and mask objects share one attention matrix. ``kernel`` turns
    scores into the attention matrix (column-wise softmax over sources by default).
    """
    rows, cols = bk.shape(Z)
    if not layer.heads:
        raise ValueError("layer: expected at least one head")
    # scores, their exponentials and the attention matrix are (n+1)×(n+1): refuse before allocating
    _validate.square_fits("Z", "a softmax layer", cols - 1, arrays=_SOFTMAX_SQUARES)
    kernels: dict[tuple[int, int], M] = {}
    total: M | None = None
    for head in layer.heads:
        V, A = bk.asmatrix(head.V), bk.asmatrix(head.A)
        if bk.shape(V) != (rows, rows) or bk.shape(A) != (rows, rows):
            raise ValueError(f"V, A: expected ({rows}, {rows}) for a prompt with {rows} rows")
        key = (id(head.A), id(head.mask))
        if key not in kernels:
            kernels[key] = kernel(bk, attention_scores(bk, Z, A), head.mask)
        out = _apply_right(bk, bk.matmul(bk.matmul(V, Z), kernels[key]), head.right)
        total = out if total is None else bk.add(total, out)
    assert total is not None
    return bk.add(Z, total)


def run_softmax_transformer(
    bk: Backend[M], Z0: M, layers: Sequence[SoftmaxAttentionWeights], kernel: AttentionKernel = column_softmax
) -> list[M]:
    """Z_0, Z_1, …, Z_L of a stack of softmax layers."""
    states = [Z0]
    for layer in layers:
        states.append(softmax_attention(bk, states[-1], layer, kernel))
    return states


def transformer_values(Z0: Any, layers: Sequence[LinearAttentionWeights]) -> NDArray[np.float64]:
    """Predictions TF_l = −Z_l[−1, −1] (the discounted readout) after l = 0..L layers, in float64.

    ``Z0`` is one prompt (rows × (n+1)) or a batch (B, rows, n+1); the result is (L+1,) or (B, L+1).
    """
    Z = _validate.array("Z0", Z0, (None,) * max(2, min(3, np.ndim(Z0))))
    bk = Float64Backend()
    states = run_transformer(bk, bk.asmatrix(Z), layers)
    return np.stack([-s[..., -1, -1] for s in states], axis=-1)
