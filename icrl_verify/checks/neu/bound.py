"""T2 claim 1: |TF_L(s) − v(s)| ≤ γ^L ‖v‖∞, in exact rationals and in float64 with a derived error bound."""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction

import numpy as np
from flint import fmpq, fmpq_mat

from icrl_verify import mrp
from icrl_verify.arith.exact import ExactBackend, to_fmpq
from icrl_verify.arith.float64 import Float64Backend
from icrl_verify.arith.running_error import RunningErrorBackend
from icrl_verify.attention import linear_attention, run_transformer
from icrl_verify.certify import ClaimResult, tracked_verdict
from icrl_verify.checks.base import FLOAT64_UNIT_ROUNDOFF
from icrl_verify.checks.neu.tasks import (
    CLAIM_BOUND,
    KEY,
    Construction,
    FloatArray,
    PromptBuilder,
    RationalTask,
    enumerated_layout,
    expected_blocks,
)
from icrl_verify.prompts import expected_feature_prompts

# --- claim 1: |TF_L − v| ≤ γ^L ‖v‖∞ ----------------------------------------------------------------


def check_bound_exact(
    construction: Construction,
    tasks: Sequence[RationalTask],
    depth: int,
    prompt: PromptBuilder = expected_feature_prompts,
) -> ClaimResult:
    """Claim 1 in exact rationals at every l = 0..depth: v solved over ℚ, TF from the generic layer on
    the prompt ``prompt`` (the builder under test) makes from the task, which must first equal the
    documented layout built from the task data; the inequality decided exactly. worst_error = max over
    l ≥ 1 of |TF − v| / (γ^l ‖v‖∞) (at l = 0 the bound is attained: TF_0 = 0)."""
    res = ClaimResult(KEY, CLAIM_BOUND, "exact")
    bk = ExactBackend()
    for k, task in enumerate(tasks):
        S = task.num_states
        eye = np.array([[Fraction(int(i == j)) for j in range(S)] for i in range(S)], dtype=object)
        prompts = np.asarray(prompt(task.P, task.r, eye, task.gamma))
        F, G, r_row = expected_blocks(bk, task.P, task.r, eye, task.gamma)
        v = task.value()
        v_inf = max(abs(x) for x in v)
        layers = construction(S, depth)
        for s in range(S):
            Z0 = bk.asmatrix(prompts[s])
            layout = enumerated_layout(bk, F, G, r_row, bk.block(F, slice(None), slice(s, s + 1)))
            if layout != Z0:
                res.record(float("inf"), False, f"task {k}, state {s}: the prompt is not the documented layout")
                continue
            for l, Z in enumerate(run_transformer(bk, Z0, layers)):
                entry = Z[2 * S, S]
                err = abs(-Fraction(int(entry.p), int(entry.q)) - v[s])
                bound = task.gamma**l * v_inf
                ratio = float(err / bound) if bound else (0.0 if err == 0 else float("inf"))
                msg = f"task {k}, state {s}, L = {l}: |TF - v| = {float(err):.3g} > {float(bound):.3g}"
                res.record(ratio if l else None, err <= bound, msg)
        res.instances += 1
    return res


def _fmpq(x: float) -> fmpq:
    return to_fmpq(float(x))


def _discounted_transitions(Z0: FloatArray) -> fmpq_mat:
    """G̃ = fl(γP) (S×S) as a tabular float prompt stores it, exactly (read only after the prompt is
    certified to be the documented layout of the task data)."""
    S = Z0.shape[-1] - 1
    return fmpq_mat(S, S, [_fmpq(Z0[S + j, i]) for i in range(S) for j in range(S)])


def float_layout_verdict(prompts: FloatArray, task: mrp.FiniteMRP) -> tuple[bool, float]:
    """Whether float prompts (S, 2d+1, S+1) are the documented enumerated layout of ``task`` within
    the certified rounding bound of computing that layout from the task data (running error
    analysis): (every prompt passes, the largest |prompt − layout| / bound)."""
    bk = RunningErrorBackend(Float64Backend(), FLOAT64_UNIT_ROUNDOFF)
    F, G, r_row = expected_blocks(bk, task.P, task.r, task.features, task.gamma)
    layouts = enumerated_layout(bk, F, G, r_row, bk.asmatrix(task.features[:, :, None]))
    ok, _, ratio = tracked_verdict(bk, bk.asmatrix(prompts), layouts)
    return bool(np.all(ok)), float(np.max(ratio))


