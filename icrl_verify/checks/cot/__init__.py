"""Checks of T3: one linear-attention layer decoded with chain of thought runs batch TD ([X26a]; our construction).

One module per concern: ``instance`` (task data and the empirical fixed point), ``check`` (:class:`CoTCheck`,
the equality claims and the benchmark), ``decay`` (the contraction certificate and the floor fit).
"""

from icrl_verify.checks.cot.check import (
    CLAIM_DECAY,
    CLAIM_ERROR,
    CLAIM_FLOOR,
    CLAIM_PROMPT,
    CLAIM_TOKEN,
    CLAIM_VALUE,
    CLAIM_W,
    CoTCheck,
    bench_cot,
)
from icrl_verify.checks.cot.decay import (
    FloorFit,
    contraction_certificate,
    empirical_fixed_points,
    ergodic_tasks,
    floor_fit,
)
from icrl_verify.tasks.cot import CoTInstance, cot_instance, empirical_fixed_point, empirical_td_system

__all__ = [
    "CLAIM_DECAY",
    "CLAIM_ERROR",
    "CLAIM_FLOOR",
    "CLAIM_PROMPT",
    "CLAIM_TOKEN",
    "CLAIM_VALUE",
    "CLAIM_W",
    "CoTCheck",
    "CoTInstance",
    "FloorFit",
    "bench_cot",
    "contraction_certificate",
    "cot_instance",
    "empirical_fixed_point",
    "empirical_fixed_points",
    "empirical_td_system",
    "ergodic_tasks",
    "floor_fit",
]
