"""A theorem check: how its claims are computed on each backend, sampled, and turned into ClaimResults."""

from __future__ import annotations

import os
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from functools import partial
from typing import Any, ClassVar, Generic, Literal, TypeVar

import numpy as np
from hypothesis.strategies import SearchStrategy

from icrl_verify.arith.absolute_program import AbsoluteProgramBackend, BoundBackend
from icrl_verify.arith.ball import BallBackend
from icrl_verify.arith.base import Backend
from icrl_verify.arith.exact import ExactBackend
from icrl_verify.arith.float64 import Float64Backend
from icrl_verify.arith.kinds import BackendKind, float_kind_name, parse_kind
from icrl_verify.arith.mp import MpmathBackend
from icrl_verify.arith.running_error import RunningErrorBackend
from icrl_verify.arith.torch_backend import TorchBackend, intra_op_threads
from icrl_verify.certify import (
    LADDER_DPS,
    LADDER_SLACK,
    ClaimPair,
    ClaimResult,
    Witness,
    certify_balls,
    certify_ladder,
    exact_equal,
    tracked_verdict,
    witness,
)

I = TypeVar("I")  # one instance (exact backends) or a batch of instances (float backends)

FLOAT64_UNIT_ROUNDOFF = 2.0**-53
FloatBound = Literal["running", "absolute"]
float_kind = float_kind_name  # the name checks/neu.py imports; the lead drops it once neu imports arith.kinds


def tracked_backend(kind: str, device: str = "cpu", bound: FloatBound = "running") -> BoundBackend:
    """Float64 backend with certified rounding bounds, on numpy (``float64``) or torch (``torch``):
    running error analysis (any program, incl. exp and 1/x) or the absolute program (polynomial
    programs, about three times cheaper)."""
    inner: Backend[Any] = Float64Backend() if kind == "float64" else TorchBackend(device=device)
    if bound == "absolute":
        return AbsoluteProgramBackend(inner, FLOAT64_UNIT_ROUNDOFF)
    return RunningErrorBackend(inner, FLOAT64_UNIT_ROUNDOFF)


class Provable(ABC):
    """Anything ``icrl-verify prove`` can run: a theorem whose claims end up as ClaimResults."""

    key: str
    title: str

    @abstractmethod
    def prove(self, kinds: Sequence[str], rng: np.random.Generator, budget: float = 1.0) -> list[ClaimResult]:
        """Check every claim on each backend kind in ``kinds`` that can certify it; ``budget`` scales
        instance counts (1.0 = the default certificate)."""


