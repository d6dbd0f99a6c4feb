"""Reference RL algorithms, written once against the backend interface, plus numpy entry points."""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction
from typing import Any, TypeVar

import numpy as np
from numpy.typing import NDArray

from icrl_verify import _validate
from icrl_verify.arith.base import Backend
from icrl_verify.arith.float64 import Float64Backend

M = TypeVar("M")


def td_errors(bk: Backend[M], w: M, features: M, next_features: M, rewards: M) -> M:
    """Row of TD errors δ_i(w) = r_i + wᵀ(γφ'_i) − wᵀφ_i (``next_features`` holds γφ'; d×n blocks)."""
    return bk.add(rewards, bk.matmul(bk.transpose(w), bk.sub(next_features, features)))


def td_step(bk: Backend[M], w: M, C: M, directions: M, deltas: M, n: int) -> M:
    """w + (1/n) C Σ_i δ_i u_i, with u_i the columns of ``directions``."""
    return bk.add(w, bk.scale(bk.matmul(C, bk.matmul(directions, bk.transpose(deltas))), Fraction(1, n)))


def preconditioned_td(
    bk: Backend[M],
    directions: M,
    features: M,
    next_features: M,
    rewards: M,
    preconditioners: Sequence[M],
) -> list[M]:
    """Iterates w_0 = 0, w_{l+1} = w_l + (1/n) C_l Σ_i δ_i(w_l) u_i of batch TD-type methods.

    ``directions`` u_i: φ_i for TD(0), traces e_i for TD(λ), φ_i − γφ'_i for residual gradient.
    Blocks are d×n (one column per transition); ``rewards`` is 1×n; returns d×1 iterates.
    """
    d, n = bk.shape(features)
    ws = [bk.zeros(d, 1)]
    for C in preconditioners:
        deltas = td_errors(bk, ws[-1], features, next_features, rewards)
        ws.append(td_step(bk, ws[-1], C, directions, deltas, n))
    return ws


def eligibility_traces(bk: Backend[M], features: M, lam: float | Fraction) -> M:
    """Columns e_i of TD(λ) (d×n) by the backward-view recursion e_{−1} = 0, e_i = λ·e_{i−1} + φ_i,
    i.e. e_i = Σ_{k≤i} λ^{i−k} φ_k, in the backend's arithmetic (a float backend counts the rounding
    of a λ that no double represents). Shares nothing with the TD(λ) mask of the transformer side."""
    _, n = bk.shape(features)
    traces = [bk.block(features, slice(None), slice(0, 1))]
    for i in range(1, n):
        traces.append(bk.add(bk.scale(traces[-1], lam), bk.block(features, slice(None), slice(i, i + 1))))
    return bk.concat(traces, axis=1)


def residual_directions(bk: Backend[M], features: M, next_features: M) -> M:
    """Columns φ_i − γφ'_i of residual gradient (``next_features`` holds γφ')."""
    return bk.sub(features, next_features)


def differential_rewards(bk: Backend[M], rewards: M) -> M:
    """Row r_i − r̄_i with r̄_i = (Σ_{k≤i} r_k)/(i+1), the running mean including the current reward,
    computed directly (running sums, each divided by its count; 1×n). Shares nothing with the
    running-average operator of the transformer side."""
    _, n = bk.shape(rewards)
    total = bk.block(rewards, slice(None), slice(0, 1))
    means = [total]
    for i in range(1, n):
        total = bk.add(total, bk.block(rewards, slice(None), slice(i, i + 1)))
        means.append(bk.scale(total, Fraction(1, i + 1)))
    return bk.sub(rewards, bk.concat(means, axis=1))


