#!/usr/bin/env bash
# The real binary under valgrind memcheck, end to end against the Kubernetes emulator:
# deploy, update --image, status, diff and delete of a seed Rigelfile over plain HTTP,
# deploy and delete over TLS with a client certificate, and three failures (a broken
# Rigelfile, an unreachable cluster, an unknown context). Every run must end with no
# definite or indirect leak and no memory error (invalid read/write, uninitialised
# value, bad free). Memory that libcurl, OpenSSL or Lua keep reachable at exit is fine.
#
#   tests/e2e/valgrind.sh [BIN]      (make valgrind; also a ctest test, ~15 s)
#
# Skips (exit 77, which ctest counts as skipped) when valgrind is missing, unless
# RK_VALGRIND_REQUIRED=1 (which make valgrind sets) or CI=true: then a missing valgrind
# fails the run. Sanitizer builds skip too: valgrind cannot run them, and ASan checks them.
set -uo pipefail

src=${RK_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
bin=${1:-${RIGELK8S_BIN:-$src/build/rigelk8s}}
case $bin in /*) ;; *) bin=$PWD/$bin ;; esac
rigelfile=$src/tests/golden/rigelfiles/seed-minimal.Rigelfile
emulator=$src/tests/kube-emulator/kube-emulator

if ! command -v valgrind >/dev/null; then
  if [ "${RK_VALGRIND_REQUIRED:-}" = 1 ] || [ "${CI:-}" = true ]; then
    echo "FAIL: valgrind is not installed, so the memcheck did not run (CI=true or RK_VALGRIND_REQUIRED=1"
    echo "      make a missing memcheck a failure). Fix: make deps (as root), or apt-get install valgrind"
    exit 1
  fi
  echo "SKIP: valgrind is not installed (make deps as root, or apt-get install valgrind)"
  exit 77
fi
if ldd "$bin" 2>/dev/null | grep -qE 'lib(asan|ubsan|tsan)'; then
  echo "SKIP: $bin is a sanitizer build; valgrind runs on the plain build (make valgrind)"
  exit 77
fi

tmp=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
  rm -rf "$tmp"
}
trap cleanup EXIT

failures=0
runs=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }

# start_emulator NAME [FLAGS...]: starts an emulator writing $tmp/NAME.kc.
start_emulator() {
  local name=$1
  shift
  "$emulator" --port 0 --write-kubeconfig "$tmp/$name.kc" --ready-delay 0.2 "$@" \
    >"$tmp/$name.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 1 100); do
    grep -q "listening on" "$tmp/$name.log" && [ -s "$tmp/$name.kc" ] && return 0
    sleep 0.1
  done
  fail "emulator $name did not start:"; cat "$tmp/$name.log"
  return 1
}

# memcheck STEP WANT_EXIT ARGS...: runs the binary under memcheck; the step passes when
# the exit code is WANT_EXIT and valgrind found nothing (it exits 99 on any error).
memcheck() {
  local step=$1 want=$2
  shift 2
  runs=$((runs + 1))
  local t0=$SECONDS
  env -i PATH="$PATH" HOME="$tmp" KUBECONFIG="$tmp/none" NO_COLOR=1 \
    ${RIGELK8S_LUA_DIR:+RIGELK8S_LUA_DIR="$RIGELK8S_LUA_DIR"} \
    valgrind --quiet --leak-check=full --show-leak-kinds=definite,indirect \
      --errors-for-leak-kinds=definite,indirect --error-exitcode=99 --num-callers=40 \
      --log-file="$tmp/$step.vg" "$bin" "$@" >"$tmp/$step.out" 2>&1
  local rc=$?
  if [ -s "$tmp/$step.vg" ] || [ "$rc" = 99 ]; then
    fail "$step: memcheck found errors (rigelk8s $*):"; cat "$tmp/$step.vg"
  elif [ "$rc" != "$want" ]; then
    fail "$step: exit $rc, expected $want (rigelk8s $*):"; cat "$tmp/$step.out"
  else
    echo "ok   $step ($((SECONDS - t0)) s)"
  fi
}

start=$SECONDS
start_emulator plain || exit 1
kc=$tmp/plain.kc
memcheck deploy 0 deploy -f "$rigelfile" --kubeconfig "$kc"
memcheck update 0 update --image ros:noetic-ros-base -f "$rigelfile" --kubeconfig "$kc"
memcheck status 0 status -f "$rigelfile" --kubeconfig "$kc"
# diff exits 1: the live Deployment runs the --image of the update, the Rigelfile not.
memcheck diff-json 1 diff -f "$rigelfile" --kubeconfig "$kc" -o json
memcheck delete 0 delete -f "$rigelfile" --kubeconfig "$kc"

if start_emulator tls --tls; then
  memcheck tls-deploy 0 deploy -f "$rigelfile" --kubeconfig "$tmp/tls.kc" --context emulator-cert
  memcheck tls-delete 0 delete -f "$rigelfile" --kubeconfig "$tmp/tls.kc" --context emulator-cert
fi

memcheck broken-rigelfile 2 render -f "$src/tests/golden/rigelfiles/broken/many-problems.Rigelfile"
# A cluster that refuses connections: the kubeconfig of an emulator that has exited.
kill "${pids[0]}" 2>/dev/null; wait "${pids[0]}" 2>/dev/null
memcheck unreachable 3 deploy -f "$rigelfile" --kubeconfig "$kc" --timeout 5s
memcheck unknown-context 2 deploy -f "$rigelfile" --kubeconfig "$kc" --context nope

echo "valgrind: $runs runs in $((SECONDS - start)) s, $failures failed"
[ "$failures" -eq 0 ]
