"""Tests of the NEU library (icrl_verify.neu), the T2 checks, their bad-input errors and the mutants they reject."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
import torch
from flint import fmpq, fmpq_mat

from icrl_verify import catalogue, constructions, neu
from icrl_verify.arith import ExactBackend
from icrl_verify.arith.dual import DualBackend
from icrl_verify.arith.torch_backend import intra_op_threads
from icrl_verify.attention import Head, LinearAttentionWeights, Mask, run_transformer
from icrl_verify.checks import neu as t2
from icrl_verify.mrp import FiniteMRP, random_mrp
from icrl_verify.prompts import expected_feature_prompts
from icrl_verify.reports.neu import report_neu
from icrl_verify.testing import assert_certified, assert_rejected

F = Fraction


@pytest.fixture(autouse=True)
def _one_torch_thread() -> Iterator[None]:
    """These tests multiply tiny batched matrices, where one intra-op thread is fastest."""
    with intra_op_threads(1):
        yield


def _tasks(count: int, num_states: int, seed: int = 0) -> list[FiniteMRP]:
    return t2.sample_tasks(np.random.default_rng(seed), count, num_states)


# --- the enumerated expected-feature prompt -------------------------------------------------------


def test_prompt_enumerates_states_with_expected_next_features() -> None:
    P = np.array([[F(1, 2), F(1, 2)], [F(1, 4), F(3, 4)]], dtype=object)
    r = np.array([F(1), F(-2)], dtype=object)
    phi = np.array([[F(1), F(2)], [F(3), F(-1)]], dtype=object)
    Z = expected_feature_prompts(P, r, phi, F(1, 2))
    assert Z.shape == (2, 5, 3)
    for q in range(2):
        assert Z[q, :2, :2].tolist() == phi.T.tolist()  # φ(i) in column i
        assert Z[q, 2:4, :2].tolist() == (F(1, 2) * (P @ phi)).T.tolist()  # γ Σ_{s'} P[i, s'] φ(s')
        assert Z[q, 4, :2].tolist() == r.tolist()
        assert Z[q, :2, 2].tolist() == phi[q].tolist() and Z[q, 2:, 2].tolist() == [0, 0, 0]


def test_prompt_batches_over_tasks() -> None:
    tasks = _tasks(3, 4)
    batched = expected_feature_prompts(
        np.stack([t.P for t in tasks]), np.stack([t.r for t in tasks]), np.stack([t.features for t in tasks]), 0.7
    )
    single = [expected_feature_prompts(t.P, t.r, t.features, 0.7) for t in tasks]
    assert batched.shape == (3, 4, 9, 5) and np.array_equal(batched, np.stack(single))


@pytest.mark.parametrize(
    ("args", "match"),
    [
        ((np.ones((2, 3)) / 3, np.zeros(2), np.eye(2), 0.5), "transition"),
        ((np.array([[0.5, 0.6], [0.5, 0.5]]), np.zeros(2), np.eye(2), 0.5), "transition: rows"),
        ((np.array([[1.5, -0.5], [0.5, 0.5]]), np.zeros(2), np.eye(2), 0.5), "transition: rows"),
        ((np.eye(2), np.zeros(3), np.eye(2), 0.5), "rewards"),
        ((np.eye(2), np.zeros(2), np.eye(3), 0.5), "features"),
        ((np.eye(2), np.zeros(2), np.zeros((2, 0)), 0.5), "features"),
        ((np.eye(2), np.zeros(2), np.eye(2), 1.0), "gamma"),
        ((np.eye(2), np.array([0.0, np.nan]), np.eye(2), 0.5), "rewards"),
    ],
)
def test_prompt_rejects_bad_input(args: tuple[object, ...], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        expected_feature_prompts(*args)  # type: ignore[arg-type]


# --- θ*, values, gradients, expected updates ------------------------------------------------------


def test_theta_star_is_value_iteration() -> None:
    task = _tasks(1, 5)[0]
    values, _ = neu.value_gradients(neu.value_iteration_layers(5, 7), task)
    w = np.zeros(5)
    for _ in range(7):
        w = task.r + task.gamma * task.P @ w
    assert np.allclose(values[0], w, rtol=1e-13, atol=1e-13)


def test_multi_task_neu_is_the_norm_of_the_mean_update() -> None:
    tasks = _tasks(3, 4)
    layers = neu.value_iteration_layers(4, 6)
    u = neu.expected_updates(layers, tasks)
    singles = [neu.expected_updates(layers, t) for t in tasks]
    assert np.allclose(u.td, np.concatenate([s.td for s in singles]), rtol=1e-12, atol=1e-15)
    assert u.neu_td == pytest.approx(float(np.linalg.norm(np.mean([s.td[0] for s in singles], axis=0))), rel=1e-12)
    assert u.neu_mc == pytest.approx(neu.neu_mc(layers, tasks), rel=1e-12)
    assert neu.neu_td(layers, tasks[0]) == pytest.approx(float(u.neu_td_per_task[0]), rel=1e-12)
    assert u.neu_td < float(np.mean(u.neu_td_per_task))  # updates of different tasks partly cancel
    shared = neu.expected_updates(layers, tasks, per_task=False)  # θ shared: the mean update in one row
    assert shared.td.shape == (1, u.td.shape[1])
    assert np.allclose(shared.td[0], u.td.mean(axis=0), rtol=1e-12, atol=1e-16)
    assert shared.neu_mc == pytest.approx(u.neu_mc, rel=1e-12)


def test_expected_update_is_the_weighted_sum_of_value_gradients() -> None:
    """u_TD = Σ_s μ(s)(r + γP·TF − TF)(s) ∇TF(s): the exact expectation, no sampling, all P_l, Q_l."""
    task = _tasks(1, 4, seed=3)[0]
    layers = t2.random_layers(4, 3, np.random.default_rng(1))
    values, grads = neu.value_gradients(layers, task)
    tf = values[0]
    td_weights = task.stationary * (task.r + task.gamma * task.P @ tf - tf)
    mc_weights = task.stationary * (task.value - tf)
    u = neu.expected_updates(layers, task)
    assert grads.shape == (1, 4, neu.parameter_count(layers)) == (1, 4, 3 * 2 * 81)
    assert np.allclose(u.td[0], td_weights @ grads[0], rtol=1e-12, atol=1e-15)
    assert np.allclose(u.mc[0], mc_weights @ grads[0], rtol=1e-12, atol=1e-15)
    assert np.all(np.abs(grads[0]).reshape(4, 3, 2, 81).sum(axis=(0, 3)) > 0)  # every P_l and Q_l is a parameter


_TASK3 = t2.sample_tasks(np.random.default_rng(0), 1, 3)[0]
_SLOW_TASK = random_mrp(3, 3, 0.95, np.random.default_rng(0), tabular=True)  # γ above the limit claim's range


def _layers_with(weights: Sequence[tuple[object, object]], n: int) -> list[LinearAttentionWeights]:
    mask = Mask(n)
    return [LinearAttentionWeights((Head(P, Q, mask),)) for P, Q in weights]


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: neu.expected_updates([], _tasks(1, 3)), "layers"),
        (lambda: neu.expected_updates(neu.value_iteration_layers(3, 2), []), "tasks"),
        (lambda: neu.expected_updates(neu.value_iteration_layers(3, 2), [_tasks(1, 3)[0], _tasks(1, 4)[0]]), "tasks"),
        (lambda: neu.expected_updates(neu.value_iteration_layers(3, 2), ["not a task"]), "tasks"),  # type: ignore[list-item]
        (lambda: neu.expected_updates(_layers_with([(np.eye(5), np.eye(7))], 3), _tasks(1, 3)), r"heads\[0\].P"),
        (lambda: neu.value_gradients(_layers_with([(np.eye(7), np.full((7, 7), np.inf))], 3), _tasks(1, 3)), "Q"),
        (lambda: neu.value_iteration_layers(0, 3), "num_states"),
        (lambda: neu.value_iteration_layers(3, -1), "depth"),
        (lambda: neu.value_iteration_layers(3, 2, step=float("nan")), "step"),
        (lambda: neu.exact_directional_derivatives(neu.value_iteration_layers(3, 1), _TASK3, [np.ones(5)]), "direct"),
        (lambda: t2.check_limit(neu.value_iteration_layers, [_SLOW_TASK]), "gamma"),
    ],
)
def test_bad_input_is_a_value_error(call: object, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        call()  # type: ignore[operator]


# --- the independent derivative ------------------------------------------------------------------


def _exact_tf(layers: list[LinearAttentionWeights], Z0: np.ndarray) -> Fraction:
    bk = ExactBackend()
    Z = run_transformer(bk, bk.asmatrix(Z0), layers)[-1]
    entry = Z[Z.nrows() - 1, Z.ncols() - 1]
    return -Fraction(int(entry.p), int(entry.q))


def _moved(layers: list[LinearAttentionWeights], V: np.ndarray, t: Fraction) -> list[LinearAttentionWeights]:
    """θ + t·V with exact Fraction weights."""
    size = np.asarray(layers[0].P).shape[0]
    block = size * size
    exact = np.vectorize(Fraction, otypes=[object])  # floats are dyadic: converted exactly
    out = []
    for l, layer in enumerate(layers):
        P = exact(layer.P) + t * V[2 * l * block : (2 * l + 1) * block].reshape(size, size)
        Q = exact(layer.Q) + t * V[(2 * l + 1) * block : (2 * l + 2) * block].reshape(size, size)
        out.append(LinearAttentionWeights((Head(P, Q, layer.heads[0].mask),)))
    return out


def _interpolated_derivative(values: dict[int, Fraction]) -> Fraction:
    """f'(0) of the polynomial through (t, f(t)) for the given integer nodes (exact Lagrange)."""
    nodes = sorted(values)
    total = Fraction(0)
    for k in nodes:
        others = [m for m in nodes if m != k]
        denom = Fraction(1)
        for m in others:
            denom *= k - m
        # d/dt Π_{m≠k}(t − m) at t = 0 = Σ_j Π_{m≠k, m≠j}(−m)
        deriv = Fraction(0)
        for j in others:
            prod = Fraction(1)
            for m in others:
                if m != j:
                    prod *= -m
            deriv += prod
        total += values[k] * deriv / denom
    return total


