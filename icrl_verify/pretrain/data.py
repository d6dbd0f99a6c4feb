"""Task data: the independent random streams, Boyan-chain tasks, roll-outs, sliding prompts and held-out tasks."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from numpy.typing import NDArray

from icrl_verify.mrp import FiniteMRP, boyan_chain
from icrl_verify.pretrain.config import DTYPES, PretrainConfig
from icrl_verify.prompts import td_prompt

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]

TRAIN_STREAM, EVAL_STREAM, INIT_STREAM = 0, 1, 2
"""Purposes of the independent random streams: the data of training task k of seed s comes from
SeedSequence([s, TRAIN_STREAM, k]), held-out task j from [s, EVAL_STREAM, j], the initial weights from
[s, INIT_STREAM, 0]. Every draw is a pure function of (seed, purpose, index): batching seeds, chunking
tasks and resuming from a checkpoint cannot change any number."""


def stream(seed: int, purpose: int, index: int) -> np.random.Generator:
    """The independent random stream of (seed, purpose, index); see ``TRAIN_STREAM``."""
    return np.random.default_rng(np.random.SeedSequence([seed, purpose, index]))


def sample_task(config: PretrainConfig, rng: np.random.Generator) -> FiniteMRP:
    """One training or held-out task: a Boyan chain with fresh U(−1, 1) features and U(−1, 1) rewards."""
    return boyan_chain(config.num_states, config.d, config.gamma, rng)


def rollouts(cumulative: FloatArray, starts: IntArray, uniforms: FloatArray) -> IntArray:
    """Many trajectories at once by inverse-CDF sampling, the rule of ``FiniteMRP.trajectory``.

    ``cumulative`` (B, S, S) are row-wise cumulative transition matrices, ``starts`` (B,) the states s_0,
    ``uniforms`` (B, T) the U[0, 1) draws; returns states (B, T + 1). Step t moves from s to the number
    of entries of row s of ``cumulative`` that are ≤ u_t · (row total), capped at S − 1, so the same
    draws give the same states as ``FiniteMRP.trajectory``.
    """
    if cumulative.ndim != 3 or cumulative.shape[1] != cumulative.shape[2]:
        raise ValueError(f"cumulative: expected shape (B, S, S), got {cumulative.shape}")
    B, S, _ = cumulative.shape
    if starts.shape != (B,):
        raise ValueError(f"starts: expected shape ({B},), got {starts.shape}")
    if uniforms.ndim != 2 or uniforms.shape[0] != B:
        raise ValueError(f"uniforms: expected shape ({B}, T), got {uniforms.shape}")
    states = np.empty((B, uniforms.shape[1] + 1), dtype=np.int64)
    states[:, 0] = starts
    rows = np.arange(B)
    for t in range(uniforms.shape[1]):
        row = cumulative[rows, states[:, t]]
        threshold = uniforms[:, t] * row[:, -1]
        states[:, t + 1] = np.minimum(np.count_nonzero(row <= threshold[:, None], axis=1), S - 1)
    return states


@dataclass(frozen=True)
class TrainingTasks:
    """Training tasks [start, stop) of every seed: features (seeds, T, S, d), rewards (seeds, T, S),
    roll-out states (seeds, T, B, n+m+2) for the B mini-batches, and the control's noise targets
    (seeds, T, B, m) or None."""

    features: FloatArray
    rewards: FloatArray
    states: IntArray
    noise: FloatArray | None


def sample_training_tasks(config: PretrainConfig, start: int, stop: int) -> TrainingTasks:
    """Draw tasks start..stop−1 for every seed; roll-outs of all seeds, tasks and mini-batches run at once.

    Per task the stream is used in this order: the Boyan chain, then for each mini-batch the start state
    (``FiniteMRP.trajectory(0, rng)``) and the T uniforms that ``trajectory`` would draw, then the noise.
    """
    if not 0 <= start < stop:
        raise ValueError(f"start, stop: expected 0 <= start < stop, got {start}, {stop}")
    seeds, T, B, S, d = len(config.seeds), stop - start, config.batches_per_task, config.num_states, config.d
    length = config.trajectory_length
    features = np.empty((seeds, T, S, d))
    rewards = np.empty((seeds, T, S))
    cumulative = np.empty((seeds, T, S, S))
    starts = np.empty((seeds, T, B), dtype=np.int64)
    uniforms = np.empty((seeds, T, B, length))
    noise = np.empty((seeds, T, B, config.batch_size)) if config.target == "noise" else None
    for i, seed in enumerate(config.seeds):
        for j in range(T):
            rng = stream(seed, TRAIN_STREAM, start + j)
            mrp = sample_task(config, rng)
            features[i, j], rewards[i, j] = mrp.features, mrp.r
            cumulative[i, j] = np.cumsum(mrp.P, axis=1)
            for b in range(B):
                starts[i, j, b] = mrp.trajectory(0, rng)[0]
                uniforms[i, j, b] = rng.random(length)
            if noise is not None:
                noise[i, j] = rng.standard_normal((B, config.batch_size))
    flat_cdf = np.broadcast_to(cumulative[:, :, None], (seeds, T, B, S, S)).reshape(-1, S, S)
    states = rollouts(flat_cdf, starts.reshape(-1), uniforms.reshape(-1, length)).reshape(seeds, T, B, length + 1)
    return TrainingTasks(features, rewards, states, noise)


def trajectory_prompts(
    config: PretrainConfig, features: FloatArray, rewards: FloatArray, states: IntArray
) -> FloatArray:
    """Each roll-out s_0..s_{n+m+1} as one prompt-shaped matrix built by ``prompts.td_prompt``: column i ≤ n+m
    is transition i, (φ(s_i), γφ(s_{i+1}), r(s_i)); the last column is the query column (φ(s_{n+m+1}), 0, 0).

    ``features`` (seeds, S, d), ``rewards`` (seeds, S), ``states`` (seeds, B, n+m+2); returns
    (seeds, B, 2d+1, n+m+2). :func:`sliding_prompts` cuts the m + 1 training prompts out of it.
    """
    seeds, B, count = states.shape
    who = np.arange(seeds)[:, None, None]
    phi_seq = features[who, states].reshape(seeds * B, count, config.d)
    r_seq = rewards[who, states].reshape(seeds * B, count)
    Z = td_prompt(phi_seq[:, :-1], phi_seq[:, 1:], r_seq[:, :-1], phi_seq[:, -1], config.gamma)
    return Z.reshape(seeds, B, config.size, count)


def sliding_prompts(trajectory: torch.Tensor, n: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The m + 1 sliding prompts of a roll-out matrix from :func:`trajectory_prompts` (…, 2d+1, n+m+2) and
    the rewards ρ_t, t < m.

    Prompt Z_t (t = 0..m) has the context transitions t..t+n−1 and the query φ(s_{t+n+1}) (the layout of
    the published code, background §1 and §5: the transition s_{t+n} → s_{t+n+1} is not in Z_t); ρ_t =
    r(s_{t+n+1}) is the reward of Z_t's query state. Returns Z (…, m+1, 2d+1, n+1) and ρ (…, m).
    """
    rows, columns = trajectory.shape[-2:]
    m = columns - n - 2
    if rows % 2 != 1 or m < 1:
        raise ValueError(
            f"trajectory: expected shape (..., 2d+1, n+m+2) with m >= 1 for n = {n}, got {tuple(trajectory.shape)}"
        )
    d = (rows - 1) // 2
    context = trajectory[..., : n + m + 1].unfold(-1, n, 1)[..., : m + 1, :].movedim(-2, -3)
    features_only = torch.zeros(rows, 1, dtype=trajectory.dtype, device=trajectory.device)
    features_only[:d] = 1.0
    queries = (trajectory[..., n + 1 : n + m + 2] * features_only).movedim(-1, -2)[..., None]
    return torch.cat([context, queries], dim=-1), trajectory[..., 2 * d, n + 1 : n + m + 1]


