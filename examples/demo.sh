#!/usr/bin/env bash
# make demo: the main job, end to end, against the local Kubernetes API emulator:
# deploy examples/Rigelfile.example, roll out a new image, show status, watch a failing
# update get rolled back by --atomic, and delete everything.
set -euo pipefail
bin=$(realpath "${1:-build/rigelk8s}")
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
tmp=$(mktemp -d)
emu_pid=
cleanup() {
  [ -n "$emu_pid" ] && kill "$emu_pid" 2>/dev/null && wait "$emu_pid" 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT

step() { printf '\n\033[1m== %s\033[0m\n$ %s\n' "$1" "$2"; }

python3 tests/kube-emulator/kube-emulator --port 0 --write-kubeconfig "$tmp/kubeconfig" \
  --ready-delay 1 --nodes 'robot-1:deploymentType=local;cloud-1:deploymentType=remote' \
  > "$tmp/emulator.out" 2> "$tmp/emulator.err" &
emu_pid=$!
for _ in $(seq 100); do grep -q 'listening on' "$tmp/emulator.out" 2>/dev/null && break; sleep 0.05; done
url=$(sed -n 's/^listening on //p' "$tmp/emulator.out")
[ -n "$url" ] || { echo "demo: the emulator did not start:"; cat "$tmp/emulator.err"; exit 1; }
echo "rigelk8s $("$bin" --version | cut -d' ' -f2), local Kubernetes API emulator at $url"
export KUBECONFIG="$tmp/kubeconfig"
rf=examples/Rigelfile.example

step "What the Rigelfile renders to (no cluster needed)" "rigelk8s render -f $rf | grep -E '^kind|^  name'"
"$bin" render -f "$rf" | grep -E '^kind:|^  name:' | paste - - | sed 's/kind: //; s/  name: / /'

step "Deploy: apply in dependency order, then wait for everything together" "rigelk8s deploy -f $rf"
"$bin" deploy -f "$rf"

step "Deploy again: nothing changed, so nothing rolls out" "rigelk8s deploy -f $rf"
"$bin" deploy -f "$rf"

step "Rolling update to a new image" "rigelk8s update -f $rf --image my-registry/my-ros-app:v1.1.0"
"$bin" update -f "$rf" --image my-registry/my-ros-app:v1.1.0

step "Status: objects, revisions, pods and their nodes" "rigelk8s status -f $rf"
"$bin" status -f "$rf"

step "A broken image: diagnosed at once, rolled back by --atomic (exit 1 expected)" \
     "rigelk8s update -f $rf --image my-registry/my-ros-app:crashloop --atomic"
set +e
"$bin" update -f "$rf" --image my-registry/my-ros-app:crashloop --atomic
rc=$?
set -e
echo "(exit code $rc: the update failed, and the previous revision is running again)"
[ "$rc" = 1 ] || { echo "demo: expected exit code 1 from the failed update"; exit 1; }

step "History of the application Deployment" "rigelk8s rollback -f $rf --history"
"$bin" rollback -f "$rf" --history

step "Delete everything, storage included" "rigelk8s delete -f $rf --delete-storage"
"$bin" delete -f "$rf" --delete-storage

cat <<'TXT'

== What to look at next
- examples/Rigelfile.example: every setting, commented; `rigelk8s render` shows its manifests.
- rigelk8s deploy --help: the flags (-o json for CI, --atomic, --timeout, --dry-run, -v).
- examples/custom-workflow.lua and the README's "Lua API": extend or replace the workflows.
- tests/kube-emulator/README.md: the emulator this demo ran against.
TXT