def _float_context(
    features: Any,
    next_features: Any,
    rewards: Any,
    gamma: float,
    preconditioners: Sequence[Any],
    allow_one: bool,
    lam: Any = None,
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64], list[NDArray[np.float64]]]:
    """Validated float64 blocks of the numpy entry points: Φ (d×n), γΦ' (d×n), r (1×n) and the C_l.

    Every argument (λ too, when given) is checked before any work starts."""
    _, n, d = _validate.context_sizes(features, next_features, rewards)
    phi = _validate.array("features", features, (n, d)).astype(np.float64)
    phi_next = _validate.array("next_features", next_features, (n, d)).astype(np.float64)
    r = _validate.array("rewards", rewards, (n,)).astype(np.float64)
    g = _validate.gamma(gamma, allow_one=allow_one)
    if lam is not None and not 0 <= _validate.real("lam", lam) <= 1:
        raise ValueError(f"lam: expected a number in [0, 1], got {lam!r}")
    Cs = [_validate.array(f"preconditioners[{l}]", C, (d, d)).astype(np.float64) for l, C in enumerate(preconditioners)]
    return phi.T, g * phi_next.T, r[None, :], Cs


def _stacked(ws: Sequence[NDArray[np.float64]]) -> NDArray[np.float64]:
    return np.stack([w[:, 0] for w in ws])


_F64 = Float64Backend()


def batch_td(
    features: Any, next_features: Any, rewards: Any, gamma: float, preconditioners: Sequence[Any]
) -> NDArray[np.float64]:
    """Batch TD(0) on a context, in float64: returns w_0..w_L as an (L+1, d) array.

    ``features``/``next_features`` are (n, d) (φ_i and φ'_i = φ(s_{i+1}), γ is applied here),
    ``rewards`` is (n,), and each preconditioner C_l is (d, d).
    """
    F, G, r, Cs = _float_context(features, next_features, rewards, gamma, preconditioners, allow_one=False)
    return _stacked(preconditioned_td(_F64, F, F, G, r, Cs))


def batch_td_lambda(
    features: Any, next_features: Any, rewards: Any, gamma: float, lam: float, preconditioners: Sequence[Any]
) -> NDArray[np.float64]:
    """Batch TD(λ) in float64 (arguments as :func:`batch_td`, λ ∈ [0, 1]): w_0..w_L as (L+1, d).

    Traces decay by λ, not γλ: textbook TD(λ_std) is ``lam = gamma * λ_std``.
    """
    F, G, r, Cs = _float_context(features, next_features, rewards, gamma, preconditioners, allow_one=False, lam=lam)
    return _stacked(preconditioned_td(_F64, eligibility_traces(_F64, F, lam), F, G, r, Cs))


def batch_residual_gradient(
    features: Any, next_features: Any, rewards: Any, gamma: float, preconditioners: Sequence[Any]
) -> NDArray[np.float64]:
    """Batch residual gradient in float64 (arguments as :func:`batch_td`): w_0..w_L as (L+1, d)."""
    F, G, r, Cs = _float_context(features, next_features, rewards, gamma, preconditioners, allow_one=False)
    return _stacked(preconditioned_td(_F64, residual_directions(_F64, F, G), F, G, r, Cs))


def batch_average_reward_td(
    features: Any, next_features: Any, rewards: Any, preconditioners: Sequence[Any]
) -> NDArray[np.float64]:
    """Batch average-reward TD in float64, δ_i = r_i − r̄_i + wᵀφ'_i − wᵀφ_i (no discount): w_0..w_L as
    (L+1, d). Arguments as :func:`batch_td` without γ."""
    F, G, r, Cs = _float_context(features, next_features, rewards, 1.0, preconditioners, allow_one=True)
    return _stacked(preconditioned_td(_F64, F, F, G, differential_rewards(_F64, r), Cs))


# --- kernel TD (softmax attention, [X26b]) ------------------------------------------------------


def softmax_kernel(bk: Backend[M], features: M) -> M:
    """κ on a trajectory: n×(n+1) with κ[k, j] = exp(x_kᵀx_j) / Σ_{m<n} exp(x_mᵀx_j), for sources k < n
    (the state S_k that transition k+1 leaves) and every column j ≤ n. ``features`` is d×(n+1)."""
    _, cols = bk.shape(features)
    n = cols - 1
    if n < 1:
        raise ValueError("features: expected at least 2 columns (states S_0..S_n with n >= 1)")
    scores = bk.matmul(bk.transpose(bk.block(features, slice(None), slice(0, n))), features)
    shift = bk.softmax_shift(scores)
    weights = bk.exp(scores if shift is None else bk.sub(scores, shift))
    inverse = bk.reciprocal(bk.colsum(weights))
    return bk.hadamard(weights, bk.matmul(bk.asmatrix(np.ones((n, 1))), inverse))


