"""Multi-task TD pretraining of a linear transformer [W25a, Algorithm 1], many seeds as one batched program."""

from __future__ import annotations

import dataclasses
import json
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from numpy.typing import NDArray

from icrl_verify import _validate
from icrl_verify.arith.torch_backend import TorchBackend, cuda_available
from icrl_verify.attention import Head, LinearAttentionWeights, run_transformer, standard_mask, tied
from icrl_verify.mrp import FiniteMRP, boyan_chain
from icrl_verify.pretrain_metrics import (
    FUNCTION_METRICS,
    WEIGHT_METRICS,
    FunctionMetrics,
    align_sign,
    function_metrics,
    td_reference,
    weight_metrics,
)
from icrl_verify.prompts import td_prompt

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]

DTYPES = {"float32": torch.float32, "float64": torch.float64}
TARGETS = ("td", "noise")

TRAIN_STREAM, EVAL_STREAM, INIT_STREAM = 0, 1, 2
"""Purposes of the independent random streams: the data of training task k of seed s comes from
SeedSequence([s, TRAIN_STREAM, k]), held-out task j from [s, EVAL_STREAM, j], the initial weights from
[s, INIT_STREAM, 0]. Every draw is a pure function of (seed, purpose, index): batching seeds, chunking
tasks and resuming from a checkpoint cannot change any number."""

CHECKPOINT_NAME = "checkpoint.pt"
LOG_NAME = "log.json"


@dataclass(frozen=True)
class PretrainConfig:
    """One pretraining experiment; the defaults are the published configuration of [W25a] (L = 3, tied).

    ``target = "noise"`` is the control: the TD target ρ_t + γ·sg[v̂(Z_{t+1})] of the transformer is
    replaced by independent N(0, 1) draws (the fitted-α reference keeps the TD target).
    """

    d: int = 4
    num_states: int = 10
    n: int = 30
    layers: int = 3
    gamma: float = 0.9
    tasks: int = 4000
    seeds: tuple[int, ...] = tuple(range(30))
    tied: bool = True
    dtype: str = "float32"
    device: str = "cpu"
    target: str = "td"
    batches_per_task: int = 5
    batch_size: int = 64
    lr: float = 1e-3
    weight_decay: float = 1e-6
    init_gain: float = 0.1
    eval_tasks: int = 8
    log_every: int = 20
    checkpoint_every: int = 200

    def __post_init__(self) -> None:
        _validate.positive_int("d", self.d)
        _validate.positive_int("num_states", self.num_states, minimum=3)
        _validate.positive_int("n", self.n)
        _validate.positive_int("layers", self.layers)
        _validate.gamma(self.gamma)
        _validate.positive_int("tasks", self.tasks, minimum=0)
        seeds = tuple(self.seeds)
        if not seeds or any(isinstance(s, bool) or not isinstance(s, (int, np.integer)) or s < 0 for s in seeds):
            raise ValueError(f"seeds: expected a non-empty sequence of non-negative integers, got {self.seeds!r}")
        if len(set(seeds)) != len(seeds):
            raise ValueError(f"seeds: expected distinct seeds, got {self.seeds!r}")
        object.__setattr__(self, "seeds", tuple(int(s) for s in seeds))
        if self.dtype not in DTYPES:
            raise ValueError(f"dtype: expected one of {sorted(DTYPES)}, got {self.dtype!r}")
        if not (self.device == "cpu" or self.device.startswith("cuda")):
            raise ValueError(f"device: expected 'cpu' or 'cuda[:k]', got {self.device!r}")
        if self.device.startswith("cuda") and not cuda_available():
            raise ValueError(f"device: {self.device!r} requested but CUDA is not available")
        if self.target not in TARGETS:
            raise ValueError(f"target: expected one of {TARGETS}, got {self.target!r}")
        for name in ("batches_per_task", "batch_size", "eval_tasks", "log_every", "checkpoint_every"):
            _validate.positive_int(name, getattr(self, name))
        for name in ("lr", "weight_decay", "init_gain"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and np.isfinite(value) and value >= 0):
                raise ValueError(f"{name}: expected a finite non-negative number, got {value!r}")
        if self.lr == 0 or self.init_gain == 0:
            raise ValueError("lr, init_gain: expected positive numbers")
        if self.checkpoint_every % self.log_every:
            raise ValueError(
                f"checkpoint_every: expected a multiple of log_every = {self.log_every}, got {self.checkpoint_every}"
            )

    @property
    def size(self) -> int:
        """Prompt rows 2d + 1."""
        return 2 * self.d + 1

    @property
    def parameter_layers(self) -> int:
        """Number of distinct (P, Q) pairs: 1 when tied, L otherwise."""
        return 1 if self.tied else self.layers

    @property
    def trajectory_length(self) -> int:
        """Transitions per mini-batch roll-out: prompts Z_0..Z_m need states s_0..s_{n+m+1}."""
        return self.n + self.batch_size + 1

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dictionary."""
        out = dataclasses.asdict(self)
        out["seeds"] = list(self.seeds)
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PretrainConfig:
        """Inverse of :meth:`to_dict`."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"config: unknown fields {sorted(unknown)}")
        values = dict(data)
        if "seeds" in values:
            values["seeds"] = tuple(values["seeds"])
        return cls(**values)


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


