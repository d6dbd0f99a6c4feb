"""Norm of the expected update (NEU) of [W25b] on the enumerated-state prompt, with an exact derivative to check it.

The expectations are exact sums over the stationary distribution μ and the transition matrix P (no
sampling). The gradient is taken with torch autograd over every P_l and Q_l of an untied stack, run
through the generic layer :func:`icrl_verify.attention.linear_attention`.
:class:`~icrl_verify.arith.dual.DualBackend` runs the same generic layer on dual numbers; over
:class:`~icrl_verify.arith.exact.ExactBackend` it gives exact directional derivatives in rationals, the
independent check of the autograd gradients.

Parameter layout: θ is every P and Q of every head (an output projection, if a layer has one, is held
fixed). A gradient or a direction is one flat vector, the layers in order and, within a layer, each
head's P then Q, each flattened row-major: (P_0, Q_0, P_1, Q_1, …) for single-head layers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, TypeVar

import numpy as np
import torch
from flint import fmpq, fmpq_mat
from numpy.typing import NDArray

from icrl_verify import _validate, constructions
from icrl_verify.arith.dual import DualBackend
from icrl_verify.arith.exact import ExactBackend
from icrl_verify.arith.torch_backend import TorchBackend
from icrl_verify.attention import Head, LinearAttentionWeights, linear_attention, run_transformer
from icrl_verify.mrp import FiniteMRP
from icrl_verify.prompts import expected_feature_prompts

M = TypeVar("M")
FloatArray = NDArray[np.float64]
Tasks = FiniteMRP | Sequence[FiniteMRP]


# --- the prompt and θ* ---------------------------------------------------------------------------


def task_prompts(task: FiniteMRP) -> FloatArray:
    """The S enumerated-state prompts of one task, (S, 2d+1, S+1): prompt q queries state q."""
    return expected_feature_prompts(task.P, task.r, task.features, task.gamma)


def value_iteration_layers(num_states: int, depth: int, step: float = 1.0) -> list[LinearAttentionWeights]:
    """θ*_L = θ*_TD(C, …, C) with C = step·S·I over n = S context columns ([W25b]).

    With tabular features and ``step = 1`` each layer is one sweep of value iteration
    w ← r + γPw; a step η ∈ (0, 1] gives the damped sweep w ← w + η(r + γPw − w).
    """
    S = _validate.positive_int("num_states", num_states)
    L = _validate.positive_int("depth", depth, minimum=0)
    if not np.isfinite(step):
        raise ValueError(f"step: expected a finite number, got {step!r}")
    return constructions.td0(S, [step * S * np.eye(S)] * L, n=S)


def _task_list(tasks: Tasks) -> list[FiniteMRP]:
    out = [tasks] if isinstance(tasks, FiniteMRP) else list(tasks)
    if not out or not all(isinstance(t, FiniteMRP) for t in out):
        raise ValueError("tasks: expected a FiniteMRP or a non-empty sequence of FiniteMRPs")
    shape = (out[0].num_states, out[0].dim)
    if any((t.num_states, t.dim) != shape for t in out):
        raise ValueError(f"tasks: every task needs S = {shape[0]} states and d = {shape[1]} features")
    return out


def _weights(layers: Sequence[LinearAttentionWeights], size: int) -> list[list[tuple[NDArray[Any], NDArray[Any]]]]:
    """Every head's (P, Q), validated as (size × size) arrays (float64, or exact Fraction objects)."""
    if len(layers) == 0:
        raise ValueError("layers: expected at least one layer (θ has no parameters otherwise)")
    out = []
    for l, layer in enumerate(layers):
        heads = []
        for h, head in enumerate(layer.heads):
            P = _validate.array(f"layers[{l}].heads[{h}].P", head.P, (size, size))
            Q = _validate.array(f"layers[{l}].heads[{h}].Q", head.Q, (size, size))
            heads.append((P, Q))
        out.append(heads)
    return out


def parameter_count(layers: Sequence[LinearAttentionWeights]) -> int:
    """Length p of a flat gradient or direction: 2·D² per head."""
    return sum(2 * int(np.asarray(head.P).shape[-1]) ** 2 for layer in layers for head in layer.heads)


# --- torch: values, gradients, expected updates ----------------------------------------------------


