"""θ* builders: the weights that make a transformer's forward pass an RL algorithm (ground truth to import)."""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction
from typing import Any

import numpy as np
from numpy.typing import NDArray

from icrl_verify import _validate
from icrl_verify.attention import (
    AdditiveMask,
    ColumnShift,
    Head,
    LinearAttentionWeights,
    Mask,
    SoftmaxAttentionWeights,
    SoftmaxHead,
    running_average_mask,
    standard_mask,
    td_lambda_mask,
)
from icrl_verify.cot import CoTLayout, CoTWeights


def _preconditioners(d: int, preconditioners: Sequence[Any]) -> list[NDArray[Any]]:
    d = _validate.positive_int("d", d)
    out = []
    for l, C in enumerate(preconditioners):
        batch = np.shape(C)[:-2]
        out.append(_validate.array(f"preconditioners[{l}]", C, (*batch, d, d)))
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


def cot_td(d: int, C: Any) -> CoTWeights:
    """θ*_CoT(C): the one layer that, decoded with chain of thought, runs batch TD [X26a] (the weights
    are our construction, see docs/theorems/cot.md). Tokens (φ, γφ', r, w, e) ∈ R^{3d+2}:

    Q[φ, w] = −I, Q[γφ', w] = +I, Q[r, e] = 1, so z_iᵀ Q c_k = δ_i(w_k) on context tokens and 0 on
    thoughts (their φ, γφ', r blocks are empty); P[w, φ] = C, so each thought adds
    (1/n) C Σ_i δ_i(w_k) φ_i to the w-block. C is (d, d) or batched (B, d, d), any real (need not be
    symmetric; the paper's setting is C = α·I).
    """
    layout = CoTLayout(_validate.positive_int("d", d))
    C = _validate.array("C", C, (*np.shape(C)[:-2], d, d))
    P, Q = _zeros_like(C, layout.size), _zeros_like(C, layout.size)
    P[..., layout.weights, layout.features] = C
    for j in range(d):
        Q[..., layout.features.start + j, layout.weights.start + j] = -1
        Q[..., layout.next_features.start + j, layout.weights.start + j] = 1
    Q[..., layout.reward, layout.bias] = 1
    return CoTWeights(P, Q)


def td_lambda(d: int, preconditioners: Sequence[Any], n: int, lam: float | Fraction) -> list[LinearAttentionWeights]:
    """θ*_TD of T1 with the mask M_λ[i, j] = λ^{i−j} (0 ≤ j ≤ i < n) [W25a, Cor. 3]: the forward pass is
    batch TD(λ) with traces e_i = Σ_{k≤i} λ^{i−k} φ_k.

    The trace decays by λ, not γλ (textbook TD(λ_std) is λ = γ·λ_std). A Fraction λ keeps the mask exact.
    """
    _preconditioners(d, preconditioners)  # refuse bad C_l before the O(n²) mask is built
    return td0(d, preconditioners, n, mask=td_lambda_mask(n, lam))


def residual_gradient_q(C: NDArray[Any], size: int) -> NDArray[Any]:
    """Q with Q[0:2d, 0:2d] = [[−Cᵀ, Cᵀ], [Cᵀ, −Cᵀ]], zero elsewhere (size ≥ 2d)."""
    d = C.shape[-1]
    Q = td_q(C, size)
    Ct = np.swapaxes(C, -1, -2)
    Q[..., d : 2 * d, :d] = Ct
    Q[..., d : 2 * d, d : 2 * d] = -Ct
    return Q


def residual_gradient(d: int, preconditioners: Sequence[Any], n: int) -> list[LinearAttentionWeights]:
    """θ*_RG [W25a]: P_l = e_{2d}e_{2d}ᵀ, Q_l[0:2d, 0:2d] = [[−C_lᵀ, C_lᵀ], [C_lᵀ, −C_lᵀ]], standard mask.

    The forward pass is batch residual gradient w ← w + (1/n) C_l Σ_i δ_i(w) (φ_i − γφ'_i).
    """
    Cs = _preconditioners(d, preconditioners)
    m = standard_mask(n)
    size = 2 * d + 1
    return [
        LinearAttentionWeights((Head(td_selector_p(C, size, 2 * d), residual_gradient_q(C, size), m),))
        for C in Cs
    ]


