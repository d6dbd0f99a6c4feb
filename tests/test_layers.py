"""Imports only go down the layers of docs/architecture.md: every module of icrl_verify/ is parsed with ast,
given its layer, and no import (at module level or inside a function; not under ``if TYPE_CHECKING``, and
counting a dotted ``"icrl_verify.x:attr"`` path the module loads) may reach a higher layer. The reference
algorithms reach nothing of the transformer side."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable, Mapping
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

LAYERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("arith", ("icrl_verify._lazy", "icrl_verify.arith.*")),
    (
        "core maths",
        (
            "icrl_verify._validate",
            "icrl_verify.mrp",
            "icrl_verify.tasks.*",
            "icrl_verify.prompts",
            "icrl_verify.attention",
            "icrl_verify.cot",
            "icrl_verify.algorithms",
            "icrl_verify.constructions",
            "icrl_verify.neu",
        ),
    ),
    ("strategies", ("icrl_verify.strategies",)),
    ("pretrain library", ("icrl_verify.pretrain.*",)),
    ("checks", ("icrl_verify.certify", "icrl_verify.shrink", "icrl_verify.checks.*")),
    ("reports", ("icrl_verify.reports.*",)),
    ("catalogue", ("icrl_verify.catalogue",)),
    ("verification", ("icrl_verify.verification", "icrl_verify.testing")),
    ("cli", ("icrl_verify.cli.*", "icrl_verify.pretrain.cli", "icrl_verify")),
)
"""The layers, bottom first: a name matches one module, ``name.*`` a package and everything in it (the most
specific pattern wins). The package's own ``__init__`` (the public facade) sits on top with the commands."""

REFERENCE_SIDE = ("icrl_verify.algorithms",)
TRANSFORMER_SIDE = ("icrl_verify.prompts", "icrl_verify.attention", "icrl_verify.constructions")


PATH_STRING = re.compile(r"^(icrl_verify(?:\.\w+)*):\w+$")


