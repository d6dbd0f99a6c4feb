"""Minimal counterexamples: shrink a failing instance over the theorem's Hypothesis strategy."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

from hypothesis import HealthCheck, Phase, find, settings
from hypothesis.errors import NoSuchExample
from hypothesis.strategies import SearchStrategy

from icrl_verify.certify import ClaimResult
from icrl_verify.checks.base import TheoremCheck

SHRINK_EXAMPLES = {"exact": 300, "float64": 300, "torch": 150, "torch-cuda": 150, "ball": 40, "mpmath": 25}
"""Instances the search may try per backend kind (ball and mpmath are slower per instance)."""
SHRINK_SECONDS = 60.0
"""Wall-clock budget of one shrink; when it runs out the smallest failing instance found so far is kept."""


class _ShrinkTimeoutError(Exception):
    """The shrink budget ran out."""


def _size(check: TheoremCheck[Any], instance: Any) -> int:
    return len(check.describe(instance))


def minimal_failure(
    check: TheoremCheck[Any],
    failed: ClaimResult,
    strategy: SearchStrategy[Any] | None = None,
    seconds: float = SHRINK_SECONDS,
) -> ClaimResult:
    """The failed claim re-run on the smallest instance of ``strategy`` (default ``check.strategy(kind)``)
    that fails the same claim on the same backend: Hypothesis searches and shrinks (towards small d, n,
    L and simple entries). Returns ``failed`` unchanged, with a note saying why, when the check has no
    strategy or the search finds no failing instance within its budget."""
    kind = failed.backend
    if strategy is None:
        try:
            strategy = check.strategy(kind)
        except NotImplementedError:
            return replace(failed, shrink_note="not shrunk: this claim has no instance strategy")
    deadline = time.monotonic() + seconds
    smallest: list[Any] = []

    def fails(instance: Any) -> bool:
        if time.monotonic() > deadline:
            raise _ShrinkTimeoutError
        try:
            results = check.run_on(kind, instance)
        except (ValueError, ArithmeticError):
            return False  # an instance outside the claim's domain does not witness a failure
        bad = any(r.claim == failed.claim and not r.passed for r in results)
        if bad and (not smallest or _size(check, instance) < _size(check, smallest[0])):
            smallest[:] = [instance]
        return bad

    budget = settings(
        max_examples=SHRINK_EXAMPLES.get(kind, 100),
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.generate, Phase.shrink],
        suppress_health_check=list(HealthCheck),
    )
    note = "shrunk by Hypothesis over the theorem's strategy"
    try:
        find(strategy, fails, settings=budget)
    except NoSuchExample:
        return replace(failed, shrink_note=f"not shrunk: no small failing instance in {budget.max_examples} tries")
    except _ShrinkTimeoutError:
        note = f"partly shrunk: stopped after {seconds:.0f} s"
    if not smallest:
        return replace(failed, shrink_note=f"not shrunk: no small failing instance within {seconds:.0f} s")
    rerun = [r for r in check.run_on(kind, smallest[0]) if r.claim == failed.claim and not r.passed]
    if not rerun:  # cannot happen for a deterministic check; keep the original rather than guess
        return replace(failed, shrink_note="not shrunk: the smallest failing instance did not fail again")
    small = rerun[0]
    return replace(
        failed,
        detail=small.detail,
        counterexample=small.counterexample or check.describe(smallest[0]),
        witness=small.witness,
        shrink_note=note,
    )


def shrink_failures(
    check: Any,
    results: Sequence[ClaimResult],
    strategy_for: Callable[[str], SearchStrategy[Any]] | None = None,
    seconds: float = SHRINK_SECONDS,
) -> list[ClaimResult]:
    """Every failed result replaced by its minimal counterexample (one shrink per failed claim and backend);
    results of checks that are not :class:`TheoremCheck` (limits, statistics) are returned as they are."""
    if not isinstance(check, TheoremCheck):
        return list(results)
    return [
        r if r.passed else minimal_failure(check, r, None if strategy_for is None else strategy_for(r.backend), seconds)
        for r in results
    ]
