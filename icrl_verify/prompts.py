"""Prompt matrices: discounted and average-reward TD prompts [W25a], CoT tokens [X26a], softmax-TD prompt [X26b]."""

from __future__ import annotations

from fractions import Fraction
from typing import Any

import numpy as np
from numpy.typing import NDArray

from icrl_verify import _validate, cot
from icrl_verify.arith.base import to_fraction


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
    return _context_prompt(features, next_features, rewards, query, gamma, average_reward=False)


def average_reward_prompt(features: Any, next_features: Any, rewards: Any, query: Any) -> NDArray[Any]:
    """Average-reward prompt Z_0 ∈ R^{(2d+2)×(n+1)} of [W25a]: context column i is (φ_i, φ'_i, r_i, 0)
    (γ = 1, undiscounted next features), the query column is (φ_q, 0, 0, 0); row 2d+1 is the
    accumulator that carries the prediction.

    Shapes and exactness as in :func:`td_prompt`.
    """
    return _context_prompt(features, next_features, rewards, query, Fraction(1), average_reward=True)


def _context_prompt(
    features: Any, next_features: Any, rewards: Any, query: Any, gamma: float | Fraction, average_reward: bool
) -> NDArray[Any]:
    batch, n, d = _validate.context_sizes(features, next_features, rewards, query)
    phi = _validate.array("features", features, (*batch, n, d))
    phi_next = _validate.array("next_features", next_features, (*batch, n, d))
    r = _validate.array("rewards", rewards, (*batch, n))
    q = _validate.array("query", query, (*batch, d))
    g_value = _validate.gamma_exact(gamma, allow_one=average_reward)
    exact = _exact(phi, phi_next, r, q)
    g: Any = to_fraction(g_value) if exact else float(g_value)
    Z = np.zeros((*batch, 2 * d + 1 + int(average_reward), n + 1), dtype=object if exact else np.float64)
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


def cot_prompt(
    features: Any, next_features: Any, rewards: Any, gamma: float | Fraction, first_thought: Any = None
) -> NDArray[Any]:
    """Chain-of-thought token matrix of [X26a] (our layout, :mod:`icrl_verify.cot`), (3d+2)×(n+1):
    context token i is (φ_i, γφ'_i, r_i, 0, 0), and column n is the first thought, by default
    c_0 = (0, 0, 0, 0, 1) (``first_thought``, shape (3d+2,), replaces it). There is no query token:
    the value is read out as ⟨φ_q, w_K⟩.

    Shapes and exactness as in :func:`td_prompt` (without the query); a leading batch axis B gives
    (B, 3d+2, n+1).
    """
    batch, _, d = _validate.context_sizes(features, next_features, rewards)
    exact_input = isinstance(features, np.ndarray) and features.dtype == object
    query = np.zeros((*batch, d), dtype=object if exact_input else np.float64)
    context = td_prompt(features, next_features, rewards, query, gamma)
    layout = cot.CoTLayout(d)
    c0 = (
        cot.first_thought(d)
        if first_thought is None
        else _validate.array("first_thought", first_thought, (layout.size,))
    )
    n = context.shape[-1] - 1
    Z = np.zeros((*batch, layout.size, n + 1), dtype=context.dtype)
    if context.dtype == object:
        Z[...] = Fraction(0)
        c0 = np.array([to_fraction(v) for v in c0], dtype=object)
    Z[..., : layout.reward + 1, :n] = context[..., :n]
    Z[..., :, n] = c0
    return Z


