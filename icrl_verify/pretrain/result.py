"""The outcome of a run (log, final weights, timings), read per seed, and merged over groups of seeds."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from icrl_verify.pretrain.config import PretrainConfig
from icrl_verify.pretrain.evaluate import MEAN_FIELDS

FloatArray = NDArray[np.float64]


def seed_values(record: dict[str, Any], name: str) -> FloatArray:
    """One metric of a log record, one value per seed: layer 0 (the tied layer) of a per-layer weight metric."""
    values = np.asarray(record[name], dtype=np.float64)
    return values[:, 0] if values.ndim == 2 else values


@dataclass
class PretrainResult:
    """Outcome of :func:`~icrl_verify.pretrain.train`: the log (one record per evaluation), the final raw
    weights P, Q (seeds, 1 or L, D, D) and α (seeds,), and seconds spent per stage in this session (summed
    over workers)."""

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
        """(tasks, values) of one metric over the log; values (records, seeds), see :func:`seed_values`."""
        rows = [r for r in self.log if r.get(name) is not None]
        tasks = np.array([r["tasks"] for r in rows], dtype=np.float64)
        return tasks, np.array([seed_values(r, name) for r in rows], dtype=np.float64)


def merge_records(records: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """One log record from the records of every seed group at the same task count, in seed order: per-seed
    lists are concatenated, the seed means of ``MEAN_FIELDS`` combined as a mean weighted by group size."""
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
    return merged


def merge_results(config: PretrainConfig, results: Sequence[PretrainResult]) -> PretrainResult:
    """Concatenate the per-group results of one run along the seed axis (records matched by task count)."""
    timings: dict[str, float] = {}
    for r in results:
        for stage, seconds in r.timings.items():
            timings[stage] = timings.get(stage, 0.0) + seconds
    return PretrainResult(
        config,
        [merge_records(records) for records in zip(*(r.log for r in results))],
        np.concatenate([r.P for r in results]),
        np.concatenate([r.Q for r in results]),
        np.concatenate([r.alpha for r in results]),
        timings,
        min((r.resumed_from for r in results if r.resumed_from is not None), default=None),
    )
