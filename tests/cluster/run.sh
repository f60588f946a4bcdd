#!/usr/bin/env bash
# make test-cluster: the end-to-end suites against a cluster of yours (kind, k3s, minikube,
# a lab cluster) instead of the emulators the tests start themselves.
#
#   KUBECONFIG=~/.kube/config [RIGELK8S_TEST_CONTEXT=kind-kind] tests/cluster/run.sh BIN [TEST...]
#
# TEST is a unittest name under tests/e2e (default: test_workflows test_examples
# test_sequence test_fleet). Every test works in namespaces of its own (rk<run id><n>-…),
# deleted and waited for when it ends; tests that need an emulator knob are skipped with
# the reason. Images and failure modes: tests/emulator/failmodes.py (RIGELK8S_TEST_IMAGE …).
# Exit: 0 all passed (some may be skipped), 1 a test failed, 2 usage (no kubeconfig or
# binary), 77 every test was skipped.
set -uo pipefail
src=${RK_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
bin=${1:-${RIGELK8S_BIN:-$src/build/rigelk8s}}
shift || true
case $bin in /*) ;; *) bin=$PWD/$bin ;; esac
[ -x "$bin" ] || { echo "test-cluster: no rigelk8s binary at $bin (run make build)"; exit 2; }
kc=${RIGELK8S_TEST_KUBECONFIG:-${KUBECONFIG:-}}
kc=${kc%%:*}  # a KUBECONFIG list: the first file
if [ -z "$kc" ]; then
  echo "test-cluster: no cluster given. Run: make test-cluster KUBECONFIG=/path/to/kubeconfig"
  echo "  (and RIGELK8S_TEST_CONTEXT=NAME for a context other than the current one)"
  exit 2
fi
[ -r "$kc" ] || { echo "test-cluster: cannot read the kubeconfig $kc (KUBECONFIG)"; exit 2; }
tests=("$@")
[ ${#tests[@]} -gt 0 ] || tests=(test_workflows test_examples test_sequence test_fleet)
echo "test-cluster: ${tests[*]} against $kc${RIGELK8S_TEST_CONTEXT:+ (context $RIGELK8S_TEST_CONTEXT)}"
cd "$src/tests/e2e" || exit 2
RIGELK8S_TEST_KUBECONFIG=$kc RIGELK8S_BIN=$bin RK_SOURCE_DIR=$src \
  python3 "$src/tests/unittest_run.py" "${tests[@]}"