@dataclass(frozen=True)
class TaskTensors:
    """Training data of one task for every seed: the roll-out matrices (seeds, B, D, n+m+2) of
    :func:`trajectory_prompts` and the control's noise targets (seeds, B, m) or None."""

    trajectories: torch.Tensor
    noise: torch.Tensor | None


def prepare_tasks(config: PretrainConfig, start: int, stop: int) -> list[TaskTensors]:
    """Sample tasks start..stop−1 and build their roll-out matrices as tensors of the run's dtype and device."""
    tasks = sample_training_tasks(config, start, stop)
    dtype, device = DTYPES[config.dtype], torch.device(config.device)
    out = []
    for j in range(stop - start):
        trajectories = trajectory_prompts(config, tasks.features[:, j], tasks.rewards[:, j], tasks.states[:, j])
        noise = None if tasks.noise is None else torch.tensor(tasks.noise[:, j], dtype=dtype, device=device)
        out.append(TaskTensors(torch.tensor(trajectories, dtype=dtype, device=device), noise))
    return out


@dataclass(frozen=True)
class HeldOutTasks:
    """Evaluation data never used in training: per seed, ``eval_tasks`` Boyan chains from the EVAL stream,
    one trajectory of n transitions each as context, and one prompt per state s with query φ(s).

    ``prompts`` (seeds, K, S, 2d+1, n+1), ``features`` (seeds, K, S, d), ``stationary`` (seeds, K, S);
    float64 on the run's device.
    """

    prompts: torch.Tensor
    features: torch.Tensor
    stationary: torch.Tensor


def held_out_tasks(config: PretrainConfig) -> HeldOutTasks:
    """Build the held-out evaluation tasks of every seed (see :class:`HeldOutTasks`)."""
    S, n = config.num_states, config.n
    prompts, feats, mus = [], [], []
    for seed in config.seeds:
        for j in range(config.eval_tasks):
            rng = stream(seed, EVAL_STREAM, j)
            mrp = sample_task(config, rng)
            phi, phi_next, r = mrp.transitions(mrp.trajectory(n, rng))
            prompts.append(
                td_prompt(
                    np.broadcast_to(phi, (S, n, config.d)),
                    np.broadcast_to(phi_next, (S, n, config.d)),
                    np.broadcast_to(r, (S, n)),
                    mrp.features,
                    config.gamma,
                )
            )
            feats.append(mrp.features)
            mus.append(mrp.stationary)
    shape = (len(config.seeds), config.eval_tasks)

    def tensor(arrays: list[FloatArray]) -> torch.Tensor:
        stacked = np.stack(arrays)
        return torch.tensor(stacked.reshape(*shape, *stacked.shape[1:]), dtype=torch.float64, device=config.device)

    return HeldOutTasks(tensor(prompts), tensor(feats), tensor(mus))
