#!/usr/bin/env bash
# Prints the cmocka, busted and Python test counts of the last ctest run in BUILD,
# then one closing line "tests: N passed, N failed".
build=${1:-build}
log=$build/Testing/Temporary/LastTest.log
[ -f "$log" ] || { echo "summary: no ctest log at $log"; exit 0; }
awk '
  /^\[  PASSED  \] [0-9]+ test/            { cp += $4 }
  /^\[  FAILED  \] [0-9]+ test/            { cf += $4 }
  /[0-9]+ successes? \/ [0-9]+ failures? \/ [0-9]+ errors?/ {
    for (i = 1; i <= NF; i++) {
      if ($(i+1) ~ /^success/) bp += $i
      if ($(i+1) ~ /^failure/) bf += $i
      if ($(i+1) ~ /^error/)   bf += $i
      if ($(i+1) ~ /^pending/) bs += $i
    }
  }
  /^Ran [0-9]+ tests? in/                  { pr += $2 }
  /^FAILED \((failures|errors)=/           { n = $0; gsub(/[^0-9 ]/, " ", n); split(n, a, " "); for (k in a) pf += a[k] }
  /^OK \(skipped=[0-9]+\)|skipped=[0-9]+/  { s = $0; sub(/.*skipped=/, "", s); ps += s + 0 }
  /^[0-9]+ passed, [0-9]+ failed/          { sp += $1; sf += $3 }
  END {
    printf "cmocka: %d passed, %d failed\n", cp, cf
    printf "busted: %d passed, %d failed, %d pending\n", bp, bf, bs
    printf "python unittest: %d run, %d failed, %d skipped\n", pr, pf, ps
    if (sp + sf) printf "shell: %d passed, %d failed\n", sp, sf
    printf "tests: %d passed, %d failed\n", cp + bp + (pr - pf - ps) + sp, cf + bf + pf + sf
  }' "$log"
