"""icrl-verify: formally checked constructions of transformers that run RL algorithms in their forward pass."""

from icrl_verify import algorithms, constructions, mrp, prompts
from icrl_verify.attention import LinearAttentionWeights, linear_attention, run_transformer, transformer_values
from icrl_verify.mrp import FiniteMRP

__version__ = "0.1.0"

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
]
