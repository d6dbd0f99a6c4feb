"""``icrl-verify prove``: certify the catalogue's theorems on every backend and print the certificate."""

from __future__ import annotations

import json
import time
import zlib
from pathlib import Path
from typing import Annotated, Any

import typer

from icrl_verify import catalogue
from icrl_verify.arith.kinds import KINDS
from icrl_verify.cli._options import (
    backends,
    choose,
    console,
    positive_finite_budget,
    print_certificate,
    writable_json_path,
)


def row_stream(seed: int, theorem: str, kind: str) -> Any:
    """The random stream of one theorem on one backend, from (seed, theorem, backend) alone, so a row of
    the table reproduces when that theorem and backend are run by themselves."""
    import numpy as np

    return np.random.default_rng([seed, zlib.crc32(theorem.encode()), zlib.crc32(kind.encode())])


def prove(
    theorem: Annotated[
        list[str] | None,
        typer.Option("--theorem", "-t", help=f"theorem key (repeatable): {', '.join(catalogue.keys())}"),
    ] = None,
    backend: Annotated[
        list[str] | None, typer.Option("--backend", "-b", help=f"backend kind (repeatable): {', '.join(KINDS)}")
    ] = None,
    budget: Annotated[float, typer.Option(help="scale of the instance counts (1.0 = default certificate)")] = 1.0,
    seed: Annotated[int, typer.Option(min=0, help="seed of the instance sampler (>= 0)")] = 0,
    json_path: Annotated[Path | None, typer.Option("--json", help="also write the table as JSON")] = None,
) -> None:
    """Certify every theorem of the catalogue on every backend that can certify it; exit 1 on any failure."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from icrl_verify.certify import Certificate
    from icrl_verify.shrink import shrink_failures

    keys = choose("theorem", theorem, catalogue.keys())
    kinds = backends(backend, [k for k, kind in KINDS.items() if kind.available()])
    # each theorem's check (imported now) and the selected kinds it certifies
    entries = [catalogue.theorem(key) for key in keys]
    plan = {t.key: (t.factory(), [k for k in kinds if k in t.kinds]) for t in entries}
    if not any(selected for _, selected in plan.values()):
        levels = "; ".join(f"{t.key} runs on {', '.join(t.kinds)}" for t in entries)
        raise typer.BadParameter(f"no selected theorem is certified on {', '.join(kinds)}: {levels}")
    positive_finite_budget(budget, plan)
    writable_json_path("--json", json_path)
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
        task = progress.add_task("proving", total=sum(len(selected) for _, selected in plan.values()))
        for key, (factory, selected) in plan.items():
            check = factory()
            rows = len(certificate.results)
            for kind in selected:
                progress.update(task, description=f"{key} on {kind}")
                start = time.perf_counter()
                found = check.prove([kind], row_stream(seed, key, kind), budget)
                certificate.extend(shrink_failures(check, found))
                timings[f"{key}/{kind}"] = time.perf_counter() - start
                progress.advance(task)
            if not console.is_terminal and selected:  # a file or a pipe gets one plain line per theorem
                done = certificate.results[rows:]
                seconds = sum(timings[f"{key}/{kind}"] for kind in selected)
                failed = sum(not r.passed for r in done)
                console.print(f"{key}: {len(done)} rows, {len(done) - failed} pass, {failed} fail, {seconds:.1f} s")
    print_certificate(certificate)
    total = len(certificate.results)
    if json_path is not None:
        results = [r.as_dict() for r in certificate.results]
        payload = {"seed": seed, "budget": budget, "seconds": timings, "results": results}
        json_path.write_text(json.dumps(payload, indent=2))
    if not certificate.passed or total == 0:
        raise typer.Exit(code=1)
