"""Evaluation during training: the models on the held-out tasks, and the log record of every metric."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from numpy.typing import NDArray

from icrl_verify.arith.torch_backend import TorchBackend
from icrl_verify.pretrain.config import PretrainConfig
from icrl_verify.pretrain.data import HeldOutTasks
from icrl_verify.pretrain.metrics import (
    FUNCTION_METRICS,
    WEIGHT_METRICS,
    FunctionMetrics,
    align_sign,
    function_metrics,
    weight_metrics,
)
from icrl_verify.pretrain.model import Parameters, predicted_values, td_reference

FloatArray = NDArray[np.float64]

MEAN_FIELDS = ("p_aligned_mean", "q_aligned_mean")
"""Log fields that hold a mean over the seeds (merged by a weighted mean); the others are per-seed lists."""


def held_out_predictions(
    config: PretrainConfig, params: Parameters, heldout: HeldOutTasks
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """In float64 on every held-out prompt: v̂_TF(s) (seeds, K, S) through the generic layer, ∇_q v̂_TF(s)
    (seeds, K, S, d) by autograd, and w_L of the fitted-α reference (seeds, K, d)."""
    bk = TorchBackend(config.device, torch.float64)
    P = params.P.detach().to(torch.float64)
    Q = params.Q.detach().to(torch.float64)
    Z = heldout.prompts.clone().requires_grad_(True)
    values = predicted_values(bk, P, Q, Z, config.layers)
    (grad,) = torch.autograd.grad(values.sum(), Z)
    _, w_td = td_reference(bk, params.alpha.detach().to(torch.float64), heldout.prompts[:, :, 0], config.layers)
    return values.detach(), grad[..., : config.d, config.n], w_td


def evaluate_function(config: PretrainConfig, params: Parameters, heldout: HeldOutTasks) -> FunctionMetrics:
    """SS, IWS, VD per seed on the held-out tasks (see :func:`held_out_predictions`)."""
    values, grads, w_td = held_out_predictions(config, params, heldout)
    return function_metrics(values, grads, w_td, heldout.features, heldout.stationary)


def log_record(
    config: PretrainConfig, params: Parameters, heldout: HeldOutTasks, tasks_done: int, losses: FloatArray | None
) -> dict[str, Any]:
    """One log entry after ``tasks_done`` tasks: per-seed lists of the training loss (mean since the last
    entry), α, SS, IWS, VD and the weight metrics (per parameter layer), and the seed means of the
    sign-aligned P and Q (``MEAN_FIELDS``)."""
    fm = evaluate_function(config, params, heldout)
    P, Q, alpha = params.numpy()
    wm = weight_metrics(P, Q)
    record: dict[str, Any] = {"tasks": tasks_done, "seeds": len(config.seeds)}
    record["loss"] = None if losses is None else losses.tolist()
    record["alpha"] = alpha.tolist()
    for name in FUNCTION_METRICS:
        record[name] = getattr(fm, name).tolist()
    for name in WEIGHT_METRICS:
        record[name] = wm[name].tolist()
    P_aligned, Q_aligned = align_sign(P, Q)
    record["p_aligned_mean"] = P_aligned.mean(axis=0).tolist()
    record["q_aligned_mean"] = Q_aligned.mean(axis=0).tolist()
    return record
