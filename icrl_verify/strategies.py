"""Hypothesis strategies with labelled draws: MRPs, task data, preconditioners, rationals, TD instances."""

from __future__ import annotations

import math
from fractions import Fraction
from typing import Any

import numpy as np
from hypothesis import strategies as st
from numpy.typing import NDArray

from icrl_verify import mrp as mrp_module
from icrl_verify.arith.kinds import parse_kind
from icrl_verify.tasks import TDInstance
from icrl_verify.tasks.cot import CoTInstance, cot_instance
from icrl_verify.tasks.kernel_td import KernelTDInstance
from icrl_verify.tasks.neu import ExpectedTDInstance

MAX_DENOMINATOR = 16
MAX_NUMERATOR = 64


def rationals(
    max_numerator: int = MAX_NUMERATOR, max_denominator: int = MAX_DENOMINATOR
) -> st.SearchStrategy[Fraction]:
    """Fractions p/q with |p| ≤ max_numerator, 1 ≤ q ≤ max_denominator (shrinks towards 0)."""
    return st.builds(
        Fraction, st.integers(-max_numerator, max_numerator), st.integers(1, max_denominator)
    )


SMALLEST_SUBNORMAL = 2.0**-1074
SMALLEST_NORMAL = 2.0**-1022
NEAR_ONE = 1.0 - 2.0**-52
"""The largest float below 1: the discount closest to the edge γ < 1 of the theorems."""


def hard_floats(bound: float = 2.0) -> st.SearchStrategy[float]:
    """The hard IEEE numbers in [−bound, bound], drawn on purpose: ±0.0, a signed exact power of two
    2^k ≤ bound (k down to −1074), ± the smallest normal 2^−1022, or a signed subnormal."""
    top = math.frexp(bound)[1] - 1
    sign = st.sampled_from([1.0, -1.0])
    return st.one_of(
        st.sampled_from([0.0, -0.0]),
        st.builds(lambda s, k: s * 2.0**k, sign, st.integers(-1074, top)),
        st.builds(lambda s: s * SMALLEST_NORMAL, sign),
        st.builds(lambda s, m: s * m * SMALLEST_SUBNORMAL, sign, st.integers(1, 2**52 - 1)),
    )


def gammas(exact: bool) -> st.SearchStrategy[Any]:
    """Discounts in [0, 1), always including the edge γ = 0; floats also draw −0.0, 1 − 2^−52 (the
    largest float below 1), values in [0.99, 1) and powers of two down to the smallest subnormal."""
    if exact:
        return st.one_of(st.just(Fraction(0)), st.builds(Fraction, st.integers(0, 15), st.just(16)))
    return st.one_of(
        st.just(0.0),
        st.floats(0.0, 0.99),
        st.sampled_from([-0.0, NEAR_ONE, SMALLEST_NORMAL]),
        st.floats(0.99, 1.0, exclude_max=True),
        st.integers(1, 1074).map(lambda k: 2.0**-k),
    )


def matrices(shape: tuple[int, ...], exact: bool, bound: float = 2.0) -> st.SearchStrategy[NDArray[Any]]:
    """Arrays of the given shape: Fractions (exact) or finite floats in [−bound, bound] (the hard IEEE
    numbers are put into a whole instance by :func:`with_hard_entries`)."""
    size = int(np.prod(shape)) if shape else 1
    elements: st.SearchStrategy[Any] = (
        rationals() if exact else st.floats(-bound, bound, allow_nan=False, allow_infinity=False)
    )

    def build(values: list[Any]) -> NDArray[Any]:
        arr = np.empty(size, dtype=object if exact else np.float64)
        arr[:] = values
        return arr.reshape(shape)

    return st.lists(elements, min_size=size, max_size=size).map(build)


