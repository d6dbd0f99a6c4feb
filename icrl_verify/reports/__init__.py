"""Figures ``icrl-verify report`` draws (named in ``icrl_verify.catalogue``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def save_figure(fig: Any, out_dir: Path, stem: str, dpi: int = 150) -> list[Path]:
    """Write ``fig`` as ``stem``.png and ``stem``.pdf into ``out_dir`` (created if needed); return the paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = [out_dir / f"{stem}.{ext}" for ext in ("png", "pdf")]
    for path in paths:
        fig.savefig(path, dpi=dpi)
    return paths
