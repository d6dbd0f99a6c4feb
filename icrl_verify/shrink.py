"""Minimal counterexamples: shrink a failing instance over the theorem's strategy, then greedily."""

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
"""Instances the Hypothesis search may try per backend kind (ball and mpmath are slower per instance)."""
SHRINK_SECONDS = 300.0
"""A safety net on the wall-clock time of one shrink (the budgets above normally end it much sooner);
when it runs out the smallest failing instance found so far is kept."""


class _ShrinkTimeoutError(Exception):
    """The shrink budget ran out."""


def minimal_failure(
    check: TheoremCheck[Any],
    failed: ClaimResult,
    strategy: SearchStrategy[Any] | None = None,
    seconds: float = SHRINK_SECONDS,
    keep_d: bool = False,
    keep_depth: bool = False,
) -> ClaimResult:
    """The failed claim re-run on the smallest instance found that fails the same claim on the same backend.

    Two stages: Hypothesis searches ``strategy`` (default ``check.strategy(kind)``) and shrinks what fails
    (towards small d, n, L and simple entries); then the smallest failing instance, or the original one
    when the search found none, is reduced greedily by ``check.reductions`` (drop a transition, a layer,
    a feature) while it still fails. ``keep_d`` / ``keep_depth`` fix sizes that the construction under
    test fixes. The result says how it was minimised in ``shrink_note``."""
    kind = failed.backend
    deadline = time.monotonic() + seconds
    smallest: list[Any] = [] if failed.instance is None else [failed.instance]

    def fails(instance: Any) -> bool:
        if time.monotonic() > deadline:
            raise _ShrinkTimeoutError
        try:
            results = check.run_on(kind, instance)
        except (ValueError, ArithmeticError):
            return False  # an instance outside the claim's domain does not witness a failure
        return any(r.claim == failed.claim and not r.passed for r in results)

    searched, reason = False, ""
    try:
        if strategy is None:
            strategy = check.strategy(kind)
        budget = settings(
            max_examples=SHRINK_EXAMPLES.get(kind, 100),
            derandomize=True,
            database=None,
            deadline=None,
            phases=[Phase.generate, Phase.shrink],
            suppress_health_check=list(HealthCheck),
        )
        smallest, searched = [find(strategy, fails, settings=budget)], True
    except NotImplementedError:
        reason = "this claim has no instance strategy"
    except NoSuchExample:
        reason = "the strategy's search found no failing instance"
    except _ShrinkTimeoutError:
        reason = f"the search stopped after {seconds:.0f} s"
    if not smallest:
        return replace(failed, shrink_note=f"not shrunk: {reason}")
    try:
        reduced = _reduce(check, smallest[0], fails, keep_d, keep_depth)
    except _ShrinkTimeoutError:
        reduced = smallest[0]
    rerun = [r for r in check.run_on(kind, reduced) if r.claim == failed.claim and not r.passed]
    if not rerun:  # a deterministic check fails again; keep the original rather than guess
        return replace(failed, shrink_note="not shrunk: the smallest failing instance did not fail again")
    greedy = reduced is not smallest[0]
    if searched:
        note = "shrunk by Hypothesis over the theorem's strategy" + (", then reduced greedily" if greedy else "")
    elif greedy:
        note = f"shrunk greedily from the failing instance ({reason})"
    else:
        note = f"not shrunk: {reason}"
    small = rerun[0]
    return replace(
        failed,
        detail=small.detail,
        counterexample=small.counterexample or check.describe(reduced),
        witness=small.witness,
        instance=reduced,
        shrink_note=note,
    )


def _reduce(
    check: TheoremCheck[Any], instance: Any, fails: Callable[[Any], bool], keep_d: bool, keep_depth: bool
) -> Any:
    """Take the first smaller instance that still fails, until none does."""
    current = instance
    while True:
        smaller = next((c for c in check.reductions(current, keep_d, keep_depth) if fails(c)), None)
        if smaller is None:
            return current
        current = smaller


def shrink_failures(
    check: Any,
    results: Sequence[ClaimResult],
    strategy_for: Callable[[str], SearchStrategy[Any]] | None = None,
    seconds: float = SHRINK_SECONDS,
    keep_d: bool = False,
    keep_depth: bool = False,
) -> list[ClaimResult]:
    """Every failed result replaced by its minimal counterexample (one shrink per failed claim and backend);
    results of checks that are not :class:`TheoremCheck` (limits, statistics) are returned as they are."""
    if not isinstance(check, TheoremCheck):
        return list(results)
    return [
        r
        if r.passed
        else minimal_failure(
            check, r, None if strategy_for is None else strategy_for(r.backend), seconds, keep_d, keep_depth
        )
        for r in results
    ]