def with_hard_entries(
    draw: st.DrawFn, arrays: list[NDArray[Any]], bound: float = 2.0
) -> list[NDArray[Any]]:
    """Copies of float ``arrays`` with some entries replaced by hard IEEE numbers (:func:`hard_floats`),
    so one instance mixes magnitudes. The replacements are one list drawn after everything else: it
    shrinks to empty, and the ordinary entries before it shrink to 0.0 as they always did."""
    out = [np.array(a, dtype=np.float64) for a in arrays]
    sizes = [a.size for a in out]
    if not sum(sizes):
        return out
    slot = st.tuples(st.integers(0, len(out) - 1), st.integers(0, max(sizes) - 1), hard_floats(bound))
    for which, index, value in draw(st.lists(slot, max_size=sum(sizes)), label="hard entries"):
        if sizes[which]:
            out[which].reshape(-1)[index % sizes[which]] = value
    return out


FEATURE_EXPONENT = 480
REWARD_EXPONENT = 440
"""Float task data is scaled per instance: features by 2^s (|s| ≤ 480), preconditioners by 2^−2s and
rewards by 2^t (t ≤ 440 − |s|). A layer forms the Gram matrix Z M Zᵀ of the prompt and the reference
forms C Σ δ_i φ_i, so every product stays near 2^±960 at most: huge features meet a tiny C, tiny features
a C near the overflow threshold, and the run stays finite (docs/precision.md, the input range)."""


@st.composite
def magnitudes(draw: st.DrawFn, max_feature_exponent: int = FEATURE_EXPONENT) -> tuple[int, int]:
    """(s, t): float features are scaled by 2^s, preconditioners by 2^−2s, rewards by 2^t; (0, 0)
    first, so shrinking removes the scaling, and the extreme exponents are drawn on purpose."""
    lo, hi = -FEATURE_EXPONENT, max_feature_exponent
    s = draw(st.one_of(st.just(0), st.integers(lo, hi), st.sampled_from([lo, hi])), label="features x 2^s")
    top = REWARD_EXPONENT - abs(s)
    t = draw(st.one_of(st.just(0), st.integers(-1074, top), st.sampled_from([-1074, top])), label="rewards x 2^t")
    return s, t


def scaled(values: NDArray[Any], exponent: int) -> NDArray[Any]:
    """values · 2^exponent, correctly rounded (exact unless the result is subnormal)."""
    return np.ldexp(np.asarray(values, dtype=np.float64), exponent)


@st.composite
def shapes(
    draw: st.DrawFn,
    max_d: int = 3,
    max_n: int = 8,
    max_depth: int = 4,
    d: int | None = None,
    depth: int | None = None,
) -> tuple[int, int, int]:
    """(d, n, L) including the edges d = 1, n = 1, L = 0; ``d`` or ``depth`` fixes that size."""
    d = draw(st.integers(1, max_d) if d is None else st.just(d), label="d")
    n = draw(st.integers(1, max_n), label="n")
    depth = draw(st.integers(0, max_depth) if depth is None else st.just(depth), label="L")
    return d, n, depth


@st.composite
def preconditioners(draw: st.DrawFn, d: int, depth: int, exact: bool) -> tuple[NDArray[Any], ...]:
    """Per-layer C_l, generically non-symmetric (a transpose bug cannot hide)."""
    return tuple(draw(matrices((d, d), exact), label=f"C_{l}") for l in range(depth))


@st.composite
def finite_mrps(
    draw: st.DrawFn, max_states: int = 6, max_d: int = 3, tabular: bool | None = None
) -> mrp_module.FiniteMRP:
    """MRPs from the three generators (Boyan chain, loop, random dense), seeded through Hypothesis."""
    family = draw(st.sampled_from(["boyan", "loop", "random"]), label="family")
    seed = draw(st.integers(0, 2**32 - 1), label="seed")
    gamma = draw(st.floats(0.0, 0.95), label="gamma")
    use_tabular = draw(st.booleans(), label="tabular") if tabular is None else tabular
    S = draw(st.integers(3, max_states), label="S")
    d = S if use_tabular else draw(st.integers(1, max_d), label="d")
    rng = np.random.default_rng(seed)
    if family == "boyan":
        return mrp_module.boyan_chain(S, d, gamma, rng, tabular=use_tabular)
    if family == "loop":
        return mrp_module.loop_mrp(S, d, gamma, rng, tabular=use_tabular)
    return mrp_module.random_mrp(S, d, gamma, rng, tabular=use_tabular)


