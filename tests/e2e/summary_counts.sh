#!/usr/bin/env bash
# tests/summary.sh on a made-up ctest run: one test of each runner, with passes, failures
# and skips, and a shell test that exited 77. The counts per runner and the closing line
# must be exactly these; a skip must never be counted as a pass.
set -uo pipefail
src=${RK_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/Testing/Temporary"

block() {  # block N NAME VERDICT OUTPUT
  printf '%s/6 Testing: %s\n%s/6 Test: %s\nCommand: "x"\nDirectory: /\n"%s" start time: now\nOutput:\n' \
    "$1" "$2" "$1" "$2" "$2"
  printf -- '----------------------------------------------------------\n%s\n<end of output>\n' "$4"
  printf 'Test time =   0.01 sec\n----------------------------------------------------------\n'
  printf 'Test %s.\n"%s" end time: now\n----------------------------------------------------------\n\n' "$3" "$2"
}
{
  echo "Start testing: now"
  block 1 c_torture_x Failed $'[==========] 5 test(s) run.\n[  PASSED  ] 3 test(s).\n[  FAILED  ] 1 test(s), listed below:\n[  SKIPPED ] 1 test(s), listed below:'
  block 2 lua_x_spec Passed '7 successes / 0 failures / 0 errors / 2 pending : 0.1 seconds'
  block 3 py_e2e_test_a Passed $'Ran 6 tests in 1.0s\n\nOK (skipped=2)\nunittest: 4 passed, 0 failed, 2 skipped'
  block 4 py_emulator_test_b Passed $'OK (skipped=1)\nunittest: 0 passed, 0 failed, 1 skipped\nSKIP: TestB: no kubectl'
  block 5 e2e_mem Passed 'SKIP: valgrind is not installed'
  block 6 e2e_golden Failed 'FAIL: golden differs'
  echo "End testing: now"
} > "$tmp/Testing/Temporary/LastTest.log"
cat > "$tmp/Testing/junit.xml" <<'XML'
<?xml version="1.0" encoding="UTF-8"?>
<testsuite name="x" tests="6" failures="2" skipped="2">
  <testcase name="c_torture_x" status="fail"><failure message=""/></testcase>
  <testcase name="lua_x_spec" status="run"/>
  <testcase name="py_e2e_test_a" status="run"/>
  <testcase name="py_emulator_test_b" status="notrun"><skipped message="SKIP_RETURN_CODE=77"/></testcase>
  <testcase name="e2e_mem" status="notrun"><skipped message="SKIP_RETURN_CODE=77"/></testcase>
  <testcase name="e2e_golden" status="fail"><failure message=""/></testcase>
</testsuite>
XML
want='cmocka: 3 passed, 1 failed, 1 skipped
busted: 7 passed, 0 failed, 2 skipped
python unittest: 4 passed, 0 failed, 3 skipped
shell: 0 passed, 1 failed, 1 skipped
tests: 14 passed, 2 failed, 7 skipped'
got=$("$src/tests/summary.sh" "$tmp")
if [ "$got" != "$want" ]; then
  echo "FAIL: tests/summary.sh printed:"; echo "$got"; echo "wanted:"; echo "$want"
  exit 1
fi
# Without the JUnit file (ctest run by hand), the SKIP: line still marks the shell skip.
rm "$tmp/Testing/junit.xml"
got=$("$src/tests/summary.sh" "$tmp" | tail -1)
[ "$got" = "tests: 14 passed, 2 failed, 7 skipped" ] || { echo "FAIL: without junit.xml: $got"; exit 1; }
echo "summary_counts: 1 passed, 0 failed"
