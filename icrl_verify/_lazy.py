"""Module attributes imported on first use: the one ``__getattr__`` of the lazily loading packages."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any


def lazy_attributes(package: str, homes: dict[str, str]) -> Callable[[str], Any]:
    """A module-level ``__getattr__`` for ``package``: public name -> the submodule (relative to
    ``package``) that defines it, imported when the name is first asked for; other names are an
    AttributeError, as for any module."""

    def module_getattr(name: str) -> Any:
        if name not in homes:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        return getattr(importlib.import_module(f"{package}.{homes[name]}"), name)

    return module_getattr
