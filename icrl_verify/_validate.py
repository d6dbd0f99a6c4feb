"""Input validation shared by the public API: every failure is a ValueError naming the argument."""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction
from typing import Any

import numpy as np
from numpy.typing import NDArray

Shape = Sequence[int | None]


def _describe(shape: Shape) -> str:
    return "(" + ", ".join("*" if s is None else str(s) for s in shape) + ")"


def _is_rational_object_array(arr: NDArray[Any]) -> bool:
    return arr.dtype == object and all(isinstance(v, (int, Fraction)) for v in arr.flat)


def array(name: str, value: Any, shape: Shape) -> NDArray[Any]:
    """Return ``value`` as an array of the given shape (``None`` = any size), finite entries only.

    Float input becomes float64; arrays of ``int``/``Fraction`` objects are kept as exact objects,
    so the exact and ball backends receive the numbers the caller wrote.
    """
    if isinstance(value, np.ndarray) and value.dtype == object:
        arr = value
        if not _is_rational_object_array(arr):
            raise ValueError(f"{name}: object arrays must hold int or Fraction entries")
    else:
        try:
            arr = np.asarray(value, dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"{name}: expected a real array of shape {_describe(shape)}") from exc
        if not np.all(np.isfinite(arr)):
            raise ValueError(f"{name}: entries must be finite (found NaN or inf)")
    if arr.ndim != len(shape) or any(s is not None and s != a for s, a in zip(shape, arr.shape)):
        raise ValueError(f"{name}: expected shape {_describe(shape)}, got {tuple(arr.shape)}")
    return arr


def gamma(value: Any, name: str = "gamma", allow_one: bool = False) -> float:
    """Validate a discount factor: a finite real in [0, 1) (or [0, 1] when ``allow_one``)."""
    g = float(value)
    upper_ok = g <= 1.0 if allow_one else g < 1.0
    if not (np.isfinite(g) and g >= 0.0 and upper_ok):
        interval = "[0, 1]" if allow_one else "[0, 1)"
        raise ValueError(f"{name}: expected a number in {interval}, got {value!r}")
    return g


def positive_int(name: str, value: Any, minimum: int = 1) -> int:
    """Validate an integer count with a lower bound."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{name}: expected an integer >= {minimum}, got {value!r}")
    return int(value)


def stochastic_matrix(name: str, value: Any, tol: float = 1e-9) -> NDArray[np.float64]:
    """Validate a square row-stochastic matrix (non-negative rows summing to one)."""
    arr = array(name, value, (None, None)).astype(np.float64)
    if arr.shape[0] != arr.shape[1] or arr.shape[0] == 0:
        raise ValueError(f"{name}: expected a non-empty square matrix, got shape {arr.shape}")
    if np.any(arr < 0):
        raise ValueError(f"{name}: entries must be non-negative")
    sums = arr.sum(axis=1)
    if np.any(np.abs(sums - 1.0) > tol):
        raise ValueError(f"{name}: rows must sum to 1 (worst row sums to {sums[np.argmax(np.abs(sums - 1))]:.6g})")
    return arr
