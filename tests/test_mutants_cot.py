"""Mutants of the chain-of-thought construction (T3): each must be rejected by the exact and float64 checks."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from numpy.typing import NDArray

from icrl_verify import constructions, cot
from icrl_verify.arith import Float64Backend
from icrl_verify.arith.base import Backend
from icrl_verify.attention import linear_attention_last
from icrl_verify.checks.cot import CoTCheck, empirical_fixed_points, ergodic_tasks
from icrl_verify.prompts import cot_prompt
from icrl_verify.testing import assert_certified, assert_rejected


def thought_with_features(features: Any, next_features: Any, rewards: Any, gamma: Any) -> NDArray[Any]:
    """The prompt with c_0's φ-block non-zero: thought tokens then act as sources."""
    d = np.asarray(features).shape[-1]
    c0 = cot.first_thought(d)
    c0[cot.CoTLayout(d).features] = 1
    return cot_prompt(features, next_features, rewards, gamma, c0)


def negated_write(d: int, C: Any) -> cot.CoTWeights:
    """P[w, φ] = −C: the w-block is written with the wrong sign."""
    weights = constructions.cot_td(d, C)
    return cot.CoTWeights(-weights.P, weights.Q)


def transposed_c(d: int, C: Any) -> cot.CoTWeights:
    """Cᵀ in place of C."""
    return constructions.cot_td(d, np.swapaxes(C, -1, -2))


def read_shifted_slot(bk: Backend[Any], token: Any) -> Any:
    """w read one row too high (the reward row and the first d−1 rows of w)."""
    rows, _ = bk.shape(token)
    w = cot.CoTLayout.from_size(rows).weights
    return bk.block(token, slice(w.start - 1, w.stop - 1), slice(None))


def normalised_by_tokens_so_far(bk: Backend[Any], Z: Any, weights: cot.CoTWeights, n: int) -> Any:
    """1/(tokens so far) instead of 1/n (n = context tokens)."""
    return linear_attention_last(bk, Z, weights.P, weights.Q, bk.shape(Z)[1])


SMALL: dict[str, Any] = {"thoughts": 4, "float_n": 30, "float_thoughts": 6}
MUTANTS: dict[str, CoTCheck] = {
    "thought tokens contribute (phi-block of c_0 non-zero)": CoTCheck(prompt=thought_with_features, **SMALL),
    "w-block written with the wrong sign": CoTCheck(construction=negated_write, **SMALL),
    "C^T instead of C": CoTCheck(construction=transposed_c, **SMALL),
    "w read from the wrong slot": CoTCheck(readout=read_shifted_slot, **SMALL),
    "1/(tokens so far) instead of 1/n": CoTCheck(step=normalised_by_tokens_so_far, **SMALL),
}


@pytest.mark.parametrize("name", list(MUTANTS))
def test_mutant_rejected_by_exact_check(name: str) -> None:
    check = MUTANTS[name]
    rng = np.random.default_rng(7)
    assert_rejected(check.run_exact([check.sample_exact(rng) for _ in range(3)]))


@pytest.mark.parametrize("name", list(MUTANTS))
def test_mutant_rejected_by_float64_check(name: str) -> None:
    check = MUTANTS[name]
    assert_rejected(check.run_float(check.sample_float(np.random.default_rng(7), 50), "float64"))


def test_wrong_sign_write_breaks_the_certified_decay() -> None:
    check = MUTANTS["w-block written with the wrong sign"]
    rng = np.random.default_rng(7)
    assert_rejected(check.run_decay([check.sample_decay(rng) for _ in range(3)]))


def test_unmutated_check_passes_the_same_samples() -> None:
    """The same samples and sizes pass with the true construction: the rejections above are the mutants'."""
    check = CoTCheck(**SMALL)
    rng = np.random.default_rng(7)
    assert_certified(check.run_exact([check.sample_exact(rng) for _ in range(3)]))
    assert_certified(check.run_float(check.sample_float(np.random.default_rng(7), 50), "float64"))
    assert_certified(check.run_decay([check.sample_decay(np.random.default_rng(7)) for _ in range(3)]))


# -- bad input: a clear ValueError naming the argument ----------------------------------------------


def test_cot_td_rejects_a_wrong_preconditioner_shape() -> None:
    with pytest.raises(ValueError, match="C: expected shape"):
        constructions.cot_td(3, np.eye(2))


def test_cot_prompt_rejects_a_wrong_first_thought() -> None:
    with pytest.raises(ValueError, match="first_thought"):
        cot_prompt(np.zeros((4, 2)), np.zeros((4, 2)), np.zeros(4), 0.9, first_thought=np.zeros(7))


@pytest.mark.parametrize("size", [4, 7, 0])
def test_layout_rejects_sizes_that_are_not_3d_plus_2(size: int) -> None:
    with pytest.raises(ValueError, match="tokens: expected 3d\\+2 rows"):
        cot.CoTLayout.from_size(size)


def test_generate_rejects_negative_thoughts_and_a_missing_context() -> None:
    weights = constructions.cot_td(1, np.eye(1))
    bk = Float64Backend()
    with pytest.raises(ValueError, match="thoughts"):
        cot.generate(bk, bk.asmatrix(cot_prompt(np.ones((2, 1)), np.ones((2, 1)), np.ones(2), 0.5)), weights, -1)
    with pytest.raises(ValueError, match="Z0"):
        cot.generate(bk, bk.asmatrix(np.zeros((5, 1))), weights, 2)


def test_linear_attention_last_rejects_bad_normaliser_and_weights() -> None:
    bk = Float64Backend()
    Z = bk.asmatrix(np.ones((5, 3)))
    with pytest.raises(ValueError, match="n: expected an integer >= 1"):
        linear_attention_last(bk, Z, np.eye(5), np.eye(5), 0)
    with pytest.raises(ValueError, match="P, Q: expected \\(5, 5\\)"):
        linear_attention_last(bk, Z, np.eye(4), np.eye(5), 2)


def test_thought_index_out_of_range() -> None:
    bk = Float64Backend()
    with pytest.raises(ValueError, match="k: expected 0 <= k < 1"):
        cot.thought(bk, bk.asmatrix(np.zeros((5, 3))), 1, 2)


def test_floor_lengths_must_increase() -> None:
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="lengths: expected an increasing sequence"):
        empirical_fixed_points(ergodic_tasks(rng, 2), [16, 8], rng)
