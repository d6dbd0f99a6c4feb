"""How two sides of a claim are compared on each backend, and the Certificate records that result."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any, Generic, TypeVar

import numpy as np
from flint import arb, arb_mat, fmpq, fmpq_mat
from numpy.typing import NDArray

from icrl_verify.arith.absolute_program import BoundBackend
from icrl_verify.arith.ball import BallBackend
from icrl_verify.arith.mp import MpmathBackend, log10_max_abs
from icrl_verify.arith.running_error import Tracked

M = TypeVar("M")

MAX_INSTANCE_LINES = 14
"""At most this many lines of an instance description are printed in a failure report."""

LADDER_DPS = (30, 60, 120)
"""Precisions of the mpmath ladder (decimal digits); see :func:`ladder_verdict`."""
LADDER_SLACK = (max(LADDER_DPS) - min(LADDER_DPS)) // 2
"""Digits the ladder lets conditioning cost (45 for 30/60/120)."""

BALL_MAX_PREC = 2048
"""Ball precision is doubled from the starting precision up to this cap while a result is inconclusive."""


@dataclass(frozen=True)
class ClaimPair(Generic[M]):
    """Two sides that a theorem says are equal: ``claim`` at layer (or step) ``layer``."""

    claim: str
    layer: int
    lhs: M
    rhs: M


@dataclass(frozen=True)
class Witness:
    """Where a comparison fails: the layer, the entry with the largest difference, both sides there,
    their difference and what the backend allows (0 for exact, the certified rounding bound for floats)."""

    layer: int
    entry: tuple[int, int]
    lhs: str
    rhs: str
    difference: str
    allowed: str

    def lines(self) -> list[str]:
        """Readable lines: the failing entry, both sides, difference against what is allowed."""
        i, j = self.entry
        return [
            f"layer {self.layer}, entry [{i}, {j}]:",
            f"  transformer side  {self.lhs}",
            f"  reference side    {self.rhs}",
            f"  |difference|      {self.difference}   allowed: {self.allowed}",
        ]

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready record."""
        return {
            "layer": self.layer,
            "entry": list(self.entry),
            "lhs": self.lhs,
            "rhs": self.rhs,
            "difference": self.difference,
            "allowed": self.allowed,
        }


MAX_NUMBER_CHARS = 28
"""Longest printed number; a longer exact fraction is shown as its decimal approximation and its size."""


def number_text(x: Any) -> str:
    """An entry of any backend (Fraction, fmpq, arb, mpf, float) as a short string."""
    text = str(x)
    if len(text) <= MAX_NUMBER_CHARS:
        return text
    if isinstance(x, fmpq):
        x = Fraction(int(x.p), int(x.q))
    if isinstance(x, Fraction):
        digits = len(str(abs(x.numerator))) + len(str(x.denominator))
        return f"≈ {float(x):.12g} (a fraction of {digits} digits)"
    try:
        return f"{float(x):.15g}" if not isinstance(x, arb) else f"{float(x.mid()):.15g} ± {float(x.rad()):.2g}"
    except (TypeError, ValueError):
        return text[:MAX_NUMBER_CHARS] + "…"


def witness(layer: int, lhs: Any, rhs: Any, diff: Any, allowed: Any, magnitude: NDArray[np.float64]) -> Witness:
    """The witness at the entry where ``magnitude`` (a float array of |lhs − rhs|, 2-D) is largest;
    ``lhs``, ``rhs``, ``diff`` and ``allowed`` are indexable by [i, j] (matrices of any backend) or
    plain strings (``allowed`` only)."""
    mag = np.nan_to_num(np.asarray(magnitude, dtype=np.float64), nan=np.inf)
    i, j = (int(k) for k in np.unravel_index(int(np.argmax(mag)), mag.shape))
    allowed_text = allowed if isinstance(allowed, str) else number_text(allowed[i, j])
    difference = number_text(abs(diff[i, j]))
    return Witness(layer, (i, j), number_text(lhs[i, j]), number_text(rhs[i, j]), difference, allowed_text)