class TheoremCheck(Provable, Generic[I]):
    """The claims of one theorem as computations.

    ``composed_pairs`` runs the whole stack and the whole reference on one instance (exact, ball and
    mpmath certify the literal claims at every layer). ``step_pairs`` checks the inductive step of
    the theorem at every layer of the float reference trajectory, on a batch, with running error
    bounds (float64 and torch): base case plus step at every layer is the theorem's own proof.
    """

    key: str
    title: str
    claims: tuple[str, ...]
    #: False where the claims involve exp (softmax): exact rationals cannot represent them
    exact_certifiable: bool = True
    #: rounding bound of the float checks: "absolute" for polynomial programs, "running" otherwise
    float_bound: FloatBound = "absolute"

    @abstractmethod
    def sample_exact(self, rng: np.random.Generator) -> I:
        """One instance with small-denominator rational entries."""

    @abstractmethod
    def sample_float(self, rng: np.random.Generator, batch: int) -> I:
        """A batch of float64 instances."""

    @abstractmethod
    def composed_pairs(self, bk: Backend[Any], instance: I) -> Sequence[ClaimPair[Any]]:
        """Both sides of every claim at every layer, from the full forward pass and reference run."""

    @abstractmethod
    def step_pairs(self, bk: BoundBackend, batch: I) -> Sequence[ClaimPair[Any]]:
        """Both sides of every claim after one layer from every state of the reference trajectory."""

    #: instance counts of the default certificate, per backend kind
    counts: ClassVar[dict[str, int]] = {"exact": 100, "ball": 5, "mpmath": 3, "float64": 2000, "torch": 2000}

    def prove(self, kinds: Sequence[str], rng: np.random.Generator, budget: float = 1.0) -> list[ClaimResult]:
        out: list[ClaimResult] = []
        for kind in map(parse_kind, kinds):
            if not self.certifies(kind):
                continue
            count = max(1, round(self.counts.get(kind.name, self.counts["torch"]) * budget))
            if kind.exact_inputs:
                out += self.run(kind, [self.sample_exact(rng) for _ in range(count)])
            else:
                out += self.run(kind, self.sample_float(rng, count))
        return out

    def certifies(self, kind: BackendKind) -> bool:
        """True when ``prove`` and ``verify`` certify the claims on ``kind`` (not exact, when they involve exp)."""
        return kind.name != "exact" or self.exact_certifiable

    def run(self, kind: BackendKind, instances: Any) -> list[ClaimResult]:
        """Every claim on backend ``kind``: ``instances`` is a list of single instances for the exact-input
        kinds (exact, ball, mpmath) and one batch for the float kinds."""
        if kind.float_backend is not None:
            return self.run_float(instances, kind.float_backend, kind.device)
        runs = {"exact": self.run_exact, "ball": self.run_ball, "mpmath": self.run_ladder}
        return runs[kind.name](instances)

    def describe(self, instance: I) -> str:
        """Short description of an instance for a counterexample line."""
        return repr(instance)[:400]

    # -- instances as task data, for Hypothesis and for shrinking a failure ----------------------
    def strategy(self, kind: str, d: int | None = None, depth: int | None = None) -> SearchStrategy[I]:
        """Hypothesis strategy of single instances for backend ``kind`` (exact rationals for exact,
        ball and mpmath; floats for float64 and torch): task data, never prompts, at small sizes, and
        shrinking towards d = n = 1, L = 0 and simple entries. ``d`` and ``depth`` fix those sizes (a
        user's fixed weights have them). Theorem modules draw from it, and a failure found by ``prove``,
        ``check`` or ``verify`` is shrunk over it to a minimal counterexample."""
        raise NotImplementedError(f"{type(self).__name__} has no instance strategy")

    def reductions(self, instance: I, keep_d: bool = False, keep_depth: bool = False) -> Sequence[I]:
        """Smaller instances than ``instance`` (fewer transitions, layers, features), tried greedily after
        Hypothesis has shrunk a counterexample; ``keep_d`` / ``keep_depth`` fix those sizes. None by default."""
        return ()

    def batch_of(self, instance: I) -> I:
        """A single instance as a float64 batch of one (float backends are batched)."""
        raise NotImplementedError(f"{type(self).__name__} cannot batch an instance")

    def single(self, batch: I, k: int) -> I:
        """Entry ``k`` of a batch as a single instance (names a float failure by its instance)."""
        raise NotImplementedError(f"{type(self).__name__} cannot take an entry of a batch")

    def _results(self, backend: str) -> dict[str, ClaimResult]:
        return {c: ClaimResult(self.key, c, backend) for c in self.claims}

    def _pairs_of(self, instance: I, bk: Backend[Any]) -> Sequence[ClaimPair[Any]]:
        return self.composed_pairs(bk, instance)

    def run_exact(self, instances: Sequence[I]) -> list[ClaimResult]:
        """Exact equality of every claim on every instance."""
        res = self._results("exact")
        bk = ExactBackend()
        for inst in instances:
            seen = set()
            for p in self.composed_pairs(bk, inst):
                ok, err = exact_equal(p.lhs, p.rhs)
                wit = partial(_exact_witness, bk, p, "0 (exact equality)")
                _fold(res[p.claim], err, ok, f"layer {p.layer}: sides differ by {err}", inst, self, wit)
                seen.add(p.claim)
            for c in seen:
                res[c].instances += 1
        return list(res.values())

    def run_ball(self, instances: Sequence[I], start_prec: int = 256) -> list[ClaimResult]:
        """Rigorous ball containment of every claim (precision doubled while inconclusive)."""
        res: dict[str, ClaimResult] = {}
        for inst in instances:
            judged, prec = certify_balls(partial(self._pairs_of, inst), start_prec)
            seen = set()
            bk = BallBackend(prec)
            for pair, verdict, radius in judged:
                r = res.setdefault(pair.claim, ClaimResult(self.key, pair.claim, "ball"))
                size = "|lhs - rhs| >=" if verdict == "fail" else "radius"
                msg = f"layer {pair.layer}: {verdict} at {prec} bits ({size} {radius:.3g})"
                allowed = f"a ball containing 0, radius <= 2^-{prec // 2}·max(1, |mid|)"
                wit = partial(_exact_witness, bk, pair, allowed)
                _fold(r, radius, verdict == "pass", msg, inst, self, wit)
                seen.add(pair.claim)
            for c in seen:
                res[c].instances += 1
        return list(res.values())

    def run_ladder(self, instances: Sequence[I]) -> list[ClaimResult]:
        """mpmath precision ladder: the error must fall like 10^(−dps)."""
        res = self._results("mpmath")
        for inst in instances:
            seen = set()
            for pair, ok, logs in certify_ladder(partial(self._pairs_of, inst)):
                top = 10.0 ** logs[-1] if np.isfinite(logs[-1]) else 0.0
                rungs = ", ".join(f"{x:.1f}" for x in logs)
                msg = f"layer {pair.layer}: log10 relative errors ({rungs}) do not fall like 10^-dps"
                allowed = f"relative error <= 10^-(dps-{LADDER_SLACK}) at dps {', '.join(map(str, LADDER_DPS))}"
                wit = partial(_exact_witness, MpmathBackend(LADDER_DPS[0]), pair, allowed)
                _fold(res[pair.claim], top, ok, msg, inst, self, wit)
                seen.add(pair.claim)
            for c in seen:
                res[c].instances += 1
        return list(res.values())

    def run_on(self, kind: str, instance: I) -> list[ClaimResult]:
        """Every claim of one single instance on backend ``kind`` (float kinds run it as a batch of one)."""
        backend = parse_kind(kind)
        return self.run(backend, [instance] if backend.exact_inputs else self.batch_of(instance))

    def _entry(self, batch: I, k: int) -> I | None:
        """Batch entry k as a single instance, or None when this check cannot take one."""
        try:
            return self.single(batch, k)
        except NotImplementedError:
            return None

    def chunks(self, batch: I, size: int) -> list[I]:
        """Split a batch into pieces of at most ``size`` instances (default: no split)."""
        return [batch]

    def run_float(
        self, batch: I, kind: str = "float64", device: str = "cpu", chunk: int = 128, workers: int | None = None
    ) -> list[ClaimResult]:
        """Inductive step at every layer within running error bounds, batched (numpy or torch).

        The batch is cut into chunks of ``chunk`` instances (cache-sized arrays) spread over ``workers``
        threads (default: one per core); numpy and torch release the GIL in their kernels.
        """
        pieces = self.chunks(batch, chunk)
        with intra_op_threads(1), ThreadPoolExecutor(max_workers=workers or os.cpu_count() or 1) as pool:
            parts = list(pool.map(lambda piece: self._run_float_piece(piece, kind, device), pieces))
        return merge_results(parts)

    def _run_float_piece(self, batch: I, kind: str, device: str) -> list[ClaimResult]:
        bk = tracked_backend(kind, device, self.float_bound)
        res = self._results(float_kind_name(kind, device))
        count = 0
        for pair in self.step_pairs(bk, batch):
            ok, diff, ratio = tracked_verdict(bk, pair.lhs, pair.rhs)
            ok_np = np.asarray(bk.inner.to_numpy(ok)).reshape(-1).astype(bool)
            diff_np = np.asarray(bk.inner.to_numpy(diff)).reshape(-1)
            ratio_np = np.asarray(bk.inner.to_numpy(ratio)).reshape(-1)
            count = ok_np.size
            bad = np.flatnonzero(~ok_np)
            msg, inst, wit = "", None, None
            if bad.size and res[pair.claim].passed:
                k = int(bad[0])
                msg = (
                    f"layer {pair.layer}: overflow: a value or its rounding bound is not "
                    f"finite (|lhs − rhs| = {diff_np[k]:.3g})"
                    if not np.isfinite(ratio_np[k])
                    else f"layer {pair.layer}: |lhs − rhs| = {diff_np[k]:.3g} exceeds "
                    f"the certified rounding bound ({ratio_np[k]:.3g}× the bound)"
                )
                inst = self._entry(batch, k)
                wit = partial(_float_witness, bk, pair, k)
                if inst is None:
                    msg += f" at batch entry {k}"
            _fold(res[pair.claim], float(np.max(diff_np)), bad.size == 0, msg, inst, self, wit)
        for r in res.values():
            r.instances = count
        return list(res.values())