Context = tuple[NDArray[Any], NDArray[Any], NDArray[Any], NDArray[Any], Any]
"""(features (n,d), next_features (n,d), rewards (n,), query (d,), γ) of one prompt."""


@st.composite
def contexts(draw: st.DrawFn, exact: bool, d: int, n: int, from_mrp: bool | None = None) -> Context:
    """A context of n transitions and a query: arbitrary entries, or the transitions of an MRP trajectory
    (float; the MRP may change d) or a trajectory-shaped context φ'_i = φ_{i+1} (exact)."""
    use_mrp = draw(st.booleans(), label="from_mrp") if from_mrp is None else from_mrp
    gamma = draw(gammas(exact), label="gamma")
    if use_mrp and not exact:
        task = draw(finite_mrps(max_d=d), label="mrp")
        states = task.trajectory(n, np.random.default_rng(draw(st.integers(0, 2**32 - 1), label="traj_seed")))
        phi, phi_next, r = task.transitions(states)
        return phi, phi_next, r, task.features[states[-1]], float(gamma)
    phi = draw(matrices((n, d), exact), label="features")
    phi_next = draw(matrices((n, d), exact), label="next_features")
    if use_mrp:
        phi_next = np.concatenate([phi[1:], draw(matrices((1, d), exact), label="last_next")])
    r = draw(matrices((n,), exact), label="rewards")
    query = draw(matrices((d,), exact), label="query")
    return phi, phi_next, r, query, gamma


@st.composite
def td_instances(
    draw: st.DrawFn,
    exact: bool,
    max_d: int = 3,
    max_n: int = 8,
    max_depth: int = 4,
    from_mrp: bool | None = None,
    discounted: bool = True,
    d: int | None = None,
    depth: int | None = None,
) -> TDInstance:
    """A task (see :func:`contexts`) with per-layer non-symmetric preconditioners, as data (no prompt);
    without a discount (γ = None, average-reward TD) when ``discounted`` is False. ``d`` and ``depth``
    fix those sizes (an MRP context, which may change d, is then not drawn). Shrinks towards
    d = n = 1, L = 0 and zero entries."""
    fixed_d = d
    d, n, depth = draw(shapes(max_d, max_n, max_depth, d, depth), label="shape")
    mrp = False if fixed_d is not None else from_mrp
    phi, phi_next, r, query, gamma = draw(contexts(exact, d, n, mrp), label="context")
    d = phi.shape[1]
    Cs = draw(preconditioners(d, depth, exact), label="preconditioners")
    if not exact:
        phi, phi_next, r, query, *hard_Cs = with_hard_entries(draw, [phi, phi_next, r, query, *Cs])
        s, t = draw(magnitudes(), label="magnitudes")
        phi, phi_next, query, r = scaled(phi, s), scaled(phi_next, s), scaled(query, s), scaled(r, t)
        Cs = tuple(scaled(C, -2 * s) for C in hard_Cs)
    return TDInstance(phi, phi_next, r, query, gamma if discounted else None, Cs)


# --- task data of T2 (enumerated prompt), T3 (chain of thought), T4 (softmax kernel TD) -----------
# Instances are task data, never prompts: the check builds the prompt with the builder under test.

def exact_kind(kind: str) -> bool:
    """True for the kinds that draw exact rationals (exact, ball, mpmath), False for the float kinds;
    a ValueError for an unknown kind (the names are those of :mod:`icrl_verify.arith.kinds`)."""
    return parse_kind(kind).exact_inputs


def format_numbers(values: Any) -> str:
    """An array's entries as nested lists: Fractions as p/q, floats as their shortest repr."""
    arr = np.asarray(values, dtype=object)
    if arr.ndim == 0:
        x = arr.item()
        return str(x) if isinstance(x, (Fraction, int, np.integer)) else repr(float(x))
    return "[" + ", ".join(format_numbers(x) for x in arr) + "]"


