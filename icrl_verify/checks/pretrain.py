"""T5 as a statistical check: multi-task TD pretraining finds θ*_TD's structure and function [W25a, Alg. 1]."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np

from icrl_verify.arith.kinds import parse_kind
from icrl_verify.arith.torch_backend import intra_op_threads
from icrl_verify.certify import ClaimResult
from icrl_verify.checks.base import Figure, Provable
from icrl_verify.pretrain import PretrainConfig, t_interval, train

THRESHOLD = 0.85
"""Lower confidence bound that final SS and IWS on held-out tasks must reach (issue 7)."""
CONFIDENCE = 0.95
"""Level of the two-sided Student-t interval over seeds; its lower end is the bound."""
MIN_SEEDS = 8
"""Fewest seeds the check accepts (issue 7)."""

CI_TASKS = 600
"""Tasks of the CI-sized check: the published model and task distribution, fewer tasks (published 4000)."""

CI_CONFIG = PretrainConfig(tasks=CI_TASKS, seeds=tuple(range(MIN_SEEDS)), log_every=100, checkpoint_every=100)
"""The CI-sized configuration: d = 4, S = 10, n = 30, L = 3 tied, γ = 0.9, float32, 8 seeds."""

CLAIM_SS = f"SS on held-out tasks: lower {CONFIDENCE:.0%} t-bound >= {THRESHOLD}"
CLAIM_IWS = f"IWS on held-out tasks: lower {CONFIDENCE:.0%} t-bound >= {THRESHOLD}"
CLAIM_P = "seed-mean aligned P: largest |entry| at [2d, 2d]"
CLAIM_Q_SIGNS = "seed-mean aligned Q: top-left diagonal < 0 < top-middle diagonal"
CLAIM_Q_OFF = "seed-mean aligned Q: every off-structure |entry| below every diagonal |entry|"
CLAIM_CONTROL = "control (TD target replaced by noise) fails the same check"


@dataclass(frozen=True)
class Criterion:
    """One criterion of the T5 check; ``margin`` is how far inside (> 0) or outside (< 0) it the run is
    (a bound minus its threshold, or a gap between entries relative to the largest |entry|)."""

    claim: str
    passed: bool
    margin: float
    detail: str


def _bound_criterion(claim: str, name: str, values: Sequence[float], threshold: float, level: float) -> Criterion:
    ci = t_interval(values, level)
    detail = (
        f"{name}: mean {ci.mean:.4f}, {level:.0%} t-interval [{ci.lower:.4f}, {ci.upper:.4f}] over {ci.count} seeds, "
        f"min {min(values):.4f}; bound {ci.lower:.4f} vs threshold {threshold}"
    )
    return Criterion(claim, ci.lower >= threshold, ci.lower - threshold, detail)


def t5_criteria(
    record: dict[str, Any], d: int, threshold: float = THRESHOLD, level: float = CONFIDENCE
) -> list[Criterion]:
    """The criteria of docs/contract.md T5 / issue 7 on one log record (normally the final one) of a run with
    feature dimension ``d``.

    1-2. SS and IWS on held-out tasks: the lower end of the two-sided ``level`` Student-t interval of the
         mean over seeds is ≥ ``threshold``;
    3.   the seed-mean sign-aligned P has its largest |entry| at [2d, 2d] (every parameter layer);
    4.   the seed-mean aligned Q has every top-left diagonal entry < 0 and every top-middle diagonal entry > 0
         (θ*_TD: −C and +C with C ∝ I; opposite signs, oriented as θ* given P[2d, 2d] > 0);
    5.   off-structure entries are small: every entry of that Q outside the two diagonals is smaller in
         magnitude than every entry on them (the 2d largest |entries| are the structure).
    """
    seeds = len(record["ss"])
    if seeds < MIN_SEEDS:
        raise ValueError(f"record: the T5 check needs at least {MIN_SEEDS} seeds, got {seeds}")
    out = [
        _bound_criterion(CLAIM_SS, "SS", record["ss"], threshold, level),
        _bound_criterion(CLAIM_IWS, "IWS", record["iws"], threshold, level),
    ]
    P = np.asarray(record["p_aligned_mean"], dtype=np.float64)
    Q = np.asarray(record["q_aligned_mean"], dtype=np.float64)
    if P.shape != Q.shape or P.shape[1:] != (2 * d + 1, 2 * d + 1):
        raise ValueError(f"record: expected seed-mean P, Q of shape (layers, {2 * d + 1}, {2 * d + 1}), got {P.shape}")
    last = 2 * d
    diag = np.arange(d)
    p_margins, q_sign_margins, q_off_margins = [], [], []
    for l in range(P.shape[0]):
        scale_p = float(np.max(np.abs(P[l])))
        others = np.abs(P[l])
        corner = float(others[last, last])
        others[last, last] = 0.0
        p_margins.append((corner - float(np.max(others))) / scale_p if scale_p > 0 else -1.0)
        scale_q = float(np.max(np.abs(Q[l])))
        tl, tm = Q[l][diag, diag], Q[l][diag, d + diag]
        q_sign_margins.append(float(min(np.min(-tl), np.min(tm))) / scale_q if scale_q > 0 else -1.0)
        off = np.abs(Q[l])
        off[diag, diag] = 0.0
        off[diag, d + diag] = 0.0
        structure = np.concatenate([np.abs(tl), np.abs(tm)])
        q_off_margins.append((float(np.min(structure)) - float(np.max(off))) / scale_q if scale_q > 0 else -1.0)
    layers = f"{P.shape[0]} parameter layer(s)"
    out.append(
        Criterion(
            CLAIM_P,
            min(p_margins) > 0,
            min(p_margins),
            f"(|P[2d,2d]| − max other |P_ij|)/max|P| = {min(p_margins):.4f} (worst of {layers}); "
            f"P[2d,2d] = {[round(float(P[l, last, last]), 4) for l in range(P.shape[0])]}",
        )
    )
    out.append(
        Criterion(
            CLAIM_Q_SIGNS,
            min(q_sign_margins) > 0,
            min(q_sign_margins),
            f"min(−Q_tl[k,k], Q_tm[k,k])/max|Q| = {min(q_sign_margins):.4f}; "
            f"tr Q_tl = {[round(float(np.trace(Q[l, :d, :d])), 4) for l in range(Q.shape[0])]}, "
            f"tr Q_tm = {[round(float(np.trace(Q[l, :d, d:last])), 4) for l in range(Q.shape[0])]}",
        )
    )
    out.append(
        Criterion(
            CLAIM_Q_OFF,
            min(q_off_margins) > 0,
            min(q_off_margins),
            f"(min structure |Q_ij| − max off-structure |Q_ij|)/max|Q| = {min(q_off_margins):.4f} (worst of {layers})",
        )
    )
    return out


def passes(criteria: Sequence[Criterion]) -> bool:
    """True when every criterion passes."""
    return all(c.passed for c in criteria)


def control_config(config: PretrainConfig) -> PretrainConfig:
    """The same run with the transformer's TD target replaced by N(0, 1) noise."""
    return dataclasses.replace(config, target="noise")


