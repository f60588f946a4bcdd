#!/usr/bin/env bash
# The real-cluster path of the e2e harness (make test-cluster), proven in make test against
# a stand-in: a kube-emulator started the way a user would start any cluster (no nodes,
# timing or faults from the tests), handed over as KUBECONFIG. A subset of the suites runs
# through tests/cluster/run.sh exactly as against kind or k3s: unique namespaces deleted
# afterwards, emulator-only tests skipped. Afterwards no test namespace may be left.
# (The whole make test-cluster against an emulator takes about 90 s on an idle machine.)
set -uo pipefail
src=${RK_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
bin=${RIGELK8S_BIN:-$src/build/rigelk8s}
tmp=$(mktemp -d)
"$src/tests/kube-emulator/kube-emulator" --port 0 --write-kubeconfig "$tmp/kc" > "$tmp/emulator.log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$tmp"' EXIT
for _ in $(seq 1 100); do
  grep -q "listening on" "$tmp/emulator.log" && [ -s "$tmp/kc" ] && break
  sleep 0.1
done
grep -q "listening on" "$tmp/emulator.log" || { echo "FAIL: the emulator did not start:"; cat "$tmp/emulator.log"; exit 1; }
echo "stand-in cluster: a kube-emulator ($(head -1 "$tmp/emulator.log"))"

KUBECONFIG=$tmp/kc "$src/tests/cluster/run.sh" "$bin" \
  test_workflows.DeployTest.test_deploy_applies_in_dependency_order_without_waiting_and_reports \
  test_workflows.FailureTest.test_atomic_update_rolls_back_to_the_previous_revision \
  test_workflows.UpdateTest.test_rollback_to_a_named_revision \
  test_workflows.InspectTest.test_delete_keeps_storage_unless_asked \
  test_workflows.DistributedTest \
  test_examples.TestDeployAndUpdate.test_runs_to_completion \
  test_sequence.TestStages.test_a_failed_branch_fails_the_stage_after_every_branch_ran \
  test_fleet 2>&1 | tee "$tmp/run.log"
rc=${PIPESTATUS[0]}
[ "$rc" = 0 ] || { echo "FAIL: make test-cluster against the stand-in exited $rc"; exit 1; }
# The emulator-only tests must have been skipped, each with its reason, not run.
grep -q "skipped 'cluster mode: needs the emulator: --nodes" "$tmp/run.log" ||
  { echo "FAIL: DistributedTest was not skipped in cluster mode"; exit 1; }
grep -q "skipped 'cluster mode: needs the emulator: a fleet of ten clusters" "$tmp/run.log" ||
  { echo "FAIL: test_fleet was not skipped in cluster mode"; exit 1; }
# Six tests ran; every skip (the fleet's count grows with its suite) is a cluster-mode one.
grep -Eq "^unittest: 6 passed, 0 failed, [0-9]+ skipped" "$tmp/run.log" ||
  { echo "FAIL: expected 6 passed, 0 failed"; exit 1; }
skipped=$(sed -n 's/^unittest: 6 passed, 0 failed, \([0-9]*\) skipped.*/\1/p' "$tmp/run.log")
with_reason=$(grep -c "skipped 'cluster mode: needs the emulator: " "$tmp/run.log")
[ "$skipped" = "$with_reason" ] ||
  { echo "FAIL: $skipped skipped, but only $with_reason with a cluster-mode reason"; exit 1; }
left=$(KUBECONFIG=$tmp/kc python3 - "$tmp/kc" "$src/tests/emulator" <<'PY'
import json, sys, urllib.request
sys.path.insert(0, sys.argv[2])
from emuharness import yamlmini
cfg = yamlmini.load(open(sys.argv[1]).read())
server = cfg["clusters"][0]["cluster"]["server"]
token = cfg["users"][0]["user"]["token"]
req = urllib.request.Request(server + "/api/v1/namespaces", headers={"Authorization": "Bearer " + token})
names = [n["metadata"]["name"] for n in json.load(urllib.request.urlopen(req))["items"]]
print(" ".join(n for n in names if n.startswith("rk")))
PY
) || { echo "FAIL: could not list the namespaces left on the cluster"; exit 1; }
[ -z "$left" ] || { echo "FAIL: test namespaces left on the cluster: $left"; exit 1; }
echo "cluster_mode_on_emulator (stand-in cluster): 1 passed, 0 failed"
