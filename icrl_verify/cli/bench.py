"""``icrl-verify bench``: measure and print the throughput figures of the catalogue's benchmarks."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from icrl_verify import catalogue
from icrl_verify.cli._options import choose, console


def bench(
    only: Annotated[
        list[str] | None,
        typer.Option("--only", help=f"benchmark name (repeatable): {', '.join(catalogue.benchmarks())}"),
    ] = None,
) -> None:
    """Measure and print the throughput figures of every benchmark in the catalogue."""
    names = choose("benchmark", only, list(catalogue.benchmarks()))
    table = Table(title="icrl-verify benchmarks")
    for column in ("benchmark", "figure", "value", "unit"):
        table.add_column(column)
    for name in names:
        with console.status(f"running {name}"):
            figures = catalogue.run_bench(name)
        for label, value, unit in figures:
            table.add_row(name, label, f"{value:.4g}", unit)
    console.print(table)
