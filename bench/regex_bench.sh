#!/usr/bin/env bash
# regex_replace on PCRE2 against the Lua engine it replaced (bench/regex_reference.lua),
# in one process: a typical Rigelfile's templates, the patterns Rigelfiles use, the
# compile cache, and a 60 kB text. See bench/regex_bench.lua.
#
#   bench/regex_bench.sh [path/to/rigelk8s] [rounds]
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
bin=${1:-${RIGELK8S_BIN:-$src/build/rigelk8s}}
[ -x "$bin" ] || { echo "regex_bench: no binary at $bin (build first)"; exit 1; }
"$bin" run "$src/bench/regex_bench.lua" "${2:-2000}"
