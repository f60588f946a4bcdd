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
  /^FAILED \(/ {
    if (match($0, /failures=[0-9]+/)) pf += substr($0, RSTART + 9, RLENGTH - 9)
    if (match($0, /errors=[0-9]+/))   pf += substr($0, RSTART + 7, RLENGTH - 7)
  }
  /^(OK|FAILED) \(.*skipped=[0-9]+/ { if (match($0, /skipped=[0-9]+/)) ps += substr($0, RSTART + 8, RLENGTH - 8) }
  /^[0-9]+ passed, [0-9]+ failed/          { sp += $1; sf += $3 }
  END {
    printf "cmocka: %d passed, %d failed\n", cp, cf
    printf "busted: %d passed, %d failed, %d pending\n", bp, bf, bs
    printf "python unittest: %d run, %d failed, %d skipped\n", pr, pf, ps
    if (sp + sf) printf "shell: %d passed, %d failed\n", sp, sf
    printf "tests: %d passed, %d failed\n", cp + bp + (pr - pf - ps) + sp, cf + bf + pf + sf
  }' "$log"
