#!/usr/bin/env bash
# test_examples under load (not part of make test: it takes ~20 min): runs
# tests/e2e/test_examples.py N times in a row (default 20) while stress-ng keeps both cores
# busy, then prints "N passed, N failed". Each failed run's output is kept in OUT_DIR.
#
#   tests/stress/examples_20x.sh [N] [BIN]      (stress-ng: apt-get install stress-ng)
#
# STRESS_CPUS (default 2) sets stress-ng's --cpu workers. Exit 0 when every run passed.
set -uo pipefail
src=${RK_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
n=${1:-20}
bin=${2:-${RIGELK8S_BIN:-$src/build/rigelk8s}}
case $bin in /*) ;; *) bin=$PWD/$bin ;; esac
command -v stress-ng >/dev/null || { echo "examples_20x: stress-ng is not installed (apt-get install stress-ng)"; exit 2; }
[ -x "$bin" ] || { echo "examples_20x: no rigelk8s binary at $bin (make build)"; exit 2; }
out=${OUT_DIR:-$(mktemp -d /tmp/rk-examples-stress-XXXXXX)}
mkdir -p "$out"

stress-ng --cpu "${STRESS_CPUS:-2}" --timeout 0 --quiet &
stress=$!
trap 'kill $stress 2>/dev/null; wait $stress 2>/dev/null' EXIT

passed=0 failed=0
for i in $(seq 1 "$n"); do
  t0=$SECONDS
  if (cd "$src/tests/e2e" && RIGELK8S_BIN=$bin RK_SOURCE_DIR=$src python3 -m unittest test_examples) \
       > "$out/run-$i.log" 2>&1; then
    passed=$((passed + 1)); verdict=ok
    rm -f "$out/run-$i.log"
  else
    failed=$((failed + 1)); verdict="FAILED (output: $out/run-$i.log)"
    grep -E "^(FAIL|ERROR):|Error: |AssertionError" "$out/run-$i.log" | head -5 | sed 's/^/    /'
  fi
  echo "run $i/$n: $verdict ($((SECONDS - t0)) s)"
done
echo "examples_20x: $passed passed, $failed failed (test_examples x$n, stress-ng --cpu ${STRESS_CPUS:-2})"
[ "$failed" = 0 ]
