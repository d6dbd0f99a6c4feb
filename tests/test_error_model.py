"""Every propagation rule of the two certified float bounds, pinned against exact arithmetic and docs/precision.md.

Each rule is run on worst-case operands (roundings in one direction, cancellation, subnormals, huge
magnitudes) whose exact result is known as a Fraction (mpmath for exp); the error must lie within the
certified bound and reach the fraction of it that the worst case derives, so a bound that is too small
(containment fails) or needlessly large (the ratio drops) is caught. Depths, orders and the underflow
pads are pinned to the formulas of docs/precision.md.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

import mpmath
import numpy as np
import pytest

from icrl_verify import constructions
from icrl_verify.arith.absolute_program import AbsoluteProgramBackend
from icrl_verify.arith.base import Backend
from icrl_verify.arith.exact import ExactBackend
from icrl_verify.arith.float64 import Float64Backend
from icrl_verify.arith.running_error import RunningErrorBackend, Tracked, TrackedBackend
from icrl_verify.arith.torch_backend import TorchBackend
from icrl_verify.attention import run_transformer

U = 2.0**-53
SIGMA = 2.0**-1074  # smallest subnormal; η₀ = σ/2
ETA = Fraction(1, 2**1075)
NORMAL = 2.0**-1022
INNERS = [Float64Backend(), TorchBackend()]
INNER_IDS = ["numpy", "torch"]


def _gamma(m: int) -> float:
    return m * U / (1 - m * U)


def _pad(count: int) -> float:
    return (count + 1) // 2 * SIGMA


def _np(bk: TrackedBackend[Any], x: Any) -> np.ndarray:
    return np.asarray(bk.inner.to_numpy(x), dtype=np.float64)


def _mat(bk: TrackedBackend[Any], rows: list[list[float]], bound: Any = None, depth: int = 0) -> Any:
    value = bk.inner.asmatrix(np.array(rows, dtype=np.float64))
    if bound is None:
        return Tracked(value)
    return Tracked(value, bk.inner.asmatrix(np.array(bound, dtype=np.float64)), depth)


def _ratio(bk: TrackedBackend[Any], result: Tracked[Any], exact: list[list[Fraction]]) -> float:
    """max error / certified bound over the entries, after asserting containment entrywise."""
    value, bound = _np(bk, result.value), _np(bk, bk.certified_bound(result))
    worst = 0.0
    for i, row in enumerate(exact):
        for j, x in enumerate(row):
            err = abs(Fraction(float(value[i, j])) - x)
            assert err <= Fraction(float(bound[i, j])), (i, j, float(err), bound[i, j])
            if err:
                worst = max(worst, float(err / Fraction(float(bound[i, j]))))
    return worst


def _running(inner: Backend[Any], subnormal: float = SIGMA) -> RunningErrorBackend[Any]:
    return RunningErrorBackend(inner, U, subnormal)


def _absolute(inner: Backend[Any], subnormal: float = SIGMA) -> AbsoluteProgramBackend[Any]:
    return AbsoluteProgramBackend(inner, U, subnormal)


BOTH = [_running, _absolute]


# -- the arithmetic the model assumes ---------------------------------------------------------------


@pytest.mark.parametrize("inner", INNERS, ids=INNER_IDS)
def test_products_underflow_gradually(inner: Backend[Any]) -> None:
    """Subnormals are neither flushed to zero (FTZ) nor read as zero (DAZ): the model's η₀ is the error."""
    three_sigma = inner.asmatrix(np.array([[3 * SIGMA]]))
    half, two = inner.asmatrix(np.array([[0.5]])), inner.asmatrix(np.array([[2.0]]))
    assert float(inner.to_numpy(inner.hadamard(three_sigma, half))[0, 0]) == 2 * SIGMA  # 1.5σ, ties to even
    assert float(inner.to_numpy(inner.matmul(three_sigma, half))[0, 0]) == 2 * SIGMA
    assert float(inner.to_numpy(inner.hadamard(inner.asmatrix(np.array([[SIGMA]])), two))[0, 0]) == 2 * SIGMA


# -- the example: a subnormal preconditioner ---------------------------------------------------


