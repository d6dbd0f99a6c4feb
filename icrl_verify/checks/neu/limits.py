"""T2 claims 2 and 3 and the gradient check: the NEU vanishes at θ*_L, stays away from 0 off it, autograd is exact."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import numpy as np
import torch

from icrl_verify import mrp
from icrl_verify.arith.kinds import float_kind_name
from icrl_verify.arith.torch_backend import intra_op_threads
from icrl_verify.attention import LinearAttentionWeights
from icrl_verify.certify import ClaimResult, ladder_verdict
from icrl_verify.checks.neu.tasks import (
    CLAIM_CONTRAST,
    CLAIM_GRADIENT,
    CLAIM_LIMIT,
    GAMMA_RANGE,
    KEY,
    Construction,
    FloatArray,
    UpdateFn,
    blocks_swapped,
    random_layers,
    updates_on,
)
from icrl_verify.neu import (
    exact_directional_derivatives,
    parameter_count,
    value_gradients,
    value_iteration_layers,
)

DEPTHS = (1, 2, 5, 10, 15, 20, 25, 30, 40, 50, 60, 80, 100, 120, 140, 160, 180, 200)
"""Depth grid of the limit claim (dense enough for three fit points at every γ in [0.5, 0.9])."""
FIT_FLOOR = 1e-10
"""Rates are fitted where (predicted rate)^L ≥ FIT_FLOOR, five orders above the ~1e-15 float64 floor of
the TD residual, over the second half of those depths (NEU is not monotone for small L)."""
NEU_TARGET = 1e-6
"""NEU_TD and NEU_MC at θ*_200 must be below this on every task (γ ≤ 0.9)."""
RATE_TOLERANCE = 0.1
"""Fitted rate within 10% of the predicted one, and its exponent log(rate) within 10% of the predicted exponent."""
GRADIENT_SETTLED = 1e-3
"""max_s ‖∇TF_L(s)‖ at the last two grid depths agree to this relative tolerance (a bounded, converging sequence)."""
CONTRAST_DEPTHS = (40, 80, 120, 160, 200)
"""Depths at which the perturbed θ must keep its NEU away from zero."""
SMALL_STEP_DEPTHS = tuple(range(10, 201, 10))
"""Depths of the smaller-step curve (three fit points for every predicted rate in [0.75, 0.95])."""
AWAY_FROM_ZERO = 1e-3
"""Off θ*, the multi-task NEU_TD and NEU_MC stay above this (three orders above the 1e-6 θ*_200 meets)."""
SMALL_STEP = 0.5
"""The contrast's smaller positive step: C = 0.5·S·I."""
FLOAT_DIGITS = (7, 15)
"""Decimal digits of float32 and float64 (24 and 53 bits, floored): the rungs of the autograd ladder."""


# --- claim 2: the NEU vanishes at θ*_L -------------------------------------------------------------


@dataclass(frozen=True)
class NEUCurve:
    """NEU along the depth grid for one set of tasks: per depth, per task and multi-task."""

    depths: tuple[int, ...]
    td: FloatArray  # (len(depths), T)
    mc: FloatArray  # (len(depths), T)
    multi_td: FloatArray  # (len(depths),): norm of the mean update over tasks
    multi_mc: FloatArray
    value_error: FloatArray  # (len(depths), T): max_s |TF_L(s) − v(s)|
    gradient: FloatArray  # (len(depths), T): max_s ‖∇TF_L(s)‖ (NaN when not computed)


