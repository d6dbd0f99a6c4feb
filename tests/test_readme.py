"""The README's commands and its Python example stay true."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def test_readme_starts_with_the_two_commands() -> None:
    blocks = re.findall(r"```bash\n(.*?)```", README, flags=re.S)
    assert blocks[0].strip() == "pip install torch==2.13.0 && pip install -e . && icrl-verify prove"
    assert blocks[1].strip() == 'pip install torch==2.13.0 && pip install -e ".[dev]" && python -m pytest'
    assert README.index("```bash") < README.index("## ")


@pytest.mark.parametrize("page", ["README.md", "docs/checking-your-construction.md"])
def test_python_examples_run(page: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every python block of the page runs, in order, in a scratch folder (examples write files)."""
    blocks = re.findall(r"```python\n(.*?)```", (ROOT / page).read_text(), flags=re.S)
    assert blocks, f"{page} has no python example"
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, object] = {}
    for k, code in enumerate(blocks):
        exec(compile(code, f"{page}, block {k + 1}", "exec"), namespace)
