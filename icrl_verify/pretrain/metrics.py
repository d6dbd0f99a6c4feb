"""Metrics of the pretraining experiment (docs/contract.md T5): weight structure, SS, IWS, VD, t-intervals."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from numpy.typing import NDArray
from scipy import stats

FloatArray = NDArray[np.float64]

WEIGHT_METRICS = (
    "p_corner",
    "p_others",
    "q_tl_trace",
    "q_tm_trace",
    "q_others",
    "cos_p",
    "cos_q",
    "q_structure",
)
"""Names returned by :func:`weight_metrics`, in order."""

FUNCTION_METRICS = ("ss", "iws", "vd")
"""Names returned by :func:`function_metrics`, in order."""


def _square_stack(name: str, M: Any) -> FloatArray:
    arr = np.asarray(M, dtype=np.float64)
    if arr.ndim < 2 or arr.shape[-1] != arr.shape[-2] or arr.shape[-1] % 2 != 1 or arr.shape[-1] < 3:
        raise ValueError(f"{name}: expected shape (..., 2d+1, 2d+1) with d >= 1, got {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name}: entries must be finite (found NaN or inf)")
    return arr


def align_sign(P: Any, Q: Any) -> tuple[FloatArray, FloatArray]:
    """Multiply (P, Q) by sign(P[2d, 2d]) (per leading index); the layer is invariant under (P, Q) → (−P, −Q).

    A zero corner entry leaves the pair unchanged.
    """
    P_arr, Q_arr = _square_stack("P", P), _square_stack("Q", Q)
    if P_arr.shape != Q_arr.shape:
        raise ValueError(f"P, Q: expected equal shapes, got {P_arr.shape} and {Q_arr.shape}")
    corner = P_arr.shape[-1] - 1
    sign = np.where(P_arr[..., corner, corner] < 0, -1.0, 1.0)[..., None, None]
    return P_arr * sign, Q_arr * sign


def td_q_identity(d: int) -> FloatArray:
    """Q*(I) of θ*_TD with C = I: −I in the top-left block, +I in the top-middle block, zero elsewhere."""
    Q = np.zeros((2 * d + 1, 2 * d + 1))
    Q[:d, :d] = -np.eye(d)
    Q[:d, d : 2 * d] = np.eye(d)
    return Q


def _cosine(a: FloatArray, b: FloatArray, axes: tuple[int, ...]) -> FloatArray:
    """Cosine of the angle between a and b over ``axes``; 0 where either is the zero vector."""
    dot = np.sum(a * b, axis=axes)
    norms = np.sqrt(np.sum(a * a, axis=axes) * np.sum(b * b, axis=axes))
    return np.asarray(np.where(norms > 0, dot / np.where(norms > 0, norms, 1.0), 0.0), dtype=np.float64)


def weight_metrics(P: Any, Q: Any) -> dict[str, FloatArray]:
    """Structure of learned (P, Q) after sign alignment, one value per leading index (docs/contract.md T5).

    - ``p_corner``: P[2d, 2d]; ``p_others``: mean |P_ij| over the other (2d+1)² − 1 entries;
    - ``q_tl_trace``, ``q_tm_trace``: traces of Q[0:d, 0:d] and Q[0:d, d:2d] (θ*: −tr C and +tr C);
    - ``q_others``: mean |Q_ij| over the (2d+1)² − 2d entries off the two diagonals (magnitudes, not the
      signed traces the published code subtracted);
    - ``cos_p`` = cos(P, e_{2d}e_{2d}ᵀ), ``cos_q`` = cos(Q, Q*(I)) (both invariant under (cP, Q/c));
    - ``q_structure``: ‖Π(Q)‖/‖Q‖, Π the orthogonal projection onto span{E_tl, E_tm}, E_tl the identity
      in the top-left block and E_tm the identity in the top-middle block.
    """
    P_al, Q_al = align_sign(P, Q)
    size = P_al.shape[-1]
    d = (size - 1) // 2
    last = size - 1
    axes = (-2, -1)
    corner = P_al[..., last, last]
    p_others = (np.sum(np.abs(P_al), axis=axes) - np.abs(corner)) / (size * size - 1)
    diag = np.arange(d)
    tl = Q_al[..., diag, diag]
    tm = Q_al[..., diag, d + diag]
    q_others = (np.sum(np.abs(Q_al), axis=axes) - np.sum(np.abs(tl), -1) - np.sum(np.abs(tm), -1)) / (
        size * size - 2 * d
    )
    e_corner = np.zeros((size, size))
    e_corner[last, last] = 1.0
    q_norm = np.sqrt(np.sum(Q_al * Q_al, axis=axes))
    projected = np.sqrt((np.sum(tl, -1) ** 2 + np.sum(tm, -1) ** 2) / d)
    structure = np.where(q_norm > 0, projected / np.where(q_norm > 0, q_norm, 1.0), 0.0)
    return {
        "p_corner": corner,
        "p_others": p_others,
        "q_tl_trace": np.sum(tl, -1),
        "q_tm_trace": np.sum(tm, -1),
        "q_others": q_others,
        "cos_p": _cosine(P_al, np.broadcast_to(e_corner, P_al.shape), axes),
        "cos_q": _cosine(Q_al, np.broadcast_to(td_q_identity(d), Q_al.shape), axes),
        "q_structure": np.asarray(structure, dtype=np.float64),
    }


def _torch_cosine(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Cosine over the last axis; 0 where either vector is zero."""
    norms = torch.linalg.vector_norm(a, dim=-1) * torch.linalg.vector_norm(b, dim=-1)
    safe = torch.where(norms > 0, norms, torch.ones_like(norms))
    return torch.where(norms > 0, (a * b).sum(-1) / safe, torch.zeros_like(norms))


