"""Configuration of a pretraining run: the published defaults of [W25a] and their validation."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from icrl_verify import _validate
from icrl_verify.arith.torch_backend import cuda_available

DTYPES = {"float32": torch.float32, "float64": torch.float64}
"""Training dtypes by name."""
TARGETS = ("td", "noise")
"""Targets of the transformer's loss: the TD target, or the noise control."""


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
