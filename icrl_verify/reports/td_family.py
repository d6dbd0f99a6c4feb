"""The TD family's figure: log10 |transformer − reference| of the prediction per layer, algorithm and backend."""

from __future__ import annotations

import csv
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure
from numpy.typing import NDArray

from icrl_verify.arith import BallBackend, ExactBackend, Float64Backend, MpmathBackend, TorchBackend
from icrl_verify.arith.mp import log10_max_abs
from icrl_verify.certify import ClaimPair
from icrl_verify.checks.base import tracked_backend
from icrl_verify.checks.td_family import CLAIM_QUERY, TD0Check
from icrl_verify.checks.td_variants import CLAIM_AR_QUERY, AverageRewardCheck, ResidualGradientCheck, TDLambdaCheck
from icrl_verify.reports import save_figure

FLOAT_COMPOSED = "float64: composed stack, measured"
FLOAT_STEP = "float64: inductive step, measured"
FLOAT_BOUND = "float64: inductive step, derived bound"
TORCH_COMPOSED = "torch: composed stack, measured"
BALL = "ball 256 bits: rigorous bound"
MPMATH = "mpmath 30 digits"
EXACT = "exact: difference = 0"

Factory = Callable[[int, int], TD0Check]
FAMILY: tuple[tuple[Factory, str], ...] = (
    (lambda n, depth: TD0Check(float_n=n, float_depth=depth), CLAIM_QUERY),
    (lambda n, depth: TDLambdaCheck(float_n=n, float_depth=depth), CLAIM_QUERY),
    (lambda n, depth: ResidualGradientCheck(float_n=n, float_depth=depth), CLAIM_QUERY),
    (lambda n, depth: AverageRewardCheck(float_n=n, float_depth=depth), CLAIM_AR_QUERY),
)
"""T1, T1a (λ = 1/2), T1b, T1c with their float samplers (the published verification's tasks), and
the claim holding the prediction."""


@dataclass(frozen=True)
class ErrorCurves:
    """Per-layer errors (layers 0..L) of one theorem's prediction claim on every backend.

    Float series are means over the tasks of a batch; the arbitrary-precision series come from one task.
    ``exact_equal[l]`` says whether exact arithmetic found the two sides equal at layer l.
    """

    key: str
    title: str
    series: dict[str, NDArray[np.float64]]
    exact_equal: tuple[bool, ...]


def _claim(pairs: Sequence[ClaimPair[Any]], claim: str) -> list[ClaimPair[Any]]:
    return sorted((p for p in pairs if p.claim == claim), key=lambda p: p.layer)


def _mean_abs_diff(pairs: Sequence[ClaimPair[Any]], to_numpy: Callable[[Any], Any]) -> NDArray[np.float64]:
    return np.array([float(np.mean(np.abs(to_numpy(p.lhs) - to_numpy(p.rhs)))) for p in pairs])


def td_family_errors(
    trials: int = 30, n: int = 100, depth: int = 40, precise_n: int = 20, seed: int = 0
) -> list[ErrorCurves]:
    """Errors of the prediction at every layer for T1, T1a, T1b and T1c.

    float64 and torch: ``trials`` tasks with context ``n`` and ``depth`` layers (the composed stack
    against the reference, as [W25a]'s verification plots it; and the certified inductive step with
    its derived running bound). exact, ball and mpmath: one task of the same kind with context
    ``precise_n`` (mpmath on dense masks is slow) and the same depth, taken at its exact rational value.
    """
    rng = np.random.default_rng(seed)
    out = []
    for factory, claim in FAMILY:
        check = factory(n, depth)
        batch = check.sample_float(rng, trials)
        f64, torch_bk, tracked = Float64Backend(), TorchBackend(), tracked_backend("float64")
        steps = _claim(check.step_pairs(tracked, batch), claim)
        series = {
            FLOAT_COMPOSED: _mean_abs_diff(_claim(check.composed_pairs(f64, batch), claim), f64.to_numpy),
            TORCH_COMPOSED: _mean_abs_diff(_claim(check.composed_pairs(torch_bk, batch), claim), torch_bk.to_numpy),
            FLOAT_STEP: np.array([float(np.mean(np.abs(p.lhs.value - p.rhs.value))) for p in steps]),
            FLOAT_BOUND: np.array(
                [float(np.mean(tracked.certified_bound(p.lhs) + tracked.certified_bound(p.rhs))) for p in steps]
            ),
        }
        task = check.single(factory(precise_n, depth).sample_float(rng, 1), 0)
        exact_equal = tuple(p.lhs == p.rhs for p in _claim(check.composed_pairs(ExactBackend(), task), claim))
        ball = BallBackend(256)
        series[BALL] = np.array(
            [
                max(float(abs(x).upper()) for x in ball.sub(p.lhs, p.rhs).entries())
                for p in _claim(check.composed_pairs(ball, task), claim)
            ]
        )
        mp = MpmathBackend(30)
        series[MPMATH] = np.array(
            [10.0 ** log10_max_abs(mp.sub(p.lhs, p.rhs), 30) for p in _claim(check.composed_pairs(mp, task), claim)]
        )
        out.append(ErrorCurves(check.key, check.title, series, exact_equal))
    return out


