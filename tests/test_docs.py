"""The project carries its own contract: docs/contract.md exists, names every theorem, and nothing in the
repository points to a specification outside it."""

from __future__ import annotations

import re
from pathlib import Path

from icrl_verify import catalogue

ROOT = Path(__file__).resolve().parent.parent
CONTRACT = ROOT / "docs" / "contract.md"
KEYS = ("T1", "T1a", "T1b", "T1c", "T2", "T3", "T4", "T5")

# References to files that are not in the repository: the old spec folder, its background notes, the
# shared folder beside the checkout, and the old contract file by any path. The patterns and the samples
# below are spelled so that this file does not match itself.
OUTSIDE = re.compile(r"spec[/]THEOREMS|spec[/]background|\.\./shared|\bTHEOREMS\.md")



def _repository_files() -> list[Path]:
    files = [ROOT / "README.md", *(ROOT / "docs").rglob("*.md")]
    for folder in ("icrl_verify", "theorems", "tests"):
        files += (ROOT / folder).rglob("*.py")
    return sorted(files)


def test_nothing_points_to_a_specification_outside_the_repository() -> None:
    offenders = []
    for path in _repository_files():
        rel = path.relative_to(ROOT).as_posix()
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            if OUTSIDE.search(line):
                offenders.append(f"{rel}:{number}: {line.strip()}")
    assert not offenders, "point these to docs/contract.md:\n" + "\n".join(offenders)


def test_the_scan_catches_each_kind_of_outside_reference() -> None:
    old = "THEOREMS" + ".md"
    for text in (f"see spec/{old} T1", "spec/" + "background/w25a.md", "../" + "shared/spec/x", f"({old} §0)"):
        assert OUTSIDE.search(text), text
    assert not OUTSIDE.search("see docs/contract.md, T1")


def test_contract_names_every_theorem() -> None:
    text = CONTRACT.read_text(encoding="utf-8")
    headings = set(re.findall(r"^## (T\d[a-z]?) ", text, flags=re.MULTILINE))
    assert set(KEYS) <= headings, f"docs/contract.md has no section for {sorted(set(KEYS) - headings)}"
    assert set(catalogue.keys()) <= headings, "every theorem of the catalogue has a section in docs/contract.md"
    for tag, arxiv in (("W25a", "2405.13861"), ("W25b", "2509.18389"), ("X26a", "2605.07123"), ("X26b", "2605.07333")):
        assert f"[{tag}]" in text and f"arXiv:{arxiv}" in text, tag


def test_readme_and_docs_point_to_the_contract_and_their_links_resolve() -> None:
    pages = [ROOT / "README.md", *(ROOT / "docs").rglob("*.md")]
    assert "docs/contract.md" in (ROOT / "README.md").read_text(encoding="utf-8")
    assert "contract.md" in (ROOT / "docs" / "index.md").read_text(encoding="utf-8")
    for page in pages:
        for target in re.findall(r"\]\(([^)#\s]+\.md)(?:#[^)]*)?\)", page.read_text(encoding="utf-8")):
            if "://" not in target:
                assert (page.parent / target).resolve().exists(), f"{page.relative_to(ROOT)} links to {target}"
