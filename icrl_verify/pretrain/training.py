"""The training loop [W25a, Algorithm 1]: Adam steps on every seed as one batch, prefetch and worker threads."""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import torch

from icrl_verify import _validate
from icrl_verify.arith.torch_backend import TorchBackend
from icrl_verify.pretrain.checkpoint import group_dir, load_checkpoint, save_checkpoint, write_log
from icrl_verify.pretrain.config import DTYPES, PretrainConfig
from icrl_verify.pretrain.data import TaskTensors, held_out_tasks, prepare_tasks, sliding_prompts
from icrl_verify.pretrain.evaluate import log_record
from icrl_verify.pretrain.model import Parameters, initial_parameters, minibatch_loss, predicted_values, td_reference
from icrl_verify.pretrain.result import PretrainResult, merge_records, merge_results

ProgressCallback = Callable[[int, dict[str, Any] | None], None]
"""Called after every task with (tasks done, the new log record or None)."""

SEED_TASKS_PER_CHUNK = 128
"""Seeds × tasks whose roll-outs and prompts the prefetch thread prepares at once (memory/speed only)."""

STAGES = ("data (prefetch thread)", "waiting for data", "steps", "eval", "checkpoint")
"""The stages whose seconds a run reports in ``PretrainResult.timings``."""


class WorkerStoppedError(RuntimeError):
    """Raised inside a worker when another worker of the same run failed or was interrupted."""


@contextmanager
def _timed(timings: dict[str, float], stage: str) -> Iterator[None]:
    """Add the seconds the block takes to ``timings[stage]``."""
    start = time.perf_counter()
    yield
    timings[stage] += time.perf_counter() - start


def _train_on_task(
    config: PretrainConfig,
    bk: TorchBackend,
    params: Parameters,
    optimizer: torch.optim.Optimizer,
    task: TaskTensors,
    losses: torch.Tensor,
) -> None:
    """The ``batches_per_task`` Adam steps of one task; adds each step's transformer loss to ``losses``."""
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


def _train_batch(
    config: PretrainConfig,
    run_dir: Path | None,
    resume: bool,
    progress: ProgressCallback | None,
    stop: threading.Event | None,
) -> PretrainResult:
    """Train every seed of ``config`` as one batch (see :func:`train`)."""
    bk = TorchBackend(config.device, DTYPES[config.dtype])
    timings = dict.fromkeys(STAGES, 0.0)
    with _timed(timings, "eval"):
        heldout = held_out_tasks(config)
    params = initial_parameters(config)
    optimizer = torch.optim.Adam(params.tensors(), lr=config.lr, weight_decay=config.weight_decay, fused=True)
    log: list[dict[str, Any]] = []
    done = 0
    if resume:
        done, log = load_checkpoint(run_dir, config, params, optimizer)
    if run_dir is not None:
        run_dir.mkdir(parents=True, exist_ok=True)
    if not log:
        with _timed(timings, "eval"):
            log.append(log_record(config, params, heldout, 0, None))
    resumed_from = done if resume else None
    per_chunk = max(1, SEED_TASKS_PER_CHUNK // len(config.seeds))

    def prepare(start: int) -> list[TaskTensors]:
        with _timed(timings, "data (prefetch thread)"):
            return prepare_tasks(config, start, min(start + per_chunk, config.tasks))

    losses = torch.zeros(len(config.seeds), dtype=torch.float64, device=bk.device)  # summed on the device
    steps = 0
    with ThreadPoolExecutor(max_workers=1) as pool:
        pending = pool.submit(prepare, done) if done < config.tasks else None
        while pending is not None:
            with _timed(timings, "waiting for data"):
                chunk = pending.result()
            following = done + len(chunk)
            pending = pool.submit(prepare, following) if following < config.tasks else None
            for task in chunk:
                if stop is not None and stop.is_set():
                    raise WorkerStoppedError("stopped because another worker of the run failed or was interrupted")
                with _timed(timings, "steps"):
                    _train_on_task(config, bk, params, optimizer, task, losses)
                steps += config.batches_per_task
                done += 1
                record = None
                if done % config.log_every == 0 or done == config.tasks:
                    with _timed(timings, "eval"):
                        mean_loss = np.asarray((losses / steps).cpu().numpy(), dtype=np.float64)
                        record = log_record(config, params, heldout, done, mean_loss)
                        log.append(record)
                        losses.zero_()
                        steps = 0
                if run_dir is not None and (done % config.checkpoint_every == 0 or done == config.tasks):
                    with _timed(timings, "checkpoint"):
                        save_checkpoint(run_dir, config, params, optimizer, done, log)
                if progress is not None:
                    progress(done, record)
    P, Q, alpha = params.numpy()
    return PretrainResult(config, log, P, Q, alpha, timings, resumed_from)


def seed_groups(config: PretrainConfig, workers: int) -> list[PretrainConfig]:
    """Split the seeds into ``workers`` contiguous groups (fewer if there are fewer seeds), one config each."""
    workers = _validate.positive_int("workers", workers)
    parts = np.array_split(np.array(config.seeds), min(workers, len(config.seeds)))
    return [dataclasses.replace(config, seeds=tuple(int(s) for s in part)) for part in parts]


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
                    complete = [s for s in slots if s is not None]
                    if len(complete) == len(groups):
                        merged = merge_records(complete)
                        del pending[tasks]
                if progress is not None:
                    progress(min(done), merged)

        return callback

    dirs = [None if run_dir is None else group_dir(run_dir, i) for i in range(len(groups))]
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
