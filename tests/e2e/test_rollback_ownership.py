"""End-to-end: a rollback (rollback, update --atomic, rollout.undo in a custom script)
leaves nothing that blocks the next apply, against the Kubernetes API emulator.

A real kube-apiserver keys field ownership by manager AND operation
(../shared/apiserver-transcripts/04-update-then-apply-same-manager-name.json): an undo
written as an Update under our manager name makes a "rigelk8s"/Update entry that owns the
template, and the next "rigelk8s"/Apply conflicts with it. Whatever the emulator's
ownership model, these tests also read the Deployment's managedFields after each rollback
and require that no "rigelk8s"/Update entry owns spec.template fields (the restore was an
Apply), which is what makes the next apply clean on a real server.

Run: RIGELK8S_BIN=build/rigelk8s python3 -m unittest -v test_rollback_ownership   (from tests/e2e)"""
import json
import os
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "emulator"))  # tests/emulator/emuharness.py
from emuharness import GOOD_IMAGE, image, orchestration, rigelk8s, start_emulator, write_rigelfile

NS = "rb"
APP = "rigel-k8s-application"
DEPLOY_PATH = "/apis/apps/v1/namespaces/%s/deployments/%s" % (NS, APP)
CRASH_IMAGE = "registry.example.com/robot/app:crashloop"
IMAGE_2 = "registry.example.com/robot/app:2.0"
IMAGE_3 = "registry.example.com/robot/app:3.0"


def template_updates(deploy, manager="rigelk8s"):
    """The managedFields entries of manager's Update operations that own spec.template fields."""
    out = []
    for e in deploy["metadata"].get("managedFields") or []:
        if e.get("manager") == manager and e.get("operation") == "Update" and \
                "f:template" in (e.get("fieldsV1") or {}).get("f:spec", {}):
            out.append(e)
    return out


def apply_entry(deploy, manager="rigelk8s"):
    for e in deploy["metadata"].get("managedFields") or []:
        if e.get("manager") == manager and e.get("operation") == "Apply":
            return e
    return None