def _safe_norm(x: FloatArray, axis: int | None = None) -> Any:
    """Euclidean norm without overflow in the squares (inf only when an entry is)."""
    top = np.max(np.abs(x), axis=axis, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        scaled = np.where(top > 0, x / np.where(top > 0, top, 1), 0)
    out = np.squeeze(top, axis=axis) * np.linalg.norm(scaled, axis=axis)
    return out


def neu_curve(
    construction: Construction,
    tasks: Sequence[mrp.FiniteMRP],
    depths: Sequence[int] = DEPTHS,
    updates: UpdateFn | None = None,
    gradients: bool = True,
    device: str = "cpu",
) -> NEUCurve:
    """NEU_TD, NEU_MC (per task and multi-task), max|TF − v| and max‖∇TF‖ at every grid depth."""
    compute = updates_on(device, updates)
    S = tasks[0].num_states
    rows: list[tuple[Any, ...]] = []
    v = np.stack([t.value for t in tasks])
    for L in depths:
        layers = construction(S, L)
        with np.errstate(over="ignore", invalid="ignore"), intra_op_threads(1):
            u = compute(layers, tasks, torch.float64)
            grad = np.full(len(tasks), np.nan)
            if gradients:
                _, g = value_gradients(layers, tasks, device=device)
                grad = np.max(_safe_norm(g, axis=-1), axis=-1)
            rows.append(
                (
                    _safe_norm(u.td, axis=1),
                    _safe_norm(u.mc, axis=1),
                    float(_safe_norm(u.td.mean(axis=0))),
                    float(_safe_norm(u.mc.mean(axis=0))),
                    np.max(np.abs(u.values - v), axis=1),
                    grad,
                )
            )
    td, mc, mtd, mmc, err, grad = (np.array(col, dtype=np.float64) for col in zip(*rows))
    return NEUCurve(tuple(depths), td, mc, mtd, mmc, err, grad)


def fitted_rate(depths: Sequence[int], values: FloatArray, predicted: float) -> tuple[float, tuple[int, int]]:
    """Geometric rate exp(b) of the least-squares line log value ≈ a + bL, fitted over the depths L with
    L_hi/2 ≤ L ≤ L_hi, L_hi = min(max depth, log(FIT_FLOOR)/log(predicted)) (all depths ≥ max/2 when
    predicted ≥ 1). Returns (rate, (first, last) depth used); NaN with fewer than three usable points."""
    L = np.asarray(depths, dtype=np.float64)
    hi = float(L.max())
    if 0 < predicted < 1:
        hi = min(hi, np.log(FIT_FLOOR) / np.log(predicted))
    use = (hi / 2 <= L) & (hi >= L) & np.isfinite(values) & (values > 0)
    if use.sum() < 3:
        return float("nan"), (0, 0)
    slope = np.polyfit(L[use], np.log(values[use]), 1)[0]
    return float(np.exp(slope)), (int(L[use][0]), int(L[use][-1]))


def _rate_agrees(rate: float, predicted: float) -> bool:
    """|rate − predicted| ≤ 10%·predicted and |log rate − log predicted| ≤ 10%·|log predicted|."""
    if not (np.isfinite(rate) and rate > 0 and 0 < predicted < 1):
        return False
    close = abs(rate - predicted) <= RATE_TOLERANCE * predicted
    return bool(close and abs(np.log(rate / predicted)) <= RATE_TOLERANCE * abs(np.log(predicted)))


def check_limit(
    construction: Construction,
    tasks: Sequence[mrp.FiniteMRP],
    updates: UpdateFn | None = None,
    device: str = "cpu",
) -> ClaimResult:
    """Claim 2 on every task and on the multi-task mean: NEU_TD, NEU_MC < 1e-6 at L = 200, fitted rate
    within 10% of γ (rate and exponent), and max_s‖∇TF_L(s)‖ settled (last two grid depths agree to 1e-3).

    worst_error = the largest NEU at L = 200."""
    if any(not GAMMA_RANGE[0] <= t.gamma <= GAMMA_RANGE[1] for t in tasks):
        raise ValueError(f"tasks: the limit claim needs gamma in {list(GAMMA_RANGE)} (see docs/theorems/neu.md)")
    res = ClaimResult(KEY, CLAIM_LIMIT, float_kind_name("torch", device))
    curve = neu_curve(construction, tasks, DEPTHS, updates, device=device)
    last = len(DEPTHS) - 1
    for k, task in enumerate(tasks):
        for name, series in (("NEU_TD", curve.td[:, k]), ("NEU_MC", curve.mc[:, k])):
            msg = f"task {k}: {name}(L = 200) = {series[last]:.3g}"
            res.record(float(series[last]), bool(series[last] < NEU_TARGET), msg)
            rate, used = fitted_rate(DEPTHS, series, task.gamma)
            msg = f"task {k}: {name} rate {rate:.4g} over L in {used}, gamma = {task.gamma:.4g}"
            res.record(None, _rate_agrees(rate, task.gamma), msg)
        g = curve.gradient[:, k]
        settled = bool(np.all(np.isfinite(g)) and abs(g[last] - g[last - 1]) <= GRADIENT_SETTLED * g[last])
        res.record(None, settled, f"task {k}: max grad norm {g[last - 1]:.6g} -> {g[last]:.6g} has not settled")
        res.instances += 1
    gamma = max(t.gamma for t in tasks)  # the mean update decays like its slowest task
    for name, series in (("multi-task NEU_TD", curve.multi_td), ("multi-task NEU_MC", curve.multi_mc)):
        res.record(float(series[last]), bool(series[last] < NEU_TARGET), f"{name}(L = 200) = {series[last]:.3g}")
        rate, used = fitted_rate(DEPTHS, series, gamma)
        res.record(None, _rate_agrees(rate, gamma), f"{name} rate {rate:.4g} over L in {used}, max gamma = {gamma:.4g}")
    return res


# --- claim 3: contrast ----------------------------------------------------------------------------


def _contrast_constructions(rng: np.random.Generator) -> dict[str, Construction]:
    """The perturbations of θ* whose NEU must stay away from zero."""
    return {
        "random theta": lambda S, L: random_layers(S, L, rng),
        "step sign flipped (C = -S I)": lambda S, L: value_iteration_layers(S, L, step=-1.0),
        "Q blocks swapped": lambda S, L: blocks_swapped(value_iteration_layers(S, L)),
    }


def _small_step(num_states: int, depth: int) -> list[LinearAttentionWeights]:
    return value_iteration_layers(num_states, depth, step=SMALL_STEP)


def check_contrast(
    tasks: Sequence[mrp.FiniteMRP],
    rng: np.random.Generator,
    perturbations: dict[str, Construction] | None = None,
    small_step: Construction = _small_step,
    device: str = "cpu",
) -> ClaimResult:
    """Claim 3: off θ* the multi-task NEU_TD and NEU_MC stay above 1e-3 at L = 40, 80, …, 200 (a
    float64 overflow is a divergence and counts as away from zero); with the smaller step
    C = 0.5·S·I the NEU still vanishes, at the fitted rate 1 − 0.5(1 − γ) within 10%.
    ``perturbations`` defaults to :func:`_contrast_constructions`; ``small_step`` to θ*_TD(0.5·S·I).

    worst_error = the smallest NEU seen off θ*."""
    res = ClaimResult(KEY, CLAIM_CONTRAST, float_kind_name("torch", device))
    depths = CONTRAST_DEPTHS
    smallest = float("inf")
    chosen = _contrast_constructions(rng) if perturbations is None else perturbations
    for name, construction in chosen.items():
        curve = neu_curve(construction, tasks, depths, gradients=False, device=device)
        for label, series in (("NEU_TD", curve.multi_td), ("NEU_MC", curve.multi_mc)):
            away = np.where(np.isfinite(series), series, np.inf)
            smallest = min(smallest, float(np.min(away)))
            msg = f"{name}: {label} = {np.min(away):.3g} < {AWAY_FROM_ZERO}"
            res.record(None, bool(np.all(away >= AWAY_FROM_ZERO)), msg)
    res.worst_error = smallest
    small = neu_curve(small_step, tasks, SMALL_STEP_DEPTHS, gradients=False, device=device)
    for k, task in enumerate(tasks):
        predicted = 1 - SMALL_STEP * (1 - task.gamma)
        for label, series in (("NEU_TD", small.td[:, k]), ("NEU_MC", small.mc[:, k])):
            rate, used = fitted_rate(SMALL_STEP_DEPTHS, series, predicted)
            converging = _rate_agrees(rate, predicted) and rate < 1
            msg = f"C = 0.5 S I, task {k}: {label} rate {rate:.4g} over L in {used}, predicted {predicted:.4g}"
            res.record(None, converging, msg)
        res.instances += 1
    return res


# --- autograd against the exact derivative ---------------------------------------------------------


def check_gradients(
    tasks: Sequence[mrp.FiniteMRP],
    layer_sets: Sequence[Sequence[LinearAttentionWeights]],
    rng: np.random.Generator,
    updates: UpdateFn | None = None,
    directions: int = 2,
    device: str = "cpu",
) -> ClaimResult:
    """Autograd's ∇TF(s), u_TD and u_MC against exact forward-mode derivatives in rationals, along
    random directions V (entries k/4, |k| ≤ 4): the relative error |ĝ·V − g·V| / (‖ĝ‖‖V‖) must behave like
    the unit roundoff on the float32/float64 ladder (``certify.ladder_verdict`` with 7 and 15 digits).
    worst_error = the largest float64 relative error."""
    res = ClaimResult(KEY, CLAIM_GRADIENT, float_kind_name("torch", device))
    compute = updates_on(device, updates)
    worst = 0.0
    for task in tasks:
        for layers in layer_sets:
            p = parameter_count(layers)
            V = [rng.integers(-4, 5, p) / 4 for _ in range(directions)]
            exact = exact_directional_derivatives(layers, task, V)
            logs: dict[str, list[float]] = {}
            for dtype in (torch.float32, torch.float64):
                with intra_op_threads(1):
                    u = compute(layers, [task], dtype)
                    _, g = value_gradients(layers, [task], device=device, dtype=dtype)
                for j, Vj in enumerate(V):
                    norm_v = float(np.linalg.norm(Vj))
                    pairs = [(f"u_TD.V{j}", u.td[0], exact.td[j]), (f"u_MC.V{j}", u.mc[0], exact.mc[j])]
                    pairs += [
                        (f"grad TF({s}).V{j}", g[0, s], exact.value_derivatives[j][s]) for s in range(task.num_states)
                    ]
                    for name, vec, ex in pairs:
                        scale = max(float(np.linalg.norm(vec)) * norm_v, 1e-300)
                        err = abs(Fraction(float(vec @ Vj)) - ex) / Fraction(scale)
                        logs.setdefault(name, []).append(float(np.log10(float(err))) if err else -np.inf)
            for name, log_errors in logs.items():
                worst = max(worst, 10.0 ** log_errors[-1])
                shown = ", ".join(f"{e:.1f}" for e in log_errors)
                msg = f"L = {len(layers)}, {name}: log10 relative errors ({shown}) at float32, float64"
                res.record(None, ladder_verdict(log_errors, FLOAT_DIGITS), msg)
            res.instances += 1
    res.worst_error = worst
    return res
