"""Every theorem ``icrl-verify prove`` certifies, every benchmark ``bench`` prints, every figure ``report`` draws."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from icrl_verify.checks.base import Figure, Provable
from icrl_verify.checks.cot import CoTCheck, bench_cot
from icrl_verify.checks.kernel_td import KernelTDCheck, bench_kernel_td
from icrl_verify.checks.neu import NEUCheck, bench_neu
from icrl_verify.checks.pretrain import PretrainCheck, bench_pretrain, report_pretrain
from icrl_verify.checks.td_family import TD0Check, bench_td0
from icrl_verify.checks.td_variants import AverageRewardCheck, ResidualGradientCheck, TDLambdaCheck
from icrl_verify.reports.cot import report_cot
from icrl_verify.reports.kernel_td import report_kernel_td
from icrl_verify.reports.neu import report_neu
from icrl_verify.reports.td_family import report_td_family

# key -> factory of the theorem's Provable check, in the order of docs/contract.md
THEOREMS: dict[str, Callable[[], Provable]] = {
    "T1": TD0Check,
    "T1a": TDLambdaCheck,
    "T1b": ResidualGradientCheck,
    "T1c": AverageRewardCheck,
    "T2": NEUCheck,
    "T3": CoTCheck,
    "T4": KernelTDCheck,
    "T5": PretrainCheck,
}

# name -> function printing nothing, returning its measured figures
BENCHMARKS: dict[str, Callable[[], list[Figure]]] = {
    "td0": bench_td0,
    "cot": bench_cot,
    "kernel_td": bench_kernel_td,
    "neu": bench_neu,
    "pretrain": bench_pretrain,
}

# name -> function writing its figures (PNG and PDF) into a directory, returning the paths
REPORTS: dict[str, Callable[[Path], list[Path]]] = {
    "td_family": report_td_family,
    "cot": report_cot,
    "kernel_td": report_kernel_td,
    "neu": report_neu,
    "pretrain": report_pretrain,
}
