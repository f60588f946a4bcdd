#!/usr/bin/env bash
# `rigelk8s diff`'s line diff on a 4,000-line manifest with 80 changes: the Myers diff in
# C (core/diff.c) against the Lua LCS diff it replaced (bench/diff_reference.lua),
# measured in this run. Time: median of the in-process runs; memory: peak RSS of each
# process (GNU time), beside a process that only reads the two files.
# Targets: <= 50 ms and <= 20 MB peak.
#
#   bench/diff_bench.sh [path/to/rigelk8s] [lines] [changes]
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
bin=${1:-${RIGELK8S_BIN:-$src/build/rigelk8s}}
lines=${2:-4000}
changes=${3:-80}
[ -x "$bin" ] || { echo "diff_bench: no binary at $bin (build first)"; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
lua=$src/bench/diff_bench.lua
"$bin" run "$lua" generate "$tmp" "$lines" "$changes"

peak() { # peak RSS in MB of one run of the command
  if [ -x /usr/bin/time ]; then
    /usr/bin/time -f %M -o "$tmp/rss" "$@" > /dev/null
    awk '{printf "%.1f", $1 / 1024}' "$tmp/rss"
  else
    "$@" > /dev/null; echo "?"
  fi
}
field() { awk -v k="$1" '{for (i = 1; i < NF; i++) if ($i == k) print $(i + 1)}'; }

ours=$("$bin" run "$lua" c "$tmp" 21)
theirs=$("$bin" run "$lua" lua "$tmp" 1)
echo "$ours"
echo "$theirs"
[ "$(field changed <<< "$ours")" = "$(field changed <<< "$theirs")" ] ||
  { echo "diff_bench: the two diffs differ in size"; exit 1; }
rss_c=$(peak "$bin" run "$lua" c "$tmp" 1)
rss_lua=$(peak "$bin" run "$lua" lua "$tmp" 1)
rss_read=$(peak "$bin" run "$lua" read "$tmp")
ms_c=$(field median <<< "$ours")
ms_lua=$(field median <<< "$theirs")
cpu_c=$(field cpu <<< "$ours")
cpu_lua=$(field cpu <<< "$theirs")
echo "diff_bench: $lines lines, $changes changes: C Myers ${ms_c} ms (CPU ${cpu_c} ms), peak RSS ${rss_c} MB;" \
     "Lua LCS ${ms_lua} ms (CPU ${cpu_lua} ms), ${rss_lua} MB; reading the files alone ${rss_read} MB"
awk -v a="$ms_lua" -v b="$ms_c" -v x="$rss_lua" -v y="$rss_c" \
  'BEGIN {printf "diff_bench: C is %.0fx faster and needs %.1fx less peak memory (targets <= 50 ms, <= 20 MB)\n", a / b, x / y}'
awk -v t="$ms_c" -v m="$rss_c" 'BEGIN {exit !(t <= 50 && m <= 20)}' || { echo "diff_bench: over target"; exit 1; }