_COT_SIZES = {"exact": (3, 8, 4), "ball": (3, 5, 3), "mpmath": (2, 4, 2)}
"""(max d, max n, max thoughts K) per exact kind; float kinds use the exact sizes."""


@st.composite
def cot_instances(draw: st.DrawFn, kind: str, from_mrp: bool | None = None, d: int | None = None) -> CoTInstance:
    """T3 task data: a context and query (:func:`contexts`), a non-symmetric C and K thoughts; ``d``
    fixes the feature dimension (no MRP context is then drawn, since it may change d)."""
    exact = exact_kind(kind)
    fixed_d = d
    d, n, K = draw(shapes(*_COT_SIZES.get(kind, _COT_SIZES["exact"]), d=d), label="shape")
    mrp = False if fixed_d is not None else from_mrp
    phi, phi_next, r, query, gamma = draw(contexts(exact, d, n, mrp), label="context")
    C = draw(matrices((phi.shape[1], phi.shape[1]), exact), label="C")
    if not exact:
        phi, phi_next, r, query, C = with_hard_entries(draw, [phi, phi_next, r, query, C])
        s, t = draw(magnitudes(), label="magnitudes")
        phi, phi_next, query, r = scaled(phi, s), scaled(phi_next, s), scaled(query, s), scaled(r, t)
        C = scaled(C, -2 * s)
    return cot_instance(phi, phi_next, r, query, gamma, C, K)


_KERNEL_SIZES = {"exact": (6, 4), "ball": (6, 4), "mpmath": (4, 3)}
"""(max n, max depth L) per exact kind; float kinds use (6, 4)."""


KERNEL_FEATURE_EXPONENT = 4
"""T4 float features are scaled by at most 2^4 (scores up to ~7000, far past exp's overflow at 709, which
the column-max shift handles) and down to 2^−480, where every score underflows."""


@st.composite
def kernel_td_instances(draw: st.DrawFn, kind: str) -> KernelTDInstance:
    """T4 task data: a trajectory S_0..S_n over 1..n+1 distinct states (features repeat with the
    states), rewards, α and γ. Exact kinds: small rationals; float kinds: entries in [−3, 3] with the
    hard IEEE numbers (:func:`hard_floats`), per-instance scales (:func:`magnitudes`), and dyadic α, γ
    including γ ∈ {−0.0, 1 − 2^−52} (the construction's weight γα is exact). Shrinks towards
    d = n = 1, L = 0, one state."""
    exact = exact_kind(kind)
    max_n, max_depth = _KERNEL_SIZES.get(kind, (6, 4))
    d = draw(st.integers(1, 3), label="d")
    n = draw(st.integers(1, max_n), label="n")
    depth = draw(st.integers(0, max_depth), label="L")
    num_states = draw(st.integers(1, n + 1), label="distinct states")
    states = draw(st.lists(st.integers(0, num_states - 1), min_size=n + 1, max_size=n + 1), label="states")
    if exact:
        entry = rationals(12, 8)
        gamma: Any = draw(st.builds(Fraction, st.integers(0, 15), st.just(16)), label="gamma")
        alpha: Any = draw(st.builds(Fraction, st.integers(1, 16), st.just(8)), label="alpha")
        rows = st.lists(st.lists(entry, min_size=d, max_size=d), min_size=num_states, max_size=num_states)
        table = np.array(draw(rows, label="state features"), dtype=object)
        rewards = np.array(draw(st.lists(entry, min_size=n, max_size=n), label="rewards"), dtype=object)
    else:
        dyadic = st.integers(0, 63).map(lambda k: k / 64)
        gamma = draw(st.one_of(dyadic, st.sampled_from([-0.0, NEAR_ONE])), label="gamma")
        alpha = draw(st.integers(1, 64), label="alpha*32") / 32
        if gamma == NEAR_ONE:  # γα stays exact: α a power of two
            alpha = 2.0 ** math.floor(math.log2(alpha))
        table = draw(matrices((num_states, d), exact=False, bound=3.0), label="state features")
        rewards = draw(matrices((n,), exact=False, bound=3.0), label="rewards")
        table, rewards = with_hard_entries(draw, [table, rewards], bound=3.0)
        # scores ⟨x_i, x_j⟩ ≤ 27·2^(2s) stay where exp and its rounding bound are finite
        s, t = draw(magnitudes(max_feature_exponent=KERNEL_FEATURE_EXPONENT), label="magnitudes")
        table, rewards = scaled(table, s), scaled(rewards, t)
    return KernelTDInstance(table[np.array(states)], rewards, alpha, gamma, depth)


