"""Pretraining (T5): tasks, prompts, the model on the generic layer, stop-gradient, seeds-as-batch, resume,
metrics, the statistical check's criteria and their mutants, and bad input."""

from __future__ import annotations

import ast
import dataclasses
import re
import subprocess
import sys
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
import typer
from typer.testing import CliRunner

from icrl_verify.arith import ExactBackend, cuda_available
from icrl_verify.arith.torch_backend import TorchBackend
from icrl_verify.attention import Head, LinearAttentionWeights, run_transformer, standard_mask
from icrl_verify.checks import pretrain as check
from icrl_verify.mrp import boyan_chain
from icrl_verify.pretrain import (
    TRAIN_STREAM,
    HeldOutTasks,
    Parameters,
    PretrainConfig,
    align_sign,
    function_metrics,
    held_out_predictions,
    held_out_tasks,
    initial_parameters,
    minibatch_loss,
    predicted_values,
    prepare_tasks,
    rollouts,
    sample_task,
    sample_training_tasks,
    seed_groups,
    sliding_prompts,
    stream,
    t_interval,
    td_q_identity,
    td_reference,
    train,
    trajectory_prompts,
    weight_metrics,
)
from icrl_verify.pretrain.cli import pretrain_command
from icrl_verify.prompts import td_prompt
from icrl_verify.reports.pretrain import report_pretrain

U64 = 2.0**-53
TINY = PretrainConfig(
    d=2,
    num_states=5,
    n=6,
    layers=2,
    tasks=6,
    seeds=(0, 1, 2),
    batch_size=8,
    eval_tasks=2,
    log_every=2,
    checkpoint_every=2,
    dtype="float64",
)
"""Small enough that torch takes the same matmul kernels for every batch size, so runs compare bit for bit."""


def _theta_star(config: PretrainConfig, alpha: float, scale: float = 1.0) -> Parameters:
    """θ*_TD(αI) as trainable parameters for every seed (P scaled by ``scale``, Q by 1/scale)."""
    d, D, Lp = config.d, config.size, config.parameter_layers
    P = np.zeros((Lp, D, D))
    P[:, 2 * d, 2 * d] = scale
    Q = np.broadcast_to(alpha * td_q_identity(d) / scale, (Lp, D, D))

    def leaves(a: Any) -> list[torch.Tensor]:
        return [torch.tensor(np.array(a), dtype=torch.float64).requires_grad_(True) for _ in config.seeds]

    return Parameters(leaves(P), leaves(Q), leaves(alpha))


# ---------------------------------------------------------------- tasks and prompts


@pytest.mark.parametrize("seed", range(5))
def test_rollouts_reproduce_finite_mrp_trajectory(seed: int) -> None:
    tasks = [boyan_chain(7, 3, 0.9, np.random.default_rng([seed, k])) for k in range(3)]
    length = 40
    expected, starts, uniforms = [], [], []
    for k, mrp in enumerate(tasks):
        expected.append(mrp.trajectory(length, np.random.default_rng([seed, k, 1])))
        rng = np.random.default_rng([seed, k, 1])
        starts.append(mrp.trajectory(0, rng)[0])
        uniforms.append(rng.random(length))
    cdf = np.stack([np.cumsum(m.P, axis=1) for m in tasks])
    got = rollouts(cdf, np.array(starts), np.stack(uniforms))
    np.testing.assert_array_equal(got, np.stack(expected))


