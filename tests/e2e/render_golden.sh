#!/usr/bin/env bash
# Golden tests for `rigelk8s render`: every tests/golden/rigelfiles/NAME.Rigelfile is
# rendered and compared with NAME.expected.yaml. Optional NAME.args holds extra flags
# (e.g. --job robot); optional NAME.env holds VAR=value lines for the environment (the
# render runs in an otherwise empty environment so the host's variables cannot leak into
# templates). Render must write nothing on standard error, unless NAME.expected.stderr
# exists: then standard error must be exactly that (e.g. the no-ROS-master warning).
#
# Then every expected file is sent to the Kubernetes emulator with
# `kubectl apply --server-side --dry-run=server`, so the manifests are proven acceptable
# to an API server. When kubectl is missing that stage cannot run: the script then exits 77
# (ctest: skipped) after the golden comparisons, or 1 under CI=true, where a missing
# cross-check must fail the run.
#
#   RK_UPDATE_GOLDEN=1 tests/e2e/render_golden.sh   rewrites the expected files; review
#                                                    the diff by eye before committing.
set -uo pipefail

src=${RK_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
bin=${RIGELK8S_BIN:-$src/build/rigelk8s}
case $bin in /*) ;; *) bin=$PWD/$bin ;; esac
dir=$src/tests/golden/rigelfiles
tmp=$(mktemp -d)
emulator_pid=
cleanup() {
  if [ -n "$emulator_pid" ]; then kill "$emulator_pid" 2>/dev/null; wait "$emulator_pid" 2>/dev/null; fi
  rm -rf "$tmp"
}
trap cleanup EXIT

failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }

# Runs the binary with only what it needs from the environment.
run_clean() {
  local -a keep=(PATH="$PATH" HOME="$tmp")
  [ -n "${RIGELK8S_LUA_DIR:-}" ] && keep+=(RIGELK8S_LUA_DIR="$RIGELK8S_LUA_DIR")
  env -i "${keep[@]}" "$@"
}

cd "$dir" || exit 1
count=0
for input in *.Rigelfile; do
  name=${input%.Rigelfile}
  args=()
  [ -f "$name.args" ] && read -r -a args < "$name.args"
  envs=()
  [ -f "$name.env" ] && mapfile -t envs < "$name.env"
  expected=$name.expected.yaml
  if ! run_clean "${envs[@]}" "$bin" render -f "$input" "${args[@]}" > "$tmp/$name.yaml" 2> "$tmp/$name.err"; then
    fail "$name: render exited non-zero:"; cat "$tmp/$name.err"; continue
  fi
  # Warnings are expected only where NAME.expected.stderr holds them, word for word.
  if [ "${RK_UPDATE_GOLDEN:-}" = 1 ]; then
    if [ -s "$tmp/$name.err" ]; then cp "$tmp/$name.err" "$name.expected.stderr"; else rm -f "$name.expected.stderr"; fi
  fi
  if [ -f "$name.expected.stderr" ]; then
    diff -u "$name.expected.stderr" "$tmp/$name.err" || fail "$name: standard error differs from $name.expected.stderr (above)"
  elif [ -s "$tmp/$name.err" ]; then
    fail "$name: render wrote to stderr:"; cat "$tmp/$name.err"
  fi
  # Deterministic: a second run must give the same bytes.
  run_clean "${envs[@]}" "$bin" render -f "$input" "${args[@]}" > "$tmp/$name.again" 2>/dev/null
  cmp -s "$tmp/$name.yaml" "$tmp/$name.again" || fail "$name: two renders differ"
  if [ "${RK_UPDATE_GOLDEN:-}" = 1 ]; then
    cp "$tmp/$name.yaml" "$expected"
    echo "updated $expected"
  elif [ ! -f "$expected" ]; then
    fail "$name: no $expected (create it with RK_UPDATE_GOLDEN=1 and review it)"
  elif ! diff -u "$expected" "$tmp/$name.yaml"; then
    fail "$name: output differs from $expected (above)"
  fi
  count=$((count + 1))
done
echo "render_golden: $count Rigelfiles rendered"
[ "$count" -ge 10 ] || fail "expected at least 10 golden Rigelfiles, found $count"

# --- Server-side dry run against the emulator ---------------------------------------
dry_run_skipped=
if ! command -v kubectl > /dev/null; then
  dry_run_skipped=1
  if [ "${CI:-}" = true ]; then
    fail "kubectl is not installed, so the server-side dry run of the golden manifests did not run (CI=true makes that a failure). Fix: make deps (as root) installs kubernetes-client"
  fi
else
  emulator=$src/tests/kube-emulator/kube-emulator
  if [ ! -x "$emulator" ]; then
    fail "the Kubernetes emulator $emulator is missing"
  else
    "$emulator" --port 0 --write-kubeconfig "$tmp/kc" > "$tmp/emulator.log" 2>&1 &
    emulator_pid=$!
    for _ in $(seq 1 100); do
      grep -q "listening on" "$tmp/emulator.log" && [ -s "$tmp/kc" ] && break
      sleep 0.1
    done
    if ! grep -q "listening on" "$tmp/emulator.log"; then
      fail "the emulator did not start:"; cat "$tmp/emulator.log"
    else
      export KUBECONFIG=$tmp/kc
      # The ServiceMonitor kind exists only once its CRD is installed.
      kubectl apply --server-side -f crds/ > "$tmp/crd.out" 2>&1 ||
        { fail "cannot install the test CRDs:"; cat "$tmp/crd.out"; }
      for _ in $(seq 1 50); do
        kubectl api-resources --api-group=monitoring.coreos.com 2>/dev/null | grep -q servicemonitors && break
        sleep 0.1
      done
      applied=0
      for expected in *.expected.yaml; do
        # Namespaces first: a namespaced object cannot be dry-run into a namespace that
        # does not exist yet.
        for ns in $(awk '/^kind: Namespace$/{ns=1} ns && /^  name: /{print $2; ns=0} /^---$/{ns=0}' "$expected"); do
          printf 'apiVersion: v1\nkind: Namespace\nmetadata:\n  name: %s\n' "$ns" |
            kubectl apply --server-side -f - > "$tmp/ns.out" 2>&1 ||
            { fail "cannot create namespace $ns:"; cat "$tmp/ns.out"; }
        done
        if ! kubectl apply --server-side --dry-run=server --field-manager=rigelk8s \
               -f "$expected" > "$tmp/apply.out" 2>&1; then
          fail "kubectl rejected $expected:"; cat "$tmp/apply.out"
        else
          applied=$((applied + 1))
        fi
      done
      echo "render_golden: $applied manifests accepted by kubectl apply --server-side --dry-run=server"
    fi
  fi
fi

if [ "$failures" -gt 0 ]; then
  echo "render_golden: $failures failure(s)"
  exit 1
fi
if [ -n "$dry_run_skipped" ]; then
  echo "SKIP: the golden comparisons passed, but kubectl is not installed, so the server-side dry run"
  echo "      did not run (make deps as root installs kubernetes-client)"
  exit 77
fi
echo "render_golden: ok"