def check_bound_float(
    construction: Construction,
    tasks: Sequence[mrp.FiniteMRP],
    depth: int,
    prompt: PromptBuilder = expected_feature_prompts,
) -> ClaimResult:
    """Claim 1 in float64 at every l = 0..depth, on the prompt ``prompt`` (the builder under test)
    makes from the task: first the prompt must be the documented layout of the task data within the
    rounding bound of fl(γ·PΦ) (:func:`float_layout_verdict`); then the transformer is compared with
    the task that prompt encodes exactly (G̃ = fl(γP) as stored, rewards from the task data, its
    value ṽ = (I − G̃)^{-1} r over ℚ, γ̃ = ‖G̃‖∞):

        |TF̂_l(s) − ṽ(s)| ≤ γ̃^l ‖ṽ‖∞ + F_l(s),

    F_l the float error bound of docs/theorems/neu.md: each layer's local error is certified by the
    running-error backend from the computed state, and propagated through the exact layer map of θ*
    (context y ↦ G̃y, query q ↦ q − y_s) in exact rationals. worst_error = max over l ≥ 1 of
    |TF̂ − ṽ| / (γ̃^l ‖ṽ‖∞ + F_l).
    """
    res = ClaimResult(KEY, CLAIM_BOUND, "float64")
    bk = RunningErrorBackend(Float64Backend(), FLOAT64_UNIT_ROUNDOFF)
    for k, task in enumerate(tasks):
        S = task.num_states
        layers = construction(S, depth)
        Z = np.asarray(prompt(task.P, task.r, task.features, task.gamma), dtype=np.float64)
        laid_out, ratio = float_layout_verdict(Z, task)
        if not laid_out:
            msg = f"task {k}: the prompt is not the documented layout ({ratio:.3g}x the bound)"
            res.record(float("inf"), False, msg)
            continue
        fixed = Z[:, : 2 * S, :].copy()
        G, r = _discounted_transitions(Z[0]), fmpq_mat(S, 1, [_fmpq(x) for x in task.r])
        gamma_t = max(sum((G[i, j] for j in range(S)), fmpq(0)) for i in range(S))
        v_mat = (fmpq_mat(S, S, [int(i == j) for i in range(S) for j in range(S)]) - G).solve(r)
        v = [v_mat[i, 0] for i in range(S)]
        reach = max(abs(x) for x in v)  # γ̃^l ‖ṽ‖∞
        ctx_err = fmpq(0)  # E_l ≥ ‖ŷ_l − G̃^l r‖∞ (context row)
        query_err = [fmpq(0)] * S  # F_l(s) ≥ |q̂_l(s) − q_l(s)|
        ok = True
        for l in range(depth + 1):
            for s in range(S):
                err = abs(-_fmpq(Z[s, 2 * S, S]) - v[s])
                bound = reach + query_err[s]
                ratio = float(err / bound) if bound != 0 else (0.0 if err == 0 else float("inf"))
                msg = f"task {k}, state {s}, L = {l}: |TF - v| = {float(err):.3g} > {float(bound):.3g}"
                res.record(ratio if l else None, bool(err <= bound), msg)
            if l == depth:
                break
            out = linear_attention(bk, bk.exact_input(Z), layers[l])
            local = bk.certified_bound(out)
            new_Z = out.value
            finite = np.all(np.isfinite(new_Z)) and np.all(np.isfinite(local))
            if not finite or not np.array_equal(new_Z[:, : 2 * S, :], fixed):
                res.record(float("inf"), False, f"task {k}, layer {l}: feature rows changed or a value overflowed")
                ok = False
                break
            query_err = [query_err[s] + ctx_err + _fmpq(local[s, 2 * S, S]) for s in range(S)]
            ctx_err = gamma_t * ctx_err + _fmpq(np.max(local[:, 2 * S, :S]))
            reach *= gamma_t
            Z = new_Z
        res.instances += int(ok)
    return res