def test_training_prompts_follow_the_published_sliding_layout() -> None:
    config = dataclasses.replace(TINY, batches_per_task=2)
    tasks = sample_training_tasks(config, 3, 5)
    n, m = config.n, config.batch_size
    for i, seed in enumerate(config.seeds):
        for j, k in enumerate((3, 4)):
            rng = stream(seed, TRAIN_STREAM, k)
            mrp = sample_task(config, rng)
            np.testing.assert_array_equal(tasks.features[i, j], mrp.features)
            for b in range(config.batches_per_task):  # each roll-out is FiniteMRP.trajectory on the task's stream
                np.testing.assert_array_equal(tasks.states[i, j, b], mrp.trajectory(n + m + 1, rng))
    trajectories = trajectory_prompts(config, tasks.features[:, 0], tasks.rewards[:, 0], tasks.states[:, 0])
    Z_t, rho_t = sliding_prompts(torch.tensor(trajectories), n)
    Z, rho = Z_t.numpy(), rho_t.numpy()
    assert Z.shape == (3, 2, m + 1, config.size, n + 1) and rho.shape == (3, 2, m)
    mrp = sample_task(config, stream(config.seeds[1], TRAIN_STREAM, 3))
    states = tasks.states[1, 0, 1]
    for t in (0, 5, m):
        phi, phi_next, r = mrp.transitions(states[t : t + n + 1])
        query = mrp.features[states[t + n + 1]]
        np.testing.assert_array_equal(Z[1, 1, t], td_prompt(phi, phi_next, r, query, config.gamma))
        if t < m:
            assert rho[1, 1, t] == mrp.r[states[t + n + 1]]
    np.testing.assert_array_equal(Z[1, 1, 1:, :, : n - 1], Z[1, 1, :-1, :, 1:n])


def test_shapes_tied_and_untied() -> None:
    for tied in (True, False):
        config = dataclasses.replace(TINY, tied=tied)
        Lp = 1 if tied else config.layers
        params = initial_parameters(config)
        assert params.P.shape == params.Q.shape == (3, Lp, config.size, config.size)
        assert params.alpha.shape == (3,)
        data = prepare_tasks(config, 0, 2)
        assert len(data) == 2 and data[0].trajectories.shape == (3, config.batches_per_task, config.size, 16)
        Z, rho = sliding_prompts(data[0].trajectories[:, 0], config.n)
        assert Z.shape == (3, 9, config.size, config.n + 1) and rho.shape == (3, 8)
        bk = TorchBackend(dtype=torch.float64)
        values = predicted_values(bk, params.P, params.Q, Z, config.layers)
        assert values.shape == (3, config.batch_size + 1)
        heldout = held_out_tasks(config)
        assert heldout.prompts.shape == (3, 2, config.num_states, config.size, config.n + 1)
        assert heldout.stationary.shape == (3, 2, config.num_states)
    untied = initial_parameters(dataclasses.replace(TINY, tied=False, seeds=(0,))).P.detach().numpy()
    tied_p = initial_parameters(dataclasses.replace(TINY, seeds=(0,))).P.detach().numpy()
    np.testing.assert_allclose(untied[0, 0], tied_p[0, 0] / TINY.layers, rtol=1e-15)


def test_model_runs_the_generic_layer_per_seed_exactly() -> None:
    """On dyadic inputs every float64 operation is exact, so the seed-batched torch model must equal the
    exact rational run of ``attention.run_transformer`` on each seed's own layers (tied and untied)."""
    rng = np.random.default_rng(0)
    d, n, D, seeds = 2, 4, 5, 3
    Z = rng.integers(-2, 3, (seeds, 2, D, n + 1)) / 2.0
    for tied in (True, False):
        Lp = 1 if tied else 2
        P = rng.integers(-2, 3, (seeds, Lp, D, D)) / 2.0
        Q = rng.integers(-2, 3, (seeds, Lp, D, D)) / 2.0
        bk = TorchBackend(dtype=torch.float64)
        got = predicted_values(bk, torch.tensor(P), torch.tensor(Q), torch.tensor(Z), 2).numpy()
        exact = ExactBackend()
        for s in range(seeds):
            weights = [
                LinearAttentionWeights((Head(_fractions(P[s, l]), _fractions(Q[s, l]), standard_mask(n)),))
                for l in ([0, 0] if tied else [0, 1])
            ]
            for p in range(2):
                ZL = run_transformer(exact, exact.asmatrix(_fractions(Z[s, p])), weights)[-1]
                value = -Fraction(int(ZL[2 * d, n].p), int(ZL[2 * d, n].q))
                assert got[s, p] == value


