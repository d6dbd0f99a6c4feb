"""Input validation shared by the public API: every failure is a ValueError naming the argument."""

from __future__ import annotations

import math
import os
from collections import Counter
from collections.abc import Sequence
from fractions import Fraction
from numbers import Real
from typing import Any

import numpy as np
from numpy.typing import NDArray

Shape = Sequence[int | None]

_REAL_KINDS = "iuf"  # numpy dtype kinds accepted as real numbers: signed, unsigned, floating


def _describe(shape: Shape) -> str:
    parts = ["*" if s is None else str(s) for s in shape]
    return "(" + ", ".join(parts) + ("," if len(parts) == 1 else "") + ")"


def _is_exact_entry(v: Any) -> bool:
    return isinstance(v, (int, np.integer, Fraction)) and not isinstance(v, (bool, np.bool_))


def _is_real_entry(v: Any) -> bool:
    return isinstance(v, (Real, np.integer, np.floating)) and not isinstance(v, (bool, np.bool_))


def _dtype_problem(arr: NDArray[Any]) -> str:
    if arr.dtype.kind == "c":
        return f"complex dtype {arr.dtype} (the imaginary part would be lost)"
    if arr.dtype.kind == "b":
        return "boolean dtype"
    if arr.dtype.kind in "US":
        return "strings"
    return f"dtype {arr.dtype}"


def array(name: str, value: Any, shape: Shape) -> NDArray[Any]:
    """Return ``value`` as an array of the given shape (``None`` = any size), finite real entries only.

    Integer and float input becomes float64; a numpy array of ``int``/``Fraction`` objects is kept as
    exact objects, so the exact and ball backends receive the numbers the caller wrote. Complex,
    boolean, string and other object entries are refused (never silently converted).
    """
    if isinstance(value, np.ndarray) and value.dtype == object:
        if not all(_is_exact_entry(v) for v in value.flat):
            bad = next(v for v in value.flat if not _is_exact_entry(v))
            raise ValueError(
                f"{name}: object arrays must hold int or Fraction entries, found {type(bad).__name__} {bad!r}"
            )
        arr = value
    else:
        try:
            raw = np.asarray(value)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"{name}: expected a real array of shape {_describe(shape)}") from exc
        if raw.dtype == object:
            bad_entries = [v for v in raw.flat if not _is_real_entry(v)]
            if bad_entries:
                raise ValueError(
                    f"{name}: expected real numbers, found {type(bad_entries[0]).__name__} {bad_entries[0]!r}"
                )
        elif raw.dtype.kind not in _REAL_KINDS:
            raise ValueError(f"{name}: expected real numbers, got {_dtype_problem(raw)}")
        arr = np.asarray(raw, dtype=np.float64)
        if not np.all(np.isfinite(arr)):
            raise ValueError(f"{name}: entries must be finite (found NaN or inf)")
    if arr.ndim != len(shape) or any(s is not None and s != a for s, a in zip(shape, arr.shape)):
        raise ValueError(f"{name}: expected shape {_describe(shape)}, got {tuple(arr.shape)}")
    return arr


def real(name: str, value: Any) -> float | Fraction:
    """Validate a real scalar: an int, float or Fraction (numpy scalars too), finite; not a bool, a string
    or an array. A Fraction is returned as it is, anything else as a float."""
    if not _is_real_entry(value):
        raise ValueError(f"{name}: expected a real number, got {type(value).__name__} {value!r}")
    if isinstance(value, Fraction):
        return value
    g = float(value)
    if not math.isfinite(g):
        raise ValueError(f"{name}: expected a finite number, got {value!r}")
    return g


def gamma(value: Any, name: str = "gamma", allow_one: bool = False) -> float:
    """Validate a discount factor: a finite real in [0, 1) (or [0, 1] when ``allow_one``), as a float."""
    return float(gamma_exact(value, name, allow_one))


def gamma_exact(value: Any, name: str = "gamma", allow_one: bool = False) -> float | Fraction:
    """:func:`gamma`, but a Fraction discount is returned as it is (exact)."""
    g = real(name, value)
    upper_ok = g <= 1 if allow_one else g < 1
    if not (g >= 0 and upper_ok):
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


# --- the sizes of a context ----------------------------------------------------------------------


def _shape_of(value: Any) -> tuple[int, ...]:
    try:
        return tuple(np.shape(value))
    except ValueError:  # a ragged nested list: report the shape numpy can see
        return tuple(np.shape(np.asarray(value, dtype=object)))


