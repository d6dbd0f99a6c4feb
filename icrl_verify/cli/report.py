"""``icrl-verify report``: draw the figures of the catalogue's reports (PNG and PDF)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from icrl_verify import catalogue
from icrl_verify.cli._options import choose, console, writable_dir


def report(
    out: Annotated[Path, typer.Option("--out", "-o", help="directory for the figures")] = Path("reports"),
    only: Annotated[
        list[str] | None,
        typer.Option("--only", help=f"report name (repeatable): {', '.join(catalogue.reports())}"),
    ] = None,
) -> None:
    """Draw every report of the catalogue (PNG and PDF) into ``--out``."""
    names = choose("report", only, list(catalogue.reports()))
    writable_dir("--out", out)
    out.mkdir(parents=True, exist_ok=True)
    for name in names:
        with console.status(f"drawing {name}"):
            paths = catalogue.run_report(name, out)
        for path in paths:
            console.print(f"{name}: wrote {path}")