def _fractions(a: Any) -> Any:
    out = np.empty(np.shape(a), dtype=object)
    for idx, x in np.ndenumerate(np.asarray(a)):
        out[idx] = Fraction(float(x))
    return out


DYADIC = dataclasses.replace(TINY, n=4, gamma=0.5, eval_tasks=3)
"""n = 4 and γ = 1/2 keep every quantity of a depth-2 run on entries in {0, ±1/2, ±1} a dyadic rational of
fewer than 53 significant bits: float64 evaluates both the transformer and the reference exactly."""


def _dyadic_held_out(config: PretrainConfig, rng: np.random.Generator) -> HeldOutTasks:
    seeds, K, S, d, n = len(config.seeds), config.eval_tasks, config.num_states, config.d, config.n
    features = rng.integers(-2, 3, (seeds, K, S, d)) / 2.0
    context = rng.integers(0, S, (seeds, K, n + 1))
    rewards = rng.integers(-2, 3, (seeds, K, S)) / 2.0
    prompts = np.empty((seeds, K, S, config.size, n + 1))
    for i in range(seeds):
        for k in range(K):
            phi = features[i, k, context[i, k]]
            prompts[i, k] = td_prompt(
                np.broadcast_to(phi[:-1], (S, n, d)),
                np.broadcast_to(phi[1:], (S, n, d)),
                np.broadcast_to(rewards[i, k, context[i, k, :-1]], (S, n)),
                features[i, k],
                config.gamma,
            )
    mu = rng.dirichlet(np.ones(S), (seeds, K))
    return HeldOutTasks(*(torch.tensor(a, dtype=torch.float64) for a in (prompts, features, mu)))


def test_reference_equals_the_constructed_transformer_exactly() -> None:
    """The fitted-α reference is batch TD(0) with C = αI, i.e. θ*_TD(αI) run on the generic layer (T1)."""
    heldout = _dyadic_held_out(DYADIC, np.random.default_rng(3))
    params = _theta_star(DYADIC, 0.5)
    bk = TorchBackend(dtype=torch.float64)
    tf = predicted_values(bk, params.P, params.Q, heldout.prompts, DYADIC.layers)
    ref, _ = td_reference(bk, params.alpha, heldout.prompts, DYADIC.layers)
    assert torch.equal(tf, ref) and float(torch.max(torch.abs(ref.detach()))) > 0


def test_theta_star_scores_ss_iws_one_and_vd_zero() -> None:
    """θ*_TD(αI) as learned weights, also rescaled by (cP, Q/c) with c < 0, against the reference with the
    same α: exact predictions and query gradients, so SS and IWS differ from 1 only by the rounding of
    the cosines and of the least-squares refit, and VD = 0."""
    heldout = _dyadic_held_out(DYADIC, np.random.default_rng(4))
    d, S = DYADIC.d, DYADIC.num_states
    for scale in (1.0, -2.0):
        params = _theta_star(DYADIC, 0.5, scale)
        values, grads, w_td = held_out_predictions(DYADIC, params, heldout)
        assert torch.equal(grads, w_td[..., None, :].expand_as(grads))
        fm = function_metrics(values, grads, w_td, heldout.features, heldout.stationary)
        assert np.all(fm.vd == 0.0)
        assert np.all(np.abs(fm.ss - 1.0) <= (2 * d + S + 8) * U64)
        weighted = heldout.features * heldout.stationary[..., None]
        kappa = float(torch.max(torch.linalg.cond(weighted.transpose(-1, -2) @ heldout.features)))
        assert np.all(np.abs(fm.iws - 1.0) <= 2 * (kappa * 16 * d * U64) ** 2 + (2 * d + 8) * U64)


# ---------------------------------------------------------------- loss and stop-gradient


