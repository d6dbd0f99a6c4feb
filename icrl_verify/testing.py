"""Assertion helpers for theorem modules: failures show the claim, the backend, the values and the instance."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from hypothesis import settings

from icrl_verify.certify import Certificate, ClaimResult, fmt_error

REFERENCE_EXAMPLES = 25
"""The budget of the ``icrl-ci`` profile: ``budget(k)`` asks for k examples at this reference."""


def budget(examples: int) -> settings:
    """Hypothesis settings for a test that runs ``examples`` examples under the ``icrl-ci`` profile
    (25 examples per test) and proportionally more or fewer under any other profile or ``--max-examples``.

    Is equivalent to ``settings(max_examples=max(1, round(examples * active / 25)))``, with ``active``
    the ``max_examples`` of the profile loaded when the test module is imported (``conftest.py`` loads
    it before collection), so an expensive test keeps its share of every budget.
    """
    active = settings().max_examples
    return settings(max_examples=max(1, round(examples * active / REFERENCE_EXAMPLES)))


def assert_certified(results: Iterable[ClaimResult]) -> None:
    """Fail with every failing claim's backend, detail and counterexample; also fail on no results."""
    results = list(results)
    if not results:
        raise AssertionError("no claim was checked (an empty certificate proves nothing)")
    failures = [r for r in results if not r.passed]
    if failures:
        lines = [line for r in failures for line in r.explanation()]
        raise AssertionError("claims failed:\n" + "\n".join(lines))


def assert_rejected(results: Iterable[ClaimResult]) -> None:
    """A mutant must fail at least one claim; show what passed when it did not."""
    results = list(results)
    if not results:
        raise AssertionError("no claim was checked, so nothing could reject the mutant")
    if all(r.passed for r in results):
        summary = ", ".join(f"{r.claim} [{r.backend}] {fmt_error(r.worst_error)}" for r in results)
        raise AssertionError(f"the mutant passed every claim: {summary}")


def assert_implements(theorem: str, **options: Any) -> Certificate:
    """Fail with the minimal counterexample unless your construction, weights or prompt builder satisfies
    every claim of ``theorem`` on every requested backend; return the certificate when it does.

    Takes the options of :func:`icrl_verify.verify` (``layers=``, ``construction=``, ``prompt=``,
    ``backends=``, ``examples=``, ``seed=``, ``lam=``). Is equivalent to::

        certificate = verify(theorem, **options)
        assert certificate.passed, certificate.explanation()
    """
    __tracebackhide__ = True
    from icrl_verify.verification import verify

    certificate = verify(theorem, **options)
    if not certificate.results:
        raise AssertionError(f"{theorem}: no claim was checked (an empty certificate proves nothing)")
    if not certificate.passed:
        raise AssertionError(f"{theorem} does not hold for this construction:\n{certificate.explanation()}")
    return certificate
