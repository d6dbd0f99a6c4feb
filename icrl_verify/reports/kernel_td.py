"""T4's figure: the transformer's sup error against v_π per layer, for several context lengths n."""

from __future__ import annotations

import csv
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure
from numpy.typing import NDArray
from scipy import stats

from icrl_verify.checks.kernel_td import population_rate, sup_error_curves, tabular_kernel_mrp
from icrl_verify.reports import save_figure


@dataclass(frozen=True)
class SupErrorCurves:
    """Per-layer sup errors (seeds × layers) per n, the population c and ‖I − M_π + γM_πP‖_∞, and ‖v_π‖_∞."""

    errors: dict[int, NDArray[np.float64]]
    c: float
    norm: float
    start: float
    gamma: float
    num_states: int


def kernel_td_errors(
    sizes: Sequence[int] = (25, 100, 400),
    seeds: int = 24,
    depth: int = 20,
    num_states: int = 5,
    gamma: Fraction = Fraction(3, 5),
    seed: int = 7,
) -> SupErrorCurves:
    """Sup error of the T4 construction (α = 1) against v_π on full-coverage trajectories, for each n,
    on a tabular MRP whose features are scaled to meet the diagonal assumption of [X26b]."""
    task = tabular_kernel_mrp(num_states, gamma, np.random.default_rng(seed)).finite_mrp()
    c, norm = population_rate(task)
    errors = {n: sup_error_curves(task, n, depth, seeds, np.random.default_rng(seed + n)) for n in sizes}
    return SupErrorCurves(errors, c, norm, float(np.max(np.abs(task.value))), task.gamma, num_states)


def _interval(samples: NDArray[np.float64]) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Mean over seeds (axis 0) and the Student-t 95% half-width."""
    half = stats.t.ppf(0.975, samples.shape[0] - 1) * samples.std(axis=0, ddof=1) / np.sqrt(samples.shape[0])
    return samples.mean(axis=0), np.asarray(half, dtype=np.float64)


def _draw_kernel_td(curves: SupErrorCurves) -> Figure:
    """Left: mean sup error against layer with 95% bands, and the (1 − 2c)^L ‖v_π‖ line. Right: the
    plateau against n on log-log axes with its confidence intervals and a 1/√n guide."""
    fig = Figure(figsize=(12, 4.8), layout="constrained")
    left, right = fig.subplots(1, 2)
    depth = next(iter(curves.errors.values())).shape[1] - 1
    layers = np.arange(depth + 1)
    for n, errors in curves.errors.items():
        mean, half = _interval(errors)
        left.plot(layers, mean, marker=".", label=f"n = {n}")
        left.fill_between(layers, np.maximum(mean - half, 1e-12), mean + half, alpha=0.2)
    left.plot(
        layers, (1 - 2 * curves.c) ** layers * curves.start, "k--", label=f"(1 − 2c)^L ‖v_π‖∞, c = {curves.c:.3f}"
    )
    left.set_yscale("log")
    left.set_xlabel("layer L")
    left.set_ylabel("sup_j |Z_L[d+2, j] − v_π(S_j)|")
    left.set_title(
        f"T4: softmax TD on {curves.num_states}-state MRP, γ = {curves.gamma}, ‖I − M + γMP‖∞ = {curves.norm:.3f}",
        fontsize=10,
    )
    left.grid(alpha=0.3, which="both")
    left.legend(fontsize=8)
    sizes = np.array(sorted(curves.errors))
    floors = [_interval(curves.errors[n][:, -1:]) for n in sizes]
    mean = np.array([f[0][0] for f in floors])
    half = np.array([f[1][0] for f in floors])
    right.errorbar(sizes, mean, yerr=half, fmt="o-", capsize=4, label=f"plateau (layer {depth}), 95% CI")
    right.plot(sizes, mean[0] * np.sqrt(sizes[0] / sizes), "k:", label="∝ 1/√n")
    right.set_xscale("log")
    right.set_yscale("log")
    right.set_xticks(sizes, [str(n) for n in sizes])
    right.minorticks_off()
    right.set_xlabel("context length n")
    right.set_ylabel("floor of the sup error")
    right.set_title("the floor shrinks with n", fontsize=10)
    right.grid(alpha=0.3, which="both")
    right.legend(fontsize=8)
    return fig


def write_csv(curves: SupErrorCurves, path: Path) -> Path:
    """The numbers behind the figure: n, layer, mean, 95% half-width (over seeds)."""
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["n", "layer", "mean_sup_error", "ci95_half_width", "c", "norm"])
        for n, errors in curves.errors.items():
            mean, half = _interval(errors)
            writer.writerows(
                [n, l, repr(float(m)), repr(float(h)), curves.c, curves.norm]
                for l, (m, h) in enumerate(zip(mean, half))
            )
    return path


def report_kernel_td(out_dir: Path, **sizes: Any) -> list[Path]:
    """Compute :func:`kernel_td_errors` (``sizes`` passed on) and write kernel_td_sup_error.{png,pdf,csv}."""
    curves = kernel_td_errors(**sizes)
    paths = save_figure(_draw_kernel_td(curves), out_dir, "kernel_td_sup_error")
    return [*paths, write_csv(curves, out_dir / "kernel_td_sup_error.csv")]