def test_dual_numbers_give_the_exact_derivative_of_the_polynomial() -> None:
    """TF(θ + tV) is a polynomial of degree ≤ 8 in t for L = 2 (deg Z_1 ≤ 2, deg Z_2 ≤ 2 + 3·2): nine exact
    evaluations determine it, and its derivative at 0 must equal the dual-number tangent exactly."""
    task = _tasks(1, 2, seed=5)[0]
    rng = np.random.default_rng(2)
    layers = t2.random_layers(2, 2, rng)
    V = np.array([F(int(k), 4) for k in rng.integers(-4, 5, neu.parameter_count(layers))], dtype=object)
    exact = neu.exact_directional_derivatives(layers, task, [V])
    prompts = neu.task_prompts(task)
    for s in range(2):
        samples = {k: _exact_tf(_moved(layers, V, F(k)), prompts[s]) for k in range(-4, 5)}
        assert exact.values[s] == samples[0]
        assert exact.value_derivatives[0][s] == _interpolated_derivative(samples)


def test_dual_backend_product_rules() -> None:
    bk = DualBackend(ExactBackend())
    A = bk.seed(np.array([[F(1), F(2)], [F(3), F(4)]], dtype=object), np.array([[1, 0], [0, 1]]))
    B = bk.seed(np.array([[F(2), F(-1)], [F(1, 2), F(1)]], dtype=object), np.array([[0, 1], [1, 0]]))
    AB = bk.matmul(A, B)
    assert AB.tangent == A.tangent * B.value + A.value * B.tangent
    assert bk.reciprocal(A).tangent == fmpq_mat(2, 2, [-1, 0, 0, fmpq(-1, 16)])  # (1/a)' = −a'/a²
    H = bk.hadamard(A, B)
    assert H.tangent == fmpq_mat(2, 2, [2, 2, 3, 1])
    assert bk.transpose(bk.block(bk.concat([A, B], axis=1), slice(0, 1), slice(2, 4))).tangent == fmpq_mat(2, 1, [0, 1])
    assert bk.asmatrix(A) is A and bk.zeros(1, 2).tangent == fmpq_mat(1, 2)