def _vote(candidates: Sequence[int | None], fallback: int) -> int:
    """The size most arguments agree on (the first candidate wins a tie), so the odd one out is blamed."""
    known = [c for c in candidates if c is not None]
    if not known:
        return fallback
    counts = Counter(known)
    best = max(counts.values())
    return next(c for c in known if counts[c] == best)


def matrix_shape(name: str, value: Any, batch: tuple[int, ...], rows: int, cols: int, labels: str) -> None:
    """Check that ``value`` is (*batch, rows, cols); ``labels`` names the axes, e.g. "(n, d)". A value
    of shape (*batch, cols, rows) is reported as transposed."""
    shape = _shape_of(value)
    want = (*batch, rows, cols)
    if shape == want:
        return
    hint = ": transposed?" if rows != cols and shape == (*batch, cols, rows) else ""
    raise ValueError(f"{name}: expected shape {labels} = {want}, got {shape}{hint}")


def context_sizes(
    features: Any, next_features: Any, rewards: Any, query: Any = None
) -> tuple[tuple[int, ...], int, int]:
    """(batch, n, d) of a context: features and next_features (*B, n, d), rewards (*B, n), query (*B, d).

    The batch axes and n come first from ``rewards`` (1-D per entry, so it cannot be transposed); a
    features matrix of shape (d, n) is reported as transposed; otherwise n and d are the sizes most
    arguments agree on, so the one argument that disagrees is named. Raises when n = 0 or d = 0.
    """
    r_shape = _shape_of(rewards)
    if len(r_shape) not in (1, 2):
        raise ValueError(f"rewards: expected shape (n,) or (B, n), got {r_shape}")
    batch, r_len = r_shape[:-1], r_shape[-1]
    labels = "(B, n, d)" if batch else "(n, d)"
    shapes = {"features": _shape_of(features), "next_features": _shape_of(next_features)}
    mats = [s[-2:] if len(s) == len(batch) + 2 and s[:-2] == batch else None for s in shapes.values()]
    q_shape = _shape_of(query) if query is not None else None
    q_d = q_shape[-1] if q_shape is not None and len(q_shape) == len(batch) + 1 else None
    for name, m, other in zip(shapes, mats, reversed(mats)):
        # (d, n) is transposed when the query (or, without one, the other matrix) confirms d = m[0]
        confirmed = m is not None and ((q_d == m[0]) if q_d is not None else (other == (r_len, m[0])))
        if confirmed and m is not None and m[1] == r_len != m[0]:
            want = (*batch, r_len, m[0])
            raise ValueError(f"{name}: expected shape {labels} = {want}, got {shapes[name]}: transposed?")
    n = _vote([m[0] if m else None for m in mats] + [r_len], r_len)
    d = _vote([m[1] if m else None for m in mats] + [q_d], 0)
    if n == 0:
        raise ValueError("features: the context must hold at least one transition (n >= 1), got n = 0")
    if d == 0:
        raise ValueError(f"features: expected at least one feature per state (d >= 1), got shape {shapes['features']}")
    for name, value in (("features", features), ("next_features", next_features)):
        matrix_shape(name, value, batch, n, d, labels)
    return batch, n, d


# --- memory ------------------------------------------------------------------------------------


def physical_memory() -> int | None:
    """Bytes of physical memory of this machine (None where the platform does not report it)."""
    try:
        return int(os.sysconf("SC_PHYS_PAGES")) * int(os.sysconf("SC_PAGE_SIZE"))
    except (AttributeError, ValueError, OSError):
        return None


def _gib(nbytes: float) -> str:
    return f"{nbytes / 2**30:.3g} GiB"


def square_fits(name: str, what: str, n: int, arrays: int = 1, entry_bytes: int = 8) -> None:
    """Refuse, before allocating, ``arrays`` dense (n+1)×(n+1) arrays of at least ``entry_bytes`` bytes
    per entry (for ``what``) that would not fit in this machine's physical memory. The error names the
    argument, n and the estimate."""
    needed = arrays * (n + 1) ** 2 * entry_bytes
    total = physical_memory()
    if total is not None and needed > total:
        raise ValueError(
            f"{name}: {what} at n = {n} needs {arrays} dense (n+1)x(n+1) array(s), at least {_gib(needed)}, "
            f"more than the {_gib(total)} of memory of this machine; use a shorter context"
        )
