#!/usr/bin/env bash
# Install what CI needs: the CPU build of torch first (the README's pin), then the package with its dev tools.
set -euo pipefail
cd "$(dirname "$0")/.."
python -m pip install --quiet torch==2.13.0
python -m pip install --quiet -e ".[dev]"