# --- mutants the checks must reject ----------------------------------------------------------------


def _unmasked(S: int, L: int) -> list[LinearAttentionWeights]:
    """Mutant: θ* with the query column as a source (mask = I instead of diag(1, …, 1, 0))."""
    mask = Mask(S, np.eye(S + 1))
    return [LinearAttentionWeights((Head(layer.P, layer.Q, mask),)) for layer in neu.value_iteration_layers(S, L)]


BOUND_MUTANTS: dict[str, t2.Construction] = {
    "step 0.5 (C = S/2 I)": lambda S, L: neu.value_iteration_layers(S, L, step=0.5),
    "1/(n+1) for 1/n": lambda S, L: neu.value_iteration_layers(S, L, step=S / (S + 1)),
    "step sign flipped": lambda S, L: neu.value_iteration_layers(S, L, step=-1.0),
    "query column unmasked": _unmasked,
}


@pytest.mark.parametrize("name", list(BOUND_MUTANTS))
def test_value_bound_rejects_mutant_in_exact_rationals(name: str) -> None:
    tasks = [t2.rational_task(t) for t in _tasks(2, 4, seed=11)]
    assert_rejected([t2.check_bound_exact(BOUND_MUTANTS[name], tasks, depth=20)])


@pytest.mark.parametrize("name", list(BOUND_MUTANTS))
def test_value_bound_rejects_mutant_in_float64(name: str) -> None:
    assert_rejected([t2.check_bound_float(BOUND_MUTANTS[name], _tasks(2, 4, seed=12), depth=200)])


