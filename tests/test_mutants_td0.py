"""Mutants of θ*_TD (T1): each small wrong construction must be rejected by the exact and float64 checks."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from fractions import Fraction
from typing import Any

import numpy as np
import pytest

from icrl_verify import constructions
from icrl_verify.attention import Head, LinearAttentionWeights, Mask, standard_mask
from icrl_verify.checks.td_family import TD0Check
from icrl_verify.testing import assert_certified, assert_rejected

Layers = list[LinearAttentionWeights]


def _rebuild(layers: Layers, edit: Callable[[Head], Head]) -> Layers:
    return [LinearAttentionWeights(tuple(edit(h) for h in layer.heads), layer.out) for layer in layers]


def _with(head: Head, P: Any = None, Q: Any = None, mask: Mask | None = None) -> Head:
    return Head(head.P if P is None else P, head.Q if Q is None else Q, head.mask if mask is None else mask)


def flipped_p_sign(d: int, Cs: Sequence[Any], n: int) -> Layers:
    return _rebuild(constructions.td0(d, Cs, n), lambda h: _with(h, P=-h.P))


def transposed_c(d: int, Cs: Sequence[Any], n: int) -> Layers:
    return constructions.td0(d, [np.swapaxes(C, -1, -2) for C in Cs], n)


def one_over_n_plus_one(d: int, Cs: Sequence[Any], n: int) -> Layers:
    return _rebuild(constructions.td0(d, Cs, n), lambda h: _with(h, P=h.P * Fraction(n, n + 1)))


def query_unmasked(d: int, Cs: Sequence[Any], n: int) -> Layers:
    full = np.ones(n + 1)
    return constructions.td0(d, Cs, n, mask=Mask(n, np.diag(full)))


def swapped_q_blocks(d: int, Cs: Sequence[Any], n: int) -> Layers:
    def swap(h: Head) -> Head:
        Q = h.Q.copy()
        Q[..., :d, :d], Q[..., :d, d : 2 * d] = h.Q[..., :d, d : 2 * d], h.Q[..., :d, :d]
        return _with(h, Q=Q)

    return _rebuild(constructions.td0(d, Cs, n), swap)


MUTANTS: dict[str, Callable[[int, Sequence[Any], int], Layers]] = {
    "flipped sign of P[2d,2d]": flipped_p_sign,
    "C^T instead of C": transposed_c,
    "1/(n+1) instead of 1/n": one_over_n_plus_one,
    "query column unmasked": query_unmasked,
    "Q blocks swapped": swapped_q_blocks,
}


def _checks() -> list[tuple[str, TD0Check]]:
    named = [(name, TD0Check(construction=m, depth=4, float_n=30, float_depth=6)) for name, m in MUTANTS.items()]
    flipped_readout = TD0Check(depth=4, float_n=30, float_depth=6)
    flipped_readout.readout_sign = +1
    return [*named, ("readout sign flipped", flipped_readout)]


@pytest.mark.parametrize(("name", "check"), _checks(), ids=[name for name, _ in _checks()])
def test_mutant_rejected_by_exact_check(name: str, check: TD0Check) -> None:
    rng = np.random.default_rng(7)
    assert_rejected(check.run_exact([check.sample_exact(rng) for _ in range(3)]))


@pytest.mark.parametrize(("name", "check"), _checks(), ids=[name for name, _ in _checks()])
def test_mutant_rejected_by_float64_check(name: str, check: TD0Check) -> None:
    assert_rejected(check.run_float(check.sample_float(np.random.default_rng(7), 50), "float64"))


@pytest.mark.parametrize(("name", "check"), _checks(), ids=[name for name, _ in _checks()])
def test_mutant_rejected_by_torch_check(name: str, check: TD0Check) -> None:
    assert_rejected(check.run_float(check.sample_float(np.random.default_rng(7), 50), "torch"))


def test_transpose_mutant_is_invisible_for_symmetric_c() -> None:
    """Control: with C = Cᵀ the transpose mutant is the same construction, so the check must pass —
    which is why the samplers draw non-symmetric C_l."""
    check = TD0Check(construction=transposed_c, depth=3)
    inst = check.sample_exact(np.random.default_rng(3))
    symmetric = tuple(C + C.T for C in inst.preconditioners)
    assert_certified(check.run_exact([replace(inst, preconditioners=symmetric)]))


def test_standard_mask_is_what_the_construction_uses() -> None:
    layer = constructions.td0(2, [np.eye(2)], n=5)[0]
    assert layer.heads[0].mask == standard_mask(5)
