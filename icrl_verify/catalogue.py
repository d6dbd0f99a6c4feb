"""The one table of theorems: each row names its check, report, benchmark, docs page, theorem module and mutants.

``icrl-verify prove``, ``report``, ``bench`` and ``check``, :func:`icrl_verify.verify` and the docs tests read
this table. Checks, reports and benchmarks are named by dotted path (``package.module:attribute``) and
imported only when they run, so reading the table (``icrl-verify --help``) loads no torch, scipy or
matplotlib. Adding a theorem: one module in ``theorems/``, one check, one row here (docs/adding-a-theorem.md).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from icrl_verify.arith.kinds import KINDS

if TYPE_CHECKING:
    from icrl_verify.checks.base import Figure, Provable

ALL_KINDS = tuple(KINDS)
INEXACT_KINDS = tuple(k for k in KINDS if k != "exact")  # claims with exp: no exact-rational certificate
TORCH_KINDS = tuple(k for k, kind in KINDS.items() if kind.float_backend == "torch")


def load(path: str) -> Any:
    """The object at ``path`` (``package.module:attribute``), imported now."""
    module, _, attribute = path.partition(":")
    if not module or not attribute:
        raise ValueError(f"path: expected 'package.module:attribute', got {path!r}")
    return getattr(importlib.import_module(module), attribute)


@dataclass(frozen=True)
class Ref:
    """A named report or benchmark: the CLI's ``--only`` name and the dotted path of its function."""

    name: str
    path: str


@dataclass(frozen=True)
class Theorem:
    """One row of the catalogue."""

    key: str
    #: the short statement, as in the table of docs/index.md
    title: str
    #: dotted path of the check's factory: called with no arguments it gives the default certificate
    check: str
    #: the backend kinds whose rows ``prove`` prints for this theorem
    kinds: tuple[str, ...]
    #: the report drawing its figures (``icrl-verify report --only NAME``)
    report: Ref
    #: its benchmark (``icrl-verify bench --only NAME``); None for none of its own (T1a-T1c run on T1's machinery)
    bench: Ref | None
    #: paths from the repository root
    page: str
    module: str
    mutants: str
    #: True when ``verify`` and ``icrl-verify check`` can swap in a user's construction or prompt builder
    user_construction: bool = True

    def factory(self) -> Callable[..., Provable]:
        """The check's class (or factory), imported now."""
        factory: Callable[..., Provable] = load(self.check)
        return factory


TD_FAMILY_REPORT = Ref("td_family", "icrl_verify.reports.td_family:report_td_family")

CATALOGUE: tuple[Theorem, ...] = (
    Theorem(
        "T1", "linear attention = batch TD(0), per-layer non-symmetric C_l",
        "icrl_verify.checks.td_family:TD0Check", ALL_KINDS, TD_FAMILY_REPORT,
        Ref("td0", "icrl_verify.checks.td_family:bench_td0"),
        "docs/theorems/td0.md", "theorems/t1_td0.py", "tests/test_mutants_td0.py",
    ),
    Theorem(
        "T1a", "TD(λ) with the M_λ mask (trace decays by λ, not γλ)",
        "icrl_verify.checks.td_variants:TDLambdaCheck", ALL_KINDS, TD_FAMILY_REPORT, None,
        "docs/theorems/td_lambda.md", "theorems/t1a_td_lambda.py", "tests/test_mutants_td_variants.py",
    ),
    Theorem(
        "T1b", "residual gradient",
        "icrl_verify.checks.td_variants:ResidualGradientCheck", ALL_KINDS, TD_FAMILY_REPORT, None,
        "docs/theorems/residual_gradient.md", "theorems/t1b_residual_gradient.py", "tests/test_mutants_td_variants.py",
    ),
    Theorem(
        "T1c", "average-reward TD, two heads (readout with a + sign)",
        "icrl_verify.checks.td_variants:AverageRewardCheck", ALL_KINDS, TD_FAMILY_REPORT, None,
        "docs/theorems/average_reward.md", "theorems/t1c_average_reward.py", "tests/test_mutants_td_variants.py",
    ),
    Theorem(
        "T2", "the norm of the expected update vanishes at θ* as L → ∞",
        "icrl_verify.checks.neu:NEUCheck", ALL_KINDS,
        Ref("neu", "icrl_verify.reports.neu:report_neu"), Ref("neu", "icrl_verify.checks.neu:bench_neu"),
        "docs/theorems/neu.md", "theorems/t2_neu.py", "tests/test_neu.py", user_construction=False,
    ),
    Theorem(
        "T3", "one layer with chain of thought = TD (our construction)",
        "icrl_verify.checks.cot:CoTCheck", ALL_KINDS,
        Ref("cot", "icrl_verify.reports.cot:report_cot"), Ref("cot", "icrl_verify.checks.cot:bench_cot"),
        "docs/theorems/cot.md", "theorems/t3_cot.py", "tests/test_mutants_cot.py",
    ),
    Theorem(
        "T4", "softmax attention = kernel TD (our two-head layout)",
        "icrl_verify.checks.kernel_td:KernelTDCheck", INEXACT_KINDS,
        Ref("kernel_td", "icrl_verify.reports.kernel_td:report_kernel_td"),
        Ref("kernel_td", "icrl_verify.checks.kernel_td:bench_kernel_td"),
        "docs/theorems/kernel_td.md", "theorems/t4_kernel_td.py", "tests/test_mutants_kernel_td.py",
    ),
    Theorem(
        "T5", "multi-task TD pretraining discovers θ* (statistical)",
        "icrl_verify.checks.pretrain:PretrainCheck", TORCH_KINDS,
        Ref("pretrain", "icrl_verify.reports.pretrain:report_pretrain"),
        Ref("pretrain", "icrl_verify.checks.pretrain:bench_pretrain"),
        "docs/theorems/pretrain.md", "theorems/t5_pretrain.py", "tests/test_pretrain.py", user_construction=False,
    ),
)  # fmt: skip
"""Every theorem, in the order of docs/contract.md."""


def keys() -> list[str]:
    """The theorem keys, in catalogue order."""
    return [t.key for t in CATALOGUE]


def theorem(key: str) -> Theorem:
    """The row of theorem ``key``; a ValueError lists the keys when there is none."""
    for t in CATALOGUE:
        if t.key == key:
            return t
    raise ValueError(f"theorem: expected one of {', '.join(keys())}, got {key!r}")


def reports() -> dict[str, Ref]:
    """Every report once, by name, in catalogue order."""
    return {t.report.name: t.report for t in CATALOGUE}


def benchmarks() -> dict[str, Ref]:
    """Every benchmark once, by name, in catalogue order."""
    return {t.bench.name: t.bench for t in CATALOGUE if t.bench is not None}


def run_report(name: str, out: Path) -> list[Path]:
    """Draw report ``name`` into ``out``; return the files written."""
    paths: list[Path] = load(reports()[name].path)(out)
    return paths


def run_bench(name: str) -> list[Figure]:
    """Measure benchmark ``name``; return its figures (label, value, unit)."""
    figures: list[Figure] = load(benchmarks()[name].path)()
    return figures