def test_stop_gradient_stops_the_gradient() -> None:
    config = TINY
    params = initial_parameters(config)
    data = prepare_tasks(config, 0, 1)[0]
    bk = TorchBackend(dtype=torch.float64)
    Z, rho = sliding_prompts(data.trajectories[:, 0], config.n)

    def grad(loss: torch.Tensor) -> torch.Tensor:
        (g,) = torch.autograd.grad(loss.sum(), params.P_seeds[1])
        return g

    values = predicted_values(bk, params.P, params.Q, Z, config.layers)
    semi = grad(minibatch_loss(values, rho, config.gamma))
    constant_target = (rho + config.gamma * values[..., 1:]).detach()
    values = predicted_values(bk, params.P, params.Q, Z, config.layers)
    by_definition = grad(((constant_target - values[..., :-1]) ** 2).mean(-1))
    values = predicted_values(bk, params.P, params.Q, Z, config.layers)
    full = grad(((rho + config.gamma * values[..., 1:] - values[..., :-1]) ** 2).mean(-1))
    assert torch.equal(semi, by_definition)
    assert float(torch.max(torch.abs(semi - full))) > 1e-3 * float(torch.max(torch.abs(full)))


def test_noise_target_replaces_the_td_target() -> None:
    values = torch.tensor([[1.0, 2.0, 3.0]])
    rho = torch.tensor([[0.5, 0.25]])
    noise = torch.tensor([[-1.0, 4.0]])
    assert float(minibatch_loss(values, rho, 0.5, noise)[0]) == ((-2.0) ** 2 + 2.0**2) / 2
    assert float(minibatch_loss(values, rho, 0.5)[0]) == ((0.5 + 1.0 - 1.0) ** 2 + (0.25 + 1.5 - 2.0) ** 2) / 2


# ---------------------------------------------------------------- seeds as a batch, workers, resume


def _same(a: Any, b: Any) -> None:
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_seeds_as_batch_equal_separate_single_seed_runs(dtype: str) -> None:
    config = dataclasses.replace(TINY, dtype=dtype)
    batched = train(config)
    for i, seed in enumerate(config.seeds):
        alone = train(dataclasses.replace(config, seeds=(seed,)))
        _same(batched.P[i], alone.P[0])
        _same(batched.Q[i], alone.Q[0])
        _same(batched.alpha[i], alone.alpha[0])
        for rec_b, rec_a in zip(batched.log, alone.log):
            for key in ("ss", "iws", "vd", "alpha", "p_corner", "q_structure"):
                assert rec_b[key][i] == rec_a[key][0]


def test_worker_threads_give_the_batched_result() -> None:
    batched = train(TINY)
    split = train(TINY, workers=2)
    _same(batched.P, split.P)
    _same(batched.Q, split.Q)
    for rec_b, rec_s in zip(batched.log, split.log):
        assert rec_b["ss"] == rec_s["ss"] and rec_b["q_structure"] == rec_s["q_structure"]
        # seed means are merged as weighted means of group means: equal up to the rounding of a 3-term mean
        scale = float(np.max(np.abs(rec_b["q_aligned_mean"])))
        np.testing.assert_allclose(rec_b["q_aligned_mean"], rec_s["q_aligned_mean"], rtol=0, atol=8 * U64 * scale)


class _Stop(KeyboardInterrupt):
    pass


@pytest.mark.parametrize("workers", [1, 2])
def test_resume_after_interruption_reproduces_the_run_bit_for_bit(tmp_path: Path, workers: int) -> None:
    config = dataclasses.replace(TINY, dtype="float32")
    full = train(config, run_dir=tmp_path / "full", workers=workers)

    def interrupt(done: int, record: dict[str, Any] | None) -> None:
        if done == 5:  # after the checkpoint at task 4, mid-way to the next one
            raise _Stop

    with pytest.raises(_Stop):
        train(config, run_dir=tmp_path / "cut", progress=interrupt, workers=workers)
    resumed = train(config, run_dir=tmp_path / "cut", resume=True, workers=workers)
    assert resumed.resumed_from == 4
    _same(full.P, resumed.P)
    _same(full.Q, resumed.Q)
    _same(full.alpha, resumed.alpha)
    assert full.log == resumed.log