Figure = tuple[str, float, str]
"""A benchmark figure: (label, value, unit)."""


def certification_figures(
    check: TheoremCheck[Any],
    batch: Any,
    tasks: int,
    label: str,
    exact_instances: Sequence[Any] = (),
    exact_label: str = "",
) -> list[Figure]:
    """Time the batched float64 and torch certification of ``batch`` (``tasks`` instances) and, if given,
    exact certificates per second; raise if any claim fails (a benchmark of a failing check is meaningless)."""
    figures: list[Figure] = []
    runs: list[tuple[str, Callable[[], list[ClaimResult]]]] = [
        (kind, partial(check.run_float, batch, kind)) for kind in ("float64", "torch")
    ]
    if exact_instances:
        runs.append(("exact", partial(check.run_exact, exact_instances)))
    for kind, run in runs:
        start = time.perf_counter()
        results = run()
        seconds = time.perf_counter() - start
        failed = [r.detail for r in results if not r.passed]
        if failed:
            raise RuntimeError(f"{check.key} failed on {kind} during the benchmark: {failed}")
        if kind == "exact":
            figures.append((f"exact: certificates per second ({exact_label})", len(exact_instances) / seconds, "1/s"))
        else:
            figures += [
                (f"{kind}: certify {label}, {tasks} tasks", seconds, "s"),
                (f"{kind}: certified tasks per second", tasks / seconds, "tasks/s"),
            ]
    return figures


