"""The ``icrl-verify`` command: prove (certificate table), bench (figures), report (plots), pretrain (T5)."""

from __future__ import annotations

import importlib
import importlib.util
import json
import math
import os
import time
from fractions import Fraction
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from icrl_verify.arith import cuda_available
from icrl_verify.certify import Certificate, fmt_error
from icrl_verify.checks.base import BACKEND_KINDS
from icrl_verify.checks.registry import BENCHMARKS, REPORTS, THEOREMS
from icrl_verify.pretrain.cli import pretrain_command
from icrl_verify.shrink import shrink_failures

app = typer.Typer(add_completion=False, no_args_is_help=True, help=__doc__)
console = Console()
if not console.is_terminal:
    console = Console(width=160)


def _choose(kind: str, requested: list[str] | None, known: list[str]) -> list[str]:
    if not requested:
        return known
    unknown = [r for r in requested if r not in known]
    if unknown:
        raise typer.BadParameter(f"unknown {kind} {', '.join(unknown)}; choose from {', '.join(known)}")
    return requested


def _default_backends() -> list[str]:
    return [k for k in BACKEND_KINDS if k != "torch-cuda" or cuda_available()]


def _print_certificate(certificate: Certificate) -> None:
    """The certificate table, then every failure as its (minimal) counterexample, then the tally."""
    table = Table(title="icrl-verify certificate")
    for column in ("theorem", "claim", "backend", "instances", "worst error", "verdict"):
        table.add_column(column, justify="right" if column in ("instances", "worst error") else "left")
    for r in certificate.results:
        verdict = "[green]pass[/green]" if r.passed else "[bold red]FAIL[/bold red]"
        table.add_row(r.theorem, r.claim, r.backend, str(r.instances), fmt_error(r.worst_error), verdict)
    console.print(table)
    for r in certificate.results:
        for line in r.explanation():
            console.print(line, markup=False, highlight=False)
    passed = sum(r.passed for r in certificate.results)
    console.print(f"{passed} passed, {len(certificate.results) - passed} failed")


def _default_count(check: object, kind: str) -> int:
    """Instances ``check`` runs on ``kind`` at budget 1 (0 when it declares none for that kind)."""
    counts = getattr(check, "counts", None)
    if not isinstance(counts, dict):
        return 0
    key = kind if kind in counts else "torch" if kind.startswith("torch") else kind
    return int(counts.get(key, 0))


def _positive_finite_budget(budget: float, keys: list[str], kinds: list[str]) -> float:
    """``--budget``: a positive finite scale that gives every selected theorem at least one instance on
    every selected backend before rounding (scaled count = default count x budget >= 1)."""
    if not (math.isfinite(budget) and budget > 0):
        raise typer.BadParameter(f"--budget must be positive and finite, got {budget}")
    short = [(key, kind, c) for key in keys for kind in kinds if (c := _default_count(THEOREMS[key], kind)) > 0]
    short = [(key, kind, c) for key, kind, c in short if c * budget < 1]
    if short:
        key, kind, count = min(short, key=lambda t: t[2])
        raise typer.BadParameter(
            f"--budget {budget:g} < {1 / count:.3g}: too small for one {key} instance on {kind}"
        )
    return budget


def _writable_json_path(option: str, path: Path | None) -> Path | None:
    """A file path whose folder exists and is writable (checked before the run, not after it)."""
    if path is None:
        return None
    if path.is_dir():
        raise typer.BadParameter(f"{option}: {path} is a directory, expected a file path")
    folder = path.parent
    if not folder.is_dir():
        raise typer.BadParameter(f"{option}: folder {folder} does not exist")
    if not os.access(folder, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise typer.BadParameter(f"{option}: {path} is not writable")
    return path


def _writable_dir(option: str, path: Path) -> Path:
    """A directory that exists or can be created: not an existing file, under a writable folder."""
    if path.exists() and not path.is_dir():
        raise typer.BadParameter(f"{option}: {path} is an existing file, expected a directory")
    existing = next(p for p in (path, *path.parents) if p.exists())
    if not existing.is_dir():
        raise typer.BadParameter(f"{option}: {existing} is a file, so {path} cannot be created")
    if not os.access(existing, os.W_OK):
        raise typer.BadParameter(f"{option}: {existing} is not writable")
    return path


@app.command()
def prove(
    theorem: Annotated[list[str] | None, typer.Option("--theorem", "-t", help="theorem key (repeatable)")] = None,
    backend: Annotated[list[str] | None, typer.Option("--backend", "-b", help="backend kind (repeatable)")] = None,
    budget: Annotated[float, typer.Option(help="scale of the instance counts (1.0 = default certificate)")] = 1.0,
    seed: Annotated[int, typer.Option(min=0, help="seed of the instance sampler (>= 0)")] = 0,
    json_path: Annotated[Path | None, typer.Option("--json", help="also write the table as JSON")] = None,
) -> None:
    """Certify every registered theorem on every backend that can certify it; exit 1 on any failure."""
    keys = _choose("theorem", theorem, list(THEOREMS))
    kinds = _choose("backend", backend, list(BACKEND_KINDS)) if backend else _default_backends()
    if "torch-cuda" in kinds and not cuda_available():
        raise typer.BadParameter("backend torch-cuda requested but no CUDA device is available")
    _positive_finite_budget(budget, keys, kinds)
    _writable_json_path("--json", json_path)
    rng = np.random.default_rng(seed)
    certificate = Certificate()
    timings: dict[str, float] = {}
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
        disable=not console.is_terminal,
    ) as progress:
        task = progress.add_task("proving", total=len(keys) * len(kinds))
        for key in keys:
            check = THEOREMS[key]()
            for kind in kinds:
                progress.update(task, description=f"{key} on {kind}")
                start = time.perf_counter()
                certificate.extend(shrink_failures(check, check.prove([kind], rng, budget)))
                timings[f"{key}/{kind}"] = time.perf_counter() - start
                progress.advance(task)
    _print_certificate(certificate)
    total = len(certificate.results)
    if json_path is not None:
        results = [r.as_dict() for r in certificate.results]
        payload = {"seed": seed, "budget": budget, "seconds": timings, "results": results}
        json_path.write_text(json.dumps(payload, indent=2))
    if not certificate.passed or total == 0:
        raise typer.Exit(code=1)


