"""Checks of T2 [W25b]: value iteration through the transformer, the vanishing NEU, contrasts, general features.

Each ``check_*`` function returns one :class:`~icrl_verify.certify.ClaimResult` and takes the construction (and,
for the gradient claim, the update function) under test, so mutants run through the same code.
``docs/theorems/neu.md`` derives every tolerance used here. One module per concern: ``tasks`` (vocabulary,
tasks, perturbed weights, the documented layout), ``forward`` (the forward-pass identity), ``bound`` (claim 1),
``limits`` (claims 2, 3 and the gradients), ``features`` (claim 4), ``check`` (:class:`NEUCheck`, the benchmark).
"""

from icrl_verify.checks.neu.bound import check_bound_exact, check_bound_float
from icrl_verify.checks.neu.check import NEUCheck, bench_neu
from icrl_verify.checks.neu.features import FeatureInstance, check_features, convergent_instance, divergent_instance
from icrl_verify.checks.neu.forward import ExpectedTDCheck
from icrl_verify.checks.neu.limits import check_contrast, check_gradients, check_limit
from icrl_verify.checks.neu.tasks import (
    CLAIM_BOUND,
    CLAIM_CONTRAST,
    CLAIM_FEATURES,
    CLAIM_FORWARD,
    CLAIM_GRADIENT,
    CLAIM_LAYOUT,
    CLAIM_LIMIT,
    KEY,
    Construction,
    PromptBuilder,
    RationalTask,
    UpdateFn,
    blocks_swapped,
    random_layers,
    rational_task,
    sample_tasks,
)
from icrl_verify.tasks.neu import ExpectedTDInstance

__all__ = [
    "CLAIM_BOUND",
    "CLAIM_CONTRAST",
    "CLAIM_FEATURES",
    "CLAIM_FORWARD",
    "CLAIM_GRADIENT",
    "CLAIM_LAYOUT",
    "CLAIM_LIMIT",
    "KEY",
    "Construction",
    "ExpectedTDCheck",
    "ExpectedTDInstance",
    "FeatureInstance",
    "NEUCheck",
    "PromptBuilder",
    "RationalTask",
    "UpdateFn",
    "bench_neu",
    "blocks_swapped",
    "check_bound_exact",
    "check_bound_float",
    "check_contrast",
    "check_features",
    "check_gradients",
    "check_limit",
    "convergent_instance",
    "divergent_instance",
    "random_layers",
    "rational_task",
    "sample_tasks",
]