def _differentiable_values(
    layers: Sequence[LinearAttentionWeights],
    prompts: FloatArray,
    copies: tuple[int, int],
    device: str,
    dtype: torch.dtype,
) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """TF_θ for prompts (T, S, D, n+1) through the generic layer, with leaf copies of every P, Q of
    shape (*copies, D, D) (copies broadcast against (T, S)); returns (values (T, S), leaves)."""
    bk = TorchBackend(device=device, dtype=dtype)
    size = prompts.shape[-2]
    leaves: list[torch.Tensor] = []
    torch_layers = []
    for layer, heads in zip(layers, _weights(layers, size)):
        torch_heads = []
        for head, (P, Q) in zip(layer.heads, heads):
            P_t, Q_t = (bk.asmatrix(W).expand(*copies, size, size).clone().requires_grad_(True) for W in (P, Q))
            leaves += [P_t, Q_t]
            torch_heads.append(Head(P_t, Q_t, head.mask))
        out = None if layer.out is None else bk.asmatrix(np.asarray(layer.out, dtype=np.float64))
        torch_layers.append(LinearAttentionWeights(tuple(torch_heads), out))
    Z = bk.asmatrix(prompts)
    for layer in torch_layers:
        Z = linear_attention(bk, Z, layer)
    return -Z[..., size - 1, -1], leaves


def _flat(grads: Sequence[torch.Tensor], lead: int) -> FloatArray:
    flat = torch.cat([g.reshape(*g.shape[:lead], -1) for g in grads], dim=-1)
    return np.asarray(flat.detach().cpu().double().numpy())


def value_gradients(
    layers: Sequence[LinearAttentionWeights], tasks: Tasks, device: str = "cpu", dtype: torch.dtype = torch.float64
) -> tuple[FloatArray, FloatArray]:
    """TF_θ(s) and ∇_θ TF_θ(s) over every P_l, Q_l, for every task and query state: (T, S) and (T, S, p).

    Every (task, state) pair gets its own copy of θ, so one backward pass gives all gradients.
    """
    task_list = _task_list(tasks)
    prompts = np.stack([task_prompts(t) for t in task_list])
    T, S = prompts.shape[:2]
    values, leaves = _differentiable_values(layers, prompts, (T, S), device, dtype)
    grads = torch.autograd.grad(values.sum(), leaves)
    return values.detach().cpu().double().numpy(), _flat(grads, 2)


@dataclass(frozen=True)
class ExpectedUpdates:
    """Expected updates at θ, flat over every P_l, Q_l (p parameters), one row per task (T rows) or a
    single row holding the mean over tasks.

    Row t: ``td[t] = Σ_s μ(s) Σ_{s'} P[s,s'] (r(s) + γ TF(s') − TF(s)) ∇TF(s)`` and
    ``mc[t] = Σ_s μ(s) (v(s) − TF(s)) ∇TF(s)``; ``values[t, s] = TF(s)`` for every task.
    """

    values: FloatArray
    td: FloatArray
    mc: FloatArray

    @property
    def neu_td(self) -> float:
        """NEU_TD of the multi-task objective: the norm of the mean update over tasks."""
        return float(np.linalg.norm(self.td.mean(axis=0)))

    @property
    def neu_mc(self) -> float:
        """NEU_MC of the multi-task objective: the norm of the mean update over tasks."""
        return float(np.linalg.norm(self.mc.mean(axis=0)))

    @property
    def neu_td_per_task(self) -> FloatArray:
        """NEU_TD of each row alone (each task, when computed per task)."""
        return np.asarray(np.linalg.norm(self.td, axis=1))

    @property
    def neu_mc_per_task(self) -> FloatArray:
        """NEU_MC of each row alone (each task, when computed per task)."""
        return np.asarray(np.linalg.norm(self.mc, axis=1))


def expected_updates(
    layers: Sequence[LinearAttentionWeights],
    tasks: Tasks,
    device: str = "cpu",
    dtype: torch.dtype = torch.float64,
    per_task: bool = True,
) -> ExpectedUpdates:
    """Expected multi-task TD and Monte Carlo updates at θ = ``layers`` (exact sums over μ and P).

    ``per_task``: each task gets its own copy of θ, so two backward passes give every task's update
    vector (T rows). Otherwise θ is shared and the two passes give the mean update over tasks directly
    (one row; cheaper, and all that NEU of the multi-task objective needs).
    """
    task_list = _task_list(tasks)
    prompts = np.stack([task_prompts(t) for t in task_list])
    copies = (len(task_list), 1) if per_task else (1, 1)
    values, leaves = _differentiable_values(layers, prompts, copies, device, dtype)

    def stacked(name: str) -> torch.Tensor:
        return torch.as_tensor(np.stack([getattr(t, name) for t in task_list]), device=values.device).to(dtype)

    P, r, mu, v = stacked("P"), stacked("r"), stacked("stationary"), stacked("value")
    gamma = torch.as_tensor(np.array([t.gamma for t in task_list]), device=values.device).to(dtype)[:, None]
    tf = values.detach()
    share = 1.0 if per_task else 1.0 / len(task_list)  # the shared gradient sums over tasks: take the mean
    td_weights = share * mu * (r + gamma * (P @ tf[..., None])[..., 0] - tf)
    mc_weights = share * mu * (v - tf)
    td = torch.autograd.grad((td_weights * values).sum(), leaves, retain_graph=True)
    mc = torch.autograd.grad((mc_weights * values).sum(), leaves)
    return ExpectedUpdates(tf.cpu().double().numpy(), _flat(td, 1), _flat(mc, 1))