@pytest.mark.parametrize("inner", INNERS, ids=INNER_IDS)
@pytest.mark.parametrize("make", BOTH, ids=["running", "absolute"])
def test_subnormal_preconditioner_needs_the_underflow_term(make: Any, inner: Backend[Any]) -> None:
    """T1 with C = 2.2250738585e-313 (subnormal), features (0, 1.5, 0), rewards (0, 1, 0), query 1.5,
    γ = 0, two layers: the generic layer's query entry is off by σ = 4.94e-324. The bound contains
    it; the same bound without the underflow terms is 0 there and does not."""
    Z0 = np.array([[0.0, 1.5, 0.0, 1.5], [0.0, 0.0, 0.0, 0.0], [0.0, 1.0, 0.0, 0.0]])
    layers = constructions.td0(1, [np.array([[2.2250738585e-313]])] * 2, 3)
    exact_bk = ExactBackend()
    truth = run_transformer(exact_bk, exact_bk.asmatrix(Z0), layers)[-1]
    exact = [[Fraction(int(truth[i, j].p), int(truth[i, j].q)) for j in range(4)] for i in range(3)]
    bk, mutant = make(inner), make(inner, subnormal=0.0)
    out = run_transformer(bk, bk.asmatrix(Z0), layers)[-1]
    assert _ratio(bk, out, exact) <= 1
    err = abs(Fraction(float(_np(bk, out.value)[2, 3])) - exact[2][3])
    assert err > ETA and float(err) == SIGMA
    wrong = run_transformer(mutant, mutant.asmatrix(Z0), layers)[-1]
    assert Fraction(float(_np(mutant, mutant.certified_bound(wrong))[2, 3])) < err


# -- one rule at a time: worst cases against exact arithmetic ------------------------------------------


@pytest.mark.parametrize("inner", INNERS, ids=INNER_IDS)
@pytest.mark.parametrize("make", BOTH, ids=["running", "absolute"])
def test_sum_rounding_reaches_the_bound(make: Any, inner: Backend[Any]) -> None:
    """1 + 2^-53 ties to 1: error u against the bound γ_1·|1| (+ the σ pad): ratio 1 − O(u)."""
    bk = make(inner)
    out = bk.add(_mat(bk, [[1.0]]), _mat(bk, [[U]]))
    assert _ratio(bk, out, [[1 + Fraction(U)]]) > 0.99
    out = bk.sub(_mat(bk, [[1.0]]), _mat(bk, [[-U]]))
    assert _ratio(bk, out, [[1 + Fraction(U)]]) > 0.99


@pytest.mark.parametrize("inner", INNERS, ids=INNER_IDS)
def test_sum_propagates_both_errors(inner: Backend[Any]) -> None:
    """Errors E_A, E_B in opposite directions through a cancelling difference add up: ratio 1 − O(u)."""
    bk = _running(inner)
    e_a, e_b = 2.0**-20, 2.0**-21
    out = bk.sub(_mat(bk, [[1.0]], [[e_a]]), _mat(bk, [[0.5]], [[e_b]]))
    exact = (1 + Fraction(e_a)) - (Fraction(1, 2) - Fraction(e_b))
    assert _ratio(bk, out, [[exact]]) > 0.99
    out = bk.add(_mat(bk, [[1.0]], [[e_a]]), _mat(bk, [[-0.5]], [[e_b]]))
    assert _ratio(bk, out, [[(1 + Fraction(e_a)) + (Fraction(-1, 2) + Fraction(e_b))]]) > 0.99


@pytest.mark.parametrize("inner", INNERS, ids=INNER_IDS)
@pytest.mark.parametrize("make", BOTH, ids=["running", "absolute"])
def test_inner_product_rounding(make: Any, inner: Backend[Any]) -> None:
    """(1, u)·(1, 1) = 1 + u rounds to 1 in any order: error u against γ_2 (1 + u) ≈ 2u: ratio 1/2."""
    bk = make(inner)
    out = bk.matmul(_mat(bk, [[1.0, U]]), _mat(bk, [[1.0], [1.0]]))
    assert 0.49 < _ratio(bk, out, [[1 + Fraction(U)]]) <= 0.5