def test_resume_refuses_a_different_config_or_a_missing_checkpoint(tmp_path: Path) -> None:
    train(TINY, run_dir=tmp_path)
    with pytest.raises(ValueError, match="different config"):
        train(dataclasses.replace(TINY, gamma=0.5), run_dir=tmp_path, resume=True)
    with pytest.raises(ValueError, match="no checkpoint"):
        train(TINY, run_dir=tmp_path / "empty", resume=True)


@pytest.mark.skipif(not cuda_available(), reason="no CUDA device")
def test_cuda_run_matches_cpu_to_rounding() -> None:
    cpu = train(TINY)
    gpu = train(dataclasses.replace(TINY, device="cuda"))
    np.testing.assert_allclose(gpu.P, cpu.P, rtol=1e-9, atol=1e-12)


# ---------------------------------------------------------------- metrics


def test_weight_metrics_of_theta_star_and_their_symmetries() -> None:
    d, alpha, c = 3, 0.75, 4.0
    P = np.zeros((2 * d + 1, 2 * d + 1))
    P[2 * d, 2 * d] = c
    Q = alpha * td_q_identity(d) / c
    for sign in (1.0, -1.0):
        m = weight_metrics(sign * P, sign * Q)
        assert m["p_corner"] == c and m["p_others"] == 0 and m["q_others"] == 0
        assert m["q_tl_trace"] == -d * alpha / c and m["q_tm_trace"] == d * alpha / c
        assert m["cos_p"] == 1.0 and m["q_structure"] == 1.0
        assert abs(m["cos_q"] - 1.0) <= 4 * U64
    rng = np.random.default_rng(0)
    Pr, Qr = rng.normal(size=(2, 4, 7, 7))
    base = weight_metrics(Pr, Qr)
    flipped = weight_metrics(-Pr, -Qr)
    scaled = weight_metrics(4.0 * Pr, Qr / 4.0)
    for key in base:
        _same(base[key], flipped[key])
    for key in ("cos_p", "cos_q", "q_structure"):
        np.testing.assert_allclose(scaled[key], base[key], rtol=8 * U64)
    aligned_P, aligned_Q = align_sign(Pr, Qr)
    assert np.all(aligned_P[:, 6, 6] >= 0)
    _same(aligned_Q * np.sign(Pr[:, 6, 6])[:, None, None], Qr)


def test_q_structure_separates_the_two_diagonals_from_the_rest() -> None:
    d = 2
    Q = np.zeros((5, 5))
    Q[:d, :d] = -np.eye(d)
    Q[:d, d : 2 * d] = 0.8 * np.eye(d)
    P = np.zeros((5, 5))
    P[4, 4] = 1.0
    m = weight_metrics(P, Q)
    assert abs(m["q_structure"] - 1.0) <= 4 * U64 and m["cos_q"] < 0.995
    Q_bad = Q.copy()
    Q_bad[3, 1] = 1.5  # ‖ΠQ‖² = (tr² + tr²)/d = (4 + 2.56)/2, ‖Q‖² = 2 + 1.28 + 2.25
    assert abs(weight_metrics(P, Q_bad)["q_structure"] - np.sqrt(3.28 / 5.53)) <= 8 * U64


def test_function_metrics_of_identical_functions() -> None:
    rng = np.random.default_rng(2)
    seeds, tasks, S, d = 2, 3, 6, 3
    features = torch.tensor(rng.uniform(-1, 1, (seeds, tasks, S, d)))
    mu = torch.tensor(rng.dirichlet(np.ones(S), (seeds, tasks)))
    w = torch.tensor(rng.normal(size=(seeds, tasks, d)))
    values = (features @ w[..., None])[..., 0]
    grads = w[..., None, :].expand(seeds, tasks, S, d).clone()
    fm = function_metrics(values, grads, w, features, mu)
    assert np.all(fm.vd == 0.0)
    assert np.all(np.abs(fm.ss - 1.0) <= (2 * d + S + 8) * U64)
    # IWS: the least-squares refit recovers w up to cond(ΦᵀDΦ)·O(d·u); cos then differs from 1 by its square
    gram = (features * mu[..., None]).transpose(-1, -2) @ features
    kappa = float(torch.max(torch.linalg.cond(gram)))
    assert np.all(np.abs(fm.iws - 1.0) <= 2 * (kappa * 16 * d * U64) ** 2 + (2 * d + 8) * U64)
    fm_neg = function_metrics(values, -grads, w, features, mu)
    assert np.all(np.abs(fm_neg.ss + 1.0) <= (2 * d + S + 8) * U64)


