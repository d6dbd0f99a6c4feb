#!/usr/bin/env bash
# Every CI step, in order: install, lint and type-check, tests. The soak (ci/soak.sh) is run by hand.
set -euo pipefail
cd "$(dirname "$0")/.."
export CI="${CI:-true}"
for step in install lint test; do
    echo "== ci/$step.sh"
    bash "ci/$step.sh"
done
