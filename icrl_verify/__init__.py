"""icrl-verify: formally checked constructions of transformers that run RL algorithms in their forward pass."""

__version__ = "0.1.0"