def predicted_values(bk: TorchBackend, P: torch.Tensor, Q: torch.Tensor, Z: torch.Tensor, depth: int) -> torch.Tensor:
    """v̂(Z) = −Z_L[2d, n] of the L-layer linear transformer, computed by the generic layer.

    ``P``, ``Q`` have shape (seeds, 1 or L, 2d+1, 2d+1) (1 = tied: one layer applied ``depth`` times);
    ``Z`` has shape (seeds, …, 2d+1, n+1). Returns (seeds, …); autograd flows to P, Q and Z.
    """
    if P.dim() != 4 or P.shape != Q.shape or P.shape[1] not in (1, depth):
        raise ValueError(
            f"P, Q: expected equal shapes (seeds, 1 or {depth}, D, D), got {tuple(P.shape)}, {tuple(Q.shape)}"
        )
    if Z.dim() < 3 or Z.shape[0] != P.shape[0]:
        raise ValueError(f"Z: expected shape ({P.shape[0]}, …, D, n+1), got {tuple(Z.shape)}")
    rows, cols = bk.shape(Z)
    mask = standard_mask(cols - 1)
    lead = (P.shape[0],) + (1,) * (Z.dim() - 3)

    def layer(l: int) -> LinearAttentionWeights:
        return LinearAttentionWeights(
            (Head(P[:, l].reshape(*lead, rows, rows), Q[:, l].reshape(*lead, rows, rows), mask),)
        )

    layers = tied(layer(0), depth) if P.shape[1] == 1 else [layer(l) for l in range(depth)]
    return -run_transformer(bk, Z, layers)[-1][..., rows - 1, cols - 1]


def minibatch_loss(
    values: torch.Tensor, rho: torch.Tensor, gamma: float, noise: torch.Tensor | None = None
) -> torch.Tensor:
    """(1/m) Σ_t (ρ_t + γ·sg[v̂(Z_{t+1})] − v̂(Z_t))² per leading index; ``values`` (…, m+1), ``rho`` (…, m).

    With ``noise`` (…, m) the target is the noise instead (the control). sg = ``detach``: the bootstrap
    target carries no gradient, so the gradient is the semi-gradient −(2/m) Σ_t δ_t ∇v̂(Z_t).
    """
    if values.shape[-1] != rho.shape[-1] + 1:
        raise ValueError(f"values, rho: expected m+1 values for m rewards, got {values.shape[-1]} and {rho.shape[-1]}")
    target = rho + gamma * values[..., 1:].detach() if noise is None else noise
    return ((target - values[..., :-1]) ** 2).mean(-1)