def test_t_interval_matches_hand_computed_values() -> None:
    ci = t_interval([1.0, 2.0, 3.0, 4.0])
    # s = sqrt(5/3), t_{0.975, 3} = 3.182446305284263 (tables), half-width = t·s/2
    half = 3.182446305284263 * np.sqrt(5.0 / 3.0) / 2.0
    assert ci.mean == 2.5 and ci.count == 4
    assert abs(ci.lower - (2.5 - half)) < 1e-12 and abs(ci.upper - (2.5 + half)) < 1e-12


# ---------------------------------------------------------------- the statistical check and its mutants


def _ideal_record(seeds: int = 8, d: int = 4) -> dict[str, Any]:
    D = 2 * d + 1
    P = np.zeros((1, D, D))
    P[0, 2 * d, 2 * d] = 1.6
    P[0, d:, :d] += 0.05
    Q = np.zeros((1, D, D))
    Q[0, :d, :d] = -1.08 * np.eye(d)
    Q[0, :d, d : 2 * d] = 0.83 * np.eye(d)
    Q[0] += 0.05 * (1 - np.abs(np.sign(Q[0])))
    ss = list(np.linspace(0.90, 0.95, seeds))
    return {"ss": ss, "iws": list(ss), "p_aligned_mean": P.tolist(), "q_aligned_mean": Q.tolist()}


def _verdicts(record: dict[str, Any]) -> dict[str, bool]:
    return {c.claim: c.passed for c in check.t5_criteria(record, 4)}


def test_ideal_record_passes_every_criterion() -> None:
    verdicts = _verdicts(_ideal_record())
    assert len(verdicts) == 5 and all(verdicts.values())


def _mutant(edit: str) -> dict[str, Any]:
    record = _ideal_record()
    P = np.array(record["p_aligned_mean"])
    Q = np.array(record["q_aligned_mean"])
    if edit == "ss_spread":  # mean 0.9 but a lower bound below 0.85
        record["ss"] = [0.99, 0.98, 0.97, 0.96, 0.85, 0.82, 0.80, 0.83]
    elif edit == "iws_low":
        record["iws"] = [0.84] * 7 + [0.845]
    elif edit == "p_off_corner":
        P[0, 3, 5] = 1.7
    elif edit == "q_same_signs":
        Q[0, 2, 6] = -0.83
    elif edit == "q_swapped_orientation":
        Q[0, :4, :4] *= -1
        Q[0, :4, 4:8] *= -1
    elif edit == "q_off_structure_large":
        Q[0, 5, 1] = 0.9
    record["p_aligned_mean"] = P.tolist()
    record["q_aligned_mean"] = Q.tolist()
    return record


@pytest.mark.parametrize(
    ("edit", "claim"),
    [
        ("ss_spread", check.CLAIM_SS),
        ("iws_low", check.CLAIM_IWS),
        ("p_off_corner", check.CLAIM_P),
        ("q_same_signs", check.CLAIM_Q_SIGNS),
        ("q_swapped_orientation", check.CLAIM_Q_SIGNS),
        ("q_off_structure_large", check.CLAIM_Q_OFF),
    ],
)
def test_each_mutant_fails_exactly_its_criterion(edit: str, claim: str) -> None:
    verdicts = _verdicts(_mutant(edit))
    assert not verdicts[claim]
    assert all(ok for name, ok in verdicts.items() if name != claim)


