"""The run directory on disk: run.json, checkpoints, log.json and the final weights, written atomically."""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from icrl_verify.pretrain.config import PretrainConfig
from icrl_verify.pretrain.model import Parameters
from icrl_verify.pretrain.result import PretrainResult

CHECKPOINT_NAME = "checkpoint.pt"
"""Weights, Adam state, tasks done and log of one group of seeds (under ``group<i>/`` when workers > 1)."""
LOG_NAME = "log.json"
"""The configuration and every log record."""
RUN_NAME = "run.json"
"""The configuration and worker count of a run, written when it starts (read back by --resume)."""
_GROUP = "group"


def _replace_atomically(path: Path, write: Callable[[Path], object]) -> None:
    """Write ``path`` through a temporary file beside it, so an interruption never leaves half a file."""
    tmp = path.with_suffix(".tmp")
    write(tmp)
    os.replace(tmp, path)


def group_dir(run_dir: Path, group: int) -> Path:
    """Where group ``group`` of the seeds keeps its checkpoint when the run has several workers."""
    return run_dir / f"{_GROUP}{group}"


def has_checkpoint(run_dir: Path) -> bool:
    """True when ``run_dir`` holds a checkpoint of a run (of one worker or of several)."""
    return (run_dir / CHECKPOINT_NAME).exists() or any(run_dir.glob(f"{_GROUP}*/{CHECKPOINT_NAME}"))


def write_run(run_dir: Path, config: PretrainConfig, workers: int) -> Path:
    """Write ``run.json`` (configuration and worker count); returns its path."""
    path = run_dir / RUN_NAME
    path.write_text(json.dumps({"config": config.to_dict(), "workers": workers}, indent=1))
    return path


def read_run(run_dir: Path) -> tuple[PretrainConfig, int]:
    """The configuration and worker count saved by :func:`write_run`."""
    path = run_dir / RUN_NAME
    if not path.exists():
        raise ValueError(f"run_dir: {path} does not exist (nothing to resume in {run_dir})")
    data = json.loads(path.read_text())
    return PretrainConfig.from_dict(data["config"]), int(data["workers"])


def write_log(run_dir: Path, config: PretrainConfig, log: list[dict[str, Any]]) -> Path:
    """Write ``log.json`` (config and records) atomically; returns its path."""
    path = run_dir / LOG_NAME
    _replace_atomically(path, lambda tmp: tmp.write_text(json.dumps({"config": config.to_dict(), "log": log})))
    return path


def save_checkpoint(
    run_dir: Path,
    config: PretrainConfig,
    params: Parameters,
    optimizer: torch.optim.Optimizer,
    done: int,
    log: list[dict[str, Any]],
) -> None:
    """Write the checkpoint after ``done`` tasks (weights, Adam state, log) and ``log.json``, each atomically."""
    payload = {
        "config": config.to_dict(),
        "tasks_done": done,
        "P": params.P.detach().cpu(),
        "Q": params.Q.detach().cpu(),
        "alpha": params.alpha.detach().cpu(),
        "optimizer": optimizer.state_dict(),
        "log": json.dumps(log),
    }
    _replace_atomically(run_dir / CHECKPOINT_NAME, lambda tmp: torch.save(payload, tmp))
    write_log(run_dir, config, log)


def load_checkpoint(
    run_dir: Path | None, config: PretrainConfig, params: Parameters, optimizer: torch.optim.Optimizer
) -> tuple[int, list[dict[str, Any]]]:
    """Restore ``params`` and ``optimizer`` from the checkpoint in ``run_dir``; returns (tasks done, log).

    A missing checkpoint or one made with another configuration is a ValueError.
    """
    path = None if run_dir is None else run_dir / CHECKPOINT_NAME
    if path is None or not path.exists():
        raise ValueError(
            f"resume: no checkpoint found at {path} (resume with the same run directory "
            "and the same number of workers)"
        )
    data = torch.load(path, map_location=config.device, weights_only=True)
    saved = PretrainConfig.from_dict(data["config"])
    if saved != config:
        diff = [f.name for f in dataclasses.fields(config) if getattr(saved, f.name) != getattr(config, f.name)]
        raise ValueError(f"resume: the checkpoint {path} was made with a different config ({', '.join(diff)})")
    params.load(data["P"], data["Q"], data["alpha"])
    optimizer.load_state_dict(data["optimizer"])
    log: list[dict[str, Any]] = json.loads(data["log"])
    return int(data["tasks_done"]), log


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
