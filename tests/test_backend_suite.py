"""The shared backend suite (icrl_verify.testing.BackendSuite): its budgets reach every kind, it can fail, bad input."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pytest
from hypothesis import settings

from icrl_verify import constructions
from icrl_verify.attention import LinearAttentionWeights
from icrl_verify.certify import ClaimResult
from icrl_verify.checks.td_family import TD0Check
from icrl_verify.testing import BUDGETS, BackendSuite, torch_batches


class CountingTD0(TD0Check):
    """T1's check, counting the instances and batches it judges per kind."""

    def __init__(self, **sizes: Any) -> None:
        super().__init__(**sizes)
        self.calls: dict[str, int] = {}

    def run_on(self, kind: str, instance: Any) -> list[ClaimResult]:
        self.calls[kind] = self.calls.get(kind, 0) + 1
        return super().run_on(kind, instance)

    def run_float(self, batch: Any, kind: str = "float64", device: str = "cpu", **options: Any) -> list[ClaimResult]:
        self.calls[f"batch {kind}"] = self.calls.get(f"batch {kind}", 0) + 1
        return super().run_float(batch, kind, device, **options)


def test_each_kind_runs_its_budget_of_examples() -> None:
    """budgets[kind] examples under the icrl-ci reference of 25, scaled like budget(k) otherwise."""
    check, sizer = CountingTD0(), CountingTD0(float_n=4, float_depth=2)
    budgets = {k: n for k, n in BUDGETS.items() if k != "torch-cuda"}
    suite = BackendSuite(check, torch_batches(sizer, 8), budgets)
    for kind in budgets:
        suite.run(kind)
    scale = settings().max_examples / 25

    def expected(k: int) -> int:
        return max(1, round(k * scale))

    assert {k: check.calls[k] for k in ("exact", "ball", "mpmath", "float64")} == {
        k: expected(budgets[k]) for k in ("exact", "ball", "mpmath", "float64")
    }
    assert sizer.calls == {"batch torch": expected(budgets["torch"])}


def flipped(d: int, preconditioners: Sequence[Any], n: int) -> list[LinearAttentionWeights]:
    """θ*_TD with every C_l negated: the step goes the wrong way."""
    return constructions.td0(d, [-np.asarray(C) for C in preconditioners], n)


def test_a_wrong_construction_fails_the_suite() -> None:
    """T1's check on flipped weights: the exact kind must find the difference (the meta-test of the suite)."""
    with pytest.raises(AssertionError, match="claims failed"):
        BackendSuite(TD0Check(construction=flipped), {}, {"exact": 10}).run("exact")


def test_bad_kinds_are_rejected() -> None:
    with pytest.raises(ValueError, match=r"^budgets"):
        BackendSuite(TD0Check(), {}, {"cpu": 1})
    with pytest.raises(ValueError, match=r"^batches"):
        BackendSuite(TD0Check(), {}, {"torch": 1})
