"""Check anyone's construction: user weights or prompt builders against the independent references."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from icrl_verify import _validate, catalogue
from icrl_verify.arith.kinds import KINDS, parse_kind
from icrl_verify.attention import Head, LinearAttentionWeights, standard_mask, td_lambda_mask
from icrl_verify.certify import Certificate
from icrl_verify.checks.base import TheoremCheck
from icrl_verify.cot import CoTLayout, CoTWeights
from icrl_verify.shrink import shrink_failures

VERIFY_BACKENDS = ("exact", "ball", "mpmath", "float64", "torch")
"""Backends ``verify`` and ``icrl-verify check`` run by default."""
DEFAULT_EXAMPLES = {"exact": 50, "ball": 3, "mpmath": 2, "float64": 500, "torch": 500, "torch-cuda": 500}
"""Instances per backend of a ``verify`` call with ``examples=None``."""

Layers = Any
"""User weights: a sequence of (P, Q) pairs, a mapping with stacked ``P`` and ``Q`` (L, D, D) and
optionally ``C`` (L, d, d), or a torch module whose ``state_dict`` holds them (see :func:`weight_arrays`)."""


def _array(name: str, value: Any) -> NDArray[Any]:
    if hasattr(value, "detach"):  # a torch tensor
        value = value.detach().cpu().double().numpy()
    arr = np.asarray(value) if isinstance(value, np.ndarray) else np.asarray(value, dtype=np.float64)
    return _validate.array(name, arr, (None,) * arr.ndim)


def _pair(l: int, layer: Any) -> Any:
    """(P, Q) of a single-head layer object (``LinearAttentionWeights``, ``CoTWeights``); pairs pass through."""
    if not (hasattr(layer, "P") and hasattr(layer, "Q")):
        return layer
    heads = getattr(layer, "heads", (layer,))
    if len(heads) != 1 or getattr(layer, "out", None) is not None:
        raise ValueError(f"layers[{l}]: expected a single-head layer without output projection, got {len(heads)} heads")
    return (layer.P, layer.Q)


def weight_arrays(layers: Layers) -> dict[str, NDArray[Any]]:
    """Stacked ``P`` (L, D, D), ``Q`` (L, D, D) and, when given, ``C`` (L, d, d) from any accepted form:

    - a sequence of (P, Q) pairs or single-head layers (``LinearAttentionWeights``, ``CoTWeights``);
    - a mapping (an ``np.load``-ed npz, a dict, a ``torch.load``-ed state dict) with ``P`` and ``Q`` stacked
      over layers, or per-layer keys ``<prefix>.<l>.P`` / ``<prefix>.<l>.Q``; an optional ``C``;
    - a ``torch.nn.Module``, read through its ``state_dict()`` as a mapping.
    """
    if hasattr(layers, "state_dict") and callable(layers.state_dict):
        layers = layers.state_dict()
    if isinstance(layers, Mapping) or hasattr(layers, "files"):
        keys = list(layers.files if hasattr(layers, "files") else layers.keys())
        out: dict[str, NDArray[Any]] = {}
        for name in ("P", "Q"):
            if name in keys:
                out[name] = _array(name, layers[name])
                continue
            per_layer = sorted(
                (int(m.group(1)), k) for k in keys if (m := re.fullmatch(rf"(?:.*\.)?(\d+)\.{name}", str(k)))
            )
            if not per_layer:
                raise ValueError(f"layers: no {name!r} array and no per-layer '<l>.{name}' keys among {keys}")
            out[name] = np.stack([_array(f"{k}", layers[k]) for _, k in per_layer])
        if "C" in keys:
            out["C"] = _array("C", layers["C"])
        return out
    if isinstance(layers, Sequence) and not isinstance(layers, (str, bytes)):
        pairs = [_pair(l, layer) for l, layer in enumerate(layers)]
        if not pairs or any(not isinstance(p, Sequence) or len(p) != 2 for p in pairs):
            raise ValueError("layers: expected a non-empty sequence of (P, Q) pairs, one per layer")
        return {
            "P": np.stack([_array(f"layers[{l}].P", P) for l, (P, _) in enumerate(pairs)]),
            "Q": np.stack([_array(f"layers[{l}].Q", Q) for l, (_, Q) in enumerate(pairs)]),
        }
    raise ValueError(f"layers: expected (P, Q) pairs, a mapping or a torch module, got {type(layers).__name__}")


def load_weights(path: Path) -> dict[str, NDArray[Any]]:
    """Weights from an ``.npz`` (``np.savez``) or ``.pt`` (``torch.save`` of a dict or state dict) file."""
    if not path.is_file():
        raise ValueError(f"weights: no such file {str(path)!r}")
    if path.suffix == ".npz":
        with np.load(path, allow_pickle=False) as data:
            return weight_arrays(data)
    if path.suffix in (".pt", ".pth"):
        import torch

        return weight_arrays(torch.load(path, map_location="cpu", weights_only=True))
    raise ValueError(f"weights: expected an .npz or .pt file, got {str(path)!r}")


def save_weights(path: Path | str, layers: Sequence[Any], preconditioners: Sequence[Any] | None = None) -> Path:
    """Write single-head layers (``LinearAttentionWeights``, ``CoTWeights`` or (P, Q) pairs) to an ``.npz``
    in the format :func:`load_weights` reads: ``P`` and ``Q`` stacked (L, D, D), and ``C`` (L, d, d) if given."""
    arrays = weight_arrays(layers)
    if preconditioners is not None:
        arrays["C"] = np.stack([_array(f"preconditioners[{l}]", C) for l, C in enumerate(preconditioners)])
    target = Path(path)
    if target.suffix != ".npz":
        raise ValueError(f"path: expected a file name ending in .npz, got {str(path)!r}")
    with target.open("wb") as handle:
        np.savez(handle, **{k: np.asarray(v, dtype=np.float64) for k, v in arrays.items()})  # type: ignore[arg-type]
    return target


@dataclass(frozen=True)
class FixedWeights:
    """A user's per-layer weights turned into the construction a theorem's check runs, and the sizes
    and preconditioners its instances must have."""

    d: int
    depth: int
    construction: Callable[..., Any]
    preconditioners: NDArray[Any]  # (L, d, d): the C_l the weights are claimed to implement


def _stack_shapes(w: dict[str, NDArray[Any]], rows_of: Callable[[int], int], what: str) -> tuple[int, int]:
    P, Q = w["P"], w["Q"]
    if P.ndim != 3 or P.shape != Q.shape or P.shape[1] != P.shape[2]:
        raise ValueError(f"layers: expected P and Q of one shape (L, D, D), got {P.shape} and {Q.shape}")
    D = P.shape[1]
    d = next((d for d in range(1, D + 1) if rows_of(d) == D), 0)
    if not d:
        raise ValueError(f"layers: {what} needs D = {rows_of(1)}, {rows_of(2)}, … rows, got D = {D}")
    return d, int(P.shape[0])


def _preconditioners_of(w: dict[str, NDArray[Any]], read: Callable[[NDArray[Any]], NDArray[Any]], d: int) -> Any:
    if "C" in w:
        C = w["C"]
        if C.shape != (w["P"].shape[0], d, d):
            raise ValueError(f"C: expected shape {(w['P'].shape[0], d, d)} (one d×d per layer), got {C.shape}")
        return C
    return np.stack([read(Q) for Q in w["Q"]])


def linear_td_weights(w: dict[str, NDArray[Any]], lam: Fraction | None = None) -> FixedWeights:
    """T1, T1a (``lam``) and T1b: one single-head layer (P_l, Q_l) per layer on the (2d+1)-row prompt.
    C_l is ``w['C']`` when given, else read where θ* keeps it: C_l = −Q_l[0:d, 0:d]ᵀ."""
    d, depth = _stack_shapes(w, lambda d: 2 * d + 1, "the discounted prompt")
    P, Q = w["P"], w["Q"]

    def construction(d_: int, preconditioners: Sequence[Any], n: int) -> list[LinearAttentionWeights]:
        mask = standard_mask(n) if lam is None else td_lambda_mask(n, lam)
        return [LinearAttentionWeights((Head(P[l], Q[l], mask),)) for l in range(depth)]

    Cs = _preconditioners_of(w, lambda Q_: -Q_[:d, :d].T, d)
    return FixedWeights(d, depth, construction, Cs)


def cot_weights(w: dict[str, NDArray[Any]]) -> FixedWeights:
    """T3: the one layer (P, Q) every thought reuses, on (3d+2)-row tokens. C is ``w['C']`` when
    given (shape (1, d, d)), else read where θ*_CoT keeps it: P[w-block, φ-block]."""
    d, depth = _stack_shapes(w, lambda d: 3 * d + 2, "chain-of-thought tokens")
    if depth != 1:
        raise ValueError(f"layers: T3 reuses one layer for every thought, got {depth} layers")
    layout = CoTLayout(d)
    weights = CoTWeights(w["P"][0], w["Q"][0])

    def construction(d_: int, C: Any) -> CoTWeights:
        return weights

    Cs = _preconditioners_of(w, lambda _: w["P"][0][layout.weights, layout.features], d)
    return FixedWeights(d, 1, construction, Cs)


def _check_for(theorem: str, **kwargs: Any) -> TheoremCheck[Any]:
    entry = catalogue.theorem(theorem)
    if not entry.user_construction:
        takes = ", ".join(t.key for t in catalogue.CATALOGUE if t.user_construction)
        raise ValueError(
            f"theorem: {theorem} is a limit or statistical claim with no construction to swap; "
            f"verify and check take {takes}"
        )
    factory = entry.factory()
    check = factory(**kwargs) if kwargs else factory()
    if not isinstance(check, TheoremCheck):
        raise TypeError(f"catalogue: {theorem} is marked user_construction but {entry.check} is no TheoremCheck")
    return check


def verify(
    theorem: str,
    *,
    layers: Layers = None,
    construction: Callable[..., Any] | None = None,
    prompt: Callable[..., Any] | None = None,
    backends: Sequence[str] = VERIFY_BACKENDS,
    examples: int | None = None,
    seed: int = 0,
    shrink: bool = True,
    lam: float | Fraction = Fraction(1, 2),
) -> Certificate:
    """Run the claims of ``theorem`` on a user's construction and/or prompt builder, against references
    computed from the task data, on each of ``backends``; return the certificate.

    ``layers``: fixed per-layer weights (see :func:`weight_arrays`; T1, T1a, T1b and T3), checked on
    instances with their d and L and the preconditioners they carry. ``construction``: a function with
    the signature of the shipped one (``constructions.td0`` …). ``prompt``: a builder with the signature
    of the shipped one (``prompts.td_prompt`` …). ``examples``: instances per backend (default
    :data:`DEFAULT_EXAMPLES`). ``lam``: λ of T1a. A failed claim carries a minimal counterexample
    (``shrink=False`` keeps the failing instance as found).

    Is equivalent to ``icrl-verify check --theorem T --weights FILE`` for weights in a file.
    """
    catalogue.theorem(theorem)  # a ValueError naming the keys for an unknown theorem
    if not backends or any(k not in KINDS for k in backends):
        raise ValueError(f"backends: expected some of {', '.join(KINDS)}, got {list(backends)}")
    kinds = [parse_kind(k) for k in backends]
    if examples is not None:
        examples = _validate.positive_int("examples", examples)
    seed = _validate.positive_int("seed", seed, minimum=0)
    kwargs: dict[str, Any] = {"lam": lam} if theorem == "T1a" else {}
    fixed: FixedWeights | None = None
    if layers is not None:
        if construction is not None:
            raise ValueError("layers, construction: give fixed weights or a construction function, not both")
        if theorem not in WEIGHT_ADAPTERS:
            raise ValueError(
                f"layers: fixed weights are read for {', '.join(WEIGHT_ADAPTERS)}; for {theorem} pass construction="
            )
        fixed = WEIGHT_ADAPTERS[theorem](weight_arrays(layers), kwargs.get("lam"))
        kwargs.update(construction=fixed.construction, **_sizes(theorem, fixed))
    elif construction is not None:
        kwargs["construction"] = construction
    if prompt is not None:
        kwargs["prompt"] = prompt
    check = _check_for(theorem, **kwargs)

    def fix(instance: Any) -> Any:
        return instance if fixed is None else with_preconditioners(instance, fixed.preconditioners)

    rng = np.random.default_rng(seed)
    certificate = Certificate()
    for kind in kinds:
        count = examples or DEFAULT_EXAMPLES[kind.name]
        if not check.certifies(kind):
            continue
        if kind.exact_inputs:
            results = check.run(kind, [fix(check.sample_exact(rng)) for _ in range(count)])
        else:
            results = check.run(kind, fix(check.sample_float(rng, count)))
        if shrink:
            results = shrink_failures(
                check, results, lambda k: _strategy(check, k, fixed).map(fix), keep_d=fixed is not None,
                keep_depth=fixed is not None and theorem != "T3",
            )  # fmt: skip
        certificate.extend(results)
    return certificate


def _sizes(theorem: str, fixed: FixedWeights) -> dict[str, int]:
    """Instance sizes a check must draw for fixed weights: their d, and their L where L is fixed."""
    if theorem == "T3":
        return {"d": fixed.d}
    return {"d": fixed.d, "depth": fixed.depth, "float_depth": fixed.depth}


def _strategy(check: TheoremCheck[Any], kind: str, fixed: FixedWeights | None) -> Any:
    if fixed is None:
        return check.strategy(kind)
    return check.strategy(kind, d=fixed.d, depth=fixed.depth)


def with_preconditioners(instance: Any, preconditioners: NDArray[Any]) -> Any:
    """``instance`` (single or batched) with its preconditioners replaced by ``preconditioners`` (L, d, d)."""
    batch = instance.features.shape[:-2]
    if hasattr(instance, "preconditioners"):
        Cs = tuple(np.broadcast_to(C, (*batch, *C.shape)).copy() for C in preconditioners)
        return replace(instance, preconditioners=Cs)
    return replace(instance, C=np.broadcast_to(preconditioners[0], (*batch, *preconditioners.shape[1:])).copy())


WEIGHT_ADAPTERS: dict[str, Callable[[dict[str, NDArray[Any]], Any], FixedWeights]] = {
    "T1": lambda w, lam: linear_td_weights(w),
    "T1a": lambda w, lam: linear_td_weights(w, lam),
    "T1b": lambda w, lam: linear_td_weights(w),
    "T3": lambda w, lam: cot_weights(w),
}
"""Theorems whose construction is one (P, Q) per layer, and how a user's weights become their construction."""
