#!/usr/bin/env bash
# `rigelk8s render` of the seed README's full example: median wall time of N runs
# (default 30). Target: <= 5 ms. Uses hyperfine when installed, else a date +%s%N loop.
#
#   bench/render_bench.sh [path/to/rigelk8s] [runs]
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
bin=${1:-${RIGELK8S_BIN:-$src/build/rigelk8s}}
runs=${2:-30}
[ "$runs" -ge 5 ] || runs=5
rigelfile=$src/tests/golden/rigelfiles/seed-minimal.Rigelfile
target_ms=5

[ -x "$bin" ] || { echo "render_bench: no binary at $bin (build first)"; exit 1; }
"$bin" render -f "$rigelfile" > /dev/null   # fails loudly if render is broken

if command -v hyperfine > /dev/null; then
  json=$(mktemp)
  trap 'rm -f "$json"' EXIT
  hyperfine --style basic --warmup 3 --runs "$runs" -N --export-json "$json" \
    "$bin render -f $rigelfile" > /dev/null
  median_ms=$(python3 -c "import json,sys; r=json.load(open(sys.argv[1]))['results'][0]; print('%.2f' % (r['median']*1000)); print('min %.2f ms, max %.2f ms, mean %.2f ms' % (r['min']*1000, r['max']*1000, r['mean']*1000), file=sys.stderr)" "$json")
  tool=hyperfine
else
  times=()
  for _ in $(seq 1 "$runs"); do
    t0=$(date +%s%N)
    "$bin" render -f "$rigelfile" > /dev/null
    t1=$(date +%s%N)
    times+=($(( (t1 - t0) / 1000 )))
  done
  median_us=$(printf '%s\n' "${times[@]}" | sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : int((a[NR/2]+a[NR/2+1])/2)}')
  median_ms=$(awk -v u="$median_us" 'BEGIN {printf "%.2f", u/1000}')
  tool="date loop (install hyperfine for a steadier number)"
fi

echo "render_bench: median ${median_ms} ms over $runs runs ($tool); target <= ${target_ms} ms"
awk -v m="$median_ms" -v t="$target_ms" 'BEGIN {exit !(m <= t)}' || { echo "render_bench: over target"; exit 1; }