def kernel_td_errors(bk: Backend[M], values: M, rewards: M, gamma: Fraction | float) -> M:
    """Row δ_k = R_k + γ v(S_k) − v(S_{k−1}), k = 1..n, from values v(S_0..S_n) (1×(n+1)) and R (1×n)."""
    _, cols = bk.shape(values)
    later = bk.block(values, slice(None), slice(1, cols))
    earlier = bk.block(values, slice(None), slice(0, cols - 1))
    return bk.add(rewards, bk.sub(bk.scale(later, gamma), earlier))


def kernel_td_step(
    bk: Backend[M], values: M, kappa: M, rewards: M, gamma: Fraction | float, alpha: Fraction | float
) -> M:
    """One synchronous step v + α δ(v) κ, with κ from :func:`softmax_kernel` (n×(n+1)) and v 1×(n+1)."""
    return bk.add(values, bk.scale(bk.matmul(kernel_td_errors(bk, values, rewards, gamma), kappa), alpha))


def kernel_td(
    bk: Backend[M], features: M, rewards: M, gamma: Fraction | float, alpha: Fraction | float, depth: int
) -> list[M]:
    """Weighted softmax TD of [X26b] (batch, synchronous, v_0 = 0): v_0..v_L, each 1×(n+1), with
    v_{l+1}(S_j) = v_l(S_j) + α Σ_{k=1}^n κ(S_{k−1}, S_j) δ_k(v_l) for every column j (the query S_n too).

    ``features`` is d×(n+1) (column j = x(S_j)), ``rewards`` is 1×n (R_k = r(S_{k−1})).
    """
    depth = _validate.positive_int("depth", depth, minimum=0)
    _, cols = bk.shape(features)
    if bk.shape(rewards)[1] != cols - 1:
        raise ValueError(f"rewards: expected {cols - 1} entries (one per transition), got {bk.shape(rewards)[1]}")
    kappa = softmax_kernel(bk, features)
    values = [bk.zeros(1, cols)]
    for _ in range(depth):
        values.append(kernel_td_step(bk, values[-1], kappa, rewards, gamma, alpha))
    return values


def online_kernel_td_step(
    bk: Backend[M],
    values: M,
    kernel: M,
    transition: tuple[int, Fraction | float, int],
    gamma: Fraction | float,
    alpha: Fraction | float,
) -> M:
    """The online form of kernel TD from the talk, for one transition (S_t, R_{t+1}, S_{t+1}):
    v(s) ← v(s) + α δ_t κ(S_t, s) for every state s, δ_t = R_{t+1} + γ v(S_{t+1}) − v(S_t).

    ``values`` is 1×S over states; ``kernel[s', s]`` = κ(s', s) is the weight a transition leaving s'
    carries to state s (source first, as in docs/contract.md; the talk writes κ(s, S_t), target first).
    Special cases: the indicator kernel κ(s', s) = 1{s = s'} is tabular TD(0); summing the increments
    of the n context transitions at a frozen v_l, with κ the context-normalised softmax kernel, is one
    synchronous step of :func:`kernel_td`.
    """
    state, reward, next_state = transition
    _, S = bk.shape(values)
    if not (0 <= state < S and 0 <= next_state < S):
        raise ValueError(f"transition: states must lie in 0..{S - 1}, got {state} -> {next_state}")
    here = bk.block(values, slice(None), slice(state, state + 1))
    there = bk.block(values, slice(None), slice(next_state, next_state + 1))
    delta = bk.add(bk.asmatrix(np.array([[reward]], dtype=object)), bk.sub(bk.scale(there, gamma), here))
    weights = bk.block(kernel, slice(state, state + 1), slice(None))
    return bk.add(values, bk.scale(bk.matmul(delta, weights), alpha))


