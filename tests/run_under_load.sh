#!/usr/bin/env bash
# The whole default suite RUNS times (default 3) while two CPU burners keep both cores busy:
# the check that no test depends on wall-clock speed. Usage: bash tests/run_under_load.sh [RUNS]
set -uo pipefail
cd "$(dirname "$0")/.."
python3 -c "while True: pass" & first=$!
python3 -c "while True: pass" & second=$!
trap 'kill $first $second 2>/dev/null' EXIT
status=0
for run in $(seq "${1:-3}"); do
  .venv/bin/pytest -q -p no:cacheprovider > "/tmp/cxrules-load-$run.log" 2>&1 || status=1
  echo "run $run: $(tail -1 "/tmp/cxrules-load-$run.log")"
done
exit $status