@dataclass
class ClaimResult:
    """Outcome of one claim on one backend over many instances and layers."""

    theorem: str
    claim: str
    backend: str
    instances: int = 0
    worst_error: float | None = None  # None: exact equality everywhere
    passed: bool = True
    detail: str = ""
    counterexample: str = ""  # the failing instance, described (shrunk where the check can shrink)
    witness: Witness | None = None  # the first failing comparison on that instance
    shrink_note: str = ""  # how the instance was minimised, or why it was not
    instance: Any = field(default=None, repr=False, compare=False)  # the failing instance itself (not in JSON)

    def record(self, error: float | None, ok: bool, detail: str = "") -> None:
        """Fold one comparison into the result (keeping the first failure's detail)."""
        if error is not None:
            self.worst_error = error if self.worst_error is None else max(self.worst_error, error)
        if not ok and self.passed:
            self.passed = False
            self.detail = detail

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready record."""
        return {
            "theorem": self.theorem,
            "claim": self.claim,
            "backend": self.backend,
            "instances": self.instances,
            "worst_error": "exact" if self.worst_error is None else self.worst_error,
            "verdict": "pass" if self.passed else "FAIL",
            "detail": self.detail,
            "counterexample": self.counterexample,
            "witness": None if self.witness is None else self.witness.as_dict(),
            "shrink": self.shrink_note,
        }

    def explanation(self) -> list[str]:
        """A failure as at most about 25 readable lines: theorem, claim, backend, the instance, both sides,
        their difference and the bound; empty for a pass."""
        if self.passed:
            return []
        lines = [f"{self.theorem} [{self.backend}] {self.claim}: FAIL", f"  {self.detail}"]
        if self.counterexample:
            title = "minimal counterexample" if self.shrink_note.startswith("shrunk") else "counterexample"
            lines.append(f"  {title}" + (f" ({self.shrink_note})" if self.shrink_note else "") + ":")
            lines += [f"    {line}" for line in self.counterexample.splitlines()[:MAX_INSTANCE_LINES]]
        if self.witness is not None:
            lines += [f"  {line}" for line in self.witness.lines()]
        return lines


def exact_equal(lhs: fmpq_mat, rhs: fmpq_mat) -> tuple[bool, float | None]:
    """Exact comparison; the error is None when equal, else the largest |difference| as a float."""
    if lhs == rhs:
        return True, None
    diff = lhs - rhs
    return False, max(abs(float(diff[i, j])) for i in range(diff.nrows()) for j in range(diff.ncols()))


def ball_verdict(diff: arb_mat, prec: int) -> tuple[str, float]:
    """Judge a difference ball: 'pass' if every entry contains 0 with radius ≤ 2^(−prec/2), 'fail' if
    some entry excludes 0, 'inconclusive' otherwise (retry at higher precision). A ball with a
    non-finite midpoint or radius (NaN, inf: it contains every real) is inconclusive, never a pass.

    (A ball that contains 0 has |mid| ≤ radius, so a limit relative to max(1, |mid|) would be the same.)
    Returns the verdict and the largest radius (a rigorous bound on |lhs − rhs| when passing: 2·radius).
    """
    worst, verdict = 0.0, "pass"
    limit = 2.0 ** (-prec / 2)
    for i in range(diff.nrows()):
        for j in range(diff.ncols()):
            x = diff[i, j]
            rad = float(x.rad())
            if not (math.isfinite(float(x.mid())) and math.isfinite(rad)):
                worst, verdict = math.inf, "inconclusive"
                continue
            worst = max(worst, rad)
            if not x.contains(0):
                return "fail", float(abs(x).upper())
            if rad > limit:
                verdict = "inconclusive"
    return verdict, worst


def certify_balls(
    compute: Callable[[BallBackend], Sequence[ClaimPair[arb_mat]]], start_prec: int = 256
) -> tuple[list[tuple[ClaimPair[arb_mat], str, float]], int]:
    """Run ``compute`` at ``start_prec`` bits, doubling while any claim is inconclusive (cap BALL_MAX_PREC).

    Returns (pair, verdict, worst radius) per pair, and the precision used.
    """
    prec = start_prec
    while True:
        bk = BallBackend(prec)
        judged = [(p, *ball_verdict(bk.sub(p.lhs, p.rhs), prec)) for p in compute(bk)]
        if all(v != "inconclusive" for _, v, _ in judged) or prec >= BALL_MAX_PREC:
            return judged, prec
        prec *= 2


def ladder_verdict(log_errors: Sequence[float], dps: Sequence[int] = LADDER_DPS) -> bool:
    """True when the relative error behaves like 10^(−dps): at every rung p, log10 error ≤ −p + s with
    s = (p_max − p_min)/2 the digits conditioning may cost (45 for 30/60/120).

    A true identity loses a fixed number of digits to conditioning, so its error tracks 10^(−p); a false
    one keeps its discrepancy c at every precision and fails the top rung unless c < 10^(−p_max + s)
    (10^(−75) for the default ladder). Exact zeros (−inf) pass.
    """
    slack = (max(dps) - min(dps)) / 2
    return all(err <= -p + slack for err, p in zip(log_errors, dps))


def relative_log10_error(bk: MpmathBackend, pair: ClaimPair[Any], dps: int) -> float:
    """log10 of max|lhs − rhs| / max(1, max|lhs|): the ladder judges relative error, since iterates may grow."""
    return log10_max_abs(bk.sub(pair.lhs, pair.rhs), dps) - max(0.0, log10_max_abs(pair.lhs, dps))


def certify_ladder(
    compute: Callable[[MpmathBackend], Sequence[ClaimPair[Any]]], dps: Sequence[int] = LADDER_DPS
) -> list[tuple[ClaimPair[Any], bool, list[float]]]:
    """Run ``compute`` at each precision of the ladder; per pair: verdict and log10 errors per rung."""
    runs = [list(compute(MpmathBackend(p))) for p in dps]
    out = []
    for k, pair in enumerate(runs[0]):
        logs = [relative_log10_error(MpmathBackend(p), run[k], p) for p, run in zip(dps, runs)]
        out.append((pair, ladder_verdict(logs, dps), logs))
    return out


def tracked_verdict(bk: BoundBackend, lhs: Tracked[Any], rhs: Tracked[Any]) -> tuple[Any, Any, Any]:
    """Float comparison against the certified rounding bounds: per batch entry, (ok, max |diff|,
    max |diff|/bound). ok means |lhs − rhs| ≤ bound_lhs + bound_rhs entrywise with a finite bound (a NaN
    difference compares false, an infinite one exceeds every finite bound). The ratio is +inf or NaN
    exactly where a value or bound is not finite (overflow), and is otherwise at most the largest float
    (reached for a zero bound)."""
    diff = abs(lhs.value - rhs.value)
    bounds = [bk.certified_bound(t) for t in (lhs, rhs) if t.bound is not None]
    bound = sum(bounds[1:], bounds[0]) if bounds else diff * 0.0
    axes = (-2, -1)
    finite = _isfinite(bound)
    ok = _all((diff <= bound) & finite, axes)
    worst = _amax(diff, axes)
    with np.errstate(over="ignore", invalid="ignore"):  # a zero bound or a non-finite side: handled below
        ratio = _amax(diff / _maximum(bound, _TINY), axes)  # at most 1 where ok
    if not bool(ok.all()):  # only a failure needs the overflow flag (the common path stays cheap)
        overflow = ~(_all(finite, axes) & _isfinite(worst))
        ratio = _where(overflow, math.inf, _minimum(ratio, _HUGE))
    return ok, worst, ratio


_TINY = 2.0**-1074
_HUGE = float(np.finfo(np.float64).max)


def _where(cond: Any, value: float, x: Any) -> Any:
    return np.where(cond, value, x) if isinstance(x, np.ndarray) else x.masked_fill(cond, value)


def _minimum(x: Any, cap: float) -> Any:
    return np.minimum(x, cap) if isinstance(x, np.ndarray) else x.clamp(max=cap)


def _isfinite(x: Any) -> Any:
    return np.isfinite(x) if isinstance(x, np.ndarray) else x.isfinite()


def _all(x: Any, axes: tuple[int, int]) -> Any:
    return np.all(x, axis=axes) if isinstance(x, np.ndarray) else x.all(dim=-1).all(dim=-1)


def _amax(x: Any, axes: tuple[int, int]) -> Any:
    return np.max(x, axis=axes) if isinstance(x, np.ndarray) else x.amax(dim=axes)


def _maximum(x: Any, floor: float) -> Any:
    return np.maximum(x, floor) if isinstance(x, np.ndarray) else x.clamp(min=floor)


@dataclass
class Certificate:
    """All claim results of a ``prove`` run."""

    results: list[ClaimResult] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        """True when every claim passed on every backend."""
        return all(r.passed for r in self.results)

    def extend(self, results: Iterable[ClaimResult]) -> None:
        """Add results."""
        self.results.extend(results)

    def explanation(self) -> str:
        """Every failure as its (minimal) counterexample, or a one-line summary when all passed."""
        failures = [line for r in self.results for line in r.explanation()]
        if not self.results:
            return "no claim was checked"
        return "\n".join(failures) if failures else f"all {len(self.results)} claims passed"


def fmt_error(err: float | None) -> str:
    """Worst error for the table: 'exact' for None."""
    if err is None:
        return "exact"
    if err == 0:
        return "0"
    return f"{err:.2e}" if math.isfinite(err) else str(err)
