"""What counts as a failure (README, "What counts as a failure"), end to end against the
Kubernetes API emulator (a stand-in: its kubelet, scheduler and cluster autoscaler are
simulated; the image name selects the pull fault, tests/kube-emulator/README.md):

- a transient pull error (a registry's 503, an i/o timeout) is retried and the deploy
  succeeds once the pull does; one that never clears fails after 5 failed pulls;
- a permanent pull error (not found, 401 Unauthorized) fails at once, without a retry;
- a nodeSelector label no node has fails at once, naming the label and the kubectl fix;
- an autoscaler's TriggeredScaleUp is waited for, and the deploy succeeds on the new node;
- NotTriggerScaleUp fails at once; any other Unschedulable pod fails after
  --unschedulable-grace.

Time bounds here are generous sanity checks (the verdict's reason is what is asserted):
the machine is shared, and speed is measured in bench/, not asserted in tests.

Run: RIGELK8S_BIN=build/rigelk8s python3 -m unittest -v test_failure_policy   (from tests/e2e)"""
import os
import sys
import shutil
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "emulator"))  # tests/emulator/emuharness.py
from emuharness import need_binary, Cluster, Emulator, orchestration, rigelk8s, tmpdir, write_rigelfile

GPU = {"gpu": "true"}


class FailurePolicyOnEmulatorTest(unittest.TestCase):
    def setUp(self):
        need_binary(self)
        self.dir = tmpdir()
        self.addCleanup(shutil.rmtree, self.dir, True)

    def emulator(self, *args, nodes="robot-1:deploymentType=local"):
        emu = Emulator("--nodes", nodes, *args, ready_delay=0.1)
        self.addCleanup(emu.stop)
        return emu

    def deploy(self, emu, ns, code, *flags, image=None, node_selector=None, timeout="60s"):
        over = {"deploy_ros_master": False, "persistent_storage": None}
        if image:
            over["application_image"] = image
        if node_selector:
            over["additional_k8s_params"] = {"application": {"spec": {"template": {"spec": {
                "nodeSelector": node_selector}}}}}
        rf = write_rigelfile(self.dir, orchestration(ns, **over), name="Rigelfile-" + ns)
        r = rigelk8s("deploy", "-f", rf, "--kubeconfig", emu.kubeconfig, "--timeout", timeout, *flags)
        self.assertEqual(r.code, code, r)
        return r

    # ---- image pulls ------------------------------------------------------------------

    def test_transient_pull_error_recovers_without_failing_on_emulator(self):
        emu = self.emulator()
        r = self.deploy(emu, "flaky", 0, image="registry.example.com/robot/app:flaky-pull")
        # The progress said what the registry said, and that the pull is being retried.
        self.assertIn("retrying (registry said: failed to pull and unpack image", r.stderr)
        self.assertRegex(r.stderr, r"503 Service Unavailable|i/o timeout")
        pod = [p for p in Cluster(emu).get("Pod", "flaky")
               if p["metadata"]["labels"].get("app") == "rigel-k8s-application"][0]
        self.assertEqual(pod["status"]["phase"], "Running")
        events = [e for e in Cluster(emu).get("Event", "flaky")
                  if e["reason"] == "Failed" and e["message"].startswith("Failed to pull image")]
        self.assertEqual(sum(e.get("count", 1) for e in events), 2, events)  # two failed pulls, then it pulled

    def test_transient_pull_error_that_never_clears_fails_after_5_pulls_on_emulator(self):
        emu = self.emulator()
        r = self.deploy(emu, "down", 1, image="registry.example.com/robot/app:registry-down")
        self.assertIn("5 pull attempts failed (the limit is 5); the last error: failed to pull and unpack image",
                      r.stderr)
        self.assertIn("retrying (registry said:", r.stderr)

    def test_permanent_pull_error_fails_at_once_on_emulator(self):
        emu = self.emulator()
        r = self.deploy(emu, "nf", 1, image="registry.example.com/robot/app:not-found")
        # ErrImagePull, or ImagePullBackOff when the kubelet moved on before the first look
        # (a loaded machine): both carry the registry's words, and both fail at once.
        self.assertRegex(r.stderr, r'(ErrImagePull|ImagePullBackOff) \(image "registry\.example\.com/robot/app:not-found"\): '
                         r'failed to pull and unpack image "registry\.example\.com/robot/app:not-found": failed to resolve '
                         r'reference "registry\.example\.com/robot/app:not-found": registry\.example\.com/robot/app:not-found: '
                         r'not found')
        self.assertNotIn("retrying", r.stderr)  # no retry wait happened
        self.assertLess(r.elapsed, 5, r)  # sanity: the emulator's first pull fails after 0.1 s
        r = self.deploy(emu, "auth", 1, image="registry.example.com/robot/app:unauthorized")
        self.assertIn("401 Unauthorized", r.stderr)
        self.assertNotIn("retrying", r.stderr)

    # ---- Unschedulable ----------------------------------------------------------------

    def test_missing_node_label_fails_at_once_with_the_label_hint_on_emulator(self):
        emu = self.emulator(nodes="robot-1:deploymentType=local;robot-2:deploymentType=local")
        r = self.deploy(emu, "label", 1, node_selector=GPU)
        self.assertIn("Unschedulable: 0/2 nodes are available: 2 node(s) didn't match Pod's node affinity/selector; "
                      "no node has the label gpu=true", r.stderr)
        self.assertIn("no node has the label gpu=true (nodes: robot-1, robot-2); "
                      "fix: kubectl label node robot-1 gpu=true", r.stderr)
        self.assertIn("0 available · NoMatchingNode", r.stderr)  # the label rule, not the grace
        self.assertNotIn("--unschedulable-grace", r.stderr)
        self.assertLess(r.elapsed, 25, r)  # sanity: well under the 30 s grace

    def test_triggered_scale_up_waits_then_succeeds_when_the_emulator_adds_a_node_on_emulator(self):
        emu = self.emulator("--autoscaler", "scale-up", "--scale-up-delay", "3")
        r = self.deploy(emu, "scale", 0, node_selector=GPU)
        self.assertIn("waiting for a node (autoscaler: TriggeredScaleUp: pod triggered scale-up: "
                      "[{kubeemu-pool 1->2 (max: 10)}]", r.stderr)
        self.assertNotIn("no node has the label", r.stderr)  # the label rule waited for the autoscaler's word
        self.assertNotIn("[failed]", r.stderr)
        k = Cluster(emu)
        node = emu.ok("GET", "/api/v1/nodes/kubeemu-pool-1")
        self.assertEqual(node["metadata"]["labels"]["gpu"], "true")
        pod = [p for p in k.get("Pod", "scale") if p["metadata"]["labels"].get("app") == "rigel-k8s-application"][0]
        self.assertEqual(pod["spec"]["nodeName"], "kubeemu-pool-1")

    def test_not_trigger_scale_up_fails_at_once_on_emulator(self):
        emu = self.emulator("--autoscaler", "no-scale-up")
        emu.ok("PATCH", "/api/v1/nodes/robot-1", {"spec": {"unschedulable": True}})  # cordoned: labels fit
        r = self.deploy(emu, "noscale", 1)
        self.assertIn("the cluster autoscaler will not add a node for it (NotTriggerScaleUp: pod didn't trigger "
                      "scale-up: 1 node(s) didn't fit, 1 max node group size reached)", r.stderr)
        self.assertIn("0 available · NotTriggerScaleUp", r.stderr)
        self.assertLess(r.elapsed, 25, r)  # sanity: well under the 30 s grace

    def test_unschedulable_fails_after_the_grace_on_emulator(self):
        emu = self.emulator()
        emu.ok("PATCH", "/api/v1/nodes/robot-1", {"spec": {"unschedulable": True}})
        r = self.deploy(emu, "grace", 1, "--unschedulable-grace", "2s")
        self.assertIn("waiting for a node (scheduler: 0/1 nodes are available:", r.stderr)
        self.assertRegex(r.stderr, r"Unschedulable for [23]s \(--unschedulable-grace 2s\): 0/1 nodes are available")
        self.assertNotIn("timed out", r.stderr)

    def test_a_bad_grace_is_a_usage_error_before_anything_is_applied_on_emulator(self):
        emu = self.emulator()
        r = self.deploy(emu, "bad", 2, "--unschedulable-grace", "soon")
        self.assertIn("--unschedulable-grace: bad duration 'soon'", r.stderr)
        st, _, _ = emu.request("GET", "/api/v1/namespaces/bad")
        self.assertEqual(st, 404)


if __name__ == "__main__":
    unittest.main()
