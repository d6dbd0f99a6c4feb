"""Multi-task TD pretraining of a linear transformer [W25a, Algorithm 1], many seeds as one batched program."""

from __future__ import annotations

import dataclasses
import json
import os
import time
from collections.abc import Callable
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
    ``chunk_tasks`` only sets how many tasks are rolled out at once (performance; results do not depend on it).
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
    chunk_tasks: int = 25

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
        for name in ("batches_per_task", "batch_size", "eval_tasks", "log_every", "checkpoint_every", "chunk_tasks"):
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

    start: int
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
    return TrainingTasks(start, features, rewards, states, noise)


def training_prompts(config: PretrainConfig, features: FloatArray, rewards: FloatArray, states: IntArray) -> tuple[
    FloatArray, FloatArray
]:
    """The m + 1 sliding prompts of each roll-out and the rewards ρ_t, built with ``prompts.td_prompt``.

    ``features`` (seeds, S, d), ``rewards`` (seeds, S), ``states`` (seeds, B, n+m+2). Prompt Z_t
    (t = 0..m) has context transitions t..t+n−1, i.e. columns (φ(s_{t+i}), γφ(s_{t+i+1}), r(s_{t+i})),
    and query φ(s_{t+n+1}) (the layout of the published code, see background §1/§5); ρ_t = r(s_{t+n+1}).
    Returns Z (seeds, B, m+1, 2d+1, n+1) and ρ (seeds, B, m).
    """
    n, m = config.n, config.batch_size
    seeds, B, _ = states.shape
    who = np.arange(seeds)[:, None, None]
    phi_seq = features[who, states]  # (seeds, B, n+m+2, d)
    r_seq = rewards[who, states]  # (seeds, B, n+m+2)
    t = np.arange(m + 1)
    window = t[:, None] + np.arange(n)[None, :]  # (m+1, n)
    count = seeds * B * (m + 1)
    Z = td_prompt(
        phi_seq[:, :, window].reshape(count, n, config.d),
        phi_seq[:, :, window + 1].reshape(count, n, config.d),
        r_seq[:, :, window].reshape(count, n),
        phi_seq[:, :, t + n + 1].reshape(count, config.d),
        config.gamma,
    )
    return Z.reshape(seeds, B, m + 1, config.size, n + 1), r_seq[:, :, n + 1 : n + 1 + m]


def transformer_values(bk: TorchBackend, P: torch.Tensor, Q: torch.Tensor, Z: torch.Tensor, depth: int) -> torch.Tensor:
    """v̂(Z) = −Z_L[2d, n] of the L-layer linear transformer, computed by the generic layer.

    ``P``, ``Q`` have shape (seeds, 1 or L, 2d+1, 2d+1) (1 = tied: one layer applied ``depth`` times);
    ``Z`` has shape (seeds, …, 2d+1, n+1). Returns (seeds, …); autograd flows to P, Q and Z.
    """
    if P.dim() != 4 or P.shape != Q.shape or P.shape[1] not in (1, depth):
        raise ValueError(f"P, Q: expected equal shapes (seeds, 1 or {depth}, D, D), got {tuple(P.shape)}, {tuple(Q.shape)}")
    if Z.dim() < 3 or Z.shape[0] != P.shape[0]:
        raise ValueError(f"Z: expected shape ({P.shape[0]}, …, D, n+1), got {tuple(Z.shape)}")
    rows, cols = bk.shape(Z)
    mask = standard_mask(cols - 1)
    lead = (P.shape[0],) + (1,) * (Z.dim() - 3)

    def layer(l: int) -> LinearAttentionWeights:
        return LinearAttentionWeights((Head(P[:, l].reshape(*lead, rows, rows), Q[:, l].reshape(*lead, rows, rows), mask),))

    layers = tied(layer(0), depth) if P.shape[1] == 1 else [layer(l) for l in range(depth)]
    return -run_transformer(bk, Z, layers)[-1][..., rows - 1, cols - 1]


def minibatch_loss(values: torch.Tensor, rho: torch.Tensor, gamma: float, noise: torch.Tensor | None = None) -> torch.Tensor:
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
    """Trainable tensors of every seed: P, Q (seeds, 1 or L, D, D) and the reference step size α (seeds,)."""

    P: torch.Tensor
    Q: torch.Tensor
    alpha: torch.Tensor

    def tensors(self) -> list[torch.Tensor]:
        """The leaves handed to the optimiser."""
        return [self.P, self.Q, self.alpha]