@pytest.mark.parametrize("inner", INNERS, ids=INNER_IDS)
def test_inner_product_propagates_input_errors(inner: Backend[Any]) -> None:
    """A = Â + E_A, B = B̂ + E_B with all signs aligned: AB − ÂB̂ = |Â|E_B + E_A|B̂| + E_A E_B exactly."""
    bk = _running(inner)
    a = _mat(bk, [[1.0, 2.0]], [[2.0**-20, 2.0**-20]])
    b = _mat(bk, [[3.0], [4.0]], [[2.0**-21], [2.0**-21]])
    ea, eb = Fraction(2.0**-20), Fraction(2.0**-21)
    exact = (1 + ea) * (3 + eb) + (2 + ea) * (4 + eb)
    assert _ratio(bk, bk.matmul(a, b), [[exact]]) > 0.99
    outer = [[(3 + eb) * (1 + ea), (3 + eb) * (2 + ea)], [(4 + eb) * (1 + ea), (4 + eb) * (2 + ea)]]
    assert _ratio(bk, bk.matmul(b, a), outer) > 0.99


@pytest.mark.parametrize("inner", INNERS, ids=INNER_IDS)
@pytest.mark.parametrize("make", BOTH, ids=["running", "absolute"])
def test_subnormal_products(make: Any, inner: Backend[Any]) -> None:
    """3σ × 1/2 = 1.5σ ties to 2σ: error η₀ against a bound of at most 6η₀ (a pad of at most 2σ and the
    certified bound's σ): ratio ≥ 1/6, in the inner product, the entrywise product and the scaling by
    2^-1; without the pads the bound is below η₀."""
    for bk, holds in ((make(inner), True), (make(inner, subnormal=0.0), False)):
        three, half = _mat(bk, [[3 * SIGMA]]), _mat(bk, [[0.5]])
        for out in (bk.matmul(three, half), bk.hadamard(three, half), bk.scale(three, Fraction(1, 2))):
            if holds:
                assert _ratio(bk, out, [[Fraction(3 * SIGMA) / 2]]) >= 1 / 6
            else:
                assert Fraction(float(_np(bk, bk.certified_bound(out))[0, 0])) < ETA


@pytest.mark.parametrize("inner", INNERS, ids=INNER_IDS)
@pytest.mark.parametrize("make", BOTH, ids=["running", "absolute"])
def test_huge_magnitudes_cancel_within_the_bound(make: Any, inner: Backend[Any]) -> None:
    """Products near the overflow threshold that cancel: the bound scales with the magnitudes, stays finite."""
    bk = make(inner)
    big = 2.0**1000 * (1 + 2.0**-52)
    out = bk.matmul(_mat(bk, [[big, -(2.0**1000)]]), _mat(bk, [[3.0], [3.0]]))
    assert 0 < _ratio(bk, out, [[3 * Fraction(big) - 3 * Fraction(2.0**1000)]]) <= 1
    assert np.isfinite(_np(bk, bk.certified_bound(out))).all()


@pytest.mark.parametrize("inner", INNERS, ids=INNER_IDS)
@pytest.mark.parametrize("make", BOTH, ids=["running", "absolute"])
def test_entrywise_product_rounding(make: Any, inner: Backend[Any]) -> None:
    """A pair whose product rounds by 0.9955 u relative: ratio above 0.99 against γ_1|ab|."""
    bk = make(inner)
    a, b = float.fromhex("0x1.3a36a9907a23dp+0"), float.fromhex("0x1.a2f4aeb7a07a3p+0")
    out = bk.hadamard(_mat(bk, [[a, -b]]), _mat(bk, [[b, a]]))
    exact = Fraction(a) * Fraction(b)
    assert _ratio(bk, out, [[exact, -exact]]) > 0.99


@pytest.mark.parametrize("inner", INNERS, ids=INNER_IDS)
def test_entrywise_product_propagates_input_errors(inner: Backend[Any]) -> None:
    bk = _running(inner)
    out = bk.hadamard(_mat(bk, [[2.0]], [[2.0**-20]]), _mat(bk, [[-3.0]], [[2.0**-21]]))
    exact = (2 + Fraction(2.0**-20)) * (-3 - Fraction(2.0**-21))
    assert _ratio(bk, out, [[exact]]) > 0.99


