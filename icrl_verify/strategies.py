"""Hypothesis strategies with labelled draws: MRPs, task data, preconditioners, rationals, TD instances."""

from __future__ import annotations

from fractions import Fraction
from typing import Any

import numpy as np
from hypothesis import strategies as st
from numpy.typing import NDArray

from icrl_verify import mrp as mrp_module
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


def gammas(exact: bool) -> st.SearchStrategy[Any]:
    """Discounts in [0, 1), always including the edge γ = 0."""
    if exact:
        return st.one_of(st.just(Fraction(0)), st.builds(Fraction, st.integers(0, 15), st.just(16)))
    return st.one_of(st.just(0.0), st.floats(0.0, 0.99))


def matrices(shape: tuple[int, ...], exact: bool, bound: float = 2.0) -> st.SearchStrategy[NDArray[Any]]:
    """Arrays of the given shape: Fractions (exact) or finite floats in [−bound, bound]."""
    size = int(np.prod(shape)) if shape else 1
    elements: st.SearchStrategy[Any] = (
        rationals() if exact else st.floats(-bound, bound, allow_nan=False, allow_infinity=False)
    )

    def build(values: list[Any]) -> NDArray[Any]:
        arr = np.empty(size, dtype=object if exact else np.float64)
        arr[:] = values
        return arr.reshape(shape)

    return st.lists(elements, min_size=size, max_size=size).map(build)


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
    return TDInstance(phi, phi_next, r, query, gamma if discounted else None, Cs)


# --- task data of T2 (enumerated prompt), T3 (chain of thought), T4 (softmax kernel TD) -----------
# Instances are task data, never prompts: the check builds the prompt with the builder under test.

EXACT_KINDS = ("exact", "ball", "mpmath")
FLOAT_KINDS = ("float64", "torch", "torch-cuda")


def exact_kind(kind: str) -> bool:
    """True for the kinds that draw exact rationals (exact, ball, mpmath), False for the float kinds."""
    if kind in EXACT_KINDS:
        return True
    if kind in FLOAT_KINDS:
        return False
    raise ValueError(f"kind: expected one of {EXACT_KINDS + FLOAT_KINDS}, got {kind!r}")


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
    return cot_instance(phi, phi_next, r, query, gamma, C, K)


_KERNEL_SIZES = {"exact": (6, 4), "ball": (6, 4), "mpmath": (4, 3)}
"""(max n, max depth L) per exact kind; float kinds use (6, 4)."""


@st.composite
def kernel_td_instances(draw: st.DrawFn, kind: str) -> KernelTDInstance:
    """T4 task data: a trajectory S_0..S_n over 1..n+1 distinct states (features repeat with the
    states), rewards, α and γ. Exact kinds: small rationals; float kinds: features in [−3, 3] and
    dyadic α, γ (so the construction's weight γα is exact). Shrinks towards d = n = 1, L = 0, one state."""
    exact = exact_kind(kind)
    max_n, max_depth = _KERNEL_SIZES.get(kind, (6, 4))
    d = draw(st.integers(1, 3), label="d")
    n = draw(st.integers(1, max_n), label="n")
    depth = draw(st.integers(0, max_depth), label="L")
    num_states = draw(st.integers(1, n + 1), label="distinct states")
    states = draw(st.lists(st.integers(0, num_states - 1), min_size=n + 1, max_size=n + 1), label="states")
    if exact:
        entry: st.SearchStrategy[Any] = rationals(12, 8)
        gamma: Any = draw(st.builds(Fraction, st.integers(0, 15), st.just(16)), label="gamma")
        alpha: Any = draw(st.builds(Fraction, st.integers(1, 16), st.just(8)), label="alpha")
    else:
        entry = st.floats(-3.0, 3.0, allow_nan=False)
        gamma = draw(st.integers(0, 63), label="gamma*64") / 64
        alpha = draw(st.integers(1, 64), label="alpha*32") / 32
    dtype = object if exact else np.float64
    rows = st.lists(st.lists(entry, min_size=d, max_size=d), min_size=num_states, max_size=num_states)
    table = np.array(draw(rows, label="state features"), dtype=dtype)
    rewards = np.array(draw(st.lists(entry, min_size=n, max_size=n), label="rewards"), dtype=dtype)
    return KernelTDInstance(table[np.array(states)], rewards, alpha, gamma, depth)


_EXPECTED_TD_SIZES = {"exact": (3, 4), "ball": (3, 3), "mpmath": (2, 2)}
"""(max states S, max depth L) per exact kind; float kinds use (4, 6)."""


@st.composite
def expected_td_instances(draw: st.DrawFn, kind: str) -> ExpectedTDInstance:
    """T2 task data: a row-stochastic P (rational, zeros allowed), rewards, γ and features Φ (S×S):
    tabular (Φ = I, value iteration) or general. Shrinks towards S = 1, L = 0, uniform P, Φ = I."""
    exact = exact_kind(kind)
    max_states, max_depth = _EXPECTED_TD_SIZES.get(kind, (4, 6))
    S = draw(st.integers(1, max_states), label="S")
    depth = draw(st.integers(0, max_depth), label="L")
    weights = draw(st.lists(st.lists(st.integers(0, 4), min_size=S, max_size=S), min_size=S, max_size=S), label="P")
    rows = [[Fraction(w, sum(row)) for w in row] if sum(row) else [Fraction(1, S)] * S for row in weights]
    P = np.array(rows, dtype=object)
    features = np.array([[Fraction(int(i == j)) for j in range(S)] for i in range(S)], dtype=object)
    if draw(st.booleans(), label="general features"):
        features = draw(matrices((S, S), exact=True), label="features")
    r = draw(matrices((S,), exact=True), label="rewards")
    gamma = draw(gammas(exact), label="gamma")
    if not exact:
        P, features, r = (np.asarray(a, dtype=np.float64) for a in (P, features, r))
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
