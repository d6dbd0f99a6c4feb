"""Theorem checks: each theorem's claims as computations on every backend (the public names are in ``__all__``).

A name is imported from its module on first use, so that ``icrl_verify.checks.base`` loads without every
check (and torch and scipy with them).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from icrl_verify._lazy import lazy_attributes

if TYPE_CHECKING:
    from icrl_verify.checks.base import Figure, FloatBound, Provable, TheoremCheck, tracked_backend
    from icrl_verify.checks.cot import CoTCheck, CoTInstance
    from icrl_verify.checks.kernel_td import KernelTDCheck, KernelTDInstance
    from icrl_verify.checks.neu import ExpectedTDCheck, ExpectedTDInstance, NEUCheck
    from icrl_verify.checks.pretrain import PretrainCheck
    from icrl_verify.checks.td_family import TD0Check
    from icrl_verify.checks.td_variants import AverageRewardCheck, ResidualGradientCheck, TDLambdaCheck

# public name -> the module defining it
_HOME = {
    "AverageRewardCheck": "td_variants",
    "CoTCheck": "cot",
    "CoTInstance": "cot",
    "ExpectedTDCheck": "neu",
    "ExpectedTDInstance": "neu",
    "Figure": "base",
    "FloatBound": "base",
    "KernelTDCheck": "kernel_td",
    "KernelTDInstance": "kernel_td",
    "NEUCheck": "neu",
    "PretrainCheck": "pretrain",
    "Provable": "base",
    "ResidualGradientCheck": "td_variants",
    "TD0Check": "td_family",
    "TDLambdaCheck": "td_variants",
    "TheoremCheck": "base",
    "tracked_backend": "base",
}


__getattr__ = lazy_attributes(__name__, _HOME)


__all__ = [
    "AverageRewardCheck",
    "CoTCheck",
    "CoTInstance",
    "ExpectedTDCheck",
    "ExpectedTDInstance",
    "Figure",
    "FloatBound",
    "KernelTDCheck",
    "KernelTDInstance",
    "NEUCheck",
    "PretrainCheck",
    "Provable",
    "ResidualGradientCheck",
    "TD0Check",
    "TDLambdaCheck",
    "TheoremCheck",
    "tracked_backend",
]
