"""Figures of a pretraining run (T5): metric curves with seed bands and heat-maps of the learned P and Q."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure
from numpy.typing import NDArray

from icrl_verify.arith.torch_backend import intra_op_threads
from icrl_verify.checks.pretrain import CI_CONFIG
from icrl_verify.pretrain import PretrainConfig, PretrainResult, t_interval, train
from icrl_verify.reports import save_figure


def _band(values: NDArray[np.float64]) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """Mean over seeds (axis 1) and the 95% t-interval band (the mean itself with one seed)."""
    mean = values.mean(axis=1)
    if values.shape[1] < 2:
        return mean, mean, mean
    bounds = [t_interval(row) for row in values]
    return mean, np.array([b.lower for b in bounds]), np.array([b.upper for b in bounds])


def _curve(ax: Any, result: PretrainResult, name: str, label: str) -> None:
    """One metric over the tasks (layer 0 of a per-layer metric): the seed mean and its band."""
    tasks, values = result.series(name)
    mean, lower, upper = _band(values)
    line = ax.plot(tasks, mean, label=label)[0]
    ax.fill_between(tasks, lower, upper, color=line.get_color(), alpha=0.25, lw=0)


def write_figures(result: PretrainResult, out_dir: Path, prefix: str = "") -> list[Path]:
    """Metric curves (seed mean with its 95% t-interval band) and heat-maps of the seed-mean aligned final
    P and Q (each divided by its largest |entry|); PNG and PDF. Returns the paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    config = result.config
    seeds = len(config.seeds)
    band = "95% t-interval over seeds" if seeds > 1 else "one seed"
    fig = Figure(figsize=(13, 7.5), layout="constrained")
    axes = fig.subplots(2, 3)
    panels = (
        (axes[0, 0], (("ss", "SS"), ("iws", "IWS")), "similarity to batch TD (held-out)"),
        (axes[0, 1], (("vd", "VD"),), "value difference (held-out)"),
        (axes[0, 2], (("loss", "TD loss (train)"),), "training loss"),
        (axes[1, 0], (("p_corner", "P[2d,2d]"), ("p_others", "mean |other P|")), "P (aligned)"),
        (
            axes[1, 1],
            (("q_tl_trace", "tr Q top-left"), ("q_tm_trace", "tr Q top-middle"), ("q_others", "mean |other Q|")),
            "Q (aligned)",
        ),
        (
            axes[1, 2],
            (("cos_p", "cos(P, e e^T)"), ("cos_q", "cos(Q, Q*(I))"), ("q_structure", "Q structure fraction")),
            "structure",
        ),
    )
    for ax, metrics, title in panels:
        for name, label in metrics:
            _curve(ax, result, name, label)
        ax.set_title(title)
        ax.set_xlabel("tasks")
        ax.legend(fontsize=8)
        ax.grid(alpha=0.3)
    axes[0, 0].axhline(0.85, color="grey", ls="--", lw=0.8)
    fig.suptitle(
        f"TD pretraining: d={config.d}, S={config.num_states}, n={config.n}, L={config.layers} "
        f"{'tied' if config.tied else 'untied'}, {seeds} seeds ({band}), target={config.target}"
    )
    paths = save_figure(fig, out_dir, f"{prefix}curves", dpi=130)
    final = result.final
    P = np.asarray(final["p_aligned_mean"])
    Q = np.asarray(final["q_aligned_mean"])
    layers = P.shape[0]
    fig = Figure(figsize=(8.5, 4.2 * layers), layout="constrained")
    axes = np.atleast_2d(fig.subplots(layers, 2))
    D = P.shape[-1]
    for l in range(layers):
        for ax, M, name in ((axes[l, 0], P[l], "P"), (axes[l, 1], Q[l], "Q")):
            scale = float(np.max(np.abs(M))) or 1.0
            image = ax.imshow(M / scale, cmap="RdBu_r", vmin=-1, vmax=1)
            for i in range(D):
                for j in range(D):
                    ax.text(j, i, f"{M[i, j] / scale:.2f}", ha="center", va="center", fontsize=6)
            ax.set_title(f"seed-mean aligned {name}" + (f" (layer {l})" if layers > 1 else "") + f" / {scale:.3g}")
            ax.set_xticks(range(D))
            ax.set_yticks(range(D))
            fig.colorbar(image, ax=ax, shrink=0.8)
    fig.suptitle(f"after {final['tasks']} tasks, {seeds} seeds")
    return [*paths, *save_figure(fig, out_dir, f"{prefix}heatmaps", dpi=130)]


def report_pretrain(out_dir: Path, config: PretrainConfig | None = None) -> list[Path]:
    """Figures of a run (default: the CI-sized run, 8 seeds, evaluated every 20 tasks): metric curves with
    seed bands and the seed-mean heat-maps, as ``pretrain_curves`` and ``pretrain_heatmaps`` (PNG, PDF)."""
    config = config or dataclasses.replace(CI_CONFIG, log_every=20, checkpoint_every=20)
    with intra_op_threads(1):
        result = train(config, workers=2)
    return write_figures(result, out_dir, prefix="pretrain_")
