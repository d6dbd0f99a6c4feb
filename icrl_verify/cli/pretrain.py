"""``icrl-verify pretrain``: the pretrain library's command, imported (with torch) only when it runs."""

from __future__ import annotations

from typing import Any

import typer

from icrl_verify.catalogue import load

PRETRAIN_COMMAND = "icrl_verify.pretrain.cli:pretrain_command"
"""Dotted path of the typer command function; its options are the command's options."""

PASS_THROUGH: dict[str, Any] = {"allow_extra_args": True, "ignore_unknown_options": True}
"""Every argument, ``--help`` included, goes to the pretrain command."""


def pretrain(ctx: typer.Context) -> None:
    """Multi-task TD pretraining [W25a, Algorithm 1] with live metrics (see icrl-verify pretrain --help)."""
    single = typer.Typer(add_completion=False)
    single.command()(load(PRETRAIN_COMMAND))
    typer.main.get_command(single).main(args=list(ctx.args), prog_name=ctx.command_path)