@dataclass
class Parameters:
    """Trainable tensors, one leaf per seed: P_s, Q_s (1 or L, D, D) and the reference step size α_s (0-d).

    Each seed's tensors are separate leaves so that the optimiser updates every seed with exactly the
    same kernels whatever the number of seeds (a batched tensor would put some entries in a vector
    kernel's tail in one batch size and not in another, changing the last bit); the forward pass stacks
    them into one batch.
    """

    P_seeds: list[torch.Tensor]
    Q_seeds: list[torch.Tensor]
    alpha_seeds: list[torch.Tensor]

    @property
    def P(self) -> torch.Tensor:
        """P of every seed, (seeds, 1 or L, D, D), differentiable."""
        return torch.stack(self.P_seeds)

    @property
    def Q(self) -> torch.Tensor:
        """Q of every seed, (seeds, 1 or L, D, D), differentiable."""
        return torch.stack(self.Q_seeds)

    @property
    def alpha(self) -> torch.Tensor:
        """α of every seed, (seeds,), differentiable."""
        return torch.stack(self.alpha_seeds)

    def tensors(self) -> list[torch.Tensor]:
        """The leaves handed to the optimiser."""
        return [*self.P_seeds, *self.Q_seeds, *self.alpha_seeds]

    def load(self, P: torch.Tensor, Q: torch.Tensor, alpha: torch.Tensor) -> None:
        """Overwrite every leaf from stacked tensors (a checkpoint)."""
        with torch.no_grad():
            for leaves, stacked in ((self.P_seeds, P), (self.Q_seeds, Q), (self.alpha_seeds, alpha)):
                if len(leaves) != stacked.shape[0]:
                    raise ValueError(f"checkpoint: expected {len(leaves)} seeds, got {stacked.shape[0]}")
                for leaf, value in zip(leaves, stacked):
                    leaf.copy_(value)

    def numpy(self) -> tuple[FloatArray, FloatArray, FloatArray]:
        """(P, Q, α) of every seed as float64 arrays."""
        P, Q, alpha = (
            np.asarray(t.detach().cpu().double().numpy(), dtype=np.float64) for t in (self.P, self.Q, self.alpha)
        )
        return P, Q, alpha


def initial_parameters(config: PretrainConfig) -> Parameters:
    """Xavier-normal P, Q with gain g (std = g·sqrt(2/(D + D)) = g/sqrt(D)); g = init_gain when tied and
    init_gain/L per layer when untied (as the published code); α = 1. Drawn per seed from its INIT stream
    (P of every layer first, then Q), in float64, then cast."""
    Lp, D = config.parameter_layers, config.size
    gain = config.init_gain if config.tied else config.init_gain / config.layers
    std = gain * np.sqrt(2.0 / (D + D))
    dtype = DTYPES[config.dtype]

    def leaf(a: Any) -> torch.Tensor:
        return torch.tensor(a, dtype=dtype, device=config.device).requires_grad_(True)

    draws = [stream(seed, INIT_STREAM, 0).standard_normal((2, Lp, D, D)) * std for seed in config.seeds]
    return Parameters([leaf(x[0]) for x in draws], [leaf(x[1]) for x in draws], [leaf(1.0) for _ in draws])


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


def held_out_predictions(
    config: PretrainConfig, params: Parameters, heldout: HeldOutTasks
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """In float64 on every held-out prompt: v̂_TF(s) (seeds, K, S) through the generic layer, ∇_q v̂_TF(s)
    (seeds, K, S, d) by autograd, and w_L of the fitted-α reference (seeds, K, d)."""
    bk = TorchBackend(config.device, torch.float64)
    P = params.P.detach().to(torch.float64)
    Q = params.Q.detach().to(torch.float64)
    Z = heldout.prompts.clone().requires_grad_(True)
    values = predicted_values(bk, P, Q, Z, config.layers)
    (grad,) = torch.autograd.grad(values.sum(), Z)
    _, w_td = td_reference(bk, params.alpha.detach().to(torch.float64), heldout.prompts[:, :, 0], config.layers)
    return values.detach(), grad[..., : config.d, config.n], w_td


def evaluate_function(config: PretrainConfig, params: Parameters, heldout: HeldOutTasks) -> FunctionMetrics:
    """SS, IWS, VD per seed on the held-out tasks (see :func:`held_out_predictions`)."""
    values, grads, w_td = held_out_predictions(config, params, heldout)
    return function_metrics(values, grads, w_td, heldout.features, heldout.stationary)


def log_record(
    config: PretrainConfig, params: Parameters, heldout: HeldOutTasks, tasks_done: int, losses: FloatArray | None
) -> dict[str, Any]:
    """One log entry after ``tasks_done`` tasks: per-seed lists of the training loss (mean since the last
    entry), α, SS, IWS, VD and the weight metrics (per parameter layer), and the seed means of the
    sign-aligned P and Q (``MEAN_FIELDS``)."""
    fm = evaluate_function(config, params, heldout)
    P, Q, alpha = params.numpy()
    wm = weight_metrics(P, Q)
    record: dict[str, Any] = {"tasks": tasks_done, "seeds": len(config.seeds)}
    record["loss"] = None if losses is None else losses.tolist()
    record["alpha"] = alpha.tolist()
    for name in FUNCTION_METRICS:
        record[name] = getattr(fm, name).tolist()
    for name in WEIGHT_METRICS:
        record[name] = wm[name].tolist()
    P_aligned, Q_aligned = align_sign(P, Q)
    record["p_aligned_mean"] = P_aligned.mean(axis=0).tolist()
    record["q_aligned_mean"] = Q_aligned.mean(axis=0).tolist()
    return record


MEAN_FIELDS = ("p_aligned_mean", "q_aligned_mean")
"""Log fields that hold a mean over the seeds (merged by a weighted mean); the others are per-seed lists."""


@dataclass
class PretrainResult:
    """Outcome of :func:`train`: the log (one record per evaluation), the final raw weights P, Q
    (seeds, 1 or L, D, D) and α (seeds,), and seconds spent per stage in this session (summed over workers)."""

    config: PretrainConfig
    log: list[dict[str, Any]]
    P: FloatArray
    Q: FloatArray
    alpha: FloatArray
    timings: dict[str, float] = field(default_factory=dict)
    resumed_from: int | None = None

    @property
    def final(self) -> dict[str, Any]:
        """The last log record."""
        return self.log[-1]

    def series(self, name: str) -> tuple[FloatArray, FloatArray]:
        """(tasks, values) of one metric over the log; values have shape (records, seeds[, layers])."""
        rows = [r for r in self.log if r.get(name) is not None]
        tasks = np.array([r["tasks"] for r in rows], dtype=np.float64)
        return tasks, np.array([r[name] for r in rows], dtype=np.float64)


ProgressCallback = Callable[[int, dict[str, Any] | None], None]
"""Called after every task with (tasks done, the new log record or None)."""

SEED_TASKS_PER_CHUNK = 128
"""Seeds × tasks whose roll-outs and prompts the prefetch thread prepares at once (memory/speed only)."""


class WorkerStoppedError(RuntimeError):
    """Raised inside a worker when another worker of the same run failed or was interrupted."""


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


def write_log(run_dir: Path, config: PretrainConfig, log: list[dict[str, Any]]) -> Path:
    """Write ``log.json`` (config and records) atomically; returns its path."""
    path = run_dir / LOG_NAME
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"config": config.to_dict(), "log": log}))
    os.replace(tmp, path)
    return path


