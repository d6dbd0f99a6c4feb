"""Every theorem ``icrl-verify prove`` certifies, every benchmark ``bench`` prints, every figure ``report`` draws."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from icrl_verify.checks.base import Provable
from icrl_verify.checks.td_family import TD0Check, bench_td0

Figure = tuple[str, float, str]
"""A benchmark figure: (label, value, unit)."""

# key -> factory of the theorem's Provable check, in the order of spec/THEOREMS.md
THEOREMS: dict[str, Callable[[], Provable]] = {
    "T1": TD0Check,
}

# name -> function printing nothing, returning its measured figures
BENCHMARKS: dict[str, Callable[[], list[Figure]]] = {
    "td0": bench_td0,
}

# name -> function writing its figures (PNG and PDF) into a directory, returning the paths
REPORTS: dict[str, Callable[[Path], list[Path]]] = {}