@dataclass(frozen=True)
class FunctionMetrics:
    """SS, IWS and VD per seed (each averaged over the held-out tasks), shape (seeds,)."""

    ss: FloatArray
    iws: FloatArray
    vd: FloatArray


def function_metrics(
    tf_values: torch.Tensor,
    tf_query_grads: torch.Tensor,
    td_weights: torch.Tensor,
    features: torch.Tensor,
    stationary: torch.Tensor,
) -> FunctionMetrics:
    """SS, IWS and VD of docs/contract.md T5 on held-out tasks, averaged over tasks, one value per seed.

    Shapes (seeds, tasks, …): ``tf_values`` (·, ·, S) = v̂_TF(s) with the query set to φ(s);
    ``tf_query_grads`` (·, ·, S, d) = ∇_q v̂_TF(s); ``td_weights`` (·, ·, d) = w_L of the fitted-α
    reference (v̂_TD(s) = φ(s)ᵀ w_L, ∇_q v̂_TD = w_L); ``features`` (·, ·, S, d) = Φ;
    ``stationary`` (·, ·, S) = μ.

    SS = Σ_s μ(s) cos(∇_q v̂_TF(s), ∇_q v̂_TD(s)); IWS = cos(w_TF, w_TD) with
    w_TF = (ΦᵀDΦ)^{-1}ΦᵀD v̂_TF; VD = Σ_s μ(s)(v̂_TF(s) − v̂_TD(s))².
    """
    if tf_values.dim() != 3:
        raise ValueError(f"tf_values: expected shape (seeds, tasks, S), got {tuple(tf_values.shape)}")
    seeds, tasks, S = tf_values.shape
    d = features.shape[-1]
    expected = {
        "tf_query_grads": (tf_query_grads, (seeds, tasks, S, d)),
        "td_weights": (td_weights, (seeds, tasks, d)),
        "features": (features, (seeds, tasks, S, d)),
        "stationary": (stationary, (seeds, tasks, S)),
    }
    for name, (tensor, shape) in expected.items():
        if tuple(tensor.shape) != shape:
            raise ValueError(f"{name}: expected shape {shape}, got {tuple(tensor.shape)}")
    td_values = (features @ td_weights[..., None])[..., 0]
    ss = (stationary * _torch_cosine(tf_query_grads, td_weights[..., None, :].expand_as(tf_query_grads))).sum(-1)
    weighted = features * stationary[..., None]
    gram = weighted.transpose(-1, -2) @ features
    w_tf = torch.linalg.solve(gram, (weighted.transpose(-1, -2) @ tf_values[..., None]))[..., 0]
    iws = _torch_cosine(w_tf, td_weights)
    vd = (stationary * (tf_values - td_values) ** 2).sum(-1)

    def per_seed(x: torch.Tensor) -> FloatArray:
        return np.asarray(x.detach().to("cpu", torch.float64).mean(-1).numpy(), dtype=np.float64)

    return FunctionMetrics(ss=per_seed(ss), iws=per_seed(iws), vd=per_seed(vd))


@dataclass(frozen=True)
class Interval:
    """A two-sided t confidence interval for the mean over seeds."""

    mean: float
    lower: float
    upper: float
    level: float
    count: int


def t_interval(values: Sequence[float] | FloatArray, level: float = 0.95) -> Interval:
    """Two-sided Student-t interval mean ± t_{(1+level)/2, m−1}·s/√m over m ≥ 2 independent seeds."""
    arr = np.asarray(values, dtype=np.float64).reshape(-1)
    if arr.size < 2:
        raise ValueError(f"values: a t-interval needs at least 2 seeds, got {arr.size}")
    if not np.all(np.isfinite(arr)):
        raise ValueError("values: entries must be finite (found NaN or inf)")
    if not 0.0 < level < 1.0:
        raise ValueError(f"level: expected a number in (0, 1), got {level!r}")
    mean = float(arr.mean())
    half = float(stats.t.ppf((1.0 + level) / 2.0, arr.size - 1)) * float(arr.std(ddof=1)) / np.sqrt(arr.size)
    return Interval(mean=mean, lower=mean - half, upper=mean + half, level=level, count=int(arr.size))
