"""T4 mutants (each small wrong construction must be rejected), the generic softmax layer, and bad input."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from fractions import Fraction
from typing import Any

import numpy as np
import pytest

from icrl_verify import algorithms, constructions
from icrl_verify.arith import BallBackend, Float64Backend
from icrl_verify.arith.base import Backend
from icrl_verify.attention import (
    AdditiveMask,
    AttentionKernel,
    ColumnShift,
    SoftmaxAttentionWeights,
    SoftmaxHead,
    column_softmax,
    run_softmax_transformer,
    softmax_attention,
)
from icrl_verify.certify import ball_verdict
from icrl_verify.checks.base import tracked_backend
from icrl_verify.checks.kernel_td import (
    CLAIM_INVARIANT,
    CLAIM_VALUES,
    KernelTDCheck,
    tabular_kernel_mrp,
)
from icrl_verify.prompts import kernel_td_prompt, split_kernel_td_prompt
from icrl_verify.testing import assert_certified, assert_rejected

N = 6


# --- mutant attention kernels ---------------------------------------------------------------------


def _ones(bk: Backend[Any], rows: int, cols: int) -> Any:
    return bk.asmatrix(np.ones((rows, cols)))


def row_softmax(bk: Backend[Any], scores: Any, mask: AdditiveMask) -> Any:
    """Wrong axis (the published code's dim = 1): each source row i normalised over the targets j."""
    rows, cols = bk.shape(scores)
    E = bk.exp(bk.block(scores, slice(0, rows - 1), slice(None)))
    inverse = bk.reciprocal(bk.matmul(E, _ones(bk, cols, 1)))
    K = bk.hadamard(E, bk.matmul(inverse, _ones(bk, 1, cols)))
    return bk.concat([K, bk.zeros(1, cols)], axis=0)


def mask_after_softmax(bk: Backend[Any], scores: Any, mask: AdditiveMask) -> Any:
    """Mask applied after normalisation: the query takes part in every denominator, then its row is zeroed."""
    rows, cols = bk.shape(scores)
    E = bk.exp(scores)
    K = bk.hadamard(E, bk.matmul(_ones(bk, rows, 1), bk.reciprocal(bk.colsum(E))))
    return bk.concat([bk.block(K, slice(0, rows - 1), slice(None)), bk.zeros(1, cols)], axis=0)


# --- mutant constructions ----------------------------------------------------------------------------


def _with_heads(layer: SoftmaxAttentionWeights, **changes: Any) -> SoftmaxAttentionWeights:
    """The layer with head 2 (targets) replaced field by field; ``mask`` changes both heads."""
    mask = changes.pop("mask", None)
    heads = [layer.heads[0], dataclasses.replace(layer.heads[1], **changes)]
    if mask is not None:
        heads = [dataclasses.replace(h, mask=mask) for h in heads]
    return SoftmaxAttentionWeights(tuple(heads))


def query_as_source(d: int, alpha: Any, gamma: Any) -> SoftmaxAttentionWeights:
    """A dense all-zero additive mask: the query column becomes a source of every target."""
    return _with_heads(constructions.kernel_td(d, alpha, gamma), mask=AdditiveMask(np.zeros((N + 1, N + 1))))


def shift_wrong_way(d: int, alpha: Any, gamma: Any) -> SoftmaxAttentionWeights:
    """Π with (yΠ)_k = y_{k−1}: targets receive the predecessor's update."""
    return _with_heads(constructions.kernel_td(d, alpha, gamma), right=ColumnShift(-1))


def gamma_missing_in_head_2(d: int, alpha: Any, gamma: Any) -> SoftmaxAttentionWeights:
    """V_2 = α e_{d+1} cᵀ instead of γα e_{d+1} cᵀ: targets hold undiscounted values."""
    layer = constructions.kernel_td(d, alpha, gamma)
    V = np.zeros_like(layer.heads[1].V)
    V[d + 1, :] = layer.heads[0].V[d + 2, :]
    return _with_heads(layer, V=V)


Construction = Callable[[int, Any, Any], SoftmaxAttentionWeights]
MUTANTS: dict[str, tuple[Construction | None, AttentionKernel, str]] = {
    "softmax over rows instead of columns": (None, row_softmax, CLAIM_VALUES),
    "query allowed as a source": (query_as_source, column_softmax, CLAIM_VALUES),
    "mask applied after normalisation": (None, mask_after_softmax, CLAIM_VALUES),
    "shift Pi the wrong way": (shift_wrong_way, column_softmax, CLAIM_INVARIANT),
    "gamma missing in head 2": (gamma_missing_in_head_2, column_softmax, CLAIM_INVARIANT),
}


def mutant_check(name: str) -> KernelTDCheck:
    construction, kernel, _ = MUTANTS[name]
    return KernelTDCheck(construction=construction, kernel=kernel, n=N, depth=4, float_n=N, float_depth=6)


@pytest.mark.parametrize("name", list(MUTANTS))
def test_mutant_rejected_on_float64(name: str) -> None:
    check = mutant_check(name)
    results = check.run_float(check.sample_float(np.random.default_rng(0), 50), "float64")
    assert_rejected(results)
    failed = {r.claim for r in results if not r.passed}
    assert MUTANTS[name][2] in failed, failed


@pytest.mark.parametrize("name", list(MUTANTS))
def test_mutant_rejected_rigorously_in_balls(name: str) -> None:
    """In balls a rejection is a proof: some difference ball excludes 0."""
    check = mutant_check(name)
    results = check.run_ball([check.sample_exact(np.random.default_rng(1))])
    assert_rejected(results)
    bad = [r for r in results if not r.passed]
    assert all("fail at" in r.detail for r in bad), [r.detail for r in bad]
    assert any(r.counterexample for r in bad)


@pytest.mark.parametrize("name", ["shift Pi the wrong way", "gamma missing in head 2"])
def test_target_mutants_also_corrupt_values_from_layer_two(name: str) -> None:
    check = mutant_check(name)
    results = check.run_ladder([check.sample_exact(np.random.default_rng(2))])
    assert not next(r for r in results if r.claim == CLAIM_VALUES).passed


def test_unmutated_check_passes_on_the_same_instances() -> None:
    """Control: the same samplers and sizes certify the true construction."""
    check = KernelTDCheck(n=N, depth=4, float_n=N, float_depth=6)
    assert_certified(check.run_float(check.sample_float(np.random.default_rng(0), 50), "float64"))
    assert_certified(check.run_ball([check.sample_exact(np.random.default_rng(1))]))


def test_gamma_mutant_differs_from_construction_only_in_head_2() -> None:
    good, bad = constructions.kernel_td(2, 0.5, 0.75), gamma_missing_in_head_2(2, 0.5, 0.75)
    assert np.array_equal(good.heads[0].V, bad.heads[0].V)
    assert np.array_equal(bad.heads[1].V, good.heads[1].V / 0.75)


# --- the generic layer ---------------------------------------------------------------------------


def _ball_equal(bk: BallBackend, a: Any, b: Any) -> bool:
    verdict, _ = ball_verdict(bk.sub(a, b), bk.prec)
    return verdict == "pass"


def test_dense_forms_of_the_standard_mask_and_shift_agree() -> None:
    """A dense −inf query row and the dense Π matrix give the same layer as the O(n) standard forms."""
    rng = np.random.default_rng(4)
    check = KernelTDCheck(n=N, depth=3)
    inst = check.sample_exact(rng)
    dense_mask = np.zeros((N + 1, N + 1))
    dense_mask[N, :] = -np.inf
    layer = constructions.kernel_td(inst.d, inst.alpha, inst.gamma)
    dense = SoftmaxAttentionWeights(tuple(
        SoftmaxHead(h.V, h.A, AdditiveMask(dense_mask), None if h.right is None else ColumnShift(1).dense(N))
        for h in layer.heads
    ))
    bk = BallBackend(256)
    Z = bk.asmatrix(kernel_td_prompt(inst.features, inst.rewards))
    assert _ball_equal(bk, softmax_attention(bk, Z, layer), softmax_attention(bk, Z, dense))


def test_column_softmax_columns_sum_to_one_and_query_row_is_zero() -> None:
    bk = BallBackend(256)
    scores = bk.asmatrix(np.array([[Fraction(i * j - 3, 4) for j in range(5)] for i in range(5)], dtype=object))
    K = column_softmax(bk, scores, AdditiveMask())
    assert _ball_equal(bk, bk.colsum(K), bk.asmatrix(np.ones((1, 5))))
    assert all(K[4, j] == 0 for j in range(5))


def test_float_shift_is_the_column_max_and_keeps_softmax_finite() -> None:
    """Scores far beyond exp's float range: the shift is the column max over sources, and the column
    sums of K equal 1 within their running error bound."""
    scores = np.array([[1.0, 900.0, -800.0], [3.0, 901.0, -799.0], [2.0, -5.0, 1000.0]])
    assert np.array_equal(Float64Backend().softmax_shift(scores), [[3.0, 901.0, 1000.0]] * 3)
    bk = tracked_backend("float64")
    K = column_softmax(bk, bk.asmatrix(scores), AdditiveMask())  # row 2 is the query: never a source
    sums = bk.colsum(K)
    assert np.all(np.abs(sums.value - 1.0) <= bk.certified_bound(sums))
    assert np.all(np.isfinite(K.value)) and not K.value[2].any()
    assert BallBackend().softmax_shift(BallBackend().asmatrix(scores)) is None


def test_column_shift_in_both_directions() -> None:
    bk = Float64Backend()
    Y = np.arange(8.0).reshape(2, 4)
    assert np.array_equal(ColumnShift(1).apply(bk, Y), [[1, 2, 3, 0], [5, 6, 7, 0]])
    assert np.array_equal(ColumnShift(-1).apply(bk, Y), [[0, 0, 1, 2], [0, 4, 5, 6]])
    assert np.array_equal(Y @ ColumnShift(1).dense(3), ColumnShift(1).apply(bk, Y))
    assert np.array_equal(ColumnShift(9).apply(bk, Y), np.zeros((2, 4)))


def test_prompt_layout() -> None:
    F = Fraction
    Z = kernel_td_prompt(np.array([[F(1)], [F(2)], [F(3)]], dtype=object), np.array([F(5), F(7)], dtype=object))
    assert Z.tolist() == [[1, 2, 3], [5, 7, 0], [0, 0, 0], [0, 0, 0]]
    X, rho, tau, u = split_kernel_td_prompt(Z)
    assert X.shape == (1, 3) and rho.tolist() == [[5, 7, 0]] and not tau.any() and not u.any()


def test_batched_float_forward_matches_per_trajectory() -> None:
    rng = np.random.default_rng(5)
    Z0 = kernel_td_prompt(rng.standard_normal((3, 7, 2)), rng.standard_normal((3, 6)))
    bk = Float64Backend()
    layers = [constructions.kernel_td(2, 0.5, 0.75)] * 3
    batched = run_softmax_transformer(bk, Z0, layers)[-1]
    single = [run_softmax_transformer(bk, Z0[b], layers)[-1] for b in range(3)]
    assert np.array_equal(batched, np.stack(single))


# --- bad input -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: kernel_td_prompt(np.zeros((1, 2)), np.zeros(0)), "features"),
        (lambda: kernel_td_prompt(np.zeros((4, 2)), np.zeros(4)), "rewards"),
        (lambda: kernel_td_prompt(np.full((4, 2), np.nan), np.zeros(3)), "finite"),
        (lambda: constructions.kernel_td(0, 1.0, 0.5), "d"),
        (lambda: constructions.kernel_td(2, 0.0, 0.5), "alpha"),
        (lambda: constructions.kernel_td(2, 1.0, 1.0), "gamma"),
        (lambda: AdditiveMask(np.full((3, 3), -np.inf)).parts(3), "source"),
        (lambda: AdditiveMask(np.zeros((2, 2))).parts(3), "mask"),
        (lambda: tabular_kernel_mrp(1, Fraction(1, 2), np.random.default_rng(0)), "num_states"),
        (lambda: algorithms.kernel_td(Float64Backend(), np.zeros((2, 4)), np.zeros((1, 2)), 0.5, 1.0, 2), "rewards"),
        (lambda: split_kernel_td_prompt(np.zeros((3, 4))), "Z"),
    ],
)
def test_bad_input_names_the_argument(call: Callable[[], Any], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        call()


def test_layer_rejects_wrong_weight_shapes() -> None:
    bk = Float64Backend()
    layer = constructions.kernel_td(2, 1.0, 0.5)
    with pytest.raises(ValueError, match="V, A"):
        softmax_attention(bk, np.zeros((4, 5)), layer)
    with pytest.raises(ValueError, match="head"):
        softmax_attention(bk, np.zeros((5, 5)), SoftmaxAttentionWeights(()))
