"""``icrl-verify pretrain``: run the pretraining experiment with live metrics, write the run directory and figures."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import typer
from matplotlib.figure import Figure
from numpy.typing import NDArray
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

from icrl_verify.arith.torch_backend import intra_op_threads
from icrl_verify.pretrain import CHECKPOINT_NAME, PretrainConfig, PretrainResult, save_result, train
from icrl_verify.pretrain_metrics import t_interval
from icrl_verify.reports import save_figure

SUMMARY_METRICS = (
    ("ss", "SS (held-out)"),
    ("iws", "IWS (held-out)"),
    ("vd", "VD (held-out)"),
    ("alpha", "fitted α"),
    ("p_corner", "P[2d,2d] (aligned)"),
    ("p_others", "mean |other P|"),
    ("q_tl_trace", "tr Q top-left"),
    ("q_tm_trace", "tr Q top-middle"),
    ("q_others", "mean |other Q|"),
    ("cos_p", "cos(P, e e^T)"),
    ("cos_q", "cos(Q, Q*(I))"),
    ("q_structure", "Q structure fraction"),
)
"""Metrics of the summary table and their labels."""


def _band(values: NDArray[np.float64]) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """Mean over seeds (axis 1) and the 95% t-interval band (the mean itself with one seed)."""
    mean = values.mean(axis=1)
    if values.shape[1] < 2:
        return mean, mean, mean
    bounds = [t_interval(row) for row in values]
    return mean, np.array([b.lower for b in bounds]), np.array([b.upper for b in bounds])


def _curve(ax: Any, result: PretrainResult, name: str, label: str) -> None:
    tasks, values = result.series(name)
    if values.ndim == 3:  # per parameter layer: plot layer 0 (the tied layer)
        values = values[..., 0]
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


def live_metrics(record: dict[str, Any]) -> str:
    """Seed means of SS, IWS, VD and the aligned P[2d,2d] (layer 0) of one log record."""
    means = "  ".join(
        f"{label} {np.mean(record[name]):.3f}" for name, label in (("ss", "SS"), ("iws", "IWS"), ("vd", "VD"))
    )
    return means + f"  P[2d,2d] {np.mean(np.asarray(record['p_corner'])[:, 0]):.2f}"


def summary_table(result: PretrainResult) -> Table:
    """Final metrics: mean, 95% t-interval over seeds (layer 0 for per-layer weight metrics)."""
    final = result.final
    seeds = len(result.config.seeds)
    table = Table(title=f"after {final['tasks']} tasks, {seeds} seed(s)")
    for column in ("metric", "mean", "95% t-interval", "min", "max"):
        table.add_column(column, justify="left" if column == "metric" else "right")
    for name, label in SUMMARY_METRICS:
        values = np.asarray(final[name], dtype=np.float64)
        if values.ndim == 2:
            values = values[:, 0]
        ci = f"[{t_interval(values).lower:.4f}, {t_interval(values).upper:.4f}]" if seeds > 1 else "-"
        table.add_row(label, f"{values.mean():.4f}", ci, f"{values.min():.4f}", f"{values.max():.4f}")
    return table


RUN_NAME = "run.json"
"""The configuration and worker count of a run, written when it starts (read back by --resume)."""


def _saved_run(out: Path) -> tuple[PretrainConfig, int]:
    path = out / RUN_NAME
    if not path.exists():
        raise typer.BadParameter(f"--resume: {path} does not exist (nothing to resume in {out})")
    data = json.loads(path.read_text())
    return PretrainConfig.from_dict(data["config"]), int(data["workers"])


def _has_checkpoint(out: Path) -> bool:
    return (out / CHECKPOINT_NAME).exists() or any(out.glob(f"group*/{CHECKPOINT_NAME}"))


def pretrain_command(
    d: Annotated[int, typer.Option(help="feature dimension d")] = 4,
    states: Annotated[int, typer.Option("--states", "-S", help="states S of each Boyan chain")] = 10,
    n: Annotated[int, typer.Option("--n", "-n", help="context length n (transitions per prompt)")] = 30,
    layers: Annotated[int, typer.Option("--layers", "-L", help="transformer layers L")] = 3,
    gamma: Annotated[float, typer.Option(help="discount γ in [0, 1)")] = 0.9,
    tasks: Annotated[int, typer.Option(help="training tasks K (Boyan chains, fresh features each)")] = 4000,
    seeds: Annotated[int, typer.Option(help="number of seeds, trained as one batch")] = 30,
    first_seed: Annotated[int, typer.Option(help="seeds are first_seed .. first_seed + seeds - 1")] = 0,
    dtype: Annotated[str, typer.Option(help="float32 (published) or float64")] = "float32",
    device: Annotated[str, typer.Option(help="cpu or cuda")] = "cpu",
    tied: Annotated[bool, typer.Option("--tied/--untied", help="one layer applied L times, or L layers")] = True,
    target: Annotated[str, typer.Option(help="td, or noise (the control: TD target replaced by N(0,1))")] = "td",
    eval_tasks: Annotated[int, typer.Option(help="held-out tasks per seed for SS, IWS, VD")] = 8,
    log_every: Annotated[int, typer.Option(help="evaluate every this many tasks")] = 20,
    checkpoint_every: Annotated[int, typer.Option(help="checkpoint every this many tasks")] = 200,
    workers: Annotated[int, typer.Option(help="threads, each training a group of the seeds")] = 2,
    threads: Annotated[int, typer.Option(help="torch intra-op threads of the process (shared by the workers)")] = 1,
    out: Annotated[Path, typer.Option("--out", "-o", help="run directory")] = Path("runs/pretrain"),
    resume: Annotated[bool, typer.Option(help="continue the run in --out from its last checkpoint")] = False,
) -> None:
    """Multi-task TD pretraining [W25a, Algorithm 1]: live SS/IWS/VD on held-out tasks, a run directory with
    log.json, final P/Q (.npy and final.json) and figures; Ctrl-C keeps the last checkpoint for --resume."""
    console = Console()
    if out.exists() and not out.is_dir():
        raise typer.BadParameter(f"--out: {out} is an existing file, expected a directory")
    if resume:
        config, workers = _saved_run(out)
        console.print(f"resuming {out} with its saved configuration and {workers} worker(s) (other flags ignored)")
    else:
        if _has_checkpoint(out):
            raise typer.BadParameter(f"--out: {out} already holds a run; pass --resume or choose another directory")
        try:
            config = PretrainConfig(
                d=d,
                num_states=states,
                n=n,
                layers=layers,
                gamma=gamma,
                tasks=tasks,
                seeds=tuple(range(first_seed, first_seed + seeds)),
                tied=tied,
                dtype=dtype,
                device=device,
                target=target,
                eval_tasks=eval_tasks,
                log_every=log_every,
                checkpoint_every=checkpoint_every,
            )
        except ValueError as exc:
            raise typer.BadParameter(str(exc)) from exc
    if threads < 1 or workers < 1:
        raise typer.BadParameter(f"--threads, --workers: expected integers >= 1, got {threads}, {workers}")
    out.mkdir(parents=True, exist_ok=True)
    if not resume:
        (out / RUN_NAME).write_text(json.dumps({"config": config.to_dict(), "workers": workers}, indent=1))
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        TextColumn("{task.fields[metrics]}"),
    )
    start = time.perf_counter()
    with Progress(*columns, console=console) as progress:
        bar = progress.add_task("pretraining", total=config.tasks, metrics="")

        def update(done: int, record: dict[str, Any] | None) -> None:
            fields: dict[str, Any] = {"completed": done}
            if record is not None:
                fields["metrics"] = live_metrics(record)
                if not console.is_terminal:  # no live bar in a log file: one line per evaluation
                    console.print(f"{done} tasks, {time.perf_counter() - start:.0f} s: {fields['metrics']}")
            progress.update(bar, **fields)

        try:
            with intra_op_threads(threads):
                result = train(config, run_dir=out, resume=resume, progress=update, workers=workers)
        except KeyboardInterrupt:
            progress.stop()
            console.print(
                f"[yellow]interrupted; the last checkpoint in {out} is kept. Continue with: "
                f"icrl-verify pretrain --out {out} --resume[/yellow]"
            )
            raise typer.Exit(code=130) from None
    seconds = time.perf_counter() - start
    paths = save_result(result, out) + write_figures(result, out)
    console.print(summary_table(result))
    trained = config.tasks - (result.resumed_from or 0)
    console.print(
        f"{trained} tasks x {len(config.seeds)} seeds in {seconds:.1f} s ({trained / seconds:.2f} tasks/s); "
        "seconds per stage (summed over workers): "
        + ", ".join(f"{stage} {value:.1f}" for stage, value in result.timings.items())
    )
    for path in paths:
        console.print(f"wrote {path}")
