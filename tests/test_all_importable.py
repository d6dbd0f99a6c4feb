"""The public API: every name a module lists in ``__all__`` imports, and the docs import only public names."""

from __future__ import annotations

import importlib
import pkgutil
import re
import types
from pathlib import Path

import pytest

import icrl_verify

ROOT = Path(__file__).resolve().parents[1]


def _modules() -> list[str]:
    """Every module of the package, by dotted name."""
    found = pkgutil.walk_packages(icrl_verify.__path__, prefix="icrl_verify.")
    return ["icrl_verify", *sorted(m.name for m in found)]


def missing_names(module: types.ModuleType) -> list[str]:
    """Names in ``module.__all__`` that do not resolve (lazy names are resolved through ``__getattr__``)."""
    missing = []
    for name in module.__all__:
        try:
            getattr(module, name)
        except AttributeError:
            missing.append(name)
    return missing


PUBLIC = [m for m in _modules() if hasattr(importlib.import_module(m), "__all__")]


def test_the_packages_declare_their_public_names() -> None:
    assert {"icrl_verify", "icrl_verify.arith", "icrl_verify.checks", "icrl_verify.cli"} <= set(PUBLIC)


@pytest.mark.parametrize("name", PUBLIC)
def test_every_name_in_all_imports(name: str) -> None:
    module = importlib.import_module(name)
    assert len(module.__all__) == len(set(module.__all__)), f"{name}.__all__ repeats a name"  # ruff RUF022 sorts it
    assert missing_names(module) == []
    for public in module.__all__:
        exec(f"from {name} import {public}", {})


def test_the_check_catches_a_name_that_does_not_import() -> None:
    fake = types.ModuleType("fake")
    fake.present = 1  # type: ignore[attr-defined]
    fake.__all__ = ["absent", "present"]
    assert missing_names(fake) == ["absent"]


@pytest.mark.parametrize("page", ["README.md", "docs/checking-your-construction.md"])
def test_the_docs_import_only_public_names(page: str) -> None:
    text = (ROOT / page).read_text(encoding="utf-8")
    imported = {
        n.strip() for names in re.findall(r"^from icrl_verify import (.+)$", text, re.M) for n in names.split(",")
    }
    assert imported, f"{page} imports nothing from icrl_verify"
    assert imported <= set(icrl_verify.__all__), sorted(imported - set(icrl_verify.__all__))
