"""Arithmetic backends: exact rationals, rigorous balls, mpmath, float64 numpy and batched torch."""

from icrl_verify.arith.ball import BallBackend
from icrl_verify.arith.base import Backend, Scalar
from icrl_verify.arith.exact import ExactBackend
from icrl_verify.arith.float64 import Float64Backend
from icrl_verify.arith.mp import MpmathBackend
from icrl_verify.arith.torch_backend import TorchBackend, cuda_available

__all__ = [
    "Backend",
    "BallBackend",
    "ExactBackend",
    "Float64Backend",
    "MpmathBackend",
    "Scalar",
    "TorchBackend",
    "cuda_available",
]