def initial_parameters(config: PretrainConfig) -> Parameters:
    """Xavier-normal P, Q with gain g (std = g·sqrt(2/(D + D)) = g/sqrt(D)); g = init_gain when tied and
    init_gain/L per layer when untied (as the published code); α = 1. Drawn per seed from its INIT stream
    (P of every layer first, then Q), in float64, then cast."""
    Lp, D = config.parameter_layers, config.size
    gain = config.init_gain if config.tied else config.init_gain / config.layers
    std = gain * np.sqrt(2.0 / (D + D))
    draws = np.stack([stream(seed, INIT_STREAM, 0).standard_normal((2, Lp, D, D)) for seed in config.seeds]) * std
    dtype = DTYPES[config.dtype]

    def leaf(a: NDArray[Any]) -> torch.Tensor:
        return torch.tensor(a, dtype=dtype, device=config.device).requires_grad_(True)

    return Parameters(leaf(draws[:, 0]), leaf(draws[:, 1]), leaf(np.ones(len(config.seeds))))


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


def evaluate_function(config: PretrainConfig, params: Parameters, heldout: HeldOutTasks) -> FunctionMetrics:
    """SS, IWS, VD per seed on the held-out tasks, in float64; ∇_q v̂_TF by autograd through the generic layer."""
    bk = TorchBackend(config.device, torch.float64)
    P = params.P.detach().to(torch.float64)
    Q = params.Q.detach().to(torch.float64)
    Z = heldout.prompts.clone().requires_grad_(True)
    values = transformer_values(bk, P, Q, Z, config.layers)
    (grad,) = torch.autograd.grad(values.sum(), Z)
    _, w_td = td_reference(bk, params.alpha.detach().to(torch.float64), heldout.prompts[:, :, 0], config.layers)
    return function_metrics(values.detach(), grad[..., : config.d, config.n], w_td, heldout.features, heldout.stationary)


def log_record(
    config: PretrainConfig, params: Parameters, heldout: HeldOutTasks, tasks_done: int, losses: FloatArray | None
) -> dict[str, Any]:
    """One log entry: per-seed metrics (weight metrics per parameter layer) after ``tasks_done`` tasks."""
    fm = evaluate_function(config, params, heldout)
    wm = weight_metrics(params.P.detach().cpu().double().numpy(), params.Q.detach().cpu().double().numpy())
    record: dict[str, Any] = {"tasks": tasks_done, "loss": None if losses is None else losses.tolist()}
    record["alpha"] = params.alpha.detach().cpu().double().numpy().tolist()
    for name in FUNCTION_METRICS:
        record[name] = getattr(fm, name).tolist()
    for name in WEIGHT_METRICS:
        record[name] = wm[name].tolist()
    return record


@dataclass
class PretrainResult:
    """Outcome of :func:`train`: the log (one record per evaluation), final weights (aligned by nothing:
    raw), the fitted α, and wall-clock seconds spent per stage in this session."""

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
        return np.array([r["tasks"] for r in rows], dtype=np.float64), np.array([r[name] for r in rows], dtype=np.float64)


ProgressCallback = Callable[[int, dict[str, Any] | None], None]
"""Called after every task with (tasks done, the new log record or None)."""


def _save_checkpoint(path: Path, config: PretrainConfig, params: Parameters, optimizer: torch.optim.Optimizer,
                     tasks_done: int, log: list[dict[str, Any]]) -> None:
    payload = {
        "config": config.to_dict(),
        "tasks_done": tasks_done,
        "P": params.P.detach().cpu(),
        "Q": params.Q.detach().cpu(),
        "alpha": params.alpha.detach().cpu(),
        "optimizer": optimizer.state_dict(),
        "log": json.dumps(log),
    }
    tmp = path.with_suffix(".tmp")
    torch.save(payload, tmp)
    os.replace(tmp, path)


def write_log(run_dir: Path, config: PretrainConfig, log: list[dict[str, Any]]) -> Path:
    """Write ``log.json`` (config and records) atomically; returns its path."""
    path = run_dir / LOG_NAME
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"config": config.to_dict(), "log": log}))
    os.replace(tmp, path)
    return path


