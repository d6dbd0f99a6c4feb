"""The trained models: the linear transformer on the generic layer, the fitted-α TD reference, their TD loss."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from numpy.typing import NDArray

from icrl_verify.algorithms import preconditioned_td
from icrl_verify.arith.torch_backend import TorchBackend
from icrl_verify.attention import Head, LinearAttentionWeights, run_transformer, standard_mask, tied
from icrl_verify.pretrain.config import DTYPES, PretrainConfig
from icrl_verify.pretrain.data import INIT_STREAM, stream

FloatArray = NDArray[np.float64]


def predicted_values(bk: TorchBackend, P: torch.Tensor, Q: torch.Tensor, Z: torch.Tensor, depth: int) -> torch.Tensor:
    """v̂(Z) = −Z_L[2d, n] of the L-layer linear transformer, computed by the generic layer.

    ``P``, ``Q`` have shape (seeds, 1 or L, 2d+1, 2d+1) (1 = tied: one layer applied ``depth`` times);
    ``Z`` has shape (seeds, …, 2d+1, n+1). Returns (seeds, …); autograd flows to P, Q and Z.
    """
    if P.dim() != 4 or P.shape != Q.shape or P.shape[1] not in (1, depth):
        raise ValueError(
            f"P, Q: expected equal shapes (seeds, 1 or {depth}, D, D), got {tuple(P.shape)}, {tuple(Q.shape)}"
        )
    if Z.dim() < 3 or Z.shape[0] != P.shape[0]:
        raise ValueError(f"Z: expected shape ({P.shape[0]}, …, D, n+1), got {tuple(Z.shape)}")
    rows, cols = bk.shape(Z)
    mask = standard_mask(cols - 1)
    lead = (P.shape[0],) + (1,) * (Z.dim() - 3)

    def layer(l: int) -> LinearAttentionWeights:
        return LinearAttentionWeights(
            (Head(P[:, l].reshape(*lead, rows, rows), Q[:, l].reshape(*lead, rows, rows), mask),)
        )

    layers = tied(layer(0), depth) if P.shape[1] == 1 else [layer(l) for l in range(depth)]
    return -run_transformer(bk, Z, layers)[-1][..., rows - 1, cols - 1]


def td_reference(
    bk: TorchBackend, alpha: torch.Tensor, Z: torch.Tensor, depth: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """The fitted-α batch-TD reference on prompts Z (seed axis first): θ*_TD with C = αI in every layer.

    Runs the reference algorithm (``algorithms.preconditioned_td``, equal to the transformer θ*_TD(αI)
    by T1) on the context of each prompt. ``alpha`` has shape (seeds,), Z (seeds, …, 2d+1, n+1).
    Returns (v̂_TD = φ_qᵀ w_L with shape (seeds, …), w_L with shape (seeds, …, d)); autograd flows to α.
    """
    rows, cols = bk.shape(Z)
    d, n = (rows - 1) // 2, cols - 1
    if alpha.dim() != 1 or alpha.shape[0] != Z.shape[0]:
        raise ValueError(f"alpha: expected shape ({Z.shape[0]},) (one step size per seed), got {tuple(alpha.shape)}")
    lead = (Z.shape[0],) + (1,) * (Z.dim() - 3)
    C = alpha.reshape(*lead, 1, 1) * bk.eye(d)
    features = bk.block(Z, slice(0, d), slice(0, n))
    next_features = bk.block(Z, slice(d, 2 * d), slice(0, n))
    rewards = bk.block(Z, slice(2 * d, rows), slice(0, n))
    query = bk.block(Z, slice(0, d), slice(n, cols))
    w = preconditioned_td(bk, features, features, next_features, rewards, [C] * depth)[-1]
    value = bk.matmul(bk.transpose(w), query)
    return value[..., 0, 0], w[..., 0]


def minibatch_loss(
    values: torch.Tensor, rho: torch.Tensor, gamma: float, noise: torch.Tensor | None = None
) -> torch.Tensor:
    """(1/m) Σ_t (ρ_t + γ·sg[v̂(Z_{t+1})] − v̂(Z_t))² per leading index; ``values`` (…, m+1), ``rho`` (…, m).

    With ``noise`` (…, m) the target is the noise instead (the control). sg = ``detach``: the bootstrap
    target carries no gradient, so the gradient is the semi-gradient −(2/m) Σ_t δ_t ∇v̂(Z_t).
    """
    if values.shape[-1] != rho.shape[-1] + 1:
        raise ValueError(f"values, rho: expected m+1 values for m rewards, got {values.shape[-1]} and {rho.shape[-1]}")
    target = rho + gamma * values[..., 1:].detach() if noise is None else noise
    return ((target - values[..., :-1]) ** 2).mean(-1)


@dataclass
class Parameters:
    """Trainable tensors, one leaf per seed: P_s, Q_s (1 or L, D, D) and the reference step size α_s (0-d).

    Each seed's tensors are separate leaves so that the optimiser updates every seed with exactly the
    same kernels whatever the number of seeds (a batched tensor would put some entries in a vector
    kernel's tail in one batch size and not in another, changing the last bit); the forward pass stacks
    them into one batch.
    """

    P_seeds: list[torch.Tensor]
    Q_seeds: list[torch.Tensor]
    alpha_seeds: list[torch.Tensor]

    @property
    def P(self) -> torch.Tensor:
        """P of every seed, (seeds, 1 or L, D, D), differentiable."""
        return torch.stack(self.P_seeds)

    @property
    def Q(self) -> torch.Tensor:
        """Q of every seed, (seeds, 1 or L, D, D), differentiable."""
        return torch.stack(self.Q_seeds)

    @property
    def alpha(self) -> torch.Tensor:
        """α of every seed, (seeds,), differentiable."""
        return torch.stack(self.alpha_seeds)

    def tensors(self) -> list[torch.Tensor]:
        """The leaves handed to the optimiser."""
        return [*self.P_seeds, *self.Q_seeds, *self.alpha_seeds]

    def load(self, P: torch.Tensor, Q: torch.Tensor, alpha: torch.Tensor) -> None:
        """Overwrite every leaf from stacked tensors (a checkpoint)."""
        with torch.no_grad():
            for leaves, stacked in ((self.P_seeds, P), (self.Q_seeds, Q), (self.alpha_seeds, alpha)):
                if len(leaves) != stacked.shape[0]:
                    raise ValueError(f"checkpoint: expected {len(leaves)} seeds, got {stacked.shape[0]}")
                for leaf, value in zip(leaves, stacked):
                    leaf.copy_(value)

    def numpy(self) -> tuple[FloatArray, FloatArray, FloatArray]:
        """(P, Q, α) of every seed as float64 arrays."""
        P, Q, alpha = (
            np.asarray(t.detach().cpu().double().numpy(), dtype=np.float64) for t in (self.P, self.Q, self.alpha)
        )
        return P, Q, alpha


def initial_parameters(config: PretrainConfig) -> Parameters:
    """Xavier-normal P, Q with gain g (std = g·sqrt(2/(D + D)) = g/sqrt(D)); g = init_gain when tied and
    init_gain/L per layer when untied (as the published code); α = 1. Drawn per seed from its INIT stream
    (P of every layer first, then Q), in float64, then cast."""
    Lp, D = config.parameter_layers, config.size
    gain = config.init_gain if config.tied else config.init_gain / config.layers
    std = gain * np.sqrt(2.0 / (D + D))
    dtype = DTYPES[config.dtype]

    def leaf(a: Any) -> torch.Tensor:
        return torch.tensor(a, dtype=dtype, device=config.device).requires_grad_(True)

    draws = [stream(seed, INIT_STREAM, 0).standard_normal((2, Lp, D, D)) * std for seed in config.seeds]
    return Parameters([leaf(x[0]) for x in draws], [leaf(x[1]) for x in draws], [leaf(1.0) for _ in draws])
