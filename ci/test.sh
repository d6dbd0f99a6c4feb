#!/usr/bin/env bash
# The README's test command under the CI Hypothesis profile (CI=true selects icrl-ci). pytest exits 5 when
# it collects no test; set -e turns that, like any other non-zero status, into a CI failure.
set -euo pipefail
cd "$(dirname "$0")/.."
export CI="${CI:-true}"
python -m pytest -q -p no:cacheprovider "$@"
