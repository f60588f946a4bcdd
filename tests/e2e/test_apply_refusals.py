"""End-to-end: what a workflow says when the API server refuses its writes for reasons a
real kube-apiserver has (../shared/apiserver-transcripts/09, 10, 11): a namespace being
deleted, immutable fields of claims and Deployments, and that `rigelk8s delete` (a
Foreground delete) returns only once the dependents are gone. Against the Kubernetes API
emulator; the exact real bodies are checked in tests/lua/explain_spec.lua.

Run: RIGELK8S_BIN=build/rigelk8s python3 -m unittest -v test_apply_refusals   (from tests/e2e)"""
import os
import shutil
import unittest

from wfharness import BIN, Cluster, Emulator, orchestration, rigelk8s, tmpdir, write_rigelfile

PREFIX = "jobs.deploy_k8s.with.orchestration"


class ApplyRefusalTest(unittest.TestCase):
    def setUp(self):
        if not os.access(BIN, os.X_OK):
            self.skipTest("no rigelk8s binary at %s (set RIGELK8S_BIN)" % BIN)
        self.emu = Emulator("--nodes", "robot-1:deploymentType=local", ready_delay=0.2)
        self.addCleanup(self.emu.stop)
        self.k = Cluster(self.emu)
        self.dir = tmpdir()
        self.addCleanup(shutil.rmtree, self.dir, True)

    def rk(self, code, command, rf, *args):
        r = rigelk8s(command, "-f", rf, "--kubeconfig", self.emu.kubeconfig, *args, timeout=120)
        self.assertEqual(r.code, code, r)
        return r

    def test_deploy_into_a_terminating_namespace_says_wait_or_use_another(self):
        # A namespace held in Terminating by a finalizer, as one being emptied is.
        st, _, body = self.emu.post("/api/v1/namespaces", {
            "apiVersion": "v1", "kind": "Namespace",
            "metadata": {"name": "going", "finalizers": ["example.com/hold"]}})
        self.assertEqual(st, 201, body)
        st, _, body = self.emu.delete("/api/v1/namespaces/going")
        self.assertEqual(st, 200, body)
        self.assertIsNotNone(self.k.get("Namespace", None, "going")["metadata"].get("deletionTimestamp"))
        rf = write_rigelfile(self.dir, orchestration("going"))
        r = self.rk(1, "deploy", rf, "--timeout", "30s")
        self.assertIn("namespace going is being deleted (Terminating)", r.stderr)
        self.assertIn("wait until `kubectl get namespace going` answers NotFound", r.stderr)
        self.assertIn("%s.namespace" % PREFIX, r.stderr)
        self.assertNotIn("RBAC", r.stderr)
        self.assertEqual(r.stderr.count("being deleted"), 1, r)
        # Nothing new was created in it.
        self.assertIsNone(self.k.get("Deployment", "going", "rigel-k8s-application"))

    def test_changing_a_claims_storage_class_names_the_rigelfile_field_and_the_fix(self):
        rf = write_rigelfile(self.dir, orchestration("pvc"))
        self.rk(0, "deploy", rf, "--timeout", "60s")
        o = orchestration("pvc")
        o["persistent_storage"]["volumes"][0]["storage_class"] = "slow-hdd"
        rf2 = write_rigelfile(self.dir, o, name="Rigelfile2")
        r = self.rk(1, "deploy", rf2, "--timeout", "30s")
        self.assertIn("%s.persistent_storage.volumes[0].storage_class: the storage class of an existing claim "
                      "cannot change (the claim has fast-ssd, the Rigelfile asks for slow-hdd)" % PREFIX, r.stderr)
        self.assertIn("fix: keep storage_class at fast-ssd, or delete and recreate the claim", r.stderr)
        self.assertIn("data", r.stderr)
        self.assertRegex(r.stderr, r"LOST|kept on PersistentVolume|depends on its PersistentVolume's reclaimPolicy")

    def test_a_deployment_selector_that_cannot_change_is_explained(self):
        # The application Deployment was made by another tool, selecting other labels.
        st, _, body = self.emu.post("/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace",
                                                           "metadata": {"name": "sel"}})
        self.assertEqual(st, 201, body)
        st, _, body = self.emu.post("/apis/apps/v1/namespaces/sel/deployments", {
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "rigel-k8s-application"},
            "spec": {"replicas": 1, "selector": {"matchLabels": {"legacy": "yes"}},
                     "template": {"metadata": {"labels": {"legacy": "yes"}},
                                  "spec": {"containers": [{"name": "ros-app", "image": "old:1"}]}}}})
        self.assertEqual(st, 201, body)
        rf = write_rigelfile(self.dir, orchestration("sel"))
        # First the other tool's fields: a conflict that names it and the fix.
        r = self.rk(1, "deploy", rf, "--timeout", "30s")
        self.assertRegex(r.stderr, r'Deployment/rigel-k8s-application: conflicts with changes another tool made '
                                   r'\(field manager "[^"]+" owns [^)]*\.spec\.selector')
        self.assertIn("fix: rerun with --force-conflicts", r.stderr)
        # Taking the fields over still cannot change the selector.
        r = self.rk(1, "deploy", rf, "--force-conflicts", "--timeout", "30s")
        self.assertIn("spec.selector of a Deployment cannot change", r.stderr)
        self.assertIn("%s.additional_k8s_params.application" % PREFIX, r.stderr)
        self.assertIn("fix: delete and recreate the Deployment (`kubectl delete deployment rigel-k8s-application "
                      "-n sel`", r.stderr)
        self.assertIn("the data on its claims is kept", r.stderr)

    def test_delete_returns_once_the_dependents_are_gone(self):
        rf = write_rigelfile(self.dir, orchestration("del"))
        self.rk(0, "deploy", rf, "--timeout", "60s")
        self.assertTrue(self.k.get("Pod", "del"))
        r = rigelk8s("delete", "-f", rf, "--kubeconfig", self.emu.kubeconfig, "-v", "--timeout", "60s", timeout=120)
        self.assertEqual(r.code, 0, r)
        # Right when it returns: no ReplicaSet and no Pod of the application or the master.
        self.assertEqual(self.k.get("ReplicaSet", "del"), [])
        self.assertEqual([p["metadata"]["name"] for p in self.k.get("Pod", "del")], [])


if __name__ == "__main__":
    unittest.main()
