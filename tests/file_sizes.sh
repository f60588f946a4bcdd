#!/usr/bin/env bash
# File sizes (make test: lint_file_sizes), from the repository root. No C or Lua source
# file (core/, lua/, scripts/, cmake/) may have more than 900 lines, and one with more
# than 700 must be named, with its reason, in the README's "File sizes" list (a line
# starting with "- `PATH` (").
set -u
readme=README.md
rc=0
while IFS= read -r f; do
  n=$(wc -l < "$f")
  if [ "$n" -gt 900 ]; then
    echo "FAIL: $f has $n lines (at most 900): split it by job"
    rc=1
  elif [ "$n" -gt 700 ] && ! grep -q -- "^- \`$f\` (" "$readme"; then
    echo "FAIL: $f has $n lines (over 700) and the README's \"File sizes\" list gives no reason"
    rc=1
  fi
done < <(git ls-files 'core/*.c' 'core/*.h' 'lua/*.lua' 'scripts/*.lua' 'cmake/*.c')
[ $rc = 0 ] && echo "file sizes: no source over 900 lines; every one over 700 has its reason in the README"
exit $rc
