"""Every theorem ``icrl-verify prove`` certifies, in the order of spec/THEOREMS.md."""

from __future__ import annotations

from collections.abc import Callable

from icrl_verify.checks.base import Provable
from icrl_verify.checks.td_family import TD0Check

# One line per theorem: key -> factory of its Provable check (default configuration).
THEOREMS: dict[str, Callable[[], Provable]] = {
    "T1": TD0Check,
}
