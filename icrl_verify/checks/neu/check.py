"""T2 as one provable theorem (every claim on every backend kind) and its benchmark."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import ClassVar

import numpy as np
import torch

from icrl_verify.arith.kinds import parse_kind
from icrl_verify.arith.torch_backend import intra_op_threads
from icrl_verify.certify import ClaimResult
from icrl_verify.checks.base import Figure, Provable
from icrl_verify.checks.neu.bound import check_bound_exact, check_bound_float
from icrl_verify.checks.neu.features import check_features, convergent_instance, divergent_instance
from icrl_verify.checks.neu.forward import ExpectedTDCheck
from icrl_verify.checks.neu.limits import check_contrast, check_gradients, check_limit
from icrl_verify.checks.neu.tasks import (
    KEY,
    Construction,
    PromptBuilder,
    UpdateFn,
    random_layers,
    rational_task,
    sample_tasks,
)
from icrl_verify.neu import (
    ExpectedUpdates,
    expected_updates,
    parameter_count,
    value_iteration_layers,
)
from icrl_verify.prompts import expected_feature_prompts


class NEUCheck(Provable):
    """T2 [W25b]: at θ*_L (C = S·I, tabular features, enumerated expected-feature prompt) the
    transformer is value iteration and the norm of the expected TD / MC update vanishes as L → ∞.

    ``construction`` and ``prompt`` (the enumerated-prompt builder) are the parts under test: the
    forward-pass identity (:class:`ExpectedTDCheck`, every backend) and the value bound (exact,
    float64) run both against references built from the task data."""

    key = KEY
    title = "NEU vanishes at theta* (provable emergence)"

    def __init__(
        self,
        construction: Construction = value_iteration_layers,
        updates: UpdateFn | None = None,
        num_states: int = 5,
        exact_depth: int = 20,
        float_depth: int = 200,
        prompt: PromptBuilder = expected_feature_prompts,
    ) -> None:
        self.construction, self.prompt = construction, prompt
        self.forward = ExpectedTDCheck(construction, prompt)
        self.updates = updates
        self.num_states, self.exact_depth, self.float_depth = num_states, exact_depth, float_depth

    #: task counts of the default certificate, per claim
    counts: ClassVar[dict[str, int]] = {"exact": 3, "float64": 6, "torch": 4, "features": 3, "gradient": 2}

    def prove(self, kinds: Sequence[str], rng: np.random.Generator, budget: float = 1.0) -> list[ClaimResult]:
        def count(name: str) -> int:
            return max(1, round(self.counts[name] * budget))

        S, out = self.num_states, []
        for kind in kinds:
            out += self.forward.prove([kind], rng, budget)  # the forward-pass identity on every kind
            parsed = parse_kind(kind)
            if parsed.name == "exact":
                exact_tasks = [rational_task(t) for t in sample_tasks(rng, count("exact"), S)]
                out.append(check_bound_exact(self.construction, exact_tasks, self.exact_depth, self.prompt))
            elif parsed.float_backend == "float64":
                float_tasks = sample_tasks(rng, count("float64"), S)
                out.append(check_bound_float(self.construction, float_tasks, self.float_depth, self.prompt))
                feats = [divergent_instance()] + [convergent_instance(rng) for _ in range(count("features"))]
                out.append(check_features(feats))
            elif parsed.float_backend == "torch":
                device = parsed.device
                tasks = sample_tasks(rng, count("torch"), S)
                out.append(check_limit(self.construction, tasks, self.updates, device))
                out.append(check_contrast(tasks, rng, device=device))
                grad_tasks = sample_tasks(rng, count("gradient"), 3)
                layer_sets = [self.construction(3, 6), random_layers(3, 3, rng)]
                out.append(check_gradients(grad_tasks, layer_sets, rng, self.updates, device=device))
        return out


BENCH_STATES = 10
BENCH_DEPTH = 100
BENCH_TASKS = 100


def bench_neu() -> list[Figure]:
    """Time the multi-task NEU_TD and NEU_MC with full gradients over every P_l, Q_l (S = d = 10,
    L = 100, 100 tasks, float64; target ≤ 30 s on 2 cores): the mean update with θ shared, on one
    intra-op thread and on torch's default, and the per-task updates (100 copies of θ) on one thread."""
    rng = np.random.default_rng(0)
    tasks = sample_tasks(rng, BENCH_TASKS, BENCH_STATES)
    layers = value_iteration_layers(BENCH_STATES, BENCH_DEPTH)
    label = f"S=d={BENCH_STATES}, L={BENCH_DEPTH}, {BENCH_TASKS} tasks, {parameter_count(layers)} parameters"

    def timed(per_task: bool) -> tuple[float, ExpectedUpdates]:
        start = time.perf_counter()
        u = expected_updates(layers, tasks, per_task=per_task)
        return time.perf_counter() - start, u

    threads = torch.get_num_threads()
    default_time, _ = timed(per_task=False)
    with intra_op_threads(1):
        one_time, u = timed(per_task=False)
        per_task_time, per = timed(per_task=True)
    return [
        (f"multi-task NEU_TD and NEU_MC, full gradients ({label}), 1 thread", one_time, "s"),
        (f"the same on torch's default {threads} threads", default_time, "s"),
        ("per-task updates (one copy of theta per task), 1 thread", per_task_time, "s"),
        (f"multi-task NEU_TD at theta*_{BENCH_DEPTH}", u.neu_td, ""),
        (f"multi-task NEU_MC at theta*_{BENCH_DEPTH}", u.neu_mc, ""),
        ("|mean per-task update| - |shared update| (NEU_TD)", abs(per.neu_td - u.neu_td), ""),
    ]