class RollbackOwnershipTest(unittest.TestCase):
    def setUp(self):
        start_emulator(self, nodes="robot-1:deploymentType=local")
        self.rf = write_rigelfile(self.dir, orchestration(NS))

    def run_code(self, code, command, *args):
        r = rigelk8s(command, "-f", self.rf, "--kubeconfig", self.emu.kubeconfig, *args, timeout=120)
        self.assertNotIn("--force-conflicts", r.args)
        self.assertEqual(r.code, code, r)
        return r

    def deployment(self):
        return self.k.get("Deployment", NS, APP)

    def assert_restored_by_apply(self, when):
        d = self.deployment()
        self.assertEqual(template_updates(d), [], "%s: a rigelk8s/Update entry owns template fields, so the next "
                                                  "apply conflicts on a real server:\n%s"
                         % (when, json.dumps(d["metadata"]["managedFields"], indent=1)))
        entry = apply_entry(d)
        self.assertIsNotNone(entry, when)
        containers = entry["fieldsV1"]["f:spec"]["f:template"]["f:spec"]["f:containers"]
        self.assertIn('k:{"name":"ros-app"}', containers, when)
        self.assertIn("f:image", containers['k:{"name":"ros-app"}'], when)
        # What the Rigelfile's apply owned besides the template stays owned (an apply
        # drops what it omits): the replicas, the selector, the labels.
        self.assertIn("f:selector", entry["fieldsV1"]["f:spec"], when)
        self.assertIn("f:labels", entry["fieldsV1"]["f:metadata"], when)
        return d

    def test_deploy_atomic_update_update_rollback_update_diff_delete(self):
        self.run_code(0, "deploy", "--timeout", "60s")
        self.assertEqual(image(self.deployment()), GOOD_IMAGE)

        r = self.run_code(1, "update", "--image", CRASH_IMAGE, "--atomic", "--timeout", "60s")
        self.assertIn("CrashLoopBackOff", r.stderr)
        self.assertRegex(r.stderr, r"--atomic rolled deployment %s back to revision 1 .*Ready again" % APP)
        d = self.assert_restored_by_apply("after update --atomic")
        self.assertEqual(image(d), GOOD_IMAGE)
        self.assertEqual(d["spec"]["replicas"], 1)

        r = self.run_code(0, "update", "--image", IMAGE_2, "--timeout", "60s")
        self.assertNotIn("conflict", r.output.lower())
        self.assertEqual(image(self.deployment()), IMAGE_2)

        r = self.run_code(0, "rollback", "--timeout", "60s")
        self.assertRegex(r.stderr, r"deployment %s: rolled back to revision \d+" % APP)
        d = self.assert_restored_by_apply("after rollback")
        self.assertEqual(image(d), GOOD_IMAGE)
        self.assertEqual(d["metadata"]["labels"].get("app"), APP)

        r = self.run_code(0, "update", "--image", IMAGE_3, "--timeout", "60s")
        self.assertNotIn("conflict", r.output.lower())
        d = self.deployment()
        self.assertEqual(image(d), IMAGE_3)
        self.assertEqual(d["status"].get("availableReplicas"), 1)

        # The live objects are exactly what the Rigelfile (with that image) renders.
        rf3 = write_rigelfile(self.dir, orchestration(NS, application_image=IMAGE_3), name="Rigelfile3")
        r = rigelk8s("diff", "-f", rf3, "--kubeconfig", self.emu.kubeconfig, timeout=60)
        self.assertEqual(r.code, 0, r)
        # ... and the previous image is a diff (exit 1), so the diff above could fail.
        r = rigelk8s("diff", "-f", self.rf, "--kubeconfig", self.emu.kubeconfig, timeout=60)
        self.assertEqual(r.code, 1, r)
        self.assertIn(GOOD_IMAGE, r.stdout)

        r = rigelk8s("delete", "-f", rf3, "--kubeconfig", self.emu.kubeconfig, "--timeout", "60s", timeout=120)
        self.assertEqual(r.code, 0, r)
        self.assertIsNone(self.deployment())
        self.assertEqual([rs for rs in self.k.get("ReplicaSet", NS) if rs["metadata"]["labels"].get("app") == APP],
                         [])

    def test_custom_script_undo_gets_the_same_guarantee(self):
        self.run_code(0, "deploy", "--timeout", "60s")
        self.run_code(0, "update", "--image", IMAGE_2, "--timeout", "60s")
        script = os.path.join(self.dir, "undo.lua")
        with open(script, "w") as f:
            f.write('local k8s = require "rigelk8s.k8s"\n'
                    'local rollout = require "rigelk8s.rollout"\n'
                    'local c = k8s.connect{kubeconfig = arg[1]}\n'
                    'local rev, changed = rollout.undo(c, {name = "%s", namespace = "%s"})\n'
                    'print(rev, changed)\n' % (APP, NS))
        r = rigelk8s("run", script, self.emu.kubeconfig, timeout=60)
        self.assertEqual(r.code, 0, r)
        self.assertEqual(r.stdout.split(), ["1", "true"])
        d = self.assert_restored_by_apply("after rollout.undo in a custom script")
        self.assertEqual(image(d), GOOD_IMAGE)
        self.run_code(0, "update", "--image", IMAGE_3, "--timeout", "60s")
        self.assertEqual(image(self.deployment()), IMAGE_3)

    def test_conflict_with_another_manager_names_it_and_the_fix(self):
        self.run_code(0, "deploy", "--timeout", "60s")
        # Someone changes the image with kubectl edit (an Update by another manager).
        st, _, body = self.emu.patch(DEPLOY_PATH + "?fieldManager=kubectl-edit",
                                     {"spec": {"template": {"spec": {"containers": [
                                         {"name": "ros-app", "image": "registry.example.com/robot/app:hotfix"}]}}}},
                                     ctype="application/strategic-merge-patch+json")
        self.assertEqual(st, 200, body)
        r = self.run_code(1, "update", "--image", IMAGE_2, "--timeout", "60s")
        self.assertIn('"kubectl-edit"', r.stderr)
        self.assertIn('.spec.template.spec.containers[name="ros-app"].image', r.stderr)
        self.assertIn("--force-conflicts", r.stderr)
        self.assertEqual(image(self.deployment()), "registry.example.com/robot/app:hotfix")
        r = rigelk8s("update", "-f", self.rf, "--kubeconfig", self.emu.kubeconfig, "--image", IMAGE_2,
                     "--force-conflicts", "--timeout", "60s", timeout=120)
        self.assertEqual(r.code, 0, r)
        self.assertEqual(image(self.deployment()), IMAGE_2)

    def test_rollback_over_another_managers_change_names_it_and_force_takes_over(self):
        self.run_code(0, "deploy", "--timeout", "60s")
        self.run_code(0, "update", "--image", IMAGE_2, "--timeout", "60s")
        st, _, body = self.emu.patch(DEPLOY_PATH + "?fieldManager=kubectl-edit",
                                     {"spec": {"template": {"spec": {"containers": [
                                         {"name": "ros-app", "image": "registry.example.com/robot/app:hotfix"}]}}}},
                                     ctype="application/strategic-merge-patch+json")
        self.assertEqual(st, 200, body)
        r = self.run_code(1, "rollback", "--to-revision", "1", "--timeout", "60s")
        self.assertIn("deployment %s: the rollback to revision 1 conflicts with changes another tool made" % APP,
                      r.stderr)
        self.assertIn('field manager "kubectl-edit" owns .spec.template.spec.containers[name="ros-app"].image',
                      r.stderr)
        self.assertIn("fix: rerun with --force-conflicts", r.stderr)
        self.assertEqual(image(self.deployment()), "registry.example.com/robot/app:hotfix")
        r = rigelk8s("rollback", "-f", self.rf, "--kubeconfig", self.emu.kubeconfig, "--to-revision", "1",
                     "--force-conflicts", "--timeout", "60s", timeout=120)
        self.assertEqual(r.code, 0, r)
        d = self.assert_restored_by_apply("after rollback --force-conflicts")
        self.assertEqual(image(d), GOOD_IMAGE)
        self.run_code(0, "update", "--image", IMAGE_3, "--timeout", "60s")


if __name__ == "__main__":
    unittest.main()
