"""Arithmetic backends: exact rationals, rigorous balls, mpmath, float64 numpy and batched torch."""

from __future__ import annotations

from typing import TYPE_CHECKING

from icrl_verify._lazy import lazy_attributes

if TYPE_CHECKING:
    from icrl_verify.arith.ball import BallBackend
    from icrl_verify.arith.base import Backend, Scalar
    from icrl_verify.arith.exact import ExactBackend
    from icrl_verify.arith.float64 import Float64Backend
    from icrl_verify.arith.mp import MpmathBackend
    from icrl_verify.arith.torch_backend import TorchBackend, cuda_available

# public name -> the submodule defining it; imported on first use, so that importing a light submodule
# (arith.kinds, arith.base) does not load torch, python-flint or mpmath
_HOME = {
    "Backend": "base",
    "BallBackend": "ball",
    "ExactBackend": "exact",
    "Float64Backend": "float64",
    "MpmathBackend": "mp",
    "Scalar": "base",
    "TorchBackend": "torch_backend",
    "cuda_available": "torch_backend",
}


__getattr__ = lazy_attributes(__name__, _HOME)


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