def run_with_control(config: PretrainConfig) -> tuple[list[Criterion], list[Criterion]]:
    """Train ``config`` and its noise control side by side (two threads, one torch intra-op thread each);
    return the criteria of the final record of each."""
    with intra_op_threads(1), ThreadPoolExecutor(max_workers=2) as pool:
        runs = list(pool.map(train, (config, control_config(config))))
    main, control = (t5_criteria(r.final, config.d) for r in runs)
    return main, control


def _claim_results(criteria: Sequence[Criterion], backend: str, seeds: int) -> list[ClaimResult]:
    out = []
    for c in criteria:
        r = ClaimResult("T5", c.claim, backend, instances=seeds)
        r.record(max(0.0, -c.margin), c.passed, c.detail)
        if c.passed:
            r.detail = c.detail
        out.append(r)
    return out


class PretrainCheck(Provable):
    """T5: the CI-sized run (8 seeds) meets every criterion and its noise control fails the check.

    The run is the configuration's, fixed seeds included (0..7 for ``CI_CONFIG``), so the certificate is
    reproducible and equals the pytest check; ``rng`` and ``budget`` are not used. At the CI size the
    outcome depends on the seed set (docs/theorems/pretrain.md: a random set of 8 seeds passes at 600
    tasks with probability ≈ 0.07, estimated from a 30-seed run). The ``worst error`` column of a
    criterion is how far it misses (0 when it passes).
    """

    key = "T5"
    title = "pretraining discovers θ*_TD (statistical)"

    def __init__(self, config: PretrainConfig = CI_CONFIG) -> None:
        self.config = config

    def prove(self, kinds: Sequence[str], rng: np.random.Generator, budget: float = 1.0) -> list[ClaimResult]:
        out: list[ClaimResult] = []
        for kind in kinds:
            spec = parse_kind(kind)
            if spec.float_backend != "torch" or not spec.available():
                continue
            config = dataclasses.replace(self.config, device=spec.device)
            count = len(config.seeds)
            main, control = run_with_control(config)
            backend = f"{kind}-{config.dtype} pretrain"
            out += _claim_results(main, backend, count)
            failed = [c.claim for c in control if not c.passed]
            r = ClaimResult("T5", CLAIM_CONTROL, backend, instances=count)
            r.record(0.0 if failed else 1.0, bool(failed), "the noise control passed every criterion")
            r.detail = f"control failed: {'; '.join(failed)}" if failed else r.detail
            out.append(r)
        return out


def bench_pretrain(single_tasks: int = 4000, batched_tasks: int = 200) -> list[Figure]:
    """Throughput of the published configuration (d = 4, S = 10, n = 30, L = 3 tied, 5 mini-batches of 64,
    float32, CPU, one torch intra-op thread per worker): one seed over ``single_tasks`` tasks, and 30 seeds as one
    batch split over two worker threads for ``batched_tasks`` tasks (its 4000-task time is projected from
    the measured rate and labelled so). Wall and CPU seconds, tasks per second, and the seconds per stage."""
    figures: list[Figure] = []
    runs = (
        ("1 seed", PretrainConfig(tasks=single_tasks, seeds=(0,)), 1),
        ("30 seeds", PretrainConfig(tasks=batched_tasks, log_every=20, checkpoint_every=20), 2),
    )
    with intra_op_threads(1):
        train(PretrainConfig(seeds=(0,), tasks=1, log_every=1, checkpoint_every=1))  # one-off imports (Adam)
        for label, config, workers in runs:
            start, cpu = time.perf_counter(), time.process_time()
            result = train(config, workers=workers)
            wall, cpu = time.perf_counter() - start, time.process_time() - cpu
            tasks = config.tasks
            figures += [
                (f"{label}, {workers} worker(s): wall time for {tasks} tasks", wall, "s"),
                (f"{label}, {workers} worker(s): CPU time for {tasks} tasks", cpu, "s"),
                (f"{label}, {workers} worker(s): tasks per second", tasks / wall, "tasks/s"),
            ]
            if tasks < 4000:
                figures.append(
                    (f"{label}: projected wall time for 4000 tasks (measured rate)", 4000 * wall / tasks, "s")
                )
            for stage, seconds in result.timings.items():
                figures.append((f"{label}: {stage} (summed over workers)", seconds, "s"))
    return figures