def test_value_bounds_accept_theta_star() -> None:
    tasks = _tasks(2, 4, seed=11)
    assert_certified([t2.check_bound_exact(neu.value_iteration_layers, [t2.rational_task(t) for t in tasks], 20)])
    assert_certified([t2.check_bound_float(neu.value_iteration_layers, tasks, 200)])


def test_limit_rejects_the_wrong_step_size() -> None:
    tasks = _tasks(2, 4, seed=13)
    assert_rejected([t2.check_limit(lambda S, L: neu.value_iteration_layers(S, L, step=0.5), tasks)])


def _only_last_layer(
    layers: Sequence[LinearAttentionWeights], tasks: Sequence[FiniteMRP], dtype: torch.dtype
) -> neu.ExpectedUpdates:
    """Mutant: the gradient over the last layer's P, Q only."""
    u = neu.expected_updates(layers, tasks, dtype=dtype)
    keep = 2 * np.asarray(layers[-1].P).size
    td, mc = u.td.copy(), u.mc.copy()
    td[:, :-keep], mc[:, :-keep] = 0.0, 0.0
    return neu.ExpectedUpdates(u.values, td, mc)


def _uniform_weights(
    layers: Sequence[LinearAttentionWeights], tasks: Sequence[FiniteMRP], dtype: torch.dtype
) -> neu.ExpectedUpdates:
    """Mutant: the expectation under the uniform state distribution instead of μ."""
    uniform = [FiniteMRP(t.P, t.r, t.gamma, t.features, t.initial) for t in tasks]
    for t in uniform:
        t.__dict__["stationary"] = np.full(t.num_states, 1.0 / t.num_states)
    return neu.expected_updates(layers, uniform, dtype=dtype)