def population_softmax_kernel(bk: Backend[M], features: M, stationary: M) -> M:
    """M_π (S×S): M_π(s, s') = μ(s') e^{x(s)ᵀx(s')} / Σ_u μ(u) e^{x(s)ᵀx(u)}, from features (S×d) and μ (1×S)."""
    S, _ = bk.shape(features)
    scores = bk.matmul(features, bk.transpose(features))  # symmetric: rows sources u, columns targets s
    shift = bk.softmax_shift(scores)
    weights = bk.hadamard(
        bk.exp(scores if shift is None else bk.sub(scores, shift)),
        bk.matmul(bk.transpose(stationary), bk.asmatrix(np.ones((1, S)))),
    )
    inverse = bk.reciprocal(bk.colsum(weights))
    return bk.transpose(bk.hadamard(weights, bk.matmul(bk.asmatrix(np.ones((S, 1))), inverse)))


def population_kernel_td(
    bk: Backend[M], kernel: M, P: M, r: M, gamma: Fraction | float, depth: int
) -> list[M]:
    """Population iteration v_0 = 0, v ← v + M_π(r + γPv − v): v_0..v_L as S×1 columns (fixed point v_π)."""
    depth = _validate.positive_int("depth", depth, minimum=0)
    S, _ = bk.shape(P)
    values = [bk.zeros(S, 1)]
    for _ in range(depth):
        v = values[-1]
        residual = bk.sub(bk.add(r, bk.scale(bk.matmul(P, v), gamma)), v)
        values.append(bk.add(v, bk.matmul(kernel, residual)))
    return values


# --- references from task data (T2 enumerated prompt, T3 chain of thought) ----------------------
# These read the task itself (features, next features, rewards, γ, P, …), never a prompt: a check
# compares them with what the transformer computes on the prompt the builder under test made.


def context_blocks(bk: Backend[M], features: Any, next_features: Any, rewards: Any, gamma: Any) -> tuple[M, M, M]:
    """Φ (d×n), γΦ' (d×n) and r (1×n) of a context given as task data: ``features`` and ``next_features``
    (n, d) with φ'_i undiscounted, ``rewards`` (n,); or all with a leading batch axis. γ is applied
    here, by the backend (so a float backend accounts for its rounding)."""
    F = bk.asmatrix(np.swapaxes(np.asarray(features), -1, -2))
    G = bk.scale(bk.asmatrix(np.swapaxes(np.asarray(next_features), -1, -2)), gamma)
    return F, G, bk.asmatrix(np.asarray(rewards)[..., None, :])


def expected_td_residual(bk: Backend[M], P: M, r: M, features: M, gamma: Any, w: M) -> M:
    """r + γPΦw − Φw (S×1): the expected TD error of every state under weights w (Φ is S×d, r S×1)."""
    values = bk.matmul(features, w)
    return bk.sub(bk.add(r, bk.scale(bk.matmul(P, values), gamma)), values)


def expected_td_step(bk: Backend[M], P: M, r: M, features: M, gamma: Any, w: M) -> M:
    """One step of expected TD with C = S·I: w + Φᵀ(r + γPΦw − Φw)."""
    return bk.add(w, bk.matmul(bk.transpose(features), expected_td_residual(bk, P, r, features, gamma, w)))


def expected_td(bk: Backend[M], P: M, r: M, features: M, gamma: Any, depth: int) -> list[M]:
    """Expected TD over every state with uniform weighting and C = S·I ([W25b]): w_0 = 0,
    w_{l+1} = w_l + Φᵀ(r + γPΦw_l − Φw_l). With tabular features (Φ = I) this is value iteration
    w_{l+1} = r + γPw_l. Returns w_0..w_L (d×1)."""
    depth = _validate.positive_int("depth", depth, minimum=0)
    _, d = bk.shape(features)
    ws = [bk.zeros(d, 1)]
    for _ in range(depth):
        ws.append(expected_td_step(bk, P, r, features, gamma, ws[-1]))
    return ws
