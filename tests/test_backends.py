"""The backends compute the same program, and the running error bound really bounds float64 error."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
import torch
from hypothesis import given

from icrl_verify import constructions
from icrl_verify.arith import BallBackend, ExactBackend, Float64Backend, MpmathBackend, TorchBackend
from icrl_verify.arith.absolute_program import AbsoluteProgramBackend
from icrl_verify.arith.running_error import RunningErrorBackend
from icrl_verify.attention import run_transformer
from icrl_verify.prompts import td_prompt
from icrl_verify.strategies import td_instances
from icrl_verify.tasks import TDInstance
from icrl_verify.testing import budget


def _last_state(bk, inst: TDInstance):  # type: ignore[no-untyped-def]
    Z0 = td_prompt(inst.features, inst.next_features, inst.rewards, inst.query, inst.gamma)
    return run_transformer(bk, bk.asmatrix(Z0), constructions.td0(inst.d, inst.preconditioners, inst.n))[-1]


@budget(10)
@given(td_instances(exact=True, max_n=4, max_depth=3))
def test_all_backends_agree_with_exact(inst: TDInstance) -> None:
    exact = ExactBackend()
    reference = exact.to_numpy(_last_state(exact, inst))
    scale = max(1.0, float(np.max(np.abs(reference))))
    for bk in (BallBackend(128), MpmathBackend(40), Float64Backend(), TorchBackend()):
        got = np.asarray(bk.to_numpy(_last_state(bk, inst)))
        np.testing.assert_allclose(got, reference, atol=1e-9 * scale, err_msg=bk.name)


@pytest.mark.parametrize("bounded", [RunningErrorBackend, AbsoluteProgramBackend])
@budget(25)
@given(inst=td_instances(exact=True, max_n=6, max_depth=4))
def test_certified_bound_contains_the_exact_result(bounded: type, inst: TDInstance) -> None:
    """The float64 value with its certified bound encloses the exact rational result of the same program
    run on the same inputs (rounded to float64 first, so that both see identical inputs)."""
    as_float = inst.as_float_batch().take(0)
    tracked = bounded(Float64Backend(), 2.0**-53)
    result = _last_state(tracked, as_float)
    exact = ExactBackend()
    truth = _last_state(exact, as_float)
    bound = tracked.certified_bound(result)
    for i in range(truth.nrows()):
        for j in range(truth.ncols()):
            err = abs(Fraction(float(result.value[i, j])) - Fraction(int(truth[i, j].p), int(truth[i, j].q)))
            assert err <= Fraction(float(bound[i, j])), (i, j, float(err), bound[i, j])


def test_exact_backend_block_and_concat_round_trip() -> None:
    bk = ExactBackend()
    A = bk.asmatrix(np.array([[Fraction(1, 3), 2], [3, Fraction(-1, 7)]], dtype=object))
    top, bottom = bk.block(A, slice(0, 1), slice(None)), bk.block(A, slice(1, 2), slice(None))
    assert bk.concat([top, bottom], axis=0) == A
    left, right = bk.block(A, slice(None), slice(0, 1)), bk.block(A, slice(None), slice(1, 2))
    assert bk.concat([left, right], axis=1) == A


def test_ball_backend_is_rigorous_for_thirds() -> None:
    bk = BallBackend(64)
    third = bk.asmatrix(np.array([[Fraction(1, 3)]], dtype=object))
    three = bk.scale(third, 3)
    assert three[0, 0].contains(1)


def test_torch_backend_keeps_autograd() -> None:
    bk = TorchBackend()
    P = torch.eye(3, dtype=torch.float64, requires_grad=True)
    out = bk.matmul(P, bk.asmatrix(np.ones((3, 2)))).sum()
    out.backward()
    assert P.grad is not None and torch.all(P.grad == 2)