@pytest.mark.parametrize("inner", INNERS, ids=INNER_IDS)
@pytest.mark.parametrize("make", BOTH, ids=["running", "absolute"])
def test_inexact_scaling(make: Any, inner: Backend[Any]) -> None:
    """a·fl(1/3) with a relative error of 0.99999 u: ratio 1/2 against γ_2 (fl(s) and the product)."""
    bk = make(inner)
    a = float.fromhex("0x1.00000000007a2p+0")
    out = bk.scale(_mat(bk, [[a, -a]]), Fraction(1, 3))
    assert 0.49 < _ratio(bk, out, [[Fraction(a) / 3, -Fraction(a) / 3]]) <= 0.5


@pytest.mark.parametrize("inner", INNERS, ids=INNER_IDS)
def test_scaling_propagates_the_input_error(inner: Backend[Any]) -> None:
    """|s|·E for an exact power of two and for 1/3 (a negative s must not flip the bound's sign)."""
    bk = _running(inner)
    e = 2.0**-20
    for s in (Fraction(1, 4), Fraction(-1, 4), Fraction(1, 3), Fraction(-1, 3), 3.0):
        out = bk.scale(_mat(bk, [[1.0]], [[e]]), s)
        assert _ratio(bk, out, [[(1 + Fraction(e)) * Fraction(s)]]) > 0.99, s


@pytest.mark.parametrize("inner", INNERS, ids=INNER_IDS)
@pytest.mark.parametrize("make", BOTH, ids=["running", "absolute"])
def test_exact_scalings(make: Any, inner: Backend[Any]) -> None:
    """Scaling by 0 gives an exact zero; by ±1 keeps bound, depth and order unchanged."""
    bk = make(inner)
    a = bk.matmul(_mat(bk, [[1.0, U]]), _mat(bk, [[1.0], [1.0]]))
    assert bk.scale(a, 0).bound is None
    for s in (1, -1, Fraction(-1)):
        out = bk.scale(a, s)
        assert (out.depth, out.order) == (a.depth, a.order)
        np.testing.assert_array_equal(_np(bk, out.bound), _np(bk, a.bound))
        np.testing.assert_array_equal(_np(bk, out.value), float(s) * _np(bk, a.value))


@pytest.mark.parametrize("inner", INNERS, ids=INNER_IDS)
def test_reciprocal(inner: Backend[Any]) -> None:
    """1/3 rounds by u/3 (ratio 1/2 against γ_1); 1/x̂ with x = x̂ − E attains E/(|x̂|(|x̂| − E))."""
    bk = _running(inner)
    assert 0.49 < _ratio(bk, bk.reciprocal(_mat(bk, [[3.0, -3.0]])), [[Fraction(1, 3), Fraction(-1, 3)]]) <= 0.5
    out = bk.reciprocal(_mat(bk, [[2.0, -2.0]], [[1.0, 1.0]]))
    assert _ratio(bk, out, [[Fraction(1), Fraction(-1)]]) > 0.99  # x = 1, x̂ = 2: |1 − 1/2| = 1/(2·1)
    out = bk.reciprocal(_mat(bk, [[0.75]], [[0.25]]))
    assert _ratio(bk, out, [[Fraction(2)]]) > 0.99


@pytest.mark.filterwarnings("ignore:(overflow|divide by zero) encountered:RuntimeWarning")
@pytest.mark.parametrize("inner", INNERS, ids=INNER_IDS)
def test_reciprocal_fails_safe(inner: Backend[Any]) -> None:
    """E ≥ |x̂| (x may be 0) and a denominator |x̂|(|x̂| − E) below the smallest normal give an infinite bound."""
    bk = _running(inner)
    for x, e in ((2.0, 2.0), (2.0, 3.0), (1e-160, 1e-170), (0.0, 0.0), (np.nextafter(2.0**-511, 0), 0.0)):
        out = bk.reciprocal(_mat(bk, [[x]], [[e]]))
        assert np.isinf(_np(bk, bk.certified_bound(out))[0, 0]), (x, e)
    # the certified E = 0 is σ, and the denominator 2^-511 (2^-511 − σ) rounds to λ exactly: still finite
    assert np.isfinite(_np(bk, bk.certified_bound(bk.reciprocal(_mat(bk, [[2.0**-511]], [[0.0]]))))).all()