def _import_builder(spec: str) -> Any:
    """``module:function`` or ``path/to/file.py:function`` of a user's prompt builder."""
    where, _, name = spec.rpartition(":")
    if not where or not name:
        raise typer.BadParameter(f"--prompt: expected module:function or file.py:function, got {spec!r}")
    try:
        if where.endswith(".py"):
            loader = importlib.util.spec_from_file_location(Path(where).stem, where)
            if loader is None or loader.loader is None:
                raise ImportError(f"cannot load {where}")
            module = importlib.util.module_from_spec(loader)
            loader.loader.exec_module(module)
        else:
            module = importlib.import_module(where)
        builder = getattr(module, name)
    except (ImportError, AttributeError, OSError, SyntaxError) as exc:
        raise typer.BadParameter(f"--prompt: cannot import {spec!r} ({exc})") from exc
    if not callable(builder):
        raise typer.BadParameter(f"--prompt: {spec!r} is not a function")
    return builder


@app.command()
def check(
    theorem: Annotated[str, typer.Option("--theorem", "-t", help="theorem key: T1, T1a, T1b, T1c, T3 or T4")],
    weights: Annotated[
        Path | None, typer.Option("--weights", "-w", help="npz or pt file: P and Q stacked (L, D, D), optional C")
    ] = None,
    prompt: Annotated[str | None, typer.Option(help="your prompt builder, module:function or file.py:function")] = None,
    backend: Annotated[list[str] | None, typer.Option("--backend", "-b", help="backend kind (repeatable)")] = None,
    examples: Annotated[int | None, typer.Option(help="instances per backend (default: a few per level)")] = None,
    seed: Annotated[int, typer.Option(min=0, help="seed of the instance sampler (>= 0)")] = 0,
    lam: Annotated[float, typer.Option(min=0.0, max=1.0, help="λ of T1a, in [0, 1]")] = 0.5,
    json_path: Annotated[Path | None, typer.Option("--json", help="also write the certificate as JSON")] = None,
) -> None:
    """Check your weights and/or prompt builder against the theorem's claims; exit 1 on a failure,
    printing a minimal counterexample. The weights format is in docs/checking-your-construction.md."""
    from icrl_verify.verification import VERIFY_BACKENDS, load_weights, verify

    kinds = _choose("backend", backend, list(BACKEND_KINDS)) if backend else list(VERIFY_BACKENDS)
    if examples is not None and examples < 1:
        raise typer.BadParameter(f"--examples must be at least 1, got {examples}")
    _writable_json_path("--json", json_path)
    if weights is None and prompt is None:
        raise typer.BadParameter("give --weights, --prompt or both: there is nothing of yours to check")
    builder = None if prompt is None else _import_builder(prompt)
    try:
        layers = None if weights is None else load_weights(weights)
        certificate = verify(
            theorem, layers=layers, prompt=builder, backends=kinds, examples=examples, seed=seed, lam=Fraction(lam)
        )
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from exc
    _print_certificate(certificate)
    if json_path is not None:
        payload = {"theorem": theorem, "seed": seed, "results": [r.as_dict() for r in certificate.results]}
        json_path.write_text(json.dumps(payload, indent=2))
    if not certificate.passed or not certificate.results:
        raise typer.Exit(code=1)


@app.command()
def bench(
    only: Annotated[list[str] | None, typer.Option("--only", help="benchmark name (repeatable)")] = None,
) -> None:
    """Measure and print the throughput figures of every registered benchmark."""
    names = _choose("benchmark", only, list(BENCHMARKS))
    table = Table(title="icrl-verify benchmarks")
    for column in ("benchmark", "figure", "value", "unit"):
        table.add_column(column)
    for name in names:
        with console.status(f"running {name}"):
            figures = BENCHMARKS[name]()
        for label, value, unit in figures:
            table.add_row(name, label, f"{value:.4g}", unit)
    console.print(table)


@app.command()
def report(
    out: Annotated[Path, typer.Option("--out", "-o", help="directory for the figures")] = Path("reports"),
    only: Annotated[list[str] | None, typer.Option("--only", help="report name (repeatable)")] = None,
) -> None:
    """Draw every registered figure (PNG and PDF) into ``--out``."""
    names = _choose("report", only, list(REPORTS))
    _writable_dir("--out", out)
    out.mkdir(parents=True, exist_ok=True)
    for name in names:
        with console.status(f"drawing {name}"):
            paths = REPORTS[name](out)
        for path in paths:
            console.print(f"{name}: wrote {path}")


app.command("pretrain")(pretrain_command)
