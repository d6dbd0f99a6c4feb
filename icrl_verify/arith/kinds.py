"""The one vocabulary of backend kinds: each name, what it draws, which float backend and device it runs."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class BackendKind:
    """A certification level as named in the CLI, the certificate table, the JSON and the docs."""

    name: str
    #: True for exact, ball and mpmath: instances are exact rationals; False for the batched float kinds
    exact_inputs: bool
    #: the tracked float backend ("float64" numpy or "torch"), None for the exact kinds
    float_backend: str | None = None
    device: str = "cpu"

    def available(self) -> bool:
        """True when this machine can run the kind (torch-cuda needs a CUDA device)."""
        if self.device != "cuda":
            return True
        from icrl_verify.arith.torch_backend import cuda_available

        return cuda_available()


KINDS: dict[str, BackendKind] = {
    k.name: k
    for k in (
        BackendKind("exact", exact_inputs=True),
        BackendKind("ball", exact_inputs=True),
        BackendKind("mpmath", exact_inputs=True),
        BackendKind("float64", exact_inputs=False, float_backend="float64"),
        BackendKind("torch", exact_inputs=False, float_backend="torch"),
        BackendKind("torch-cuda", exact_inputs=False, float_backend="torch", device="cuda"),
    )
}
"""Every backend kind, in the order of the certificate table."""


def parse_kind(name: str) -> BackendKind:
    """The kind called ``name``; a ValueError lists the names when there is none."""
    if name not in KINDS:
        raise ValueError(f"kind: expected one of {', '.join(KINDS)}, got {name!r}")
    return KINDS[name]


def float_kind_name(float_backend: str, device: str = "cpu") -> str:
    """The name of the float kind that runs ``float_backend`` ("float64" or "torch") on ``device``."""
    if float_backend == "float64":
        return "float64"
    return "torch" if device == "cpu" else "torch-cuda"
