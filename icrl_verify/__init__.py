"""icrl-verify: formally checked constructions of transformers that run RL algorithms in their forward pass."""

from __future__ import annotations

from typing import TYPE_CHECKING

from icrl_verify import algorithms, catalogue, constructions, mrp, prompts
from icrl_verify._lazy import lazy_attributes
from icrl_verify.attention import LinearAttentionWeights, linear_attention, run_transformer, transformer_values
from icrl_verify.mrp import FiniteMRP

if TYPE_CHECKING:
    from icrl_verify.certify import Certificate, ClaimResult
    from icrl_verify.testing import assert_implements
    from icrl_verify.verification import load_weights, save_weights, verify

__version__ = "0.1.0"

# names imported on first use (verification loads the theorem checks and torch) -> their module
_LAZY = {
    "Certificate": "certify",
    "ClaimResult": "certify",
    "assert_implements": "testing",
    "load_weights": "verification",
    "save_weights": "verification",
    "verify": "verification",
}


__getattr__ = lazy_attributes(__name__, _LAZY)


__all__ = [
    "Certificate",
    "ClaimResult",
    "FiniteMRP",
    "LinearAttentionWeights",
    "algorithms",
    "assert_implements",
    "catalogue",
    "constructions",
    "linear_attention",
    "load_weights",
    "mrp",
    "prompts",
    "run_transformer",
    "save_weights",
    "transformer_values",
    "verify",
]
