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


def batch_td(
    features: Any, next_features: Any, rewards: Any, gamma: float, preconditioners: Sequence[Any]
) -> NDArray[np.float64]:
    """Batch TD(0) on a context, in float64: returns w_0..w_L as an (L+1, d) array.

    ``features``/``next_features`` are (n, d) (φ_i and φ'_i = φ(s_{i+1}), γ is applied here),
    ``rewards`` is (n,), and each preconditioner C_l is (d, d).
    """
    phi = _validate.array("features", features, (None, None))
    n, d = phi.shape
    if n == 0:
        raise ValueError("features: the context must hold at least one transition (n >= 1)")
    phi_next = _validate.array("next_features", next_features, (n, d))
    r = _validate.array("rewards", rewards, (n,))
    g = _validate.gamma(gamma)
    Cs = [_validate.array(f"preconditioners[{l}]", C, (d, d)) for l, C in enumerate(preconditioners)]
    bk = Float64Backend()
    F = bk.asmatrix(phi.T)
    ws = preconditioned_td(bk, F, F, bk.asmatrix(g * phi_next.T), bk.asmatrix(r[None, :]), [bk.asmatrix(C) for C in Cs])
    return np.stack([w[:, 0] for w in ws])
