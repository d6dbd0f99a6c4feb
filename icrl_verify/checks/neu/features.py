"""T2 claim 4: expected TD under uniform weighting converges iff ρ(I − (1/S) C Φᵀ(I − γP)Φ) < 1."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from icrl_verify import constructions, mrp
from icrl_verify.arith.float64 import Float64Backend
from icrl_verify.attention import LinearAttentionWeights, run_transformer
from icrl_verify.certify import ClaimResult
from icrl_verify.checks.neu.limits import RATE_TOLERANCE, fitted_rate
from icrl_verify.checks.neu.tasks import (
    CLAIM_FEATURES,
    KEY,
    FloatArray,
)
from icrl_verify.neu import (
    task_prompts,
)

# --- claim 4: general features ---------------------------------------------------------------------


@dataclass(frozen=True)
class FeatureInstance:
    """A task with general features and a preconditioner C for expected TD under uniform weighting."""

    task: mrp.FiniteMRP
    C: FloatArray

    def iteration_matrix(self) -> FloatArray:
        """I − (1/S) C Φᵀ(I − γP)Φ: w_{l+1} − w̄ = (this)·(w_l − w̄)."""
        t = self.task
        A = t.features.T @ (np.eye(t.num_states) - t.gamma * t.P) @ t.features
        return np.asarray(np.eye(t.dim) - self.C @ A / t.num_states, dtype=np.float64)

    def fixed_point(self) -> FloatArray:
        """w̄ with Φᵀ(r + γPΦw̄ − Φw̄) = 0 (uniform weighting)."""
        t = self.task
        A = t.features.T @ (np.eye(t.num_states) - t.gamma * t.P) @ t.features
        return np.asarray(np.linalg.solve(A, t.features.T @ t.r), dtype=np.float64)

    def spectral_radius(self) -> float:
        """ρ(I − (1/S) C Φᵀ(I − γP)Φ)."""
        return float(np.max(np.abs(np.linalg.eigvals(self.iteration_matrix()))))


def divergent_instance() -> FeatureInstance:
    """Two states, φ = (1, 2), state 0 → 1, state 1 → 1 w.p. 0.95 (→ 0 w.p. 0.05), γ = 0.9, C = S·I:
    Φᵀ(I − γP)Φ = −0.31 < 0, so ρ > 1 for every positive step (yet ΦᵀD(γP − I)Φ < 0 under μ)."""
    P = np.array([[0.0, 1.0], [0.05, 0.95]])
    features, uniform = np.array([[1.0], [2.0]]), np.array([0.5, 0.5])
    task = mrp.FiniteMRP(P=P, r=np.array([1.0, 0.5]), gamma=0.9, features=features, initial=uniform)
    return FeatureInstance(task, 2.0 * np.eye(1))


def convergent_instance(rng: np.random.Generator, num_states: int = 6, dim: int = 3) -> FeatureInstance:
    """A random dense task with U(−1, 1) features and C = η·S·I, η chosen so that ρ < 1 when the
    eigenvalues of Φᵀ(I − γP)Φ have positive real parts (η = 1/|λ|_max of that matrix)."""
    task = mrp.random_mrp(num_states, dim, 0.9, rng)
    A = task.features.T @ (np.eye(num_states) - task.gamma * task.P) @ task.features
    eta = 1.0 / float(np.max(np.abs(np.linalg.eigvals(A))))
    return FeatureInstance(task, eta * num_states * np.eye(dim))


FEATURE_DEPTH = 200


TDConstruction = Callable[[int, Sequence[Any], int], list[LinearAttentionWeights]]
"""(d, preconditioners, n) -> layers, like :func:`icrl_verify.constructions.td0`."""


def _feature_errors(
    inst: FeatureInstance, depth: int = FEATURE_DEPTH, construction: TDConstruction = constructions.td0
) -> FloatArray:
    """max_s |TF_L(s) − φ(s)ᵀw̄| for L = 0..depth: the generic transformer θ*_TD(C, …, C) on the
    enumerated prompt, in float64 (one run of the stack, read after every layer)."""
    t = inst.task
    target = t.features @ inst.fixed_point()
    layers = construction(t.dim, [inst.C] * depth, t.num_states)
    with np.errstate(over="ignore", invalid="ignore"):
        states = run_transformer(Float64Backend(), task_prompts(t), layers)
        return np.array([float(np.max(np.abs(-Z[:, 2 * t.dim, -1] - target))) for Z in states])


def check_features(
    instances: Sequence[FeatureInstance], construction: TDConstruction = constructions.td0
) -> ClaimResult:
    """Claim 4: for each instance the transformer's error max_s|TF_L − φᵀw̄| follows ρ^L, with
    ρ = ρ(I − (1/S)CΦᵀ(I − γP)Φ): the fitted rate is within 10% of ρ and on the same side of 1, and
    the error at L = 200 is below its L = 0 value when ρ < 1, above 1e3 times it when ρ > 1.
    worst_error = the largest relative rate deviation."""
    res = ClaimResult(KEY, CLAIM_FEATURES, "float64")
    worst = 0.0
    for k, inst in enumerate(instances):
        rho = inst.spectral_radius()
        errs = _feature_errors(inst, construction=construction)
        rate, used = fitted_rate(range(len(errs)), errs, rho)
        deviation = abs(rate - rho) / rho if np.isfinite(rate) else float("inf")
        worst = max(worst, deviation)
        same_side = np.isfinite(rate) and (rate < 1) == (rho < 1)
        msg = f"instance {k}: fitted rate {rate:.4g} over L in {used} vs rho = {rho:.4g}"
        res.record(None, bool(deviation <= RATE_TOLERANCE and same_side), msg)
        if rho < 1:
            msg = f"instance {k}: rho = {rho:.4g} < 1 but the error grew to {errs[-1]:.3g}"
            res.record(None, bool(errs[-1] < errs[0]), msg)
        else:
            grew = bool(not np.isfinite(errs[-1]) or errs[-1] >= 1e3 * errs[0])
            res.record(None, grew, f"instance {k}: rho = {rho:.4g} > 1 but the error stayed at {errs[-1]:.3g}")
        res.instances += 1
    res.worst_error = worst
    return res
