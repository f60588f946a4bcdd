#!/usr/bin/env bash
# Broken Rigelfiles: each case under tests/golden/rigelfiles/broken/ must make
# `rigelk8s render` exit 2 with exactly the message in NAME.expected (standard error),
# and print nothing on standard output. A case is NAME.Rigelfile (rendered with
# -f NAME.Rigelfile) and/or NAME.args (the flags to use instead). Renders run in the
# broken/ directory, in an empty environment, and never contact a cluster (no kubeconfig
# is reachable: HOME and KUBECONFIG point at an empty directory).
#
#   RK_UPDATE_GOLDEN=1 tests/e2e/render_errors.sh   rewrites the .expected files (review
#                                                    every message by eye).
set -uo pipefail

src=${RK_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
bin=${RIGELK8S_BIN:-$src/build/rigelk8s}
case $bin in /*) ;; *) bin=$PWD/$bin ;; esac
dir=$src/tests/golden/rigelfiles/broken
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

run_clean() {
  local -a keep=(PATH="$PATH" HOME="$tmp" KUBECONFIG="$tmp/none")
  [ -n "${RIGELK8S_LUA_DIR:-}" ] && keep+=(RIGELK8S_LUA_DIR="$RIGELK8S_LUA_DIR")
  env -i "${keep[@]}" "$@"
}

cd "$dir" || exit 1
[ -e Rigelfile ] && { echo "FAIL: $dir/Rigelfile must not exist (missing-rigelfile needs it absent)"; exit 1; }

names=$( (ls *.Rigelfile *.args 2>/dev/null) | sed -E 's/\.(Rigelfile|args)$//' | sort -u)
failures=0 count=0
for name in $names; do
  if [ -f "$name.args" ]; then
    read -r -a args < "$name.args" || true
  else
    args=(-f "$name.Rigelfile")
  fi
  run_clean "$bin" render "${args[@]}" > "$tmp/out" 2> "$tmp/err"
  rc=$?
  want_rc=2
  [ -f "$name.exit" ] && want_rc=$(cat "$name.exit")
  count=$((count + 1))
  if [ "${RK_UPDATE_GOLDEN:-}" = 1 ]; then
    cp "$tmp/err" "$name.expected"
    echo "updated $name.expected (exit $rc)"
  fi
  if [ "$rc" -ne "$want_rc" ]; then
    echo "FAIL: $name: exit code $rc, want $want_rc"; cat "$tmp/err"; failures=$((failures + 1)); continue
  fi
  if [ -s "$tmp/out" ]; then
    echo "FAIL: $name: wrote to standard output:"; cat "$tmp/out"; failures=$((failures + 1)); continue
  fi
  if [ ! -f "$name.expected" ]; then
    echo "FAIL: $name: no $name.expected"; failures=$((failures + 1)); continue
  fi
  if ! diff -u "$name.expected" "$tmp/err"; then
    echo "FAIL: $name: message differs from $name.expected (above)"; failures=$((failures + 1))
  fi
done

echo "render_errors: $count broken cases, $failures failure(s)"
[ "$count" -ge 15 ] || { echo "FAIL: expected at least 15 broken cases"; exit 1; }
[ "$failures" -eq 0 ]
