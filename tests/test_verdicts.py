"""The verdict logic of icrl_verify.certify on hand-made sides and bounds: float, ball and ladder."""

from __future__ import annotations

import math
from collections.abc import Sequence
from fractions import Fraction
from typing import Any

import numpy as np
import pytest
from flint import arb, arb_mat, fmpq_mat

from icrl_verify.arith.ball import BallBackend
from icrl_verify.arith.float64 import Float64Backend
from icrl_verify.arith.mp import MpmathBackend
from icrl_verify.arith.running_error import RunningErrorBackend, Tracked
from icrl_verify.arith.torch_backend import TorchBackend
from icrl_verify.certify import (
    BALL_MAX_PREC,
    Certificate,
    ClaimPair,
    ClaimResult,
    ball_verdict,
    certify_balls,
    certify_ladder,
    exact_equal,
    fmt_error,
    ladder_verdict,
    tracked_verdict,
)
from icrl_verify.checks.base import TheoremCheck

U = 2.0**-53
INNERS = [Float64Backend(), TorchBackend()]


def _tracked(bk: RunningErrorBackend[Any], value: list[list[list[float]]], bound: Any = None, depth: int = 0) -> Any:
    v = bk.inner.asmatrix(np.array(value))
    return Tracked(v) if bound is None else Tracked(v, bk.inner.asmatrix(np.array(bound)), depth)


def _verdict(bk: RunningErrorBackend[Any], lhs: Any, rhs: Any) -> tuple[list[bool], list[float], list[float]]:
    ok, diff, ratio = tracked_verdict(bk, lhs, rhs)
    as_list = lambda x: np.asarray(bk.inner.to_numpy(x)).reshape(-1).tolist()  # noqa: E731
    return [bool(b) for b in as_list(ok)], as_list(diff), as_list(ratio)


# -- float verdicts ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("inner", INNERS, ids=["numpy", "torch"])
def test_tracked_verdict_per_batch_entry(inner: Any) -> None:
    """Entry 0 within bound_lhs + bound_rhs, entry 1 just outside; bounds of both sides add up."""
    bk = RunningErrorBackend(inner, U)
    lhs = _tracked(bk, [[[1.0, 2.0]], [[1.0, 2.0]]], [[[0.5, 0.5]], [[0.5, 0.5]]])
    rhs = _tracked(bk, [[[1.75, 2.0]], [[1.0, 3.1]]], [[[0.25, 0.0]], [[0.25, 0.5]]])
    ok, diff, ratio = _verdict(bk, lhs, rhs)
    assert ok == [True, False]
    assert diff == [0.75, pytest.approx(1.1)]
    assert ratio[0] == pytest.approx(1.0, abs=1e-14) and ratio[1] == pytest.approx(1.1, rel=1e-12)
    ok, _, _ = _verdict(bk, lhs, _tracked(bk, [[[1.0, 2.0]], [[1.0, 2.0]]]))  # exact right side
    assert ok == [True, True]


@pytest.mark.parametrize("inner", INNERS, ids=["numpy", "torch"])
def test_tracked_verdict_exact_sides(inner: Any) -> None:
    """Two exact sides must be equal; a difference is a failure with a finite (capped) ratio, not an overflow."""
    bk = RunningErrorBackend(inner, U)
    ok, _, _ = _verdict(bk, _tracked(bk, [[[1.0]]]), _tracked(bk, [[[1.0]]]))
    assert ok == [True]
    ok, diff, ratio = _verdict(bk, _tracked(bk, [[[1.0]]]), _tracked(bk, [[[1e300]]]))
    assert ok == [False] and diff == [1e300] and math.isfinite(ratio[0]) and ratio[0] > 1


@pytest.mark.parametrize("inner", INNERS, ids=["numpy", "torch"])
@pytest.mark.parametrize(
    ("value", "bound"),
    [(math.nan, 1.0), (math.inf, 1.0), (1.0, math.inf), (1.0, math.nan), (math.inf, math.inf)],
    ids=["nan-value", "inf-value", "inf-bound", "nan-bound", "inf-both"],
)
def test_non_finite_values_and_bounds_fail_as_overflow(inner: Any, value: float, bound: float) -> None:
    bk = RunningErrorBackend(inner, U)
    lhs = _tracked(bk, [[[value, 1.0]], [[1.0, 1.0]]], [[[bound, 1.0]], [[1.0, 1.0]]])
    ok, _, ratio = _verdict(bk, lhs, _tracked(bk, [[[1.0, 1.0]], [[1.0, 1.0]]]))
    assert ok == [False, True]
    assert not math.isfinite(ratio[0])


