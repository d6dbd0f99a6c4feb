"""Figure of T3: CoT error against the number of thoughts (geometric phase, then the n-dependent floor)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.figure import Figure
from numpy.typing import NDArray

from icrl_verify import constructions, cot
from icrl_verify.arith.float64 import Float64Backend
from icrl_verify.checks.cot import empirical_td_system, ergodic_tasks, floor_fit
from icrl_verify.prompts import cot_prompt
from icrl_verify.reports import save_figure

LENGTHS = (300, 3000, 30000)
"""Context lengths of the error curves (nested prefixes of one stationary trajectory)."""
THOUGHTS = 300
FLOOR_SEEDS = 200


def _thought_errors(seed: int = 0) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64], float]:
    """‖w_k − w_TD‖ and ‖w_k − w_n‖ for k = 0..THOUGHTS at each context length, decoded by the CoT layer
    θ*_CoT(αI) on one Boyan chain (S = 10, d = 4, γ = 0.9), and the floors ‖w_n − w_TD‖; α = min Re λ/|λ|²
    over the eigenvalues λ of the population −A, so every mode of I − α(−A) contracts.
    Returns (errors to w_TD, errors to w_n, floors, α)."""
    rng = np.random.default_rng(seed)
    task = ergodic_tasks(rng, 1)[0]
    lam = np.linalg.eigvals(-task.A)
    alpha = float(np.min(lam.real / np.abs(lam) ** 2))
    w_td = task.td_fixed_point()
    states = task.trajectory(LENGTHS[-1], rng, start=int(rng.choice(task.num_states, p=task.stationary)))
    phi, phi_next, r = task.transitions(states)
    bk = Float64Backend()
    weights = constructions.cot_td(task.dim, alpha * np.eye(task.dim))
    errors, to_fixed_point = np.empty((len(LENGTHS), THOUGHTS + 1)), np.empty((len(LENGTHS), THOUGHTS + 1))
    floors = np.empty(len(LENGTHS))
    for j, n in enumerate(LENGTHS):
        Z = cot.generate(bk, cot_prompt(phi[:n], phi_next[:n], r[:n], task.gamma), weights, THOUGHTS)
        ws = Z[cot.CoTLayout(task.dim).weights, n:]
        A, b = empirical_td_system(bk, phi[:n].T, task.gamma * phi_next[:n].T, r[None, :n])
        w_n = np.linalg.solve(A, b)[:, 0]
        errors[j] = np.linalg.norm(ws - w_td[:, None], axis=0)
        to_fixed_point[j] = np.linalg.norm(ws - w_n[:, None], axis=0)
        floors[j] = np.linalg.norm(w_n - w_td)
    return errors, to_fixed_point, floors, alpha


def report_cot(out_dir: Path) -> list[Path]:
    """Two panels: error against thoughts for several n (geometric phase, then the floor), and the
    floor against n on 200 seeds with the fitted slope and its 99% interval. Writes PNG and PDF."""
    errors, to_fixed_point, floors, alpha = _thought_errors()
    fit = floor_fit(np.random.default_rng(1), FLOOR_SEEDS)
    fig = Figure(figsize=(11, 4.2), layout="constrained")
    left, right = fig.subplots(1, 2)
    ks = np.arange(THOUGHTS + 1)
    for j, n in enumerate(LENGTHS):
        line = left.semilogy(ks, errors[j], label=f"n = {n}")[0]
        left.semilogy(ks, to_fixed_point[j], color=line.get_color(), ls=":", lw=1)
        left.axhline(floors[j], color=line.get_color(), ls="--", lw=0.8)
    left.set_ylim(1e-3, 2)
    left.set_xlabel("thoughts k (one layer, reused)")
    left.set_ylabel(r"solid $\|w_k - w_{TD}\|$, dotted $\|w_k - w_n\|$")
    left.set_title(rf"CoT error, C = {alpha:.2f} I; dashed: floor $\|w_n - w_{{TD}}\|$")
    left.legend()
    ns = fit.lengths.astype(np.float64)
    lo, hi = fit.interval
    q25, q50, q75 = np.percentile(fit.floors, [25, 50, 75], axis=0)
    right.fill_between(ns, q25, q75, alpha=0.3, label="interquartile range over seeds")
    right.loglog(ns, q50, "o-", label="median floor")
    right.loglog(ns, q50[0] * (ns / ns[0]) ** -0.5, "k--", lw=0.8, label=r"$n^{-1/2}$")
    right.set_xlabel("context length n")
    right.set_ylabel(r"$\|w_n - w_{TD}\|$")
    right.set_title(f"floor on {FLOOR_SEEDS} Boyan chains\nfitted slope {fit.mean:.3f}, 99% CI [{lo:.3f}, {hi:.3f}]")
    right.legend()
    return save_figure(fig, out_dir, "cot_thoughts")
