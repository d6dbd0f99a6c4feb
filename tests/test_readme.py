"""The README's commands and its Python example stay true."""

from __future__ import annotations

import re
from pathlib import Path

README = (Path(__file__).resolve().parents[1] / "README.md").read_text()


def test_readme_starts_with_the_two_commands() -> None:
    blocks = re.findall(r"```bash\n(.*?)```", README, flags=re.S)
    assert blocks[0].strip() == "pip install torch==2.13.0 && pip install -e . && icrl-verify prove"
    assert blocks[1].strip() == 'pip install torch==2.13.0 && pip install -e ".[dev]" && python -m pytest'
    assert README.index("```bash") < README.index("## ")


def test_readme_python_example_runs() -> None:
    (code,) = re.findall(r"```python\n(.*?)```", README, flags=re.S)
    exec(compile(code, "README.md", "exec"), {})
