"""What the commands share: the console, option checks run before any work, and the certificate printer."""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.console import Console
from rich.table import Table

from icrl_verify.arith.kinds import KINDS

if TYPE_CHECKING:
    from icrl_verify.certify import Certificate

console = Console()
if not console.is_terminal:
    console = Console(width=160)


def choose(kind: str, requested: list[str] | None, known: list[str]) -> list[str]:
    """``requested`` (all of ``known`` when empty), refused with the known names if one is unknown."""
    if not requested:
        return known
    unknown = [r for r in requested if r not in known]
    if unknown:
        raise typer.BadParameter(f"unknown {kind} {', '.join(unknown)}; choose from {', '.join(known)}")
    return requested


def backends(requested: list[str] | None, default: list[str]) -> list[str]:
    """``--backend``: the requested kinds (``default`` when none), each one this machine can run."""
    kinds = choose("backend", requested, list(KINDS)) if requested else default
    missing = [k for k in kinds if not KINDS[k].available()]
    if missing:
        raise typer.BadParameter(f"backend {missing[0]} requested but no CUDA device is available")
    return kinds


def default_count(check: object, kind: str) -> int:
    """Instances ``check`` runs on ``kind`` at budget 1 (0 when it declares none for that kind)."""
    counts = getattr(check, "counts", None)
    if not isinstance(counts, dict):
        return 0
    key = kind if kind in counts else "torch" if kind.startswith("torch") else kind
    return int(counts.get(key, 0))


def positive_finite_budget(budget: float, checks: Mapping[str, tuple[Any, list[str]]]) -> float:
    """``--budget``: a positive finite scale that gives every selected theorem (key -> its check and the
    selected kinds it certifies) at least one instance on each of those kinds before rounding
    (scaled count = default count x budget >= 1)."""
    if not (math.isfinite(budget) and budget > 0):
        raise typer.BadParameter(f"--budget must be positive and finite, got {budget}")
    counts = [(key, kind, default_count(check, kind)) for key, (check, kinds) in checks.items() for kind in kinds]
    short = [(key, kind, c) for key, kind, c in counts if c > 0 and c * budget < 1]
    if short:
        key, kind, count = min(short, key=lambda t: t[2])
        raise typer.BadParameter(f"--budget {budget:g} < {1 / count:.3g}: too small for one {key} instance on {kind}")
    return budget


def writable_json_path(option: str, path: Path | None) -> Path | None:
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


def writable_dir(option: str, path: Path) -> Path:
    """A directory that exists or can be created: not an existing file, under a writable folder."""
    if path.exists() and not path.is_dir():
        raise typer.BadParameter(f"{option}: {path} is an existing file, expected a directory")
    existing = next(p for p in (path, *path.parents) if p.exists())
    if not existing.is_dir():
        raise typer.BadParameter(f"{option}: {existing} is a file, so {path} cannot be created")
    if not os.access(existing, os.W_OK):
        raise typer.BadParameter(f"{option}: {existing} is not writable")
    return path


def print_certificate(certificate: Certificate) -> None:
    """The certificate table, then every failure as its (minimal) counterexample, then the tally."""
    from icrl_verify.certify import fmt_error

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