def kernel_td_prompt(features: Any, rewards: Any) -> NDArray[Any]:
    """Softmax-TD prompt Z_0 ∈ R^{(d+3)×(n+1)} of one trajectory S_0..S_n ([X26b]; docs/contract.md, T4).

    ``features`` is (n+1, d), row j = x(S_j) (row n is the query state S_n); ``rewards`` is (n,),
    entry k−1 = R_k = r(S_{k−1}). Rows 0..d−1 hold x(S_j); row d holds R_k at column k−1 (0 at the
    query); rows d+1 (targets γ v(S_{j+1})) and d+2 (values v(S_j)) start at 0. From an MRP:
    ``kernel_td_prompt(mrp.features[states], mrp.r[states[:-1]])``. A leading batch axis B on both
    gives (B, d+3, n+1); arrays of Fractions stay exact.
    """
    f_shape, r_shape = np.shape(features), np.shape(rewards)
    if len(f_shape) not in (2, 3):
        raise ValueError(f"features: expected shape (n+1, d) or (B, n+1, d), got {f_shape}")
    batch, (cols, d) = f_shape[:-2], f_shape[-2:]
    labels = "(B, n+1, d)" if batch else "(n+1, d)"
    if len(r_shape) == len(batch) + 1 and d == r_shape[-1] + 1 != cols:  # (d, n+1): transposed
        _validate.matrix_shape("features", features, batch, d, cols, labels)
    if cols < 2:
        raise ValueError(f"features: a trajectory needs n + 1 >= 2 states, got shape {f_shape}")
    if d == 0:
        raise ValueError(f"features: expected at least one feature per state (d >= 1), got shape {f_shape}")
    x = _validate.array("features", features, (*batch, cols, d))
    r = _validate.array("rewards", rewards, (*batch, cols - 1))
    exact = _exact(x, r)
    Z = np.zeros((*batch, d + 3, cols), dtype=object if exact else np.float64)
    if exact:
        Z[...] = Fraction(0)
    Z[..., :d, :] = np.swapaxes(x, -1, -2)
    Z[..., d, : cols - 1] = r
    return Z


def split_kernel_td_prompt(Z: Any) -> tuple[Any, Any, Any, Any]:
    """Rows of a softmax-TD prompt as stored: (X (d×(n+1)), rewards ρ, targets τ, values u (each 1×(n+1)))."""
    rows, cols = Z.shape[-2], Z.shape[-1]
    if rows < 4 or cols < 2:
        raise ValueError(f"Z: expected shape (d+3, n+1) with d, n >= 1, got {tuple(Z.shape)}")
    d = rows - 3
    return Z[..., :d, :], Z[..., d : d + 1, :], Z[..., d + 1 : d + 2, :], Z[..., d + 2 : d + 3, :]


def expected_feature_prompts(transition: Any, rewards: Any, features: Any, gamma: float | Fraction) -> NDArray[Any]:
    """Enumerated-state prompts of [W25b], one per query state: n = S context columns, column i is
    (φ(i), γ Σ_{s'} P[i, s'] φ(s'), r(i)), and prompt q has the query column (φ(q), 0, 0).

    Shapes: transition (S, S) row-stochastic, rewards (S,), features (S, d), giving (S, 2d+1, S+1);
    or all with a leading task axis T, giving (T, S, 2d+1, S+1). Arrays of Fractions stay exact.
    """
    P0 = np.asarray(transition) if isinstance(transition, np.ndarray) else np.asarray(transition, dtype=np.float64)
    if P0.ndim not in (2, 3) or P0.shape[-1] != P0.shape[-2] or P0.shape[-1] == 0:
        raise ValueError(f"transition: expected shape (S, S) or (T, S, S) with S >= 1, got {P0.shape}")
    tasks, S = P0.shape[:-2], P0.shape[-1]
    P = _validate.array("transition", transition, (*tasks, S, S))
    r = _validate.array("rewards", rewards, (*tasks, S))
    f_shape = np.shape(features)
    if len(f_shape) == len(tasks) + 2 and f_shape[-1] == S != f_shape[-2]:
        _validate.matrix_shape("features", features, tasks, S, f_shape[-2], "(T, S, d)" if tasks else "(S, d)")
    phi = _validate.array("features", features, (*tasks, S, None))
    row_sums = P.sum(axis=-1)
    stochastic = np.all(row_sums == 1) if P.dtype == object else np.all(np.abs(row_sums.astype(float) - 1) <= 1e-9)
    if np.any(P < 0) or not stochastic:
        raise ValueError("transition: rows must be non-negative and sum to 1")
    d = phi.shape[-1]
    if d == 0:
        raise ValueError("features: expected at least one feature (d >= 1)")
    batch = (*tasks, S)
    Z = td_prompt(
        np.broadcast_to(phi[..., None, :, :], (*batch, S, d)).reshape(-1, S, d),
        np.broadcast_to((P @ phi)[..., None, :, :], (*batch, S, d)).reshape(-1, S, d),
        np.broadcast_to(r[..., None, :], (*batch, S)).reshape(-1, S),
        phi.reshape(-1, d),
        gamma,
    )
    return Z.reshape(*batch, 2 * d + 1, S + 1)