@pytest.mark.parametrize("inner", INNERS, ids=INNER_IDS)
def test_reciprocal_underflow(inner: Backend[Any]) -> None:
    """1/(1.75·2^1023) is subnormal and off by 0.857 η₀; the bound (2σ pad and σ) covers it with ratio
    0.857/6, the mutant without pads does not."""
    x = 1.75 * 2.0**1023
    for bk, holds in ((_running(inner), True), (_running(inner, subnormal=0.0), False)):
        out = bk.reciprocal(_mat(bk, [[x]]))
        if holds:
            assert _ratio(bk, out, [[1 / Fraction(x)]]) > 0.14
        else:
            err = abs(Fraction(float(_np(bk, out.value)[0, 0])) - 1 / Fraction(x))
            assert Fraction(float(_np(bk, bk.certified_bound(out))[0, 0])) < err


def _exp_ratio(bk: TrackedBackend[Any], out: Tracked[Any], exact_args: list[float]) -> float:
    mpmath.mp.prec = 300
    value, bound = _np(bk, out.value)[0], _np(bk, bk.certified_bound(out))[0]
    worst = 0.0
    for v, b, x in zip(value, bound, exact_args):
        err = abs(mpmath.mpf(float(v)) - mpmath.exp(mpmath.mpf(x)))
        assert err <= mpmath.mpf(float(b)), (x, float(err), b)
        worst = max(worst, float(err / mpmath.mpf(float(b))))
    return worst


@pytest.mark.parametrize("inner", INNERS, ids=INNER_IDS)
def test_exp(inner: Backend[Any]) -> None:
    """exp(x̂ + E) − exp(x̂) against exp(x̂)·E·exp(E) (ratio (e^E − 1)/(E e^E) ≈ 1 − E/2), exp of exact
    inputs within 2 ulp, and a subnormal result (exp(−745) ≈ 0.57σ) within the 2^-1073 term."""
    bk = _running(inner)
    e = 2.0**-10
    assert _exp_ratio(bk, bk.exp(_mat(bk, [[0.5, -3.0]], [[e, e]])), [0.5 + e, -3.0 + e]) > 0.99
    xs = [1.0, -1.0, 0.1, 700.0, -745.0, -740.0, -1000.0]
    assert _exp_ratio(bk, bk.exp(_mat(bk, [xs])), xs) > 0.0
    mutant = _running(inner, subnormal=0.0)
    out = mutant.exp(_mat(mutant, [[-745.0]]))
    err = abs(mpmath.mpf(float(_np(mutant, out.value)[0, 0])) - mpmath.exp(-745))
    assert mpmath.mpf(float(_np(mutant, mutant.certified_bound(out))[0, 0])) < err


# -- structure: values and bounds move together ------------------------------------------------------------


@pytest.mark.parametrize("make", BOTH, ids=["running", "absolute"])
def test_structural_operations_move_bounds_with_values(make: Any) -> None:
    bk = make(Float64Backend())
    a = bk.matmul(_mat(bk, [[1.0, 2.0], [3.0, 4.0]]), _mat(bk, [[1.0, 10.0, 100.0], [0.5, 0.25, 0.125]]))
    bound, value = _np(bk, a.bound), _np(bk, a.value)
    t = bk.transpose(a)
    np.testing.assert_array_equal(_np(bk, t.bound), bound.T)
    np.testing.assert_array_equal(_np(bk, t.value), value.T)
    blk = bk.block(a, slice(1, 2), slice(0, 2))
    np.testing.assert_array_equal(_np(bk, blk.bound), bound[1:2, 0:2])
    n = bk.neg(a)
    np.testing.assert_array_equal(_np(bk, n.bound), bound)
    np.testing.assert_array_equal(_np(bk, n.value), -value)
    exact = _mat(bk, [[7.0, 8.0, 9.0]])
    c = bk.concat([exact, a], axis=0)
    exact_part = np.zeros((1, 3)) if make is _running else np.array([[7.0, 8.0, 9.0]])  # x_abs of an input is |x|
    np.testing.assert_array_equal(_np(bk, c.bound), np.vstack([exact_part, bound]))
    for op in (t, blk, n, c):
        assert (op.depth, op.order) == (a.depth, a.order)
    assert bk.concat([exact, exact], axis=1).bound is None