def module_name(path: Path, root: Path = ROOT) -> str:
    """``icrl_verify/arith/ball.py`` -> ``icrl_verify.arith.ball``; a package's ``__init__`` is the package."""
    parts = list(path.relative_to(root).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def project_modules(root: Path = ROOT) -> dict[str, str]:
    """Every module under ``root``/icrl_verify, by dotted name, with its source."""
    return {module_name(p, root): p.read_text(encoding="utf-8") for p in sorted((root / "icrl_verify").rglob("*.py"))}


def layer_of(module: str) -> int | None:
    """The index of ``module``'s layer, None when no pattern matches it."""
    best: tuple[int, int] | None = None  # (specificity, layer)
    for index, (_, patterns) in enumerate(LAYERS):
        for pattern in patterns:
            package = pattern.removesuffix(".*")
            if pattern == module:
                specificity = 2 * len(module) + 1
            elif pattern.endswith(".*") and (module == package or module.startswith(package + ".")):
                specificity = 2 * len(package)
            else:
                continue
            if best is None or specificity > best[0]:
                best = (specificity, index)
    return None if best is None else best[1]


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _nodes(tree: ast.AST) -> Iterable[ast.AST]:
    """Every node of ``tree`` except the bodies of ``if TYPE_CHECKING:`` blocks."""
    stack = [tree]
    while stack:
        node = stack.pop()
        yield node
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            stack.extend(node.orelse)
            continue
        stack.extend(ast.iter_child_nodes(node))


def imports_of(module: str, source: str, known: Iterable[str]) -> set[str]:
    """The project modules ``module`` imports at run time (``from package import submodule`` names the
    submodule), plus those named by a ``"icrl_verify.x:attr"`` path string it holds."""
    known = set(known)
    is_package = any(k.startswith(f"{module}.") for k in known)
    package = module if is_package else module.rpartition(".")[0]
    found: set[str] = set()
    for node in _nodes(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            for alias in node.names:
                found.add(f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and (m := PATH_STRING.match(node.value)):
            found.add(m.group(1))
    return {name for name in found if name == "icrl_verify" or name.startswith("icrl_verify.")}


def import_graph(modules: Mapping[str, str]) -> dict[str, set[str]]:
    """Module -> the project modules it imports."""
    return {name: imports_of(name, source, modules) - {name} for name, source in modules.items()}


def violations(graph: Mapping[str, set[str]]) -> set[tuple[str, str]]:
    """(importer, imported) pairs where the imported module sits in a higher layer than its importer."""
    return {
        (name, target)
        for name, targets in graph.items()
        for target in targets
        if (mine := layer_of(name)) is not None and (theirs := layer_of(target)) is not None and theirs > mine
    }


def reaches(graph: Mapping[str, set[str]], start: str) -> set[str]:
    """Every module ``start`` imports, directly or through others."""
    seen: set[str] = set()
    todo = [start]
    while todo:
        for target in graph.get(todo.pop(), set()):
            if target not in seen:
                seen.add(target)
                todo.append(target)
    return seen


MODULES = project_modules()
GRAPH = import_graph(MODULES)


def test_every_module_has_a_layer() -> None:
    assert [m for m in MODULES if layer_of(m) is None] == []


def test_no_module_imports_a_higher_layer() -> None:
    found = violations(GRAPH)
    names = [name for name, _ in LAYERS]
    assert not found, "\n".join(
        f"{a} ({names[layer_of(a) or 0]}) imports {b} ({names[layer_of(b) or 0]})" for a, b in sorted(found)
    )


@pytest.mark.parametrize("reference", REFERENCE_SIDE)
def test_the_reference_side_reaches_nothing_of_the_transformer_side(reference: str) -> None:
    assert reaches(GRAPH, reference) & set(TRANSFORMER_SIDE) == set()


def test_the_checker_catches_a_violation() -> None:
    """A synthetic check module importing a report in a function, the CLI under TYPE_CHECKING, naming a
    report by path, importing a check relatively and ``from icrl_verify import catalogue``."""
    known = [*MODULES, "icrl_verify.checks.fake"]
    source = (
        "from typing import TYPE_CHECKING\n"
        "from . import base\n"
        "from icrl_verify import catalogue\n"
        "if TYPE_CHECKING:\n"
        "    from icrl_verify.cli import app\n"
        "else:\n"
        "    from icrl_verify.verification import verify\n"
        "def draw():\n"
        "    from icrl_verify.reports import save_figure\n"
        "    return 'icrl_verify.reports.cot:report_cot'\n"
    )
    graph = {**GRAPH, "icrl_verify.checks.fake": imports_of("icrl_verify.checks.fake", source, known)}
    assert graph["icrl_verify.checks.fake"] == {
        "icrl_verify.checks.base",
        "icrl_verify.catalogue",
        "icrl_verify.verification",
        "icrl_verify.reports",
        "icrl_verify.reports.cot",
    }
    assert {b for a, b in violations(graph) if a == "icrl_verify.checks.fake"} == {
        "icrl_verify.catalogue",
        "icrl_verify.verification",
        "icrl_verify.reports",
        "icrl_verify.reports.cot",
    }
    assert layer_of("icrl_verify.pretrain.cli") == layer_of("icrl_verify.cli")
    assert layer_of("icrl_verify.pretrain.model") == layer_of("icrl_verify.pretrain.metrics")
    assert layer_of("icrl_verify.nowhere") is None


def test_the_reach_follows_imports_through_other_modules() -> None:
    graph = {"icrl_verify.algorithms": {"icrl_verify._validate"}, "icrl_verify._validate": {"icrl_verify.attention"}}
    assert "icrl_verify.attention" in reaches(graph, "icrl_verify.algorithms")


def documented_layers(text: str) -> dict[str, str]:
    """Module path -> the name of the ``## N. name: ...`` section of docs/architecture.md listing it."""
    placed, section = {}, ""
    for line in text.splitlines():
        if heading := re.match(r"^## \d+\. ([^:]+):", line):
            section = heading.group(1)
        elif item := re.match(r"^- `(icrl_verify/[\w/]+\.py)`", line):
            placed[item.group(1)] = section
    return placed


def test_architecture_page_lists_every_module_under_its_layer() -> None:
    text = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    names = [name for name, _ in LAYERS]
    assert re.findall(r"^## \d+\. ([^:]+):", text, re.M) == names, "the sections follow LAYERS, bottom first"
    paths = {str(p.relative_to(ROOT)): module_name(p) for p in (ROOT / "icrl_verify").rglob("*.py")}
    expected = {path: names[layer] for path, module in paths.items() if (layer := layer_of(module)) is not None}
    assert documented_layers(text) == expected