def merge_results(parts: Sequence[Sequence[ClaimResult]]) -> list[ClaimResult]:
    """Combine per-chunk results of the same claims: instances add up, worst errors take the max."""
    merged: dict[tuple[str, str], ClaimResult] = {}
    for part in parts:
        for r in part:
            key = (r.claim, r.backend)
            if key not in merged:
                merged[key] = ClaimResult(r.theorem, r.claim, r.backend)
            m = merged[key]
            m.instances += r.instances
            first_failure = m.passed and not r.passed
            m.record(r.worst_error, r.passed, r.detail)
            if first_failure:
                m.counterexample, m.witness, m.instance = r.counterexample, r.witness, r.instance
    return list(merged.values())


def _fold(
    result: ClaimResult,
    err: float | None,
    ok: bool,
    msg: str,
    inst: Any,
    check: TheoremCheck[Any],
    wit: Callable[[], Witness] | None = None,
) -> None:
    first_failure = result.passed and not ok
    result.record(err, ok, msg)
    if first_failure:
        if inst is not None:
            result.counterexample, result.instance = check.describe(inst), inst
        if wit is not None:
            result.witness = wit()


def _exact_witness(bk: Backend[Any], pair: ClaimPair[Any], allowed: str) -> Witness:
    """The failing entry of an exact, ball or mpmath comparison (largest |difference|)."""
    diff = bk.sub(pair.lhs, pair.rhs)
    return witness(pair.layer, pair.lhs, pair.rhs, diff, allowed, np.abs(bk.to_numpy(diff)))


def _float_witness(bk: BoundBackend, pair: ClaimPair[Any], k: int) -> Witness:
    """The failing entry of batch entry ``k`` of a float comparison: the entry furthest beyond its bound."""
    to_np = bk.inner.to_numpy
    bounds = [np.asarray(to_np(bk.certified_bound(t))) for t in (pair.lhs, pair.rhs) if t.bound is not None]
    lhs, rhs, *rest = np.broadcast_arrays(np.asarray(to_np(pair.lhs.value)), np.asarray(to_np(pair.rhs.value)), *bounds)
    lhs, rhs = lhs.reshape(-1, *lhs.shape[-2:])[k], rhs.reshape(-1, *rhs.shape[-2:])[k]
    bound = sum((b.reshape(-1, *b.shape[-2:])[k] for b in rest), np.zeros_like(lhs))
    diff = np.abs(lhs - rhs)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        beyond = np.where(np.isfinite(bound), diff / np.maximum(bound, 1e-320), np.inf)
    wit = witness(pair.layer, lhs, rhs, diff, bound, beyond)
    return replace(wit, allowed=f"{wit.allowed} (certified rounding bound)")