def test_prove_reports_every_claim_and_the_control() -> None:
    config = dataclasses.replace(TINY, seeds=tuple(range(8)), tasks=2)
    provable = check.PretrainCheck(config)
    assert provable.prove(["float64", "exact"], np.random.default_rng(0)) == []
    with pytest.raises(ValueError, match=r"^kind"):
        provable.prove(["torch-float32"], np.random.default_rng(0))
    results = provable.prove(["torch"], np.random.default_rng(0))
    assert [r.claim for r in results] == [
        check.CLAIM_SS,
        check.CLAIM_IWS,
        check.CLAIM_P,
        check.CLAIM_Q_SIGNS,
        check.CLAIM_Q_OFF,
        check.CLAIM_CONTROL,
    ]
    assert all(r.instances == 8 and r.theorem == "T5" for r in results)
    assert not results[0].passed and results[0].worst_error is not None and results[0].worst_error > 0
    assert "t-interval" in results[0].detail


def test_bench_and_report_smoke(tmp_path: Path) -> None:
    figures = check.bench_pretrain(single_tasks=1, batched_tasks=1)
    assert figures and all(np.isfinite(value) for _, value, _ in figures)
    assert any("tasks per second" in label for label, _, _ in figures)
    paths = report_pretrain(tmp_path, dataclasses.replace(TINY, seeds=(0, 1), tasks=2))
    assert {p.name for p in paths} >= {"pretrain_curves.png", "pretrain_heatmaps.pdf"}


# ---------------------------------------------------------------- command line


def test_cli_writes_the_run_directory_and_refuses_to_overwrite(tmp_path: Path) -> None:
    app = typer.Typer()
    app.command("pretrain")(pretrain_command)
    app.command("other")(lambda: None)
    runner = CliRunner()
    out = tmp_path / "run"
    args = ["pretrain", "--d", "2", "-S", "5", "-n", "6", "-L", "2", "--tasks", "4", "--seeds", "2"]
    args += ["--eval-tasks", "2", "--log-every", "2", "--checkpoint-every", "2", "--out", str(out)]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    for name in ("log.json", "final.json", "P.npy", "Q.npy", "alpha.npy", "curves.png", "heatmaps.pdf", "run.json"):
        assert (out / name).exists(), name
    assert np.load(out / "P.npy").shape == (2, 1, 5, 5)
    again = runner.invoke(app, args)
    assert again.exit_code != 0 and "already holds a run" in _flat(again.output)
    resumed = runner.invoke(app, ["pretrain", "--out", str(out), "--resume"])
    assert resumed.exit_code == 0, resumed.output
    bad = runner.invoke(app, ["pretrain", "--gamma", "1.5", "--out", str(tmp_path / "bad")])
    assert bad.exit_code != 0 and "gamma" in _flat(bad.output)


_PROBE = """
import sys
import icrl_verify.checks.pretrain
import icrl_verify.pretrain as library

UPPER = ("typer", "rich", "matplotlib", "icrl_verify.cli", "icrl_verify.pretrain.cli", "icrl_verify.reports.pretrain")

def loaded():
    return [name for name in UPPER if name in sys.modules]

print([name for name in library.__all__ if not hasattr(library, name)])
print(loaded())
import icrl_verify.pretrain.cli
print(loaded())
"""


def test_library_and_check_load_neither_the_command_nor_the_figures() -> None:
    """``icrl_verify.pretrain`` resolves every name of its ``__all__``; it and the T5 check import neither the
    command (typer, rich) nor the reports (matplotlib). The probe sees both once the command is imported."""
    lines = subprocess.run(
        [sys.executable, "-c", _PROBE], capture_output=True, text=True, check=True, cwd=Path(__file__).parents[1]
    ).stdout.splitlines()
    assert lines[:2] == ["[]", "[]"]
    assert {"typer", "rich", "matplotlib", "icrl_verify.pretrain.cli", "icrl_verify.reports.pretrain"} <= set(
        ast.literal_eval(lines[2])
    )


def _flat(text: str) -> str:
    """Rich's error panel without its frame and line breaks."""
    return " ".join(re.sub(r"[│╭╮╰╯─]", " ", text).split())


