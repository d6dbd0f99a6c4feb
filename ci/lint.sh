#!/usr/bin/env bash
# Static checks CI runs before the tests: ruff on all Python code, mypy --strict on the library and theorems.
set -euo pipefail
cd "$(dirname "$0")/.."
ruff check icrl_verify theorems tests conftest.py
mypy icrl_verify theorems
