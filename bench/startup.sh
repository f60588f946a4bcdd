#!/usr/bin/env bash
# Start-up: `rigelk8s run` of an empty script, beside `lua5.4` running the same file.
set -euo pipefail
bin=${1:-build/rigelk8s}
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
: > "$tmp/empty.lua"
echo "== start-up (target: rigelk8s median <= 3 ms)"
"$here/timeit.py" -n 21 --label "rigelk8s run empty.lua" -- "$bin" run "$tmp/empty.lua"
if command -v lua5.4 >/dev/null; then
  "$here/timeit.py" -n 21 --label "lua5.4 empty.lua     " -- lua5.4 "$tmp/empty.lua"
fi
