"""``icrl-verify pretrain``: run the pretraining experiment with live metrics, write the run directory and figures."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

from icrl_verify.arith.torch_backend import intra_op_threads
from icrl_verify.pretrain import (
    RUN_NAME,
    PretrainConfig,
    PretrainResult,
    has_checkpoint,
    read_run,
    save_result,
    seed_values,
    t_interval,
    train,
    write_run,
)
from icrl_verify.reports.pretrain import write_figures

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


def live_metrics(record: dict[str, Any]) -> str:
    """Seed means of SS, IWS, VD and the aligned P[2d,2d] (layer 0) of one log record."""
    shown = (("ss", "SS", ".3f"), ("iws", "IWS", ".3f"), ("vd", "VD", ".3f"), ("p_corner", "P[2d,2d]", ".2f"))
    return "  ".join(f"{label} {np.mean(seed_values(record, name)):{spec}}" for name, label, spec in shown)


def summary_table(result: PretrainResult) -> Table:
    """Final metrics: mean, 95% t-interval over seeds (layer 0 for per-layer weight metrics)."""
    final = result.final
    seeds = len(result.config.seeds)
    table = Table(title=f"after {final['tasks']} tasks, {seeds} seed(s)")
    for column in ("metric", "mean", "95% t-interval", "min", "max"):
        table.add_column(column, justify="left" if column == "metric" else "right")
    for name, label in SUMMARY_METRICS:
        values = seed_values(final, name)
        ci = "-"
        if seeds > 1:
            interval = t_interval(values)
            ci = f"[{interval.lower:.4f}, {interval.upper:.4f}]"
        table.add_row(label, f"{values.mean():.4f}", ci, f"{values.min():.4f}", f"{values.max():.4f}")
    return table


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
        if not (out / RUN_NAME).exists():
            raise typer.BadParameter(f"--resume: {out / RUN_NAME} does not exist (nothing to resume in {out})")
        config, workers = read_run(out)
        console.print(f"resuming {out} with its saved configuration and {workers} worker(s) (other flags ignored)")
    else:
        if has_checkpoint(out):
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
        write_run(out, config, workers)
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