STYLES: dict[str, dict[str, Any]] = {
    FLOAT_COMPOSED: {"color": "tab:blue", "linestyle": "-", "linewidth": 2.0},
    FLOAT_STEP: {"color": "tab:blue", "linestyle": ":", "linewidth": 1.2},
    FLOAT_BOUND: {"color": "tab:red", "linestyle": "--", "linewidth": 1.8},
    TORCH_COMPOSED: {"color": "tab:orange", "linestyle": "-.", "linewidth": 1.2},
    BALL: {"color": "tab:green", "linestyle": "-", "linewidth": 1.2},
    MPMATH: {"color": "tab:purple", "linestyle": "-", "linewidth": 1.2},
}


def _log10(values: NDArray[np.float64]) -> NDArray[np.float64]:
    with np.errstate(divide="ignore"):
        logs = np.log10(values)
    return np.where(np.isfinite(logs), logs, np.nan)


def _draw_td_family(curves: Sequence[ErrorCurves]) -> Figure:
    """One panel per algorithm: log10 error against layer (from layer 1), one line per backend; exact
    results are drawn as markers on a floor line labelled as exact (their log10 is −∞)."""
    fig = Figure(figsize=(12, 8.5), layout="constrained")
    axes = fig.subplots(2, 2, sharex=True).ravel()
    finite = [v for c in curves for s in c.series.values() for v in _log10(s[1:]) if np.isfinite(v)]
    floor = np.floor(min(finite, default=-20.0)) - 6
    for ax, c in zip(axes, curves):
        layers = np.arange(len(c.exact_equal))
        for label, values in c.series.items():
            ax.plot(layers[1:], _log10(values[1:]), label=label, **STYLES[label])
        equal = np.array(c.exact_equal[1:])
        ax.plot(layers[1:][equal], np.full(equal.sum(), floor), "k|", markersize=8, label=EXACT)
        if (~equal).any():
            ax.plot(layers[1:][~equal], np.full((~equal).sum(), floor), "rx", markersize=8, label="exact: DIFFERENT")
        note = "exact: 0 at every layer" if equal.all() else "exact: MISMATCH"
        ax.text(layers[-1], floor + 1.5, note, ha="right", fontsize=8)
        ax.set_title(f"{c.key}: {c.title}", fontsize=10)
        ax.set_ylabel("log10 |TF prediction − reference|")
        ax.grid(alpha=0.3)
    for ax in axes[2:]:
        ax.set_xlabel("layer l")
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncol=4, fontsize=8)
    fig.suptitle(
        "TD family [W25a]: prediction error per layer (float: mean over tasks; ball, mpmath, exact: one task;"
        " a gap in a line is an error of exactly 0)"
    )
    return fig


def write_csv(curves: Sequence[ErrorCurves], path: Path) -> Path:
    """The numbers behind the figure: theorem, series, layer, value (exact: 0 or 'differs')."""
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["theorem", "series", "layer", "value"])
        for c in curves:
            for label, values in c.series.items():
                writer.writerows([c.key, label, layer, repr(float(v))] for layer, v in enumerate(values))
            writer.writerows([c.key, EXACT, layer, "0" if eq else "differs"] for layer, eq in enumerate(c.exact_equal))
    return path


def report_td_family(out_dir: Path, **sizes: int) -> list[Path]:
    """Compute :func:`td_family_errors` (``sizes`` passed on) and write td_family_errors.{png,pdf,csv}."""
    curves = td_family_errors(**sizes)
    paths = save_figure(_draw_td_family(curves), out_dir, "td_family_errors")
    return [*paths, write_csv(curves, out_dir / "td_family_errors.csv")]