def test_uncontrolled_depth_fails_the_verdict() -> None:
    """A bound whose own rounding is uncontrolled ((depth + 2)u ≥ 1/2) is infinite: the comparison fails."""
    bk = RunningErrorBackend(Float64Backend(), U)
    depth = 2**52 - 2
    assert (depth + 2) * U >= 0.5
    lhs = _tracked(bk, [[[1.0]]], [[[1.0]]], depth)
    ok, _, ratio = _verdict(bk, lhs, _tracked(bk, [[[1.0]]]))
    assert ok == [False] and ratio == [math.inf]


class _OneClaim(TheoremCheck[Any]):
    """A check whose only claim is lhs = rhs, with both sides given as functions of the backend."""

    key, title, claims = "toy", "toy", ("c",)

    def __init__(self, lhs: Any, rhs: Any) -> None:
        self.lhs, self.rhs = lhs, rhs

    def sample_exact(self, rng: np.random.Generator) -> Any:
        raise NotImplementedError

    def sample_float(self, rng: np.random.Generator, batch: int) -> Any:
        raise NotImplementedError

    def composed_pairs(self, bk: Any, instance: Any) -> Sequence[ClaimPair[Any]]:
        raise NotImplementedError

    def step_pairs(self, bk: Any, batch: Any) -> Sequence[ClaimPair[Any]]:
        return [ClaimPair("c", 1, self.lhs(bk), self.rhs(bk))]


@pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning")
@pytest.mark.parametrize("kind", ["float64", "torch"])
def test_failure_message_names_overflow(kind: str) -> None:
    big = np.array([[[1.5 * 2.0**1023]]])
    square = lambda bk: bk.hadamard(bk.asmatrix(big), bk.asmatrix(big))  # noqa: E731
    (res,) = _OneClaim(square, lambda bk: bk.asmatrix(big)).run_float(None, kind)
    assert not res.passed and "overflow" in res.detail and "layer 1" in res.detail
    one = lambda bk: bk.asmatrix(np.array([[[1.0]]]))  # noqa: E731
    (res,) = _OneClaim(one, lambda bk: bk.asmatrix(np.array([[[2.0]]]))).run_float(None, kind)
    assert not res.passed and "overflow" not in res.detail and "exceeds the certified rounding bound" in res.detail


# -- ball verdicts ---------------------------------------------------------------------------------------


def _balls(*entries: Any) -> arb_mat:
    return arb_mat([list(entries)])


def test_ball_verdict() -> None:
    tiny, wide = arb(0, 2.0**-200), arb(0, 2.0**-100)
    assert ball_verdict(_balls(tiny, arb(0)), 256) == ("pass", pytest.approx(2.0**-200, rel=1e-6))
    assert ball_verdict(_balls(tiny, wide), 256)[0] == "inconclusive"
    assert ball_verdict(_balls(wide), 128)[0] == "pass"  # the limit is 2^(−prec/2)
    assert ball_verdict(_balls(arb(2.0**-90, 2.0**-91)), 256) == ("fail", pytest.approx(1.5 * 2.0**-90))
    assert ball_verdict(_balls(wide, arb(-1, 0.5)), 256)[0] == "fail"  # a proved difference beats the rest
    assert ball_verdict(_balls(arb(0.25, 0.5)), 256)[0] == "inconclusive"


def test_ball_verdict_limit() -> None:
    """The radius is judged against 2^(−prec/2) exactly, whatever the midpoint of a ball containing 0."""
    assert ball_verdict(_balls(arb(2.0**-200, 2.0**-199)), 256)[0] == "pass"
    assert ball_verdict(_balls(arb(0, 2.0**-129)), 256)[0] == "pass"
    assert ball_verdict(_balls(arb(0, 1.5 * 2.0**-128)), 256)[0] == "inconclusive"
    assert ball_verdict(_balls(arb(-(2.0**-129), 1.5 * 2.0**-128)), 256)[0] == "inconclusive"


@pytest.mark.parametrize("ball", [arb("nan"), arb(0, "inf")], ids=["nan", "inf"])
def test_non_finite_balls_never_pass(ball: arb) -> None:
    verdict, radius = ball_verdict(_balls(ball, arb(0)), 256)
    assert verdict == "inconclusive" and radius == math.inf
    assert ball_verdict(_balls(ball, arb(1, 0.5)), 256)[0] == "fail"