def train(
    config: PretrainConfig,
    run_dir: Path | None = None,
    resume: bool = False,
    progress: ProgressCallback | None = None,
) -> PretrainResult:
    """Multi-task TD pretraining of every seed at once (seeds are a batch axis of one program).

    For each task k: B mini-batches, each the m + 1 sliding prompts of a fresh roll-out, one Adam step on
    Σ_seeds [TD loss of the transformer + TD loss of the fitted-α reference] (the two parameter sets are
    disjoint and Adam acts per entry, so every seed trains exactly as alone). Adam: torch.optim.Adam with
    coupled L2 weight decay (the decay is added to the gradient, not AdamW). Evaluates every ``log_every``
    tasks; with ``run_dir``, checkpoints every ``checkpoint_every`` tasks and ``resume`` continues from the
    last checkpoint, reproducing the uninterrupted run bit for bit.
    """
    bk = TorchBackend(config.device, DTYPES[config.dtype])
    timings = {"tasks": 0.0, "prompts": 0.0, "steps": 0.0, "eval": 0.0, "checkpoint": 0.0}
    clock = time.perf_counter()
    heldout = held_out_tasks(config)
    timings["eval"] += time.perf_counter() - clock
    params = initial_parameters(config)
    optimizer = torch.optim.Adam(params.tensors(), lr=config.lr, weight_decay=config.weight_decay)
    log: list[dict[str, Any]] = []
    done = 0
    checkpoint = run_dir / CHECKPOINT_NAME if run_dir is not None else None
    if resume:
        if checkpoint is None or not checkpoint.exists():
            raise ValueError(f"resume: no checkpoint found at {checkpoint}")
        done, log = _load_checkpoint(checkpoint, config, params, optimizer)
    resumed_from = done if resume else None
    if run_dir is not None:
        run_dir.mkdir(parents=True, exist_ok=True)
    if not log:
        clock = time.perf_counter()
        log.append(log_record(config, params, heldout, 0, None))
        timings["eval"] += time.perf_counter() - clock
    losses = np.zeros(len(config.seeds))
    steps_since_log = 0
    while done < config.tasks:
        clock = time.perf_counter()
        chunk = sample_training_tasks(config, done, min(done + config.chunk_tasks, config.tasks))
        timings["tasks"] += time.perf_counter() - clock
        for j in range(chunk.states.shape[1]):
            clock = time.perf_counter()
            Z_np, rho_np = training_prompts(config, chunk.features[:, j], chunk.rewards[:, j], chunk.states[:, j])
            Z = torch.tensor(Z_np, dtype=bk.dtype, device=bk.device)
            rho = torch.tensor(rho_np, dtype=bk.dtype, device=bk.device)
            noise = None if chunk.noise is None else torch.tensor(chunk.noise[:, j], dtype=bk.dtype, device=bk.device)
            timings["prompts"] += time.perf_counter() - clock
            clock = time.perf_counter()
            for b in range(config.batches_per_task):
                Zb, rb = Z[:, b], rho[:, b]
                loss_tf = minibatch_loss(transformer_values(bk, params.P, params.Q, Zb, config.layers), rb,
                                         config.gamma, None if noise is None else noise[:, b])
                loss_td = minibatch_loss(td_reference(bk, params.alpha, Zb, config.layers)[0], rb, config.gamma)
                optimizer.zero_grad(set_to_none=True)
                (loss_tf.sum() + loss_td.sum()).backward()
                optimizer.step()
                losses += loss_tf.detach().cpu().double().numpy()
                steps_since_log += 1
            timings["steps"] += time.perf_counter() - clock
            done += 1
            record = None
            if done % config.log_every == 0 or done == config.tasks:
                clock = time.perf_counter()
                record = log_record(config, params, heldout, done, losses / max(steps_since_log, 1))
                log.append(record)
                losses[:] = 0.0
                steps_since_log = 0
                timings["eval"] += time.perf_counter() - clock
            if checkpoint is not None and (done % config.checkpoint_every == 0 or done == config.tasks):
                clock = time.perf_counter()
                _save_checkpoint(checkpoint, config, params, optimizer, done, log)
                write_log(checkpoint.parent, config, log)
                timings["checkpoint"] += time.perf_counter() - clock
            if progress is not None:
                progress(done, record)
    return PretrainResult(
        config=config,
        log=log,
        P=params.P.detach().cpu().double().numpy(),
        Q=params.Q.detach().cpu().double().numpy(),
        alpha=params.alpha.detach().cpu().double().numpy(),
        timings=timings,
        resumed_from=resumed_from,
    )


def _load_checkpoint(path: Path, config: PretrainConfig, params: Parameters, optimizer: torch.optim.Optimizer
                     ) -> tuple[int, list[dict[str, Any]]]:
    data = torch.load(path, map_location=config.device, weights_only=True)
    saved = PretrainConfig.from_dict(data["config"])
    if saved != config:
        diff = [f.name for f in dataclasses.fields(config) if getattr(saved, f.name) != getattr(config, f.name)]
        raise ValueError(f"resume: the checkpoint at {path} was made with a different config ({', '.join(diff)})")
    with torch.no_grad():
        params.P.copy_(data["P"])
        params.Q.copy_(data["Q"])
        params.alpha.copy_(data["alpha"])
    optimizer.load_state_dict(data["optimizer"])
    log: list[dict[str, Any]] = json.loads(data["log"])
    return int(data["tasks_done"]), log


def save_result(result: PretrainResult, run_dir: Path) -> list[Path]:
    """Write the final weights (P.npy, Q.npy, alpha.npy; raw, per seed) and final.json (weights as lists,
    the final log record, timings) into ``run_dir``; returns the paths."""
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
