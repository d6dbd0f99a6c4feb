"""Prompt matrices: the discounted TD prompt Z_0 of [W25a] (batched or single)."""

from __future__ import annotations

from fractions import Fraction
from typing import Any

import numpy as np
from numpy.typing import NDArray

from icrl_verify import _validate


def _exact(*arrays: NDArray[Any]) -> bool:
    return any(a.dtype == object for a in arrays)


def td_prompt(
    features: Any, next_features: Any, rewards: Any, query: Any, gamma: float | Fraction
) -> NDArray[Any]:
    """Discounted prompt Z_0 ∈ R^{(2d+1)×(n+1)}: context column i is (φ_i, γφ'_i, r_i), the query
    column is (φ_q, 0, 0).

    Shapes: features and next_features (n, d), rewards (n,), query (d,); or all with a leading
    batch axis B, giving (B, 2d+1, n+1). Arrays of Fractions (with a Fraction γ) stay exact.
    """
    feats = np.asarray(features) if isinstance(features, np.ndarray) else np.asarray(features, dtype=np.float64)
    batch = feats.shape[:-2] if feats.ndim == 3 else ()
    if feats.ndim not in (2, 3):
        raise ValueError(f"features: expected shape (n, d) or (B, n, d), got {feats.shape}")
    n, d = feats.shape[-2], feats.shape[-1]
    if n == 0:
        raise ValueError("features: the context must hold at least one transition (n >= 1)")
    phi = _validate.array("features", features, (*batch, n, d))
    phi_next = _validate.array("next_features", next_features, (*batch, n, d))
    r = _validate.array("rewards", rewards, (*batch, n))
    q = _validate.array("query", query, (*batch, d))
    exact = _exact(phi, phi_next, r, q)
    g: Any = gamma if isinstance(gamma, Fraction) and exact else _validate.gamma(gamma)
    if isinstance(gamma, Fraction):
        _validate.gamma(float(gamma))
    Z = np.zeros((*batch, 2 * d + 1, n + 1), dtype=object if exact else np.float64)
    if exact:
        Z[...] = Fraction(0)
    Z[..., :d, :n] = np.swapaxes(phi, -1, -2)
    Z[..., d : 2 * d, :n] = g * np.swapaxes(phi_next, -1, -2)
    Z[..., 2 * d, :n] = r
    Z[..., :d, n] = q
    return Z


def split_td_prompt(Z0: NDArray[Any]) -> tuple[NDArray[Any], NDArray[Any], NDArray[Any], NDArray[Any]]:
    """Inverse of :func:`td_prompt`: (Φ (d×n), γΦ' (d×n), r (1×n), φ_q (d×1)) as stored, per batch entry."""
    rows, cols = Z0.shape[-2], Z0.shape[-1]
    if rows % 2 != 1 or rows < 3 or cols < 2:
        raise ValueError(f"Z0: expected shape (2d+1, n+1) with d, n >= 1, got {Z0.shape}")
    d, n = (rows - 1) // 2, cols - 1
    return Z0[..., :d, :n], Z0[..., d : 2 * d, :n], Z0[..., 2 * d : 2 * d + 1, :n], Z0[..., :d, n : n + 1]
