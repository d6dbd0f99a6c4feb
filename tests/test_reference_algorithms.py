"""The float64 entry points of the reference algorithms against plain-Python Fraction loops written here.

Inputs are small dyadic numbers (k/4, |k| ≤ 4, n a power of two, γ and λ dyadic) and few layers, so
every intermediate result of the float64 computation has far fewer than 53 significant bits and is
exact: the float iterates must equal the rational ones exactly, with no tolerance.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from icrl_verify.algorithms import batch_average_reward_td, batch_residual_gradient, batch_td_lambda
from icrl_verify.testing import budget

Vector = list[Fraction]

dyadic = st.integers(-4, 4).map(lambda k: Fraction(k, 4))


@st.composite
def contexts(draw: st.DrawFn, sizes: tuple[int, ...] = (1, 2, 4)) -> dict[str, object]:
    d = draw(st.integers(1, 2))
    n = draw(st.sampled_from(sizes))
    depth = draw(st.integers(0, 3))
    rows = lambda count: draw(st.lists(st.lists(dyadic, min_size=d, max_size=d), min_size=count, max_size=count))  # noqa: E731
    return {
        "features": rows(n),
        "next_features": rows(n),
        "rewards": draw(st.lists(dyadic, min_size=n, max_size=n)),
        "preconditioners": [rows(d) for _ in range(depth)],
        "gamma": draw(st.sampled_from([Fraction(0), Fraction(1, 2), Fraction(3, 4)])),
        "lam": draw(st.sampled_from([Fraction(0), Fraction(1, 2), Fraction(1)])),
    }


def _dot(x: Vector, y: Vector) -> Fraction:
    return sum((a * b for a, b in zip(x, y)), Fraction(0))


def _iterate(ctx: dict[str, object], directions: list[Vector], rewards: Vector, gamma: Fraction) -> list[Vector]:
    """w_{l+1} = w_l + (1/n) C_l Σ_i δ_i(w_l) u_i with δ_i(w) = r_i + γ wᵀφ'_i − wᵀφ_i, from w_0 = 0."""
    phi, phi_next = ctx["features"], ctx["next_features"]
    assert isinstance(phi, list) and isinstance(phi_next, list)
    n, d = len(phi), len(phi[0])
    ws = [[Fraction(0)] * d]
    for C in ctx["preconditioners"]:  # type: ignore[attr-defined]
        w = ws[-1]
        deltas = [rewards[i] + gamma * _dot(w, phi_next[i]) - _dot(w, phi[i]) for i in range(n)]
        g = [sum((deltas[i] * directions[i][k] for i in range(n)), Fraction(0)) for k in range(d)]
        ws.append([w[r] + _dot(C[r], g) / n for r in range(d)])
    return ws


def _as_floats(rows: object) -> np.ndarray:
    return np.array(rows, dtype=np.float64)


def _assert_exact(got: np.ndarray, want: list[Vector]) -> None:
    assert got.shape == (len(want), len(want[0]))
    for l, w in enumerate(want):
        assert [Fraction(float(x)) for x in got[l]] == w, (l, got[l].tolist(), [float(x) for x in w])


@budget(25)
@given(contexts())
def test_td_lambda_matches_fraction_loop(ctx: dict[str, object]) -> None:
    """Traces e_i = Σ_{k ≤ i} λ^{i−k} φ_k (decay λ, not γλ)."""
    phi, lam, gamma = ctx["features"], ctx["lam"], ctx["gamma"]
    assert isinstance(phi, list) and isinstance(lam, Fraction) and isinstance(gamma, Fraction)
    d = len(phi[0])
    trace = lambda i, j: sum((lam ** (i - k) * phi[k][j] for k in range(i + 1)), Fraction(0))  # noqa: E731
    traces = [[trace(i, j) for j in range(d)] for i in range(len(phi))]
    rewards = ctx["rewards"]
    assert isinstance(rewards, list)
    want = _iterate(ctx, traces, rewards, gamma)
    got = batch_td_lambda(
        _as_floats(phi), _as_floats(ctx["next_features"]), _as_floats(rewards), float(gamma), float(lam),
        [_as_floats(C) for C in ctx["preconditioners"]],  # type: ignore[attr-defined]
    )
    _assert_exact(got, want)


@budget(25)
@given(contexts())
def test_residual_gradient_matches_fraction_loop(ctx: dict[str, object]) -> None:
    """Directions φ_i − γφ'_i."""
    phi, phi_next, gamma, rewards = ctx["features"], ctx["next_features"], ctx["gamma"], ctx["rewards"]
    assert isinstance(phi, list) and isinstance(phi_next, list) and isinstance(gamma, Fraction)
    assert isinstance(rewards, list)
    directions = [[p - gamma * q for p, q in zip(phi[i], phi_next[i])] for i in range(len(phi))]
    want = _iterate(ctx, directions, rewards, gamma)
    got = batch_residual_gradient(
        _as_floats(phi), _as_floats(phi_next), _as_floats(rewards), float(gamma),
        [_as_floats(C) for C in ctx["preconditioners"]],  # type: ignore[attr-defined]
    )
    _assert_exact(got, want)


@budget(25)
@given(contexts(sizes=(1, 2)))
def test_average_reward_td_matches_fraction_loop(ctx: dict[str, object]) -> None:
    """Rewards r_i − mean(r_0..r_i) (the current reward included), no discount, directions φ_i."""
    phi, rewards = ctx["features"], ctx["rewards"]
    assert isinstance(phi, list) and isinstance(rewards, list)
    centred = [rewards[i] - sum(rewards[: i + 1], Fraction(0)) / (i + 1) for i in range(len(rewards))]
    want = _iterate(ctx, phi, centred, Fraction(1))
    got = batch_average_reward_td(
        _as_floats(phi), _as_floats(ctx["next_features"]), _as_floats(rewards),
        [_as_floats(C) for C in ctx["preconditioners"]],  # type: ignore[attr-defined]
    )
    _assert_exact(got, want)


def test_worked_example_td_lambda_one_is_monte_carlo_like() -> None:
    """A hand-computed case: d = 1, n = 2, φ = (1, 2), φ' = (0, 0), r = (1, −1), γ = 0, λ = 1, C = 1:
    traces (1, 3), δ = r at w = 0, so w_1 = (1/2)(1·1 + (−1)·3) = −1; then δ(w_1) = (1 + 1, −1 + 2)
    = (2, 1) and w_2 = −1 + (1/2)(2·1 + 1·3) = 3/2."""
    got = batch_td_lambda([[1.0], [2.0]], [[0.0], [0.0]], [1.0, -1.0], 0.0, 1.0, [[[1.0]], [[1.0]]])
    assert got.tolist() == [[0.0], [-1.0], [1.5]]
