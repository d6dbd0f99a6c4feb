#!/usr/bin/env bash
# Soak: run `pytest theorems/` with random examples (dev profile, a fresh random seed each run) until
# N consecutive runs are green; on the first failure print its seed and failing test and exit 1.
# Usage: ci/soak.sh [-n RUNS] [-m MAX_EXAMPLES] [-- extra pytest arguments]. See docs/soak.md.
set -uo pipefail
cd "$(dirname "$0")/.."

runs=20
max_examples=""
while [[ $# -gt 0 ]]; do
    case "$1" in
        -n) runs="$2"; shift 2 ;;
        -m) max_examples="$2"; shift 2 ;;
        --) shift; break ;;
        *) echo "usage: ci/soak.sh [-n RUNS] [-m MAX_EXAMPLES] [-- pytest args]" >&2; exit 2 ;;
    esac
done
if ! [[ "$runs" =~ ^[1-9][0-9]*$ ]]; then echo "-n: expected a positive integer, got '$runs'" >&2; exit 2; fi
extra=("$@")
if [[ -n "$max_examples" ]]; then
    if ! [[ "$max_examples" =~ ^[1-9][0-9]*$ ]]; then echo "-m: expected a positive integer, got '$max_examples'" >&2; exit 2; fi
    extra=(--max-examples "$max_examples" "${extra[@]}")
fi

log=$(mktemp)
trap 'rm -f "$log"' EXIT
start_all=$SECONDS
total_passed=0
for ((run = 1; run <= runs; run++)); do
    seed=$(python -c "import secrets; print(secrets.randbits(64))")
    start=$SECONDS
    env -u CI python -m pytest theorems/ -q -p no:cacheprovider -x --hypothesis-seed="$seed" "${extra[@]}" >"$log" 2>&1
    status=$?
    seconds=$((SECONDS - start))
    passed=$(grep -Eo '[0-9]+ passed' "$log" | tail -1 | grep -Eo '[0-9]+' || echo 0)
    total_passed=$((total_passed + passed))
    printf 'run %d/%d  seed %s  passed %s  %ds\n' "$run" "$runs" "$seed" "$passed" "$seconds"
    if [[ $status -ne 0 ]]; then
        echo "FAILED on run $run (exit $status), seed $seed; reproduce with:"
        echo "  env -u CI python -m pytest theorems/ -q -p no:cacheprovider -x --hypothesis-seed=$seed ${extra[*]}"
        grep -E '^(FAILED|ERROR) ' "$log" || tail -40 "$log"
        grep -E -A12 '^(E   |Falsifying example)' "$log" | head -60
        exit 1
    fi
done
echo "$runs consecutive green runs, $total_passed tests passed in total, $((SECONDS - start_all))s"