def _undiscounted_target(
    layers: Sequence[LinearAttentionWeights], tasks: Sequence[FiniteMRP], dtype: torch.dtype
) -> neu.ExpectedUpdates:
    """Mutant: the TD target r + TF(s') without γ (the MC update is left intact)."""
    u = neu.expected_updates(layers, tasks, dtype=dtype)
    values, grads = neu.value_gradients(layers, tasks, dtype=dtype)
    t = tasks[0]
    weights = t.stationary * (t.r + t.P @ values[0] - values[0])
    return neu.ExpectedUpdates(u.values, (weights @ grads[0])[None], u.mc)


@pytest.mark.parametrize("updates", [_only_last_layer, _uniform_weights, _undiscounted_target])
def test_gradient_check_rejects_wrong_updates(updates: t2.UpdateFn) -> None:
    rng = np.random.default_rng(4)
    tasks = _tasks(1, 3, seed=4)
    assert_rejected([t2.check_gradients(tasks, [neu.value_iteration_layers(3, 4)], rng, updates)])


def test_gradient_over_some_layers_gives_a_different_neu() -> None:
    tasks = _tasks(2, 4, seed=6)
    layers = neu.value_iteration_layers(4, 10)
    full, partial = neu.expected_updates(layers, tasks), _only_last_layer(layers, tasks, torch.float64)
    assert abs(full.neu_td - partial.neu_td) > 1e-3 * full.neu_td
    assert abs(full.neu_mc - partial.neu_mc) > 1e-3 * full.neu_mc


def test_contrast_rejects_theta_star_as_a_perturbation_and_a_diverging_small_step() -> None:
    rng = np.random.default_rng(7)
    tasks = _tasks(2, 3, seed=7)
    theta_star: dict[str, t2.Construction] = {"theta*": neu.value_iteration_layers}
    assert_rejected([t2.check_contrast(tasks, rng, perturbations=theta_star)])
    flipped: t2.Construction = lambda S, L: neu.value_iteration_layers(S, L, step=-0.5)  # noqa: E731
    assert_rejected([t2.check_contrast(tasks, rng, perturbations={}, small_step=flipped)])


def test_feature_check_rejects_a_construction_with_the_wrong_step() -> None:
    def doubled(d: int, Cs: Sequence[object], n: int) -> list[LinearAttentionWeights]:
        return constructions.td0(d, [2 * np.asarray(C) for C in Cs], n)

    instances = [t2.divergent_instance(), t2.convergent_instance(np.random.default_rng(8))]
    assert_rejected([t2.check_features(instances, construction=doubled)])


# --- registry, prove, report ---------------------------------------------------------------------


def test_registered_and_provable() -> None:
    assert catalogue.theorem("T2").factory()().key == "T2"
    assert "neu" in catalogue.benchmarks() and "neu" in catalogue.reports()
    check = t2.NEUCheck(num_states=3, exact_depth=20, float_depth=200)
    results = check.prove(["exact", "float64", "torch", "ball", "mpmath"], np.random.default_rng(9), budget=0.25)
    assert_certified(results)
    assert {r.claim for r in results} == {
        t2.CLAIM_BOUND,
        t2.CLAIM_LIMIT,
        t2.CLAIM_CONTRAST,
        t2.CLAIM_FEATURES,
        t2.CLAIM_GRADIENT,
        t2.CLAIM_LAYOUT,
        t2.CLAIM_FORWARD,
    }
    assert {r.backend for r in results if r.claim == t2.CLAIM_BOUND} == {"exact", "float64"}
    forward = {r.backend for r in results if r.claim == t2.CLAIM_FORWARD}
    assert forward == {"exact", "ball", "mpmath", "float64", "torch"}


def test_report_writes_png_and_pdf(tmp_path: Path) -> None:
    paths = report_neu(tmp_path)
    assert sorted(p.suffix for p in paths) == [".pdf", ".png"]
    assert all(p.exists() and p.stat().st_size > 1000 for p in paths)
