"""θ* builders: the weights that make a transformer's forward pass an RL algorithm (ground truth to import)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from icrl_verify import _validate
from icrl_verify.attention import Head, LinearAttentionWeights, Mask, standard_mask


def _preconditioners(d: int, preconditioners: Sequence[Any]) -> list[NDArray[Any]]:
    d = _validate.positive_int("d", d)
    out = []
    for l, C in enumerate(preconditioners):
        arr = np.asarray(C) if isinstance(C, np.ndarray) and C.dtype == object else np.asarray(C, dtype=np.float64)
        batch = arr.shape[:-2]
        out.append(_validate.array(f"preconditioners[{l}]", arr, (*batch, d, d)))
    return out


def _zeros_like(C: NDArray[Any], size: int) -> NDArray[Any]:
    Z = np.zeros((*C.shape[:-2], size, size), dtype=C.dtype)
    if C.dtype == object:
        Z[...] = 0
    return Z


def td_selector_p(C: NDArray[Any], size: int, row: int) -> NDArray[Any]:
    """P = e_row e_rowᵀ (batched like C): the head writes only into ``row``."""
    P = _zeros_like(C, size)
    P[..., row, row] = 1
    return P


def td_q(C: NDArray[Any], size: int) -> NDArray[Any]:
    """Q with Q[0:d, 0:d] = −Cᵀ and Q[0:d, d:2d] = +Cᵀ, zero elsewhere (size ≥ 2d)."""
    d = C.shape[-1]
    Q = _zeros_like(C, size)
    Ct = np.swapaxes(C, -1, -2)
    Q[..., :d, :d] = -Ct
    Q[..., :d, d : 2 * d] = Ct
    return Q


def td0(d: int, preconditioners: Sequence[Any], n: int, mask: Mask | None = None) -> list[LinearAttentionWeights]:
    """θ*_TD(C_0, …, C_{L−1}) of [W25a, Thm 1]: P_l = e_{2d}e_{2d}ᵀ, Q_l[0:d, 0:d] = −C_lᵀ,
    Q_l[0:d, d:2d] = +C_lᵀ, with the standard mask over ``n`` context columns (or ``mask``).

    Each C_l is (d, d) or batched (B, d, d), any real (need not be symmetric). One layer per C_l.
    """
    Cs = _preconditioners(d, preconditioners)
    m = mask if mask is not None else standard_mask(n)
    size = 2 * d + 1
    return [
        LinearAttentionWeights((Head(td_selector_p(C, size, 2 * d), td_q(C, size), m),)) for C in Cs
    ]