# -- depths, orders and pads: the formulas of docs/precision.md ------------------------------------------


def test_running_error_depths() -> None:
    bk = _running(Float64Backend())
    a = _mat(bk, [[1.0, 2.0]], [[1e-9, 1e-9]], depth=3)
    b = _mat(bk, [[1.0], [2.0]], [[1e-9], [1e-9]], depth=5)
    c = _mat(bk, [[1.0, 2.0]], [[1e-9, 1e-9]], depth=5)
    assert bk.matmul(a, b).depth == 3 + 5 + 2 + 8
    assert bk.add(a, c).depth == bk.sub(c, a).depth == 5 + 2
    assert bk.add(_mat(bk, [[1.0]]), _mat(bk, [[1.0]])).depth == 3 + 2
    assert bk.hadamard(a, c).depth == 3 + 5 + 9
    assert bk.scale(a, Fraction(1, 3)).depth == 3 + 7
    assert bk.scale(a, Fraction(-1, 8)).depth == 3 + 1
    assert bk.reciprocal(a).depth == 8 and bk.reciprocal(_mat(bk, [[2.0]])).depth == 4
    assert bk.exp(a).depth == 14 and bk.exp(_mat(bk, [[2.0]])).depth == 4


def test_absolute_program_depths_and_orders() -> None:
    bk = _absolute(Float64Backend())
    x = _mat(bk, [[1.0, 2.0]])
    col = _mat(bk, [[1.0], [2.0]])
    a = bk.add(bk.add(bk.add(x, x), x), x)  # depth 3, order 3
    b = bk.scale(bk.scale(x, Fraction(1, 3)), Fraction(1, 3))  # depth 6, order 4
    assert (a.depth, a.order, b.depth, b.order) == (3, 3, 6, 4)
    m = bk.matmul(a, bk.transpose(b))
    assert (m.depth, m.order) == (3 + 6 + 2 + 1, 3 + 4 + 2)
    assert (bk.matmul(x, col).depth, bk.matmul(x, col).order) == (3, 2)
    h = bk.hadamard(a, b)
    assert (h.depth, h.order) == (3 + 6 + 2, 3 + 4 + 1)
    s = bk.sub(a, b)
    assert (s.depth, s.order) == (7, 5)
    p = bk.scale(a, Fraction(1, 4))
    assert (p.depth, p.order) == (4, 3)
    p0 = bk.scale(x, Fraction(-1, 4))  # exact input: the possible underflow still needs N ≥ 1
    assert (p0.depth, p0.order) == (2, 1)
    assert (bk.scale(a, Fraction(2, 3)).depth, bk.scale(a, Fraction(2, 3)).order) == (6, 5)


@pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning")
@pytest.mark.parametrize("inner", INNERS, ids=INNER_IDS)
def test_underflow_pads_on_zero_operands(inner: Backend[Any]) -> None:
    """With zero operands every rounding term vanishes and the bound is exactly the underflow pad."""
    re, ap = _running(inner), _absolute(inner)
    zr, zc = np.zeros((2, 3)), np.zeros((3, 2))

    def entry(bk: TrackedBackend[Any], t: Tracked[Any]) -> float:
        return float(_np(bk, t.bound)[0, 0])

    assert entry(re, re.matmul(_mat(re, zr.tolist()), _mat(re, zc.tolist()))) == _pad(2 * 9 + 2 * 3)
    assert entry(re, re.add(_mat(re, [[0.0]]), _mat(re, [[0.0]]))) == SIGMA
    assert entry(re, re.hadamard(_mat(re, [[0.0]]), _mat(re, [[0.0]]))) == _pad(3)
    assert entry(re, re.scale(_mat(re, [[0.0]]), Fraction(1, 3))) == _pad(4)
    assert entry(re, re.scale(_mat(re, [[0.0]]), Fraction(1, 2))) == SIGMA
    assert entry(re, re.exp(_mat(re, [[-2000.0]]))) == _pad(6)
    # 1/2^1000: the local term γ_1·2^-1000 is subnormal, so the pad shows (the denominator overflows: 1/inf = 0)
    local = _gamma(1) * 2.0**-1000
    assert entry(re, re.reciprocal(_mat(re, [[2.0**1000]]))) == local + _pad(3)
    assert entry(re, re.reciprocal(_mat(re, [[2.0**1000]], [[0.0]]))) == local + _pad(4)
    assert entry(ap, ap.matmul(_mat(ap, zr.tolist()), _mat(ap, zc.tolist()))) == 3 * NORMAL
    assert entry(ap, ap.hadamard(_mat(ap, [[0.0]]), _mat(ap, [[0.0]]))) == NORMAL
    assert entry(ap, ap.scale(_mat(ap, [[0.0]]), Fraction(1, 3))) == NORMAL
    assert entry(ap, ap.scale(_mat(ap, [[0.0]]), Fraction(1, 2))) == NORMAL
    assert entry(ap, ap.add(_mat(ap, [[0.0]]), _mat(ap, [[0.0]]))) == 0.0


def test_certified_bound_inflation() -> None:
    """certified = fl(fl(B · F) + σ) with F = 1 + 2γ_{k+6} (running) or γ_N (1 + 2γ_{k+6}) (absolute)."""
    re, ap = _running(Float64Backend()), _absolute(Float64Backend())
    B = np.array([[1.0, 3.0, SIGMA, 0.0]])
    got = re.certified_bound(Tracked(B, B.copy(), 10))
    np.testing.assert_array_equal(got, B * (1 + 2 * _gamma(16)) + SIGMA)
    got = ap.certified_bound(Tracked(B, B.copy(), 10, 7))
    np.testing.assert_array_equal(got, B * (_gamma(7) * (1 + 2 * _gamma(16))) + SIGMA)
    np.testing.assert_array_equal(re.certified_bound(Tracked(B)), np.zeros((1, 4)))
    np.testing.assert_array_equal(ap.certified_bound(Tracked(B, B.copy(), 0, 0)), np.zeros((1, 4)))


@pytest.mark.parametrize("make", BOTH, ids=["running", "absolute"])
def test_uncontrolled_depth_fails_safe(make: Any) -> None:
    """Once (depth + 6)u ≥ 1/2 the bound's own rounding is not controlled: the bound is infinite."""
    bk = make(Float64Backend())
    last = 2**52 - 7  # (last + 6)u < 1/2 ≤ (last + 7)u
    B = np.array([[1.0]])
    assert np.isfinite(bk.certified_bound(Tracked(B, B.copy(), last, 1))).all()
    for depth in (last + 1, 2**52 - 2, 2**52, 2**60):
        assert np.isinf(bk.certified_bound(Tracked(B, B.copy(), depth, 1))).all(), depth
    with pytest.raises(ValueError, match="rounding depth"):
        bk.gamma(2**52)


def test_inexact_scaling_bound_formula() -> None:
    """s·A for s = −1/3 with E_A = 1 on a value 3: fl(fl(E·fl(|fl(s)|·fl(1 + γ_1))) + fl(γ_2|result|)) + pad(4),
    exactly as docs/precision.md states it (so also a last-bit change of a factor is seen)."""
    bk = _running(Float64Backend())
    s = Fraction(-1, 3)
    out = bk.scale(_mat(bk, [[3.0]], [[1.0]]), s)
    result = 3.0 * float(s)
    expected = 1.0 * (abs(float(s)) * (1 + _gamma(1))) + _gamma(2) * abs(result) + _pad(4)
    assert float(out.bound[0, 0]) == expected
    assert float(out.value[0, 0]) == result