_EXPECTED_TD_SIZES = {"exact": (3, 4), "ball": (3, 3), "mpmath": (2, 2)}
"""(max states S, max depth L) per exact kind; float kinds use (4, 6)."""


@st.composite
def expected_td_instances(draw: st.DrawFn, kind: str) -> ExpectedTDInstance:
    """T2 task data: a row-stochastic P (rational, zeros allowed), rewards, γ and features Φ (S×S):
    tabular (Φ = I, value iteration) or general; float kinds draw hard IEEE entries and scales.
    Shrinks towards S = 1, L = 0, uniform P, Φ = I."""
    exact = exact_kind(kind)
    max_states, max_depth = _EXPECTED_TD_SIZES.get(kind, (4, 6))
    S = draw(st.integers(1, max_states), label="S")
    depth = draw(st.integers(0, max_depth), label="L")
    weights = draw(st.lists(st.lists(st.integers(0, 4), min_size=S, max_size=S), min_size=S, max_size=S), label="P")
    rows = [[Fraction(w, sum(row)) for w in row] if sum(row) else [Fraction(1, S)] * S for row in weights]
    P = np.array(rows, dtype=object)
    features = np.array([[Fraction(int(i == j)) for j in range(S)] for i in range(S)], dtype=object)
    if draw(st.booleans(), label="general features"):
        features = draw(matrices((S, S), exact=exact), label="features")
    r = draw(matrices((S,), exact=exact), label="rewards")
    gamma = draw(gammas(exact), label="gamma")
    if not exact:  # no preconditioner compensates Φ here (C = S·I): features only shrink, by 2^s, s ≤ 0
        features, r = with_hard_entries(draw, [features, r])
        s, t = draw(magnitudes(max_feature_exponent=0), label="magnitudes")
        P, features, r = np.asarray(P, dtype=np.float64), scaled(features, s), scaled(r, t)
    return ExpectedTDInstance(P, r, features, gamma, depth)


# --- strategies moved from the theorem modules (T1a, T3, T4) -------------------------------------------


def lambdas(exact: bool) -> st.SearchStrategy[Any]:
    """Trace parameters in [0, 1], always including the edges λ = 0 (TD(0)) and λ = 1."""
    if exact:
        grid = st.builds(Fraction, st.integers(0, 16), st.just(16))
        return st.one_of(st.sampled_from([Fraction(0), Fraction(1)]), grid)
    return st.one_of(st.sampled_from([0.0, 1.0]), st.floats(0.0, 1.0))


def decoding_steps() -> st.SearchStrategy[tuple[int, int, int, NDArray[Any], NDArray[Any]]]:
    """(d, n, k, P, Q) for one CoT decoding step: d ≤ 3, n ≤ 4 context tokens, k ≤ 3 thoughts so far,
    and arbitrary exact (3d+2)×(3d+2) weights P, Q."""
    return st.integers(1, 3).flatmap(
        lambda d: st.tuples(
            st.just(d),
            st.integers(1, 4),
            st.integers(0, 3),
            matrices((3 * d + 2, 3 * d + 2), exact=True),
            matrices((3 * d + 2, 3 * d + 2), exact=True),
        )
    )


def kernel_population_parameters() -> st.SearchStrategy[tuple[int, int, int]]:
    """(S, seed, tenths) of a tabular softmax-kernel MRP: 2 ≤ S ≤ 6 states, γ = tenths/10 (γ = 0 included)."""
    return st.integers(2, 6).flatmap(
        lambda S: st.tuples(st.just(S), st.integers(0, 2**32 - 1), st.sampled_from([0, 1, 3, 5, 7]))
    )
