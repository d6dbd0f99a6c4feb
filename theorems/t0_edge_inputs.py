"""T0 — every float claim of T1–T4 on a fixed table of hard IEEE inputs, in float64 and batched torch.

The Hypothesis strategies draw these numbers at random (``icrl_verify.strategies.hard_floats`` and
``magnitudes``); this table covers them deterministically in every profile, CI included. Each entry is
named after what makes it hard: subnormal or smallest-normal entries (every product underflows, the
absolute term η of the error model is what contains the error, docs/precision.md), a magnitude near the
overflow threshold balanced so that the theorem's computation stays finite (huge features with a tiny
preconditioner, tiny features with a C near 2^960, rewards near the square root of the largest float,
which a layer's Gram matrix squares), signed zeros everywhere, exact powers of two, magnitudes mixed in
one instance, and the discount edges γ = 0, γ = −0.0, γ = 2^−1022 and γ = 1 − 2^−52. Every instance
satisfies its theorem's hypotheses (γ ∈ [0, 1), T2's row-stochastic P, T4's dyadic α and γ), so every
claim must be certified: a failure is a hole in a bound or a bug in a check, never an expected refusal.
The first T3 entry is the counterexample of issue 18 (a subnormal preconditioner), which failed under
the error model without underflow.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

import numpy as np
import pytest

from icrl_verify.checks.cot import CoTCheck, cot_instance
from icrl_verify.checks.kernel_td import KernelTDCheck, KernelTDInstance
from icrl_verify.checks.neu import ExpectedTDCheck, ExpectedTDInstance
from icrl_verify.checks.td_family import TD0Check
from icrl_verify.checks.td_variants import AverageRewardCheck, ResidualGradientCheck, TDLambdaCheck
from icrl_verify.strategies import NEAR_ONE, SMALLEST_NORMAL, SMALLEST_SUBNORMAL
from icrl_verify.tasks import TDInstance
from icrl_verify.testing import assert_certified

SUB = SMALLEST_SUBNORMAL
KINDS = ("float64", "torch")


def _a(values: Any) -> np.ndarray[Any, np.dtype[np.float64]]:
    return np.array(values, dtype=np.float64)


def td(features: Any, next_features: Any, rewards: Any, query: Any, gamma: float, *Cs: Any) -> TDInstance:
    """A float TD instance (n, d from ``features``; one preconditioner per layer)."""
    return TDInstance(_a(features), _a(next_features), _a(rewards), _a(query), gamma, tuple(_a(C) for C in Cs))


TD_EDGES: dict[str, TDInstance] = {
    "subnormal C": td([[1.0], [0.5]], [[0.5], [1.0]], [1.0, -1.0], [1.5], 0.5, [[SUB]], [[3 * SUB]]),
    "subnormal C, d = 2": td(
        [[0.0, 1.5], [1.0, -0.5]], [[0.0, 0.0], [2.0, 1.0]], [0.0, 1.0], [1.5, 1.0], 0.0,
        [[2.2250738585e-313, 0.0], [SUB, 1e-310]], [[1e-320, -SUB], [0.0, 2.0**-1040]],
    ),
    "subnormal features and rewards": td(
        [[SUB], [7 * SUB]], [[-3 * SUB], [SUB]], [5 * SUB, -SUB], [2 * SUB], 0.5, [[1.5]], [[-0.75]]
    ),
    "smallest normal everywhere": td(
        [[SMALLEST_NORMAL], [-SMALLEST_NORMAL]], [[SMALLEST_NORMAL], [0.0]], [SMALLEST_NORMAL, 1.0],
        [SMALLEST_NORMAL], SMALLEST_NORMAL, [[1.0]], [[SMALLEST_NORMAL]],
    ),
    "huge features, tiny C": td(
        [[2.0**480, -(2.0**479)], [1.5 * 2.0**480, 0.0]], [[2.0**479, 2.0**480], [-(2.0**480), 2.0**478]],
        [1.0, -0.5], [2.0**480, 2.0**480], 0.75,
        [[2.0**-960, 0.0], [-(2.0**-961), 1.5 * 2.0**-960]], [[2.0**-961, 2.0**-962], [0.0, 2.0**-960]],
    ),
    "tiny features, C near overflow": td(
        [[2.0**-480], [-1.5 * 2.0**-480]], [[2.0**-481], [2.0**-480]], [2.0**-40, 1.0], [2.0**-480], 0.5,
        [[1.5 * 2.0**959]], [[-(2.0**960)]],
    ),
    "rewards near the square root of the largest float": td(
        [[1.0], [-0.5]], [[0.5], [1.0]], [1.5 * 2.0**440, -(2.0**440)], [1.0], 0.5, [[0.5]], [[1.0]]
    ),
    "signed zeros": td([[-0.0], [-0.0]], [[-0.0], [0.0]], [-0.0, -0.0], [-0.0], -0.0, [[-0.0]], [[-0.0]]),
    "powers of two": td(
        [[2.0, -0.25], [0.5, 1.0]], [[-1.0, 2.0**-30], [4.0, -0.125]], [2.0**20, -(2.0**-20)], [0.5, -2.0],
        0.5, [[0.25, -0.5], [2.0**-10, 1.0]], [[-0.125, 2.0], [0.0, 0.0625]],
    ),
    "mixed magnitudes": td(
        [[1.0, SUB, -0.0], [SMALLEST_NORMAL, -1.5, 2.0**-1000]], [[2.0**-600, 0.5, SUB], [-0.0, 1.0, -1.0]],
        [2.0**300, -SUB], [1.5, 2.0**-1074, -0.0], 0.25,
        [[1.0, 0.0, SUB], [-0.5, 2.0**-500, 0.0], [0.0, 1.0, -0.25]],
        [[0.5, SUB, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]],
    ),
    "gamma 0": td([[1.0], [2.0]], [[2.0], [1.0]], [1.0, -1.0], [3.0], 0.0, [[0.5]], [[1.0]], [[0.25]]),
    "gamma 1 - 2^-52": td(
        [[1.0], [2.0]], [[2.0], [1.0]], [1.0, -1.0], [3.0], NEAR_ONE, [[0.5]], [[1.0]], [[0.25]]
    ),
    "gamma 2^-1074": td([[1.0], [2.0]], [[2.0**600], [1.0]], [1.0, -1.0], [3.0], SUB, [[0.5]], [[2.0**-600]]),
}
"""Edge tasks of the TD family; T1c takes each with γ = None, and skips the discount edges."""

DISCOUNT_EDGES = frozenset({"gamma 0", "gamma 1 - 2^-52", "gamma 2^-1074"})

TD_CHECKS: dict[str, Callable[[], TD0Check]] = {
    "T1": TD0Check,
    "T1a lambda=0": lambda: TDLambdaCheck(0.0),
    "T1a lambda=3/4": lambda: TDLambdaCheck(0.75),
    "T1a lambda=1": lambda: TDLambdaCheck(1.0),
    "T1b": ResidualGradientCheck,
    "T1c": AverageRewardCheck,
}


def _td_cases() -> list[Any]:
    cases = []
    for key in TD_CHECKS:
        for name, instance in TD_EDGES.items():
            if key == "T1c":
                if name in DISCOUNT_EDGES:
                    continue
                instance = replace(instance, gamma=None)
            cases.append(pytest.param(key, instance, id=f"{key}-{name}"))
    return cases


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize(("key", "instance"), _td_cases())
def test_td_family_certified_on_edge_inputs(key: str, instance: TDInstance, kind: str) -> None:
    assert_certified(TD_CHECKS[key]().run_on(kind, instance))


COT_EDGES = {
    "issue 18: subnormal C": cot_instance(
        _a([[0.0], [1.5], [0.0]]), _a([[0.0], [0.0], [0.0]]), _a([0.0, 1.0, 0.0]), _a([1.5]), 0.0,
        _a([[2.2250738585e-313]]), 2,
    ),
    "soak: A_n subnormal, w_n beyond the overflow threshold": cot_instance(
        _a([[1.542348713665846e-179], [0.0]]), _a([[1.955901830161189e144], [2.5770382500031366e144]]),
        _a([0.8701448475755365, 0.4589931219679968]), _a([2.5770382500031366e144]), 3.2441658957059218e-285,
        _a([[0.0]]), 1,
    ),
    **{
        name: cot_instance(
            inst.features, inst.next_features, inst.rewards, inst.query, float(inst.gamma or 0.0),
            inst.preconditioners[0], len(inst.preconditioners) + 1,
        )
        for name, inst in TD_EDGES.items()
    },
}
"""T3 takes the TD edges with their first preconditioner reused for every thought (K = L + 1)."""


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("instance", list(COT_EDGES.values()), ids=list(COT_EDGES))
def test_cot_certified_on_edge_inputs(instance: Any, kind: str) -> None:
    assert_certified(CoTCheck().run_on(kind, instance))


def kernel(features: Any, rewards: Any, alpha: float, gamma: float, depth: int) -> KernelTDInstance:
    """A float T4 instance: trajectory features (n+1, d) and rewards (n,)."""
    return KernelTDInstance(_a(features), _a(rewards), alpha, gamma, depth)


KERNEL_EDGES = {
    "subnormal features": kernel([[SUB], [3 * SUB], [SUB], [-SUB]], [1.0, SUB, -2.0], 0.5, 0.5, 3),
    "smallest normal": kernel(
        [[SMALLEST_NORMAL, 1.0], [1.0, -SMALLEST_NORMAL], [SMALLEST_NORMAL, 1.0]],
        [SMALLEST_NORMAL, -SMALLEST_NORMAL], 1.0, 0.25, 2,
    ),
    "scores far past exp's overflow": kernel([[48.0], [-48.0], [47.5], [48.0]], [1.0, -1.0, 0.5], 0.5, 0.875, 3),
    "tiny features (every score underflows)": kernel(
        [[2.0**-540], [-(2.0**-540)], [2.0**-539]], [1.0, 2.0], 2.0, 0.5, 2
    ),
    "rewards near overflow": kernel([[1.0], [0.5], [1.0]], [1.5 * 2.0**960, -(2.0**960)], 0.5, 0.5, 4),
    "signed zeros": kernel([[-0.0, -0.0], [0.0, -0.0], [-0.0, 0.0]], [-0.0, -0.0], 1.0, -0.0, 2),
    "powers of two": kernel([[2.0, 0.25], [-0.5, 1.0], [2.0, 0.25]], [2.0**-30, 4.0], 0.125, 0.5, 3),
    "gamma 0": kernel([[1.0], [2.0], [-1.0]], [1.0, -1.0], 0.5, 0.0, 2),
    "gamma 1 - 2^-52": kernel([[1.0], [2.0], [-1.0], [2.0]], [1.0, -1.0, 0.5], 0.5, NEAR_ONE, 4),
}


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("instance", list(KERNEL_EDGES.values()), ids=list(KERNEL_EDGES))
def test_kernel_td_certified_on_edge_inputs(instance: KernelTDInstance, kind: str) -> None:
    assert_certified(KernelTDCheck().run_on(kind, instance))


_P3 = [[0.5, 0.25, 0.25], [0.0, 0.5, 0.5], [1.0, 0.0, 0.0]]


def expected(P: Any, rewards: Any, features: Any, gamma: float, depth: int) -> ExpectedTDInstance:
    """A float T2 instance: row-stochastic P (S, S), rewards (S,), features Φ (S, S)."""
    return ExpectedTDInstance(_a(P), _a(rewards), _a(features), gamma, depth)


EXPECTED_TD_EDGES = {
    "soak: gamma 2^-1022 makes gamma P Phi subnormal": expected(
        [[0.4, 0.4, 0.1, 0.1], [1 / 6, 1 / 6, 1 / 3, 1 / 3], [4 / 7, 0.0, 2 / 7, 1 / 7], [1 / 3, 1 / 6, 1 / 6, 1 / 3]],
        [1.0691058840368783e-50, -1.0386878545535798e-212, 3.259257562135178e91, -0.0],
        2.0**-49 * np.eye(4), SMALLEST_NORMAL, 2,
    ),
    "subnormal features": expected(_P3, [1.0, -1.0, 0.5], [[SUB, 0, 0], [0, 3 * SUB, 0], [0, SUB, -SUB]], 0.5, 3),
    "rewards near the square root of the largest float": expected(
        _P3, [1.5 * 2.0**440, -(2.0**440), 0.0], np.eye(3), 0.875, 6
    ),
    "signed zeros": expected(_P3, [-0.0, -0.0, -0.0], -0.0 * np.eye(3), -0.0, 2),
    "powers of two": expected(_P3, [2.0**-20, 4.0, -0.5], [[0.5, 0, 2], [0, 0.25, 0], [-1, 0, 0.5]], 0.5, 4),
    "gamma 0": expected(_P3, [1.0, -1.0, 0.5], np.eye(3), 0.0, 3),
    "gamma 1 - 2^-52": expected(_P3, [1.0, -1.0, 0.5], np.eye(3), NEAR_ONE, 6),
}
"""The first entry is the counterexample the random float strategies found (see docs/soak.md)."""


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("instance", list(EXPECTED_TD_EDGES.values()), ids=list(EXPECTED_TD_EDGES))
def test_expected_td_forward_certified_on_edge_inputs(instance: ExpectedTDInstance, kind: str) -> None:
    assert_certified(ExpectedTDCheck().run_on(kind, instance))
