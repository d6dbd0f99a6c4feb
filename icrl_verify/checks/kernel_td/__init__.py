"""Checks of T4 [X26b]: softmax attention implements kernel TD (values, target invariant, population contraction).

One module per concern: ``check`` (:class:`KernelTDCheck`, the forward-pass claims and the benchmark),
``population`` (the population contraction certificate in balls and the statistics over trajectories).
"""

from icrl_verify.checks.kernel_td.check import (
    CLAIM_CONTRACTION,
    CLAIM_FIXED,
    CLAIM_INVARIANT,
    CLAIM_POPULATION_RATE,
    CLAIM_VALUES,
    KernelTDCheck,
    bench_kernel_td,
)
from icrl_verify.checks.kernel_td.population import (
    PopulationCertificate,
    TabularKernelMRP,
    certify_population,
    population_rate,
    sup_error_curves,
    tabular_kernel_mrp,
)
from icrl_verify.tasks.kernel_td import KernelTDInstance

__all__ = [
    "CLAIM_CONTRACTION",
    "CLAIM_FIXED",
    "CLAIM_INVARIANT",
    "CLAIM_POPULATION_RATE",
    "CLAIM_VALUES",
    "KernelTDCheck",
    "KernelTDInstance",
    "PopulationCertificate",
    "TabularKernelMRP",
    "bench_kernel_td",
    "certify_population",
    "population_rate",
    "sup_error_curves",
    "tabular_kernel_mrp",
]
