"""T2's figure: NEU_TD, NEU_MC and the value error at θ*_L against the depth L."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from icrl_verify.checks.neu.limits import neu_curve
from icrl_verify.checks.neu.tasks import sample_tasks
from icrl_verify.neu import value_iteration_layers
from icrl_verify.reports import save_figure

REPORT_SEED = 0
REPORT_TASKS = 8


def report_neu(out_dir: Path) -> list[Path]:
    """NEU_TD, NEU_MC and max|TF − v| at θ*_L against L (log scale) with the γ^L·‖v‖∞ line: 8 tabular
    tasks (S = d = 5, γ = 0.9, seed 0), multi-task NEU and the worst task's value error."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rng = np.random.default_rng(REPORT_SEED)
    tasks = sample_tasks(rng, REPORT_TASKS, 5, gammas=(0.9, 0.9))
    depths = (1, 2, 5, *range(10, 201, 10))
    curve = neu_curve(value_iteration_layers, tasks, depths, gradients=False)
    L = np.asarray(depths)
    v_inf = max(float(np.max(np.abs(t.value))) for t in tasks)
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    ax.semilogy(L, curve.multi_td, label="NEU_TD (multi-task)")
    ax.semilogy(L, curve.multi_mc, label="NEU_MC (multi-task)")
    ax.semilogy(L, np.max(curve.value_error, axis=1), "o", markersize=4, label="max |TF_L(s) - v(s)| (tasks, s)")
    ax.semilogy(L, 0.9**L * v_inf, "k--", linewidth=1, label=r"$\gamma^L \max \|v\|_\infty$ (bound)")
    ax.set_xlabel("depth L")
    ax.set_ylabel("norm of the expected update / value error")
    ax.set_title(r"T2: NEU at $\theta^*_L$ ($|S| = d = 5$, $\gamma = 0.9$, 8 tasks)")
    ax.legend()
    ax.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    paths = save_figure(fig, out_dir, "neu")
    plt.close(fig)
    return paths
