"""``icrl-verify check``: a user's weights and/or prompt builder against a theorem's claims."""

from __future__ import annotations

import importlib
import importlib.util
import json
from fractions import Fraction
from pathlib import Path
from typing import Annotated, Any

import typer

from icrl_verify import catalogue
from icrl_verify.arith.kinds import KINDS
from icrl_verify.cli._options import backends, print_certificate, writable_json_path

_TAKES = ", ".join(t.key for t in catalogue.CATALOGUE if t.user_construction)


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


def check(
    theorem: Annotated[str, typer.Option("--theorem", "-t", help=f"theorem key: {_TAKES}")],
    weights: Annotated[
        Path | None, typer.Option("--weights", "-w", help="npz or pt file: P and Q stacked (L, D, D), optional C")
    ] = None,
    prompt: Annotated[str | None, typer.Option(help="your prompt builder, module:function or file.py:function")] = None,
    backend: Annotated[
        list[str] | None, typer.Option("--backend", "-b", help=f"backend kind (repeatable): {', '.join(KINDS)}")
    ] = None,
    examples: Annotated[int | None, typer.Option(help="instances per backend (default: a few per level)")] = None,
    seed: Annotated[int, typer.Option(min=0, help="seed of the instance sampler (>= 0)")] = 0,
    lam: Annotated[float, typer.Option(min=0.0, max=1.0, help="λ of T1a, in [0, 1]")] = 0.5,
    json_path: Annotated[Path | None, typer.Option("--json", help="also write the certificate as JSON")] = None,
) -> None:
    """Check your weights and/or prompt builder against the theorem's claims; exit 1 on a failure,
    printing a minimal counterexample. The weights format is in docs/checking-your-construction.md."""
    from icrl_verify.verification import VERIFY_BACKENDS, load_weights, verify

    kinds = backends(backend, list(VERIFY_BACKENDS))
    if examples is not None and examples < 1:
        raise typer.BadParameter(f"--examples must be at least 1, got {examples}")
    writable_json_path("--json", json_path)
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
    print_certificate(certificate)
    if json_path is not None:
        payload = {"theorem": theorem, "seed": seed, "results": [r.as_dict() for r in certificate.results]}
        json_path.write_text(json.dumps(payload, indent=2))
    if not certificate.passed or not certificate.results:
        raise typer.Exit(code=1)