def _save_checkpoint(
    path: Path,
    config: PretrainConfig,
    params: Parameters,
    optimizer: torch.optim.Optimizer,
    done: int,
    log: list[dict[str, Any]],
) -> None:
    payload = {
        "config": config.to_dict(),
        "tasks_done": done,
        "P": params.P.detach().cpu(),
        "Q": params.Q.detach().cpu(),
        "alpha": params.alpha.detach().cpu(),
        "optimizer": optimizer.state_dict(),
        "log": json.dumps(log),
    }
    tmp = path.with_suffix(".tmp")
    torch.save(payload, tmp)
    os.replace(tmp, path)


def _load_checkpoint(
    path: Path, config: PretrainConfig, params: Parameters, optimizer: torch.optim.Optimizer
) -> tuple[int, list[dict[str, Any]]]:
    data = torch.load(path, map_location=config.device, weights_only=True)
    saved = PretrainConfig.from_dict(data["config"])
    if saved != config:
        diff = [f.name for f in dataclasses.fields(config) if getattr(saved, f.name) != getattr(config, f.name)]
        raise ValueError(f"resume: the checkpoint {path} was made with a different config ({', '.join(diff)})")
    params.load(data["P"], data["Q"], data["alpha"])
    optimizer.load_state_dict(data["optimizer"])
    log: list[dict[str, Any]] = json.loads(data["log"])
    return int(data["tasks_done"]), log