def neu_td(layers: Sequence[LinearAttentionWeights], tasks: Tasks, device: str = "cpu") -> float:
    """NEU_TD(θ) = ‖E_task Σ_s μ(s) Σ_{s'} P[s,s'] (r(s) + γTF(s') − TF(s)) ∇_θTF(s)‖ in float64."""
    return expected_updates(layers, tasks, device, per_task=False).neu_td


def neu_mc(layers: Sequence[LinearAttentionWeights], tasks: Tasks, device: str = "cpu") -> float:
    """NEU_MC(θ) = ‖E_task Σ_s μ(s) (v(s) − TF(s)) ∇_θTF(s)‖ in float64."""
    return expected_updates(layers, tasks, device, per_task=False).neu_mc


# --- exact forward-mode differentiation ------------------------------------------------------------


def _fraction(x: fmpq) -> Fraction:
    return Fraction(int(x.p), int(x.q))


def _seeded_layers(
    bk: DualBackend[fmpq_mat], layers: Sequence[LinearAttentionWeights], direction: NDArray[Any], size: int
) -> list[LinearAttentionWeights]:
    """The layers with every P, Q seeded along its slice of the flat ``direction``."""
    out, at = [], 0
    block = size * size
    for layer, heads in zip(layers, _weights(layers, size)):
        seeded = []
        for head, (P, Q) in zip(layer.heads, heads):
            dP = direction[at : at + block].reshape(size, size)
            dQ = direction[at + block : at + 2 * block].reshape(size, size)
            at += 2 * block
            seeded.append(Head(bk.seed(P, dP), bk.seed(Q, dQ), head.mask))
        out.append(LinearAttentionWeights(tuple(seeded), layer.out))
    return out


@dataclass(frozen=True)
class ExactDirectional:
    """Exact values and directional derivatives for one task (k directions, S query states).

    ``value_derivatives[j][s] = ⟨∇TF(s), V_j⟩``; ``td[j] = ⟨u_TD, V_j⟩`` and ``mc[j] = ⟨u_MC, V_j⟩``
    with the task's μ, P, r, γ and v read exactly from their float64 values.
    """

    values: list[Fraction]
    value_derivatives: list[list[Fraction]]
    td: list[Fraction]
    mc: list[Fraction]


def exact_directional_derivatives(
    layers: Sequence[LinearAttentionWeights], task: FiniteMRP, directions: Sequence[Any]
) -> ExactDirectional:
    """Exact ⟨∇TF(s), V⟩, ⟨u_TD, V⟩, ⟨u_MC, V⟩ by forward mode over rationals (the generic layer on
    ``DualBackend(ExactBackend())``), on the same float64 prompt the torch side reads (floats are
    dyadic rationals, converted exactly). Each direction is a flat vector of length p (floats or Fractions).
    """
    prompts = task_prompts(task)
    size = prompts.shape[-2]
    p = parameter_count(layers)
    dirs = [_validate.array(f"directions[{j}]", np.asarray(V), (p,)) for j, V in enumerate(directions)]
    bk = DualBackend(ExactBackend())
    values: list[Fraction] = []
    derivs: list[list[Fraction]] = [[] for _ in dirs]
    for j, V in enumerate(dirs):
        seeded = _seeded_layers(bk, layers, V, size)
        for Z0 in prompts:
            Z_L = run_transformer(bk, bk.asmatrix(Z0), seeded)[-1]
            if j == 0:
                values.append(-_fraction(Z_L.value[size - 1, Z0.shape[-1] - 1]))
            derivs[j].append(-_fraction(Z_L.tangent[size - 1, Z0.shape[-1] - 1]))
    F = np.vectorize(Fraction, otypes=[object])
    P, r, mu, v, gamma = F(task.P), F(task.r), F(task.stationary), F(task.value), Fraction(task.gamma)
    tf = np.array(values, dtype=object)
    td_w = mu * (r + gamma * (P @ tf) - tf)
    mc_w = mu * (v - tf)
    return ExactDirectional(
        values,
        derivs,
        [sum((w * d for w, d in zip(td_w, dj)), Fraction(0)) for dj in derivs],
        [sum((w * d for w, d in zip(mc_w, dj)), Fraction(0)) for dj in derivs],
    )
