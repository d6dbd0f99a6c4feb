"""Chain-of-thought decoding with one linear-attention layer [X26a]: token layout, first thought, generator, readout.

The layout and the weights are our reconstruction (the paper's text was not available); see
docs/theorems/cot.md. Tokens live in R^{3d+2} with blocks (φ, γφ', r, w, e). The token matrix holds
the n context tokens (φ_i, γφ'_i, r_i, 0, 0) followed by the thoughts c_0, c_1, …; one layer reads
every token so far (no mask) and emits the next thought from the last one:

    c_{k+1} = c_k + (1/n) · P · Z · (Zᵀ Q c_k),     Z = [context, c_0, …, c_k],

with n the number of context tokens (not the number of tokens so far). The value is ⟨φ_q, w_K⟩,
read from the w-block of the last thought; the query is not a token.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np
from numpy.typing import NDArray

from icrl_verify import _validate
from icrl_verify.arith.base import Backend
from icrl_verify.attention import Weight, linear_attention_last

M = TypeVar("M")


@dataclass(frozen=True)
class CoTLayout:
    """Rows of a chain-of-thought token in R^{3d+2}: features φ, discounted next features γφ',
    reward r, weights w, and the constant e (1 on thoughts, 0 on context tokens)."""

    d: int

    def __post_init__(self) -> None:
        _validate.positive_int("d", self.d)

    @classmethod
    def from_size(cls, size: int) -> CoTLayout:
        """The layout of tokens with ``size`` = 3d+2 rows (ValueError otherwise)."""
        if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size < 5 or (size - 2) % 3:
            raise ValueError(f"tokens: expected 3d+2 rows with d >= 1, got {size!r}")
        return cls((int(size) - 2) // 3)

    @property
    def size(self) -> int:
        """Token dimension 3d+2."""
        return 3 * self.d + 2

    @property
    def features(self) -> slice:
        """Rows of φ."""
        return slice(0, self.d)

    @property
    def next_features(self) -> slice:
        """Rows of γφ'."""
        return slice(self.d, 2 * self.d)

    @property
    def reward(self) -> int:
        """Row of r."""
        return 2 * self.d

    @property
    def weights(self) -> slice:
        """Rows of w (the TD iterate a thought carries)."""
        return slice(2 * self.d + 1, 3 * self.d + 1)

    @property
    def bias(self) -> int:
        """Row of the constant e."""
        return 3 * self.d + 1


@dataclass(frozen=True)
class CoTWeights:
    """The one linear-attention layer every thought reuses: P, Q of size (3d+2)×(3d+2) (or batched)."""

    P: Weight
    Q: Weight


def first_thought(d: int) -> NDArray[np.int64]:
    """c_0 = (0, 0, 0, w_0 = 0, 1) ∈ R^{3d+2}: an empty φ-block, so thoughts never act as sources."""
    layout = CoTLayout(d)
    c0 = np.zeros(layout.size, dtype=np.int64)
    c0[layout.bias] = 1
    return c0


Step = Callable[[Backend[Any], Any, CoTWeights, int], Any]
"""A decoding step: (backend, token matrix so far, weights, n) ↦ the next thought (a column)."""


def next_thought(bk: Backend[M], Z: M, weights: CoTWeights, n: int) -> M:
    """The next thought from the token matrix so far: the last column of the generic unmasked layer,
    c + (1/n)·P·Z·(Zᵀ Q c), normalised by the ``n`` context tokens."""
    return linear_attention_last(bk, Z, weights.P, weights.Q, n)


def generate(bk: Backend[M], Z0: M, weights: CoTWeights, thoughts: int, step: Step = next_thought) -> M:
    """Decode ``thoughts`` = K thoughts autoregressively, appending each to the token matrix.

    ``Z0`` holds the n context tokens followed by the first thought (n + 1 columns, as built by
    :func:`icrl_verify.prompts.cot_prompt`); the result has n + 1 + K columns, thought k at column
    n + k. Every step reuses the same weights (K thoughts cost one layer).
    """
    rows, cols = bk.shape(Z0)
    CoTLayout.from_size(rows)
    if cols < 2:
        raise ValueError(f"Z0: expected n >= 1 context tokens and the first thought, got {cols} columns")
    thoughts = _validate.positive_int("thoughts", thoughts, minimum=0)
    n = cols - 1
    Z = Z0
    for _ in range(thoughts):
        Z = bk.concat([Z, step(bk, Z, weights, n)], axis=1)
    return Z


def thought(bk: Backend[M], Z: M, k: int, n: int) -> M:
    """Thought c_k: column n + k of the token matrix."""
    _, cols = bk.shape(Z)
    if not 0 <= k < cols - n:
        raise ValueError(f"k: expected 0 <= k < {cols - n} (thoughts present), got {k}")
    return bk.block(Z, slice(None), slice(n + k, n + k + 1))


def read_weights(bk: Backend[M], token: M) -> M:
    """The w-block (d×1) of a thought token."""
    rows, _ = bk.shape(token)
    return bk.block(token, CoTLayout.from_size(rows).weights, slice(None))


def value(bk: Backend[M], query: M, w: M) -> M:
    """The readout ⟨φ_q, w⟩ (1×1) for a query feature column φ_q (d×1)."""
    return bk.matmul(bk.transpose(query), w)
