"""The ``icrl-verify`` command: prove (certificate table), check (your construction), bench (figures),
report (plots), pretrain (T5). Each command imports its heavy modules when it runs, so ``--help`` is quick."""

from __future__ import annotations

import typer

from icrl_verify.cli.bench import bench
from icrl_verify.cli.check import check
from icrl_verify.cli.pretrain import PASS_THROUGH, pretrain
from icrl_verify.cli.prove import prove
from icrl_verify.cli.report import report

app = typer.Typer(add_completion=False, no_args_is_help=True, help=__doc__)
app.command()(prove)
app.command()(check)
app.command()(bench)
app.command()(report)
app.command(context_settings=PASS_THROUGH, add_help_option=False)(pretrain)

__all__ = ["app"]
