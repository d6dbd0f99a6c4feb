"""Test helpers for theorem modules: budgets, assertions that show the claim, backend, values and instance,
and the shared per-backend property suite every theorem declares in a few lines."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from fractions import Fraction
from typing import Any

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from icrl_verify.arith.exact import ExactBackend
from icrl_verify.arith.kinds import KINDS
from icrl_verify.attention import run_transformer, tied
from icrl_verify.certify import Certificate, ClaimResult, fmt_error
from icrl_verify.checks.base import TheoremCheck

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


SEEDS = st.integers(0, 2**32 - 1)
"""Seeds of the batches the float kinds sample (a batch is one example)."""
BUDGETS = {"exact": 25, "ball": 8, "mpmath": 4, "float64": 25, "torch": 2, "torch-cuda": 1}
"""Examples per kind under ``icrl-ci`` of a theorem whose instances are cheap (the TD family); a theorem
with dearer instances passes its own (for example ``{**BUDGETS, "ball": 6, "mpmath": 3}``)."""


def torch_batches(
    sizer: TheoremCheck[Any], size: int, cuda_size: int = 1000
) -> dict[str, tuple[TheoremCheck[Any], int]]:
    """The ``batches`` of a :class:`BackendSuite`: ``sizer`` samples ``size`` tasks on torch, ``cuda_size`` on CUDA."""
    return {"torch": (sizer, size), "torch-cuda": (sizer, cuda_size)}


def _same(check: TheoremCheck[Any], value: Any) -> TheoremCheck[Any]:
    return check


@dataclass(frozen=True)
class BackendSuite:
    """The per-backend property tests of one theorem, written once and run for every kind in ``budgets``.

    ``budgets[kind]`` is the number of examples under the ``icrl-ci`` profile (scaled like :func:`budget`).
    A kind in ``batches`` (``torch``, ``torch-cuda``) draws a seed and certifies a batch of ``size`` tasks
    sampled by ``sizer`` (a check with smaller float sizes); any other kind draws single instances from
    ``check.strategy(kind)``. With ``variant`` (a strategy of a parameter such as λ, given whether the kind
    takes exact inputs), each example also draws a value and ``with_variant(check, value)`` judges it.
    A theorem module declares ``test_backends = BackendSuite(CHECK, torch_batches(SIZED, 1000)).tests()``.
    For a kind without a batch the test is equivalent to::

        @budget(budgets[kind])
        @given(check.strategy(kind))
        def test(instance):
            assert_certified(check.run_on(kind, instance))
    """

    check: TheoremCheck[Any]
    batches: Mapping[str, tuple[TheoremCheck[Any], int]]
    budgets: Mapping[str, int] = field(default_factory=lambda: dict(BUDGETS))
    variant: Callable[[bool], st.SearchStrategy[Any]] | None = None
    with_variant: Callable[[Any, Any], TheoremCheck[Any]] = _same

    def __post_init__(self) -> None:
        unknown = [k for k in (*self.budgets, *self.batches) if k not in KINDS]
        if unknown:
            raise ValueError(f"budgets: unknown kinds {unknown}; expected some of {', '.join(KINDS)}")
        missing = [k for k in self.budgets if KINDS[k].float_backend == "torch" and k not in self.batches]
        if missing:
            raise ValueError(f"batches: the torch kinds {missing} need a (sizing check, batch size)")

    def run(self, kind: str) -> None:
        """Run the property of ``kind`` with its budget (fails with every failing claim and its instance)."""
        __tracebackhide__ = True
        spec = KINDS[kind]
        values = self.variant(spec.exact_inputs) if self.variant is not None else st.none()
        if kind in self.batches:
            sizer, size = self.batches[kind]

            @budget(self.budgets[kind])
            @given(SEEDS, values)
            def batch_property(seed: int, value: Any) -> None:
                check = self.with_variant(sizer, value)
                batch = check.sample_float(np.random.default_rng(seed), size)
                assert_certified(check.run_float(batch, spec.float_backend or kind, spec.device))

            batch_property()
            return

        @budget(self.budgets[kind])
        @given(self.check.strategy(kind), values)
        def instance_property(instance: Any, value: Any) -> None:
            assert_certified(self.with_variant(self.check, value).run_on(kind, instance))

        instance_property()

    def tests(self) -> Callable[[str], None]:
        """One test parametrised over the kinds of ``budgets`` (``torch-cuda`` carries the ``cuda`` marker,
        which ``conftest.py`` turns into a skip on a machine without a CUDA device)."""
        import pytest

        params = [
            pytest.param(kind, marks=[pytest.mark.cuda] if KINDS[kind].device == "cuda" else [], id=kind)
            for kind in KINDS
            if kind in self.budgets
        ]

        @pytest.mark.parametrize("kind", params)
        def test_backends(kind: str) -> None:
            __tracebackhide__ = True
            self.run(kind)

        return test_backends


WORKED_EXAMPLE = (
    np.array([[Fraction(1)], [Fraction(2)]], dtype=object),
    np.array([[Fraction(2)], [Fraction(1)]], dtype=object),
    np.array([Fraction(1), Fraction(-1)], dtype=object),
    np.array([Fraction(3)], dtype=object),
    Fraction(1, 2),
)
"""The T1 worked example of docs/contract.md as task data: φ = (1, 2), φ' = (2, 1), r = (1, −1), φ_q = 3, γ = 1/2."""


def exact_row(states: Sequence[Any], row: int, layers: Iterable[int]) -> list[list[Fraction]]:
    """Row ``row`` of the exact (fmpq) states after each layer in ``layers``, as Fractions."""
    return [[Fraction(int(x.p), int(x.q)) for x in states[l].table()[row]] for l in layers]


def assert_tied_stack_is_untied(
    construction: Callable[[int, Sequence[Any], int], list[Any]],
    check_of: Callable[[Any], Any],
    instance: Any,
    C: Any,
    depth: int,
) -> None:
    """One layer of ``construction`` (preconditioner ``C``) applied ``depth`` times gives exactly the states of
    the untied stack with ``depth`` equal layers, and the tied stack passes ``check_of(tied construction)``."""
    __tracebackhide__ = True
    bk = ExactBackend()
    d, n = instance.d, instance.n

    def looped(d: int, Cs: Sequence[Any], n: int) -> list[Any]:
        return tied(construction(d, [C], n)[0], len(Cs))

    Z0 = bk.asmatrix(check_of(construction).build_prompt(instance))
    assert run_transformer(bk, Z0, looped(d, [C] * depth, n)) == run_transformer(
        bk, Z0, construction(d, [C] * depth, n)
    )
    assert_certified(check_of(looped).run_exact([replace(instance, preconditioners=(C,) * depth)]))
