"""Batched torch backend (float64 by default, CUDA when asked and available); autograd flows through it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Literal

import numpy as np
import torch
from numpy.typing import NDArray

from icrl_verify.arith.base import Backend, Certifies, Scalar


@contextmanager
def intra_op_threads(count: int) -> Iterator[None]:
    """Run a block with ``count`` torch intra-op threads (restored afterwards).

    The batched checks parallelise over chunks of tasks instead: on small per-task matrices intra-op
    threads only add synchronisation, and they oversubscribe the cores the chunk workers use.
    """
    previous = torch.get_num_threads()
    torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def cuda_available() -> bool:
    """True when a CUDA device can be used."""
    return bool(torch.cuda.is_available())


class TorchBackend(Backend[torch.Tensor]):
    """Torch tensors with a leading batch axis; the same derived bound as float64 applies in float64."""

    certifies: Certifies = "bound"
    batched = True

    def __init__(self, device: str = "cpu", dtype: torch.dtype = torch.float64) -> None:
        if device.startswith("cuda") and not cuda_available():
            raise ValueError(f"device: {device!r} requested but CUDA is not available")
        if dtype not in (torch.float32, torch.float64):
            raise ValueError(f"dtype: expected torch.float32 or torch.float64, got {dtype}")
        self.device = torch.device(device)
        self.dtype = dtype
        self.name = f"torch-{self.device.type}" + ("" if dtype == torch.float64 else "-f32")

    def asmatrix(self, arr: NDArray[Any] | torch.Tensor) -> torch.Tensor:
        if isinstance(arr, torch.Tensor):
            return arr.to(device=self.device, dtype=self.dtype)
        return torch.as_tensor(np.asarray(arr, dtype=np.float64), device=self.device).to(self.dtype)

    def to_numpy(self, a: torch.Tensor) -> NDArray[np.float64]:
        return np.asarray(a.detach().to("cpu", torch.float64).numpy())

    def zeros(self, rows: int, cols: int) -> torch.Tensor:
        return torch.zeros(rows, cols, device=self.device, dtype=self.dtype)

    def matmul(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return torch.matmul(a, b)

    def add(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return a + b

    def sub(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return a - b

    def scale(self, a: torch.Tensor, s: Scalar) -> torch.Tensor:
        return a * float(s)

    def transpose(self, a: torch.Tensor) -> torch.Tensor:
        return a.transpose(-1, -2)

    def shape(self, a: torch.Tensor) -> tuple[int, int]:
        return int(a.shape[-2]), int(a.shape[-1])

    def block(self, a: torch.Tensor, rows: slice, cols: slice) -> torch.Tensor:
        return a[..., rows, cols]

    def concat(self, blocks: list[torch.Tensor], axis: Literal[0, 1]) -> torch.Tensor:
        batch = np.broadcast_shapes(*(tuple(b.shape[:-2]) for b in blocks))
        full = [b.expand(*batch, *b.shape[-2:]) for b in blocks]
        return torch.cat(full, dim=-2 if axis == 0 else -1)

    def hadamard(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return a * b

    def reciprocal(self, a: torch.Tensor) -> torch.Tensor:
        return 1.0 / a

    def exp(self, a: torch.Tensor) -> torch.Tensor:
        return torch.exp(a)

    def softmax_shift(self, a: torch.Tensor) -> torch.Tensor:
        return a.detach().amax(dim=-2, keepdim=True).expand_as(a)

    def neg(self, a: torch.Tensor) -> torch.Tensor:
        return -a
