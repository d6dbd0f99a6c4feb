"""Assertion helpers for theorem modules: failures show the claim, the backend, the values and the instance."""

from __future__ import annotations

from collections.abc import Iterable

from icrl_verify.certify import ClaimResult, fmt_error


def assert_certified(results: Iterable[ClaimResult]) -> None:
    """Fail with every failing claim's backend, detail and counterexample; also fail on no results."""
    results = list(results)
    if not results:
        raise AssertionError("no claim was checked (an empty certificate proves nothing)")
    failures = [r for r in results if not r.passed]
    if failures:
        lines = [
            f"{r.theorem} [{r.backend}] {r.claim}: {r.detail} (worst error {fmt_error(r.worst_error)})"
            + (f"\n    counterexample: {r.counterexample}" if r.counterexample else "")
            for r in failures
        ]
        raise AssertionError("claims failed:\n  " + "\n  ".join(lines))


def assert_rejected(results: Iterable[ClaimResult]) -> None:
    """A mutant must fail at least one claim; show what passed when it did not."""
    results = list(results)
    if not results:
        raise AssertionError("no claim was checked, so nothing could reject the mutant")
    if all(r.passed for r in results):
        summary = ", ".join(f"{r.claim} [{r.backend}] {fmt_error(r.worst_error)}" for r in results)
        raise AssertionError(f"the mutant passed every claim: {summary}")