# ---------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("change", "name"),
    [
        ({"d": 0}, "d"),
        ({"num_states": 2}, "num_states"),
        ({"n": 0}, "n"),
        ({"gamma": 1.0}, "gamma"),
        ({"seeds": ()}, "seeds"),
        ({"seeds": (1, 1)}, "seeds"),
        ({"seeds": (-1,)}, "seeds"),
        ({"dtype": "float16"}, "dtype"),
        ({"device": "tpu"}, "device"),
        ({"target": "mc"}, "target"),
        ({"batch_size": 0}, "batch_size"),
        ({"lr": -1.0}, "lr"),
        ({"checkpoint_every": 3}, "checkpoint_every"),
    ],
)
def test_bad_config_raises_value_error_naming_the_field(change: dict[str, Any], name: str) -> None:
    with pytest.raises(ValueError, match=rf"^{name}"):
        dataclasses.replace(TINY, **change)


@pytest.mark.skipif(cuda_available(), reason="CUDA is available")
def test_cuda_request_without_cuda_is_a_value_error() -> None:
    with pytest.raises(ValueError, match=r"^device"):
        dataclasses.replace(TINY, device="cuda")


def test_bad_arrays_raise_value_errors() -> None:
    with pytest.raises(ValueError, match=r"^cumulative"):
        rollouts(np.zeros((2, 3, 4)), np.zeros(2, dtype=np.int64), np.zeros((2, 5)))
    with pytest.raises(ValueError, match=r"^starts"):
        rollouts(np.zeros((2, 3, 3)), np.zeros(3, dtype=np.int64), np.zeros((2, 5)))
    with pytest.raises(ValueError, match=r"^uniforms"):
        rollouts(np.zeros((2, 3, 3)), np.zeros(2, dtype=np.int64), np.zeros((3, 5)))
    with pytest.raises(ValueError, match=r"^P"):
        align_sign(np.zeros((4, 4)), np.zeros((4, 4)))
    with pytest.raises(ValueError, match=r"^P, Q"):
        align_sign(np.zeros((5, 5)), np.zeros((2, 5, 5)))
    with pytest.raises(ValueError, match=r"^values"):
        t_interval([1.0])
    with pytest.raises(ValueError, match=r"^level"):
        t_interval([1.0, 2.0], level=1.0)
    with pytest.raises(ValueError, match=r"^values, rho"):
        minibatch_loss(torch.zeros(1, 4), torch.zeros(1, 4), 0.9)
    bk = TorchBackend(dtype=torch.float64)
    with pytest.raises(ValueError, match=r"^P, Q"):
        predicted_values(bk, torch.zeros(2, 3, 5, 5), torch.zeros(2, 3, 5, 5), torch.zeros(2, 5, 7), 2)
    with pytest.raises(ValueError, match=r"^Z"):
        predicted_values(bk, torch.zeros(2, 1, 5, 5), torch.zeros(2, 1, 5, 5), torch.zeros(3, 5, 7), 2)
    with pytest.raises(ValueError, match=r"^alpha"):
        td_reference(bk, torch.zeros(3), torch.zeros(2, 5, 7), 2)
    with pytest.raises(ValueError, match=r"^tf_query_grads"):
        function_metrics(
            torch.zeros(1, 1, 3),
            torch.zeros(1, 1, 3, 3),
            torch.zeros(1, 1, 2),
            torch.zeros(1, 1, 3, 2),
            torch.zeros(1, 1, 3),
        )
    with pytest.raises(ValueError, match=r"^workers"):
        seed_groups(TINY, 0)
    with pytest.raises(ValueError, match=r"^record"):
        check.t5_criteria(_ideal_record(seeds=7), 4)
    with pytest.raises(ValueError, match=r"^trajectory"):
        sliding_prompts(torch.zeros(5, 8), 6)
    with pytest.raises(ValueError, match=r"^start, stop"):
        sample_training_tasks(TINY, 3, 3)