def average_reward_projection(d: int) -> NDArray[np.float64]:
    """Output projection W ∈ R^{(2d+2)×2(2d+2)} of average-reward TD: W[2d+1, 2d] = 1 (head 1's reward
    row) and W[2d+1, (2d+2) + 2d+1] = 1 (head 2's accumulator row), both into the accumulator row."""
    size = 2 * _validate.positive_int("d", d) + 2
    W = np.zeros((size, 2 * size))
    W[2 * d + 1, 2 * d] = 1
    W[2 * d + 1, size + 2 * d + 1] = 1
    return W


def average_reward_td(
    d: int, preconditioners: Sequence[Any], n: int, averaging: Mask | None = None
) -> list[LinearAttentionWeights]:
    """θ* of average-reward TD [W25a] on the (2d+2)-row prompt: two ordinary heads sharing
    Q_l = Q^TD(C_l) padded to 2d+2, and the output projection :func:`average_reward_projection`.

    Head 1: selector P_1 = e_{2d}e_{2d}ᵀ (reward row), right factor R·M (the exact running-average
    operator; ``averaging`` replaces it); head 2: P_2 = e_{2d+1}e_{2d+1}ᵀ (accumulator row), standard
    mask M. Only row 2d+1 changes; it reads +φ_qᵀ w_l at the query (plus sign).
    """
    Cs = _preconditioners(d, preconditioners)
    head1_mask = averaging if averaging is not None else running_average_mask(n)
    mask = standard_mask(n)
    size = 2 * d + 2
    W = average_reward_projection(d)
    layers = []
    for C in Cs:
        Q = td_q(C, size)
        heads = (Head(td_selector_p(C, size, 2 * d), Q, head1_mask), Head(td_selector_p(C, size, 2 * d + 1), Q, mask))
        layers.append(LinearAttentionWeights(heads, out=W))
    return layers


def kernel_td(d: int, alpha: float | Fraction, gamma: float | Fraction) -> SoftmaxAttentionWeights:
    """One softmax layer that performs a step of weighted softmax TD on the T4 prompt ([X26b]; the
    two-head layout with the shift Π is our construction, see docs/theorems/kernel_td.md).

    D = d+3; both heads use A = diag(I_d, 0, 0, 0) and the standard mask (the query never a source);
    with c = e_d + e_{d+1} − e_{d+2} (so c·Z is the row δ = ρ + τ − u):
    head 1: V_1 = α e_{d+2} cᵀ (values u ← u + α δK); head 2: V_2 = γα e_{d+1} cᵀ with right factor
    Π = ColumnShift(1) (targets τ ← τ + γα (δK)Π, keeping τ = γ·(u shifted)). Stack it with
    ``[layer] * L``. Fraction α, γ give exact (object) weights.
    """
    d = _validate.positive_int("d", d)
    g: Any = _validate.gamma_exact(gamma)
    a: Any = _validate.real("alpha", alpha)
    if not a > 0:
        raise ValueError(f"alpha: expected a finite step size > 0, got {alpha!r}")
    exact = isinstance(a, Fraction) and isinstance(g, Fraction)
    if not exact:
        a, g = float(a), float(g)
    size = d + 3

    def matrix() -> NDArray[Any]:
        m = np.zeros((size, size), dtype=object if exact else np.float64)
        if exact:
            m[...] = Fraction(0)
        return m

    A = matrix()
    for i in range(d):
        A[i, i] = Fraction(1) if exact else 1.0
    delta_row = np.zeros(size, dtype=np.int64)
    delta_row[d], delta_row[d + 1], delta_row[d + 2] = 1, 1, -1
    V_value, V_target = matrix(), matrix()
    V_value[d + 2, :] = [a * int(c) for c in delta_row]
    V_target[d + 1, :] = [g * a * int(c) for c in delta_row]
    mask = AdditiveMask()
    return SoftmaxAttentionWeights(
        (SoftmaxHead(V_value, A, mask), SoftmaxHead(V_target, A, mask, right=ColumnShift(1)))
    )