def _train_batch(
    config: PretrainConfig,
    run_dir: Path | None,
    resume: bool,
    progress: ProgressCallback | None,
    stop: threading.Event | None,
) -> PretrainResult:
    """Train every seed of ``config`` as one batch (see :func:`train`)."""
    bk = TorchBackend(config.device, DTYPES[config.dtype])
    timings = {"data (prefetch thread)": 0.0, "waiting for data": 0.0, "steps": 0.0, "eval": 0.0, "checkpoint": 0.0}
    clock = time.perf_counter()
    heldout = held_out_tasks(config)
    timings["eval"] += time.perf_counter() - clock
    params = initial_parameters(config)
    optimizer = torch.optim.Adam(params.tensors(), lr=config.lr, weight_decay=config.weight_decay, fused=True)
    log: list[dict[str, Any]] = []
    done = 0
    checkpoint = run_dir / CHECKPOINT_NAME if run_dir is not None else None
    if resume:
        if checkpoint is None or not checkpoint.exists():
            raise ValueError(
                f"resume: no checkpoint found at {checkpoint} (resume with the same run directory "
                "and the same number of workers)"
            )
        done, log = _load_checkpoint(checkpoint, config, params, optimizer)
    if run_dir is not None:
        run_dir.mkdir(parents=True, exist_ok=True)
    if not log:
        clock = time.perf_counter()
        log.append(log_record(config, params, heldout, 0, None))
        timings["eval"] += time.perf_counter() - clock
    resumed_from = done if resume else None
    per_chunk = max(1, SEED_TASKS_PER_CHUNK // len(config.seeds))

    def prepare(start: int) -> list[TaskTensors]:
        began = time.perf_counter()
        out = prepare_tasks(config, start, min(start + per_chunk, config.tasks))
        timings["data (prefetch thread)"] += time.perf_counter() - began
        return out

    losses = torch.zeros(len(config.seeds), dtype=torch.float64, device=bk.device)  # summed on the device
    steps = 0
    with ThreadPoolExecutor(max_workers=1) as pool:
        pending = pool.submit(prepare, done) if done < config.tasks else None
        while pending is not None:
            clock = time.perf_counter()
            chunk = pending.result()
            timings["waiting for data"] += time.perf_counter() - clock
            following = done + len(chunk)
            pending = pool.submit(prepare, following) if following < config.tasks else None
            for task in chunk:
                if stop is not None and stop.is_set():
                    raise WorkerStoppedError("stopped because another worker of the run failed or was interrupted")
                clock = time.perf_counter()
                for b in range(config.batches_per_task):
                    Z, rho = sliding_prompts(task.trajectories[:, b], config.n)
                    noise = None if task.noise is None else task.noise[:, b]
                    P, Q, alpha = params.P, params.Q, params.alpha
                    values = predicted_values(bk, P, Q, Z, config.layers)
                    loss = minibatch_loss(values, rho, config.gamma, noise)
                    reference = minibatch_loss(td_reference(bk, alpha, Z, config.layers)[0], rho, config.gamma)
                    optimizer.zero_grad(set_to_none=True)
                    torch.autograd.backward(loss.sum() + reference.sum())
                    optimizer.step()
                    losses += loss.detach()
                    steps += 1
                timings["steps"] += time.perf_counter() - clock
                done += 1
                record = None
                if done % config.log_every == 0 or done == config.tasks:
                    clock = time.perf_counter()
                    mean_loss = np.asarray((losses / steps).cpu().numpy(), dtype=np.float64)
                    record = log_record(config, params, heldout, done, mean_loss)
                    log.append(record)
                    losses.zero_()
                    steps = 0
                    timings["eval"] += time.perf_counter() - clock
                if checkpoint is not None and (done % config.checkpoint_every == 0 or done == config.tasks):
                    clock = time.perf_counter()
                    _save_checkpoint(checkpoint, config, params, optimizer, done, log)
                    write_log(checkpoint.parent, config, log)
                    timings["checkpoint"] += time.perf_counter() - clock
                if progress is not None:
                    progress(done, record)
    P_final, Q_final, alpha_final = params.numpy()
    return PretrainResult(
        config=config,
        log=log,
        P=P_final,
        Q=Q_final,
        alpha=alpha_final,
        timings=timings,
        resumed_from=resumed_from,
    )


def seed_groups(config: PretrainConfig, workers: int) -> list[PretrainConfig]:
    """Split the seeds into ``workers`` contiguous groups (fewer if there are fewer seeds), one config each."""
    workers = _validate.positive_int("workers", workers)
    parts = np.array_split(np.array(config.seeds), min(workers, len(config.seeds)))
    return [dataclasses.replace(config, seeds=tuple(int(s) for s in part)) for part in parts]


def merge_results(config: PretrainConfig, results: list[PretrainResult]) -> PretrainResult:
    """Concatenate the per-group results of one run along the seed axis (records matched by task count)."""
    log = []
    for records in zip(*(r.log for r in results)):
        if len({rec["tasks"] for rec in records}) != 1:
            raise ValueError("results: the groups logged at different task counts")
        counts = np.array([rec["seeds"] for rec in records], dtype=np.float64)
        merged: dict[str, Any] = {"tasks": records[0]["tasks"], "seeds": int(counts.sum())}
        for key in records[0]:
            if key in merged:
                continue
            if records[0][key] is None:
                merged[key] = None
            elif key in MEAN_FIELDS:
                stacked = np.array([rec[key] for rec in records], dtype=np.float64)
                merged[key] = np.tensordot(counts / counts.sum(), stacked, axes=1).tolist()
            else:
                merged[key] = [v for rec in records for v in rec[key]]
        log.append(merged)
    timings: dict[str, float] = {}
    for r in results:
        for stage, seconds in r.timings.items():
            timings[stage] = timings.get(stage, 0.0) + seconds
    return PretrainResult(
        config=config,
        log=log,
        P=np.concatenate([r.P for r in results]),
        Q=np.concatenate([r.Q for r in results]),
        alpha=np.concatenate([r.alpha for r in results]),
        timings=timings,
        resumed_from=min((r.resumed_from for r in results if r.resumed_from is not None), default=None),
    )


def train(
    config: PretrainConfig,
    run_dir: Path | None = None,
    resume: bool = False,
    progress: ProgressCallback | None = None,
    workers: int = 1,
) -> PretrainResult:
    """Multi-task TD pretraining [W25a, Algorithm 1] of every seed; seeds are a batch axis of one program.

    For each task k: ``batches_per_task`` mini-batches, each the m + 1 sliding prompts of a fresh roll-out,
    one Adam step on Σ_seeds [TD loss of the transformer + TD loss of the fitted-α reference] (disjoint
    parameters, and Adam acts per entry, so every seed trains exactly as it would alone). Adam is
    torch.optim.Adam (fused kernel) with coupled L2 weight decay: the decay is added to the gradient (not
    AdamW). Evaluates on held-out tasks every ``log_every`` tasks. A prefetch thread prepares the next
    tasks while the current ones train.

    ``workers`` > 1 splits the seeds into that many groups trained in parallel threads (torch releases
    the GIL in its kernels); the numbers do not depend on it. With ``run_dir``, checkpoints every
    ``checkpoint_every`` tasks (one per group, under ``group<i>/`` when workers > 1); ``resume`` continues
    from the last checkpoint and reproduces the uninterrupted run bit for bit.
    """
    groups = seed_groups(config, workers)
    if len(groups) == 1:
        return _train_batch(config, run_dir, resume, progress, None)
    stop = threading.Event()
    lock = threading.Lock()
    done = [0] * len(groups)
    pending: dict[int, list[dict[str, Any] | None]] = {}

    def report(group: int) -> ProgressCallback:
        def callback(tasks: int, record: dict[str, Any] | None) -> None:
            with lock:
                done[group] = tasks
                merged = None
                if record is not None:
                    slots = pending.setdefault(tasks, [None] * len(groups))
                    slots[group] = record
                    if all(s is not None for s in slots):
                        merged = merge_results(
                            config,
                            [
                                PretrainResult(g, [s], np.empty(0), np.empty(0), np.empty(0))
                                for g, s in zip(groups, slots)
                                if s is not None
                            ],
                        ).log[0]
                        del pending[tasks]
                if progress is not None:
                    progress(min(done), merged)

        return callback

    dirs = [None if run_dir is None else run_dir / f"group{i}" for i in range(len(groups))]
    with ThreadPoolExecutor(max_workers=len(groups)) as pool:
        futures = [
            pool.submit(_train_batch, g, d, resume, report(i) if progress is not None else None, stop)
            for i, (g, d) in enumerate(zip(groups, dirs))
        ]
        try:
            results = [f.result() for f in futures]
        except BaseException:
            stop.set()
            raise
    result = merge_results(config, results)
    if run_dir is not None:
        write_log(run_dir, config, result.log)
    return result


def save_result(result: PretrainResult, run_dir: Path) -> list[Path]:
    """Write the final weights (P.npy, Q.npy, alpha.npy; raw, per seed), final.json (weights as lists, the
    final log record, timings) and log.json into ``run_dir``; returns the paths."""
    run_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, arr in (("P", result.P), ("Q", result.Q), ("alpha", result.alpha)):
        path = run_dir / f"{name}.npy"
        np.save(path, arr)
        paths.append(path)
    final = {
        "config": result.config.to_dict(),
        "P": result.P.tolist(),
        "Q": result.Q.tolist(),
        "alpha": result.alpha.tolist(),
        "final": result.final,
        "timings": result.timings,
        "resumed_from": result.resumed_from,
    }
    path = run_dir / "final.json"
    path.write_text(json.dumps(final, indent=1))
    paths.append(path)
    paths.append(write_log(run_dir, result.config, result.log))
    return paths
