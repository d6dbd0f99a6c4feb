"""icrl-verify: formally checked constructions of transformers that run RL algorithms in their forward pass."""

from typing import Any

from icrl_verify import algorithms, constructions, mrp, prompts
from icrl_verify.attention import LinearAttentionWeights, linear_attention, run_transformer, transformer_values
from icrl_verify.mrp import FiniteMRP

__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    """``verify`` is imported on first use: it loads every theorem check (and torch)."""
    if name == "verify":
        from icrl_verify.verification import verify

        return verify
    raise AttributeError(f"module 'icrl_verify' has no attribute {name!r}")


__all__ = [
    "FiniteMRP",
    "LinearAttentionWeights",
    "algorithms",
    "constructions",
    "linear_attention",
    "mrp",
    "prompts",
    "run_transformer",
    "transformer_values",
    "verify",
]
