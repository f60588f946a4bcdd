#!/usr/bin/env bash
# YAML load+dump throughput of `rigelk8s run` (rigelk8s.yaml) against lua5.4 + lyaml on a
# generated 5 MB multi-document manifest, median of 5 runs each. Target: >= 3x lyaml.
#
#   bench/yaml_bench.sh [path/to/rigelk8s] [megabytes] [runs]
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
bin=${1:-${RIGELK8S_BIN:-$src/build/rigelk8s}}
mb=${2:-5}
runs=${3:-5}
target=3

[ -x "$bin" ] || { echo "yaml_bench: no binary at $bin (build first)"; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
manifest=$tmp/manifest.yaml
"$bin" run "$src/bench/yaml_bench.lua" generate "$manifest" "$mb"

ours=$("$bin" run "$src/bench/yaml_bench.lua" rigelk8s "$manifest" "$runs")
echo "$ours"
if ! command -v lua5.4 > /dev/null || ! lua5.4 -e 'require "lyaml"' 2> /dev/null; then
  echo "yaml_bench: lua5.4 with lyaml not installed (apt-get install lua5.4 lua-yaml); no comparison"
  exit 0
fi
theirs=$(lua5.4 "$src/bench/yaml_bench.lua" lyaml "$manifest" "$runs")
echo "$theirs"

ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.1f", a / b}'; }
field() { awk -v k="$1" '{for (i = 1; i < NF; i++) if ($i == k) print $(i + 1)}'; }
r_load=$(ratio "$(field load <<< "$ours")" "$(field load <<< "$theirs")")
r_dump=$(ratio "$(field dump <<< "$ours")" "$(field dump <<< "$theirs")")
r_total=$(ratio "$(field total <<< "$ours")" "$(field total <<< "$theirs")")
echo "yaml_bench: rigelk8s vs lyaml: load ${r_load}x, dump ${r_dump}x, load+dump ${r_total}x (target >= ${target}x)"
awk -v r="$r_total" -v t="$target" 'BEGIN {exit !(r >= t)}' || { echo "yaml_bench: under target"; exit 1; }