def test_certify_balls_retries_at_higher_precision() -> None:
    """(x·2^200) − (x·2^200) for x = 1/3 has radius about 2^(201 − prec): inconclusive at 256 bits,
    a pass at 512, and the pass is reported with the precision that produced it."""
    calls: list[int] = []

    def compute(bk: BallBackend) -> list[ClaimPair[arb_mat]]:
        calls.append(bk.prec)
        third = bk.scale(bk.asmatrix(np.array([[Fraction(1, 3)]], dtype=object)), 2**200)
        return [ClaimPair("c", 0, third, bk.scale(bk.asmatrix(np.array([[Fraction(1, 3)]], dtype=object)), 2**200))]

    judged, prec = certify_balls(compute)
    assert calls == [256, 512] and prec == 512
    assert [v for _, v, _ in judged] == ["pass"]


def test_certify_balls_stops_at_the_cap() -> None:
    calls: list[int] = []

    def compute(bk: BallBackend) -> list[ClaimPair[arb_mat]]:
        calls.append(bk.prec)
        return [ClaimPair("c", 0, _balls(arb(0, 2.0**-10)), _balls(arb(0)))]

    judged, prec = certify_balls(compute, start_prec=256)
    assert calls == [256, 512, 1024, 2048] and prec == BALL_MAX_PREC
    assert judged[0][1] == "inconclusive"


# -- precision ladder and exact -------------------------------------------------------------------------


def test_ladder_verdict_slack() -> None:
    """Slack s = (p_max − p_min)/2 = 45 digits for 30/60/120: log10 error ≤ −p + s at every rung."""
    assert ladder_verdict([15.0, -15.0, -75.0])
    assert not ladder_verdict([15.0, -15.0, -74.9])
    assert not ladder_verdict([15.1, -100.0, -100.0])
    assert ladder_verdict([-math.inf] * 3)
    assert not ladder_verdict([math.nan, -100.0, -100.0])
    assert ladder_verdict([-5.0, -15.0], dps=(10, 20)) and not ladder_verdict([-4.9, -15.0], dps=(10, 20))


def _ladder_pair(scale: Fraction, discrepancy: Fraction) -> Any:
    def compute(bk: MpmathBackend) -> list[ClaimPair[Any]]:
        third = bk.asmatrix(np.array([[Fraction(1, 3)]], dtype=object))
        lhs = bk.scale(bk.scale(third, 3), scale)
        return [ClaimPair("c", 0, lhs, bk.asmatrix(np.array([[scale + discrepancy]], dtype=object)))]

    return compute


def test_certify_ladder_judges_relative_error() -> None:
    """1/3·3 = 1 holds to working precision at every rung; a discrepancy of 10^-70 is caught at 120
    digits; at magnitude 10^50 an absolute 10^-30 is a relative 10^-80 and passes."""
    ((_, ok, logs),) = certify_ladder(_ladder_pair(Fraction(1), Fraction(0)))
    assert ok and all(log <= -p + 2 for log, p in zip(logs, (30, 60, 120)))
    ((_, ok, logs),) = certify_ladder(_ladder_pair(Fraction(1), Fraction(1, 10**70)))
    assert not ok and logs[-1] == pytest.approx(-70, abs=0.1)
    ((_, ok, logs),) = certify_ladder(_ladder_pair(Fraction(10**50), Fraction(1, 10**30)))
    assert ok and logs[-1] == pytest.approx(-80, abs=0.1)


def test_exact_equal_and_error_format() -> None:
    a = fmpq_mat([[1, 2], [3, 4]])
    assert exact_equal(a, fmpq_mat([[1, 2], [3, 4]])) == (True, None)
    assert exact_equal(a, fmpq_mat([[1, 2], [3, 1]])) == (False, 3.0)
    assert exact_equal(a, fmpq_mat([[-4, 2], [3, 4]])) == (False, 5.0)
    assert exact_equal(a, fmpq_mat([[6, 2], [3, 4]])) == (False, 5.0)  # lhs − rhs = −5
    assert [fmt_error(e) for e in (None, 0.0, 1.5e-3, math.inf)] == ["exact", "0", "1.50e-03", "inf"]


def test_claim_results_fold_and_certificates() -> None:
    """A result keeps the largest error and the first failure's detail; a certificate passes only if all do."""
    r = ClaimResult("t", "c", "b")
    r.record(None, True)
    assert r.worst_error is None and r.passed and r.as_dict()["worst_error"] == "exact"
    r.record(1e-3, True)
    r.record(5e-4, False, "first")
    r.record(2e-3, False, "second")
    assert (r.worst_error, r.passed, r.detail) == (2e-3, False, "first")
    assert r.as_dict()["verdict"] == "FAIL" and r.as_dict()["worst_error"] == 2e-3
    cert = Certificate()
    cert.extend([ClaimResult("t", "c", "b")])
    assert cert.passed
    cert.extend([r])
    assert not cert.passed and len(cert.results) == 2
