"""End-to-end tests of the stock workflows (deploy, update, distributed, status, delete,
rollback, diff), hooks, custom scripts and the command line, against the Kubernetes API
emulator. Every test starts its own emulator (two nodes: robot-1 deploymentType=local,
cloud-1 deploymentType=remote; pods Ready 0.2 s after scheduling) and stops it.

In cluster mode (RIGELK8S_TEST_KUBECONFIG, make test-cluster) the same tests run against
that cluster, each in namespaces of its own; images and failure modes come from
failmodes.py, and tests that need emulator knobs are skipped with the reason.

Run: RIGELK8S_BIN=build/rigelk8s python3 -m unittest -v test_workflows   (from tests/e2e)"""
import json
import os
import re
import shutil
import signal
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "emulator"))  # tests/emulator/emuharness.py
import failmodes as fm  # noqa: E402
from emuharness import (BIN, CLUSTER_MODE, NODES, ROOT, SERVICE_MONITOR_CRD, Background, Cluster,
                        DeploymentEvents, Emulator, emulator_only, image, orchestration, revision, rigelk8s,
                        rigelk8s_tty, shared_cluster, tmpdir, unique_namespace, write_rigelfile)

READY_DELAY = 0.2


class WorkflowTest(unittest.TestCase):
    nodes = NODES

    def setUp(self):
        if not os.access(BIN, os.X_OK):
            self.skipTest("no rigelk8s binary at %s (set RIGELK8S_BIN)" % BIN)
        self.namespaces = {}
        if CLUSTER_MODE:
            self.emu = shared_cluster()
            self.addCleanup(self.delete_namespaces)
        else:
            self.emu = Emulator("--nodes", self.nodes, ready_delay=READY_DELAY)
            self.addCleanup(self.emu.stop)
        self.k = Cluster(self.emu, self.ns)
        self.dir = tmpdir()
        self.addCleanup(shutil.rmtree, self.dir, True)
        self.kc = self.emu.kubeconfig

    # -- helpers --------------------------------------------------------------------------

    def ns(self, name):
        """The namespace this test calls `name`: itself on a test's own emulator, a unique
        name in cluster mode (deleted when the test ends)."""
        if not CLUSTER_MODE:
            return name
        if name not in self.namespaces:
            self.namespaces[name] = unique_namespace(name)
        return self.namespaces[name]

    def delete_namespaces(self):
        left = self.emu.delete_namespaces(list(self.namespaces.values()))
        self.assertEqual(left, [], "namespaces still there after the test")

    def orch(self, ns, **over):
        return fm.orchestration_overrides(orchestration(self.ns(ns), **over))

    def rigelfile(self, ns, name="Rigelfile", **over):
        return write_rigelfile(self.dir, self.orch(ns, **over), name=name)

    def timeout(self, seconds):
        """A --timeout value (and time bounds): as written on the emulator, scaled on a
        real cluster."""
        return "%gs" % fm.within(seconds)

    def run_ok(self, command, rf, *args, **kw):
        r = rigelk8s(command, "-f", rf, "--kubeconfig", self.kc, *args, **kw)
        self.assertEqual(r.code, 0, r)
        return r

    def run_code(self, code, command, rf, *args, **kw):
        r = rigelk8s(command, "-f", rf, "--kubeconfig", self.kc, *args, **kw)
        self.assertEqual(r.code, code, r)
        return r

    def deployment(self, ns, name="rigel-k8s-application"):
        return self.k.get("Deployment", ns, name)

    def wait_master_available(self, ns):
        """Until the master is available on the server (the report then says ready: the
        tests that interrupt a wait rely on it; a real cluster's master takes longer)."""
        self.emu.wait_for(lambda: (self.deployment(ns, "ros-master") or {}).get("status", {}).get("availableReplicas"),
                          timeout=20, msg="the master to be available")

    def replicasets(self, ns, app="rigel-k8s-application"):
        return sorted((rs for rs in self.k.get("ReplicaSet", ns) if rs["metadata"]["labels"].get("app") == app),
                      key=lambda rs: revision(rs))


class DeployTest(WorkflowTest):
    def test_deploy_applies_in_dependency_order_without_waiting_and_reports(self):
        rf = self.rigelfile("app1")
        r = self.run_ok("deploy", rf, "-v", "--timeout", self.timeout(30))
        # -v logs every request: the applies (PATCH) go namespace, storage, master, application.
        order = []
        for line in r.stderr.splitlines():
            m = re.search(r"PATCH \S+/(namespaces|persistentvolumeclaims|deployments|services)(?:/([\w-]+))?(?:/(\w+)/([\w-]+))?", line)
            if m:
                order.append(line)
        kinds = []
        for line in order:
            if "/persistentvolumeclaims/" in line:
                kinds.append("storage")
            elif "/deployments/ros-master" in line or "/services/ros-master" in line:
                kinds.append("master")
            elif "/deployments/rigel-k8s-application" in line:
                kinds.append("application")
            elif re.search(r"/api/v1/namespaces/%s\?" % self.ns("app1"), line):
                kinds.append("namespace")
        self.assertEqual(sorted(kinds, key=["namespace", "storage", "master", "application"].index), kinds, order)
        self.assertEqual(set(kinds), {"namespace", "storage", "master", "application"}, order)
        # Everything is there and ready, and the summary says so.
        pvc = self.k.get("PersistentVolumeClaim", "app1", "data-volume-pvc")
        self.assertEqual(pvc["status"]["phase"], "Bound")
        for name in ("ros-master", "rigel-k8s-application"):
            d = self.deployment("app1", name)
            self.assertEqual(d["status"].get("availableReplicas"), 1, name)
        self.assertIn("deploy succeeded", r.stderr)
        self.assertRegex(r.stderr, r"Deployment/rigel-k8s-application\s+ready\s+1/1 updated, 1 available\s+\(revision 1\)")
        self.assertRegex(r.stderr, r"PersistentVolumeClaim/data-volume-pvc\s+ready\s+Bound")
        self.assertIn("applied: 5 created", r.stderr)

    def test_deploy_does_not_wait_for_the_master_before_applying_the_application(self):
        # The master never becomes Ready; without wait_for_master the application is
        # applied at once and rolls out anyway, and the run times out on the master.
        rf = self.rigelfile("nogate", ros_master_image="ros:never-ready", persistent_storage=None)
        r = self.run_code(4, "deploy", rf, "--timeout", self.timeout(2))
        app = self.deployment("nogate")
        self.assertIsNotNone(app)
        self.assertEqual(app["status"].get("availableReplicas"), 1)
        self.assertRegex(r.stderr, r"Deployment/ros-master\s+progressing")

    def test_wait_for_master_gates_the_application_on_a_ready_master(self):
        rf = self.rigelfile("gate", wait_for_master=True, persistent_storage=None)
        events = DeploymentEvents(self.emu, self.ns("gate"))
        self.addCleanup(events.close)
        self.run_ok("deploy", rf, "--timeout", self.timeout(30))
        self.emu.wait_for(lambda: events.created_after_available("rigel-k8s-application", "ros-master") is not None,
                          msg="the watch to see the application")
        self.assertTrue(events.created_after_available("rigel-k8s-application", "ros-master"),
                        "the application was created before the master was available")
        # Without the gate, the application is created while the master is still starting.
        rf = self.rigelfile("nogate2", persistent_storage=None)
        events = DeploymentEvents(self.emu, self.ns("nogate2"))
        self.addCleanup(events.close)
        self.run_ok("deploy", rf, "--timeout", self.timeout(30))
        self.emu.wait_for(lambda: events.created_after_available("rigel-k8s-application", "ros-master") is not None,
                          msg="the watch to see the application")
        self.assertFalse(events.created_after_available("rigel-k8s-application", "ros-master"))

    def test_wait_for_master_with_a_master_that_never_gets_ready_never_applies_the_application(self):
        rf = self.rigelfile("gate2", wait_for_master=True, ros_master_image="ros:never-ready",
                            persistent_storage=None)
        r = self.run_code(4, "deploy", rf, "--timeout", self.timeout(2))
        self.assertIsNone(self.deployment("gate2"))
        self.assertIn("the application was not applied", r.stderr)
        self.assertIsNotNone(self.deployment("gate2", "ros-master"))

    def test_redeploy_without_changes_rolls_nothing_out_and_says_so(self):
        rf = self.rigelfile("idem")
        self.run_ok("deploy", rf)
        before = self.deployment("idem")
        rs_before = [rs["metadata"]["name"] for rs in self.replicasets("idem")]
        r = self.run_ok("deploy", rf, "-o", "json")
        doc = r.json()
        self.assertTrue(doc["no_changes"])
        self.assertEqual(doc["applied"]["created"], [])
        self.assertEqual(doc["applied"]["configured"], [])
        self.assertEqual(len(doc["applied"]["unchanged"]), 5)
        after = self.deployment("idem")
        self.assertEqual(after["metadata"]["resourceVersion"], before["metadata"]["resourceVersion"])
        self.assertEqual(after["metadata"]["generation"], before["metadata"]["generation"])
        self.assertEqual([rs["metadata"]["name"] for rs in self.replicasets("idem")], rs_before)
        r = self.run_ok("deploy", rf)
        self.assertIn("no changes", r.stderr)
        self.assertIn("nothing rolled out", r.stderr)

    def test_master_problems_are_reported_first(self):
        rf = self.rigelfile("both", ros_master_image="ros:imagepull-fail", application_image=fm.EMULATOR["imagepull"],
                            persistent_storage=None)
        r = self.run_code(1, "deploy", rf, "--timeout", self.timeout(30))
        diag = r.stderr[r.stderr.index("deploy failed"):]
        self.assertIn("Deployment ros-master", diag)
        first_master = diag.index("ros-master")
        self.assertLess(first_master, diag.index("rigel-k8s-application"), diag)
        self.assertLess(r.elapsed, fm.within(10))

    def test_dry_run_changes_nothing(self):
        rf = self.rigelfile("dry")
        writes = None if CLUSTER_MODE else self.k.state()  # the emulator's global write count
        r = self.run_ok("deploy", rf, "--dry-run", "--timeout", "5s")
        self.assertIsNone(self.k.get("Namespace", None, "dry"))
        self.assertIn("dry run", r.stderr)
        self.assertIn("PersistentVolumeClaim/data-volume-pvc created (dry run", r.stderr)
        if writes is not None:
            after = self.k.state()
            self.assertEqual(after.get("resourceVersion"), writes.get("resourceVersion"), (writes, after))
        # On a live application, an update --dry-run names what would change and changes nothing.
        self.run_ok("deploy", rf)
        live = self.deployment("dry")
        r = self.run_ok("update", rf, "--image", fm.good("app:2.0"), "--dry-run")
        self.assertIn("Deployment/rigel-k8s-application configured (dry run)", r.stderr)
        self.assertIn("Deployment/ros-master unchanged (dry run)", r.stderr)
        self.assertEqual(self.deployment("dry")["metadata"]["resourceVersion"], live["metadata"]["resourceVersion"])


class FailureTest(WorkflowTest):
    def test_crashloop_update_is_diagnosed_long_before_the_deadline_and_left_as_is(self):
        rf = self.rigelfile("crash")
        self.run_ok("deploy", rf)
        r = self.run_code(1, "update", rf, "--image", fm.image("crashloop"), "--timeout", self.timeout(60))
        self.assertLess(r.elapsed, fm.within(10), r)
        self.assertIn("update failed", r.stderr)
        self.assertIn("CrashLoopBackOff", r.stderr)
        self.assertIn("container ros-app", r.stderr)
        # The events shown are the Warning ones that explain it, not Scheduled/Pulled.
        lines = r.stderr[r.stderr.index("last events:"):].splitlines()[1:]
        events = []
        for line in lines:
            if not line.startswith("      "):
                break
            events.append(line.strip())
        self.assertTrue(events, r.stderr)
        self.assertTrue(all(e.startswith("Warning BackOff") for e in events), events)
        self.assertIn("the cluster is left as it is", r.stderr)
        d = self.deployment("crash")
        self.assertEqual(image(d), fm.image("crashloop"))
        self.assertEqual(revision(d), 2)

    def test_atomic_update_rolls_back_to_the_previous_revision(self):
        rf = self.rigelfile("atomic")
        self.run_ok("deploy", rf)
        rs_v1 = self.replicasets("atomic")[0]["metadata"]["name"]
        r = self.run_code(1, "update", rf, "--image", fm.image("crashloop"), "--atomic", "--timeout", self.timeout(60))
        self.assertLess(r.elapsed, fm.within(10), r)
        self.assertRegex(r.stderr, r"update failed after [\d.]+s:\n\s+Deployment rigel-k8s-application: .*CrashLoopBackOff")
        self.assertRegex(r.stderr, r"update failed, so --atomic rolled deployment rigel-k8s-application back to "
                                   r"revision 1 \(%s; now revision 3\): Ready again" % re.escape(fm.image("good")))
        d = self.deployment("atomic")
        self.assertEqual(image(d), fm.image("good"))
        self.assertEqual(revision(d), 3)  # kubectl's undo: revision 1's ReplicaSet comes back as 3
        self.assertEqual(d["status"].get("availableReplicas"), 1)
        current = [rs for rs in self.replicasets("atomic") if revision(rs) == 3]
        self.assertEqual([rs["metadata"]["name"] for rs in current], [rs_v1])

    def test_atomic_update_json_reports_both(self):
        rf = self.rigelfile("atomicjson")
        self.run_ok("deploy", rf)
        r = self.run_code(1, "update", rf, "--image", fm.image("crashloop"), "--atomic", "-o", "json")
        doc = r.json()
        self.assertEqual(doc["state"], "failed")
        self.assertEqual(doc["exit_code"], 1)
        self.assertIn("CrashLoopBackOff", doc["diagnosis"])
        self.assertTrue(doc["rolled_back"])
        self.assertEqual(doc["rollback"]["state"], "ready")
        self.assertEqual(doc["rollback"]["deployments"][0],
                         {"deployment": "rigel-k8s-application", "to_revision": 1, "revision": 3,
                          "images": fm.image("good")})
        self.assertEqual(r.stderr, "")

    def test_imagepull_failure(self):
        rf = self.rigelfile("pull", application_image=fm.EMULATOR["imagepull"])
        r = self.run_code(1, "deploy", rf, "--timeout", self.timeout(60))
        self.assertLess(r.elapsed, fm.within(10))
        self.assertRegex(r.stderr, r"(ErrImagePull|ImagePullBackOff)")
        self.assertIn('image "%s"' % fm.image("imagepull"), r.stderr)
        self.assertIn("Warning Failed", r.stderr)

    def test_unschedulable_node_selector_shows_the_schedulers_message(self):
        rf = self.rigelfile("sched", persistent_storage=None, additional_k8s_params={
            "application": {"spec": {"template": {"spec": {"nodeSelector": fm.UNSCHEDULABLE}}}}})
        r = self.run_code(1, "deploy", rf, "--timeout", self.timeout(60))
        self.assertLess(r.elapsed, fm.within(10))
        self.assertIn("Unschedulable", r.stderr)
        if CLUSTER_MODE:  # however many nodes the cluster has
            self.assertRegex(r.stderr, r"0/(\d+) nodes are available: .*\b\1 node\(s\) didn't match Pod's node "
                                       r"affinity/selector")
        else:
            self.assertIn("0/2 nodes are available: 2 node(s) didn't match Pod's node affinity/selector.", r.stderr)
        self.assertIn("Warning FailedScheduling", r.stderr)

    def test_pvc_with_an_unknown_storage_class(self):
        rf = self.rigelfile("nosc", persistent_storage={"volumes": [
            {"name": "maps", "size": "1Gi", "storage_class": "no-such-class"}]})
        r = self.run_code(1, "deploy", rf, "--timeout", self.timeout(60))
        self.assertLess(r.elapsed, fm.within(10))
        self.assertIn("PersistentVolumeClaim maps-pvc", r.stderr)
        self.assertIn('ProvisioningFailed: storageclass.storage.k8s.io "no-such-class" not found', r.stderr)
        self.assertIn('create StorageClass "no-such-class"', r.stderr)

    def test_timeout_exits_4_with_a_per_object_summary(self):
        rf = self.rigelfile("slow", application_image="app:never-ready")
        r = self.run_code(4, "deploy", rf, "--timeout", self.timeout(2))
        self.assertGreaterEqual(r.elapsed, fm.within(2))
        self.assertLess(r.elapsed, fm.within(2) + 4)
        self.assertIn("deploy timed out after", r.stderr)
        self.assertIn("(--timeout %s)" % self.timeout(2), r.stderr)
        self.assertRegex(r.stderr, r"pod rigel-k8s-application-\S+: running, not ready \(containers not ready: ros-app\)")
        self.assertRegex(r.stderr, r"Deployment/ros-master\s+ready")
        self.assertRegex(r.stderr, r"PersistentVolumeClaim/data-volume-pvc\s+ready")
        self.assertRegex(r.stderr, r"Deployment/rigel-k8s-application\s+progressing\s+1/1 updated, 0 available · ContainersNotReady")

    def test_sigint_during_a_wait_stops_cleanly_and_prints_the_state(self):
        rf = self.rigelfile("intr", application_image="app:never-ready")
        bg = Background("deploy", "-f", rf, "--kubeconfig", self.kc, "--timeout", self.timeout(60))
        bg.wait_for("[progressing] Deployment/rigel-k8s-application", timeout=fm.within(20))
        self.wait_master_available("intr")
        time.sleep(0.3)
        t0 = time.monotonic()
        bg.signal(signal.SIGINT)
        r = bg.finish()
        self.assertEqual(r.code, 130, r)
        self.assertLess(time.monotonic() - t0, 3)
        self.assertIn("deploy interrupted after", r.stderr)
        self.assertRegex(r.stderr, r"Deployment/ros-master\s+ready")
        self.assertRegex(r.stderr, r"Deployment/rigel-k8s-application\s+progressing")
        self.assertNotIn("Traceback", r.stderr)
        self.assertNotIn("stack traceback", r.stderr)

    def test_sigint_with_json_output_prints_the_document(self):
        rf = self.rigelfile("intrjson", application_image="app:never-ready", persistent_storage=None)
        bg = Background("deploy", "-f", rf, "--kubeconfig", self.kc, "--timeout", self.timeout(60), "-o", "json")
        self.emu.wait_for(lambda: (self.deployment("intrjson") or {}).get("status", {}).get("replicas"),
                          msg="the application's pods")
        self.wait_master_available("intrjson")
        time.sleep(0.3)
        bg.signal(signal.SIGINT)
        r = bg.finish()
        self.assertEqual(r.code, 130, r)
        doc = json.loads(r.stdout)
        self.assertEqual(doc["state"], "interrupted")
        self.assertEqual(doc["exit_code"], 130)
        states = {o["name"]: o["state"] for o in doc["objects"]}
        self.assertEqual(states, {"ros-master": "ready", "rigel-k8s-application": "progressing"})


class UpdateTest(WorkflowTest):
    def test_update_with_a_good_image_follows_the_rolling_update(self):
        rf = self.rigelfile("upd")
        self.run_ok("deploy", rf)
        r = self.run_ok("update", rf, "--image", fm.good("registry.example.com/robot/app:2.0"), "-o", "json")
        doc = r.json()
        self.assertEqual(doc["state"], "ready")
        self.assertEqual(doc["applied"]["configured"], ["Deployment/rigel-k8s-application"])
        app = [o for o in doc["objects"] if o["name"] == "rigel-k8s-application"][0]
        self.assertEqual(app["revision"], 2)
        d = self.deployment("upd")
        self.assertEqual(image(d), fm.good("registry.example.com/robot/app:2.0"))
        self.assertEqual(revision(d), 2)
        self.assertEqual(d["status"]["updatedReplicas"], 1)
        self.assertEqual(d["status"]["availableReplicas"], 1)
        rss = self.replicasets("upd")
        self.assertEqual([rs["spec"]["replicas"] for rs in rss], [0, 1])
        # The master was not touched.
        self.assertEqual(revision(self.deployment("upd", "ros-master")), 1)

    def test_update_reapplies_a_changed_rigelfile(self):
        rf = self.rigelfile("upd2")
        self.run_ok("deploy", rf)
        rf = self.rigelfile("upd2", replicas=2)
        r = self.run_ok("update", rf)
        self.assertIn("Deployment/rigel-k8s-application configured", r.stderr)
        self.assertRegex(r.stderr, r"Deployment/rigel-k8s-application\s+ready\s+2/2 updated, 2 available")
        self.assertEqual(self.deployment("upd2")["status"]["availableReplicas"], 2)

    def test_rollback_to_a_named_revision(self):
        rf = self.rigelfile("rb", persistent_storage=None)
        self.run_ok("deploy", rf)
        self.run_ok("update", rf, "--image", fm.good("app:2.0", 0))
        self.run_ok("update", rf, "--image", fm.good("app:3.0", 1))
        r = self.run_ok("rollback", rf, "--history")
        self.assertRegex(r.stdout, r"1\s+%s" % re.escape(fm.image("good")))
        self.assertRegex(r.stdout, r"3\s+%s\s+<none>\s+\(current\)" % re.escape(fm.good("app:3.0", 1)))
        r = self.run_ok("rollback", rf, "--to-revision", "1")
        self.assertIn("deployment rigel-k8s-application: rolled back to revision 1", r.stderr)
        d = self.deployment("rb")
        self.assertEqual(image(d), fm.image("good"))
        self.assertEqual(revision(d), 4)
        self.assertEqual(d["status"]["availableReplicas"], 1)
        # The previous revision (no --to-revision) is 3 now.
        self.run_ok("rollback", rf)
        self.assertEqual(image(self.deployment("rb")), fm.good("app:3.0", 1))
        r = self.run_code(2, "rollback", rf, "--to-revision", "42")
        self.assertIn("unable to find specified revision 42", r.stderr)


@emulator_only("--nodes: two labelled nodes, robot-1 (deploymentType=local) and cloud-1 (remote)")
class DistributedTest(WorkflowTest):
    def distributed_rigelfile(self, ns, **extra):
        components = [
            {"name": "drivers", "image": "robot/drivers:1.4", "placement": "local"},
            {"name": "planner", "after": ["drivers"]},
            {"name": "mapper", "after": ["drivers"], "placement": "remote", "replicas": 2},
        ]
        return self.rigelfile(ns, persistent_storage=None, readiness=None, rolling_update=None,
                              distributed={"enabled": True, "default_to_remote": True,
                                           "components": extra.get("components", components)})

    def test_components_in_dependency_order_on_their_nodes(self):
        rf = self.distributed_rigelfile("dist")
        self.events = DeploymentEvents(self.emu, self.ns("dist"))
        self.addCleanup(self.events.close)
        r = self.run_ok("distributed", rf, "--timeout", "30s")
        self.assertLess(r.stderr.index("wave: drivers"), r.stderr.index("wave: planner, mapper"))
        nodes = {}
        for app in ("drivers", "planner", "mapper"):
            nodes[app] = sorted(p["spec"]["nodeName"] for p in self.k.pods("dist", app))
        self.assertEqual(nodes, {"drivers": ["robot-1"], "planner": ["cloud-1"], "mapper": ["cloud-1", "cloud-1"]})
        self.assertIn("component drivers (deploymentType=local): pods on robot-1", r.stderr)
        self.assertIn("component mapper (deploymentType=remote): pods on cloud-1 (2 pods)", r.stderr)
        self.assertIn("node cloud-1: mapper (2), planner", r.stderr)
        self.assertIn("node robot-1: drivers", r.stderr)
        # Dependency order on the server: drivers was available before planner and mapper existed,
        # and the master before drivers.
        for created, available in (("drivers", "ros-master"), ("planner", "drivers"), ("mapper", "drivers")):
            self.assertTrue(self.events.created_after_available(created, available), (created, available))
        doc = self.run_ok("distributed", rf, "-o", "json").json()
        self.assertEqual({c["name"]: c["nodes"] for c in doc["components"]},
                         {"drivers": ["robot-1"], "planner": ["cloud-1"], "mapper": ["cloud-1"]})
        self.assertEqual({n["name"]: n["components"] for n in doc["nodes"]},
                         {"robot-1": ["drivers"], "cloud-1": ["mapper (2)", "planner"]})

    def test_component_on_a_missing_node_fails_with_the_schedulers_message(self):
        rf = self.distributed_rigelfile("distfail", components=[
            {"name": "drivers", "placement": "local"},
            {"name": "gpu-mapper", "placement": {"gpu": "true"}},
            {"name": "planner", "after": ["gpu-mapper"]}])
        r = self.run_code(1, "distributed", rf, "--timeout", "60s")
        self.assertLess(r.elapsed, 10)
        self.assertIn("0/2 nodes are available: 2 node(s) didn't match Pod's node affinity/selector.", r.stderr)
        self.assertIn("not applied, because a component they wait for failed: planner", r.stderr)
        self.assertIsNone(self.deployment("distfail", "planner"))
        self.assertEqual([p["spec"]["nodeName"] for p in self.k.pods("distfail", "drivers")], ["robot-1"])


class InspectTest(WorkflowTest):
    def test_status(self):
        rf = self.rigelfile("stat")
        self.run_ok("deploy", rf)
        r = self.run_ok("status", rf)
        self.assertRegex(r.stdout, r"Deployment\s+rigel-k8s-application\s+ready\s+revision 1, %s" % re.escape(fm.image("good")))
        self.assertRegex(r.stdout, r"PersistentVolumeClaim\s+data-volume-pvc\s+ready")
        node = r"\S+" if CLUSTER_MODE else "(robot-1|cloud-1)"
        self.assertRegex(r.stdout, r"pod rigel-k8s-application-\S+\s+node=%s\s+ready\s+Running\s+restarts=0\s+revision 1" % node)
        self.run_code(1, "update", rf, "--image", fm.image("crashloop"))
        time.sleep(fm.within(0.8))  # let the crashing container restart once more
        r = self.run_code(1, "status", rf, "-o", "json")
        doc = r.json()
        app = [o for o in doc["objects"] if o["name"] == "rigel-k8s-application"][0]
        self.assertEqual(app["revision"], 2)
        self.assertFalse(doc["ready"])
        crashing = [p for p in app["pods"] if p["revision"] == 2]
        self.assertEqual(len(crashing), 1)
        self.assertGreaterEqual(crashing[0]["restarts"], 1)
        self.assertEqual(crashing[0]["reason"], "CrashLoopBackOff")
        if not CLUSTER_MODE:
            self.assertIn(crashing[0]["node"], ("robot-1", "cloud-1"))
        self.assertTrue(crashing[0]["node"])
        old = [p for p in app["pods"] if p["revision"] == 1]
        self.assertEqual([p["state"] for p in old], ["ready"])

    def test_delete_keeps_storage_unless_asked(self):
        rf = self.rigelfile("del")
        self.run_ok("deploy", rf)
        r = self.run_ok("delete", rf)
        self.assertIsNone(self.deployment("del"))
        self.assertIsNone(self.deployment("del", "ros-master"))
        self.assertIsNone(self.k.get("Service", "del", "ros-master"))
        self.assertEqual(self.k.pods("del", "rigel-k8s-application"), [])
        self.assertIsNotNone(self.k.get("PersistentVolumeClaim", "del", "data-volume-pvc"))
        self.assertIn("kept (use --delete-storage to delete them too)", r.stderr)
        # Reverse order: the application goes before the master.
        self.assertLess(r.stderr.index("Deployment/rigel-k8s-application deleted"),
                        r.stderr.index("Deployment/ros-master deleted"))
        self.run_ok("delete", rf, "--delete-storage")
        self.assertIsNone(self.k.get("PersistentVolumeClaim", "del", "data-volume-pvc"))
        ns = self.k.get("Namespace", None, "del")
        self.assertTrue(ns is None or ns["status"].get("phase") == "Terminating", ns)

    def test_diff_with_and_without_changes(self):
        rf = self.rigelfile("dif")
        r = self.run_code(1, "diff", rf)  # nothing deployed yet: everything is new
        self.assertIn("+++ merged/Deployment/rigel-k8s-application", r.stdout)
        self.run_ok("deploy", rf)
        r = self.run_ok("diff", rf)
        self.assertEqual(r.stdout, "")
        self.assertIn("no differences", r.stderr)
        rf = self.rigelfile("dif", application_image=fm.good("registry.example.com/robot/app:2.0"))
        r = self.run_code(1, "diff", rf)
        self.assertIn("--- live/Deployment/rigel-k8s-application", r.stdout)
        self.assertIn("-        image: %s" % fm.image("good"), r.stdout)
        self.assertIn("+        image: %s" % fm.good("registry.example.com/robot/app:2.0"), r.stdout)
        self.assertNotIn("managedFields", r.stdout)
        self.assertNotIn("ros-master", r.stdout.split("--- live/Deployment/rigel-k8s-application")[0])
        self.assertIn("1 object would change: Deployment/rigel-k8s-application", r.stderr)
        # Nothing was changed by the diff.
        self.assertEqual(image(self.deployment("dif")), fm.image("good"))

    def test_diff_masks_secret_data(self):
        rf = self.rigelfile("sec", persistent_storage=None)
        script = os.path.join(self.dir, "secret-diff.lua")
        with open(script, "w") as f:
            f.write('''
local wf = require "rigelk8s.workflow"
return wf.main(function(ctx)
  wf.config(ctx)
  wf.render(ctx)
  wf.add(ctx, {apiVersion = "v1", kind = "Secret", metadata = {name = "robot-credentials"},
               stringData = {password = os.getenv("ROBOT_PASSWORD"), user = "rover"}}, "config")
  if ctx.args[1] == "apply" then
    wf.apply(ctx, ctx.objects)
    return 0
  end
  local text, changed = wf.diff(ctx, ctx.objects)
  io.stdout:write(text)
  return #changed == 0 and 0 or 1
end, arg, {command = "secret-diff"})
''')
        base = ["run", script, "-f", rf, "--kubeconfig", self.kc]
        r = rigelk8s(*base, "apply", env={"ROBOT_PASSWORD": "hunter2-old"})
        self.assertEqual(r.code, 0, r)
        r = rigelk8s(*base, env={"ROBOT_PASSWORD": "hunter2-old"})
        self.assertEqual(r.code, 0, r)
        r = rigelk8s(*base, env={"ROBOT_PASSWORD": "hunter2-new"})
        self.assertEqual(r.code, 1, r)
        self.assertIn("--- live/Secret/robot-credentials", r.stdout)
        self.assertIn("*** (before)", r.stdout)
        self.assertIn("*** (after)", r.stdout)
        import base64
        for secret in ("hunter2-old", "hunter2-new", "rover"):
            self.assertNotIn(secret, r.stdout)
            self.assertNotIn(base64.b64encode(secret.encode()).decode(), r.stdout)


class HooksTest(WorkflowTest):
    HOOKS = '''
local log = assert(io.open(os.getenv("HOOK_LOG"), "a"))
local function note(s) log:write(s, "\\n"); log:flush() end
return {
  before_apply = function(ctx, objects) note("%(tag)s before_apply " .. #objects) end,
  after_apply = function(ctx, s) note("%(tag)s after_apply created=" .. #s.created) end,
  on_ready = function(ctx, r) note("%(tag)s on_ready " .. r.state) end,
  on_failure = function(ctx, r) note("%(tag)s on_failure " .. r.state) end,
}
'''

    def write(self, name, tag):
        path = os.path.join(self.dir, name)
        with open(path, "w") as f:
            f.write(self.HOOKS % {"tag": tag})
        return path

    def log(self):
        with open(self.hook_log) as f:
            return f.read().splitlines()

    def setUp(self):
        super().setUp()
        self.hook_log = os.path.join(self.dir, "hooks.log")
        open(self.hook_log, "w").close()

    def test_hooks_from_the_rigelfile_and_the_command_line(self):
        os.makedirs(os.path.join(self.dir, "hooks"))
        self.write(os.path.join("hooks", "rigelfile-hooks.lua"), "rf")
        cli_hooks = self.write("cli-hooks.lua", "cli")
        rf = self.rigelfile("hooked", hooks="hooks/rigelfile-hooks.lua", persistent_storage=None)
        # Run from another directory: the Rigelfile's hooks path is relative to the Rigelfile.
        r = rigelk8s("deploy", "-f", rf, "--kubeconfig", self.kc, "--hooks", cli_hooks,
                     env={"HOOK_LOG": self.hook_log})
        self.assertEqual(r.code, 0, r)
        self.assertEqual(self.log(), [
            "cli before_apply 4", "rf before_apply 4",
            "cli after_apply created=4", "rf after_apply created=4",
            "cli on_ready ready", "rf on_ready ready"])
        open(self.hook_log, "w").close()
        r = rigelk8s("update", "-f", rf, "--kubeconfig", self.kc, "--image", fm.image("crashloop"),
                     env={"HOOK_LOG": self.hook_log})
        self.assertEqual(r.code, 1, r)
        self.assertEqual(self.log()[-1], "rf on_failure failed")

    def test_a_failing_hook_stops_the_workflow_and_names_itself(self):
        bad = os.path.join(self.dir, "bad.lua")
        with open(bad, "w") as f:
            f.write('return {\n  before_apply = function(ctx, objects)\n    error("robot not docked")\n  end,\n}\n')
        rf = self.rigelfile("badhook", persistent_storage=None)
        r = self.run_code(1, "deploy", rf, "--hooks", bad)
        self.assertRegex(r.stderr, r"hook before_apply \(.*bad\.lua:2\) failed: .*robot not docked")
        self.assertIsNone(self.k.get("Namespace", None, "badhook"))
        with open(bad, "w") as f:
            f.write("return {before_aply = function() end}\n")
        r = self.run_code(2, "deploy", rf, "--hooks", bad)
        self.assertIn("unknown hook 'before_aply'; did you mean 'before_apply'?", r.stderr)

    def test_custom_workflow_example(self):
        rf = self.rigelfile("custom")
        example = os.path.join(ROOT, "examples", "custom-workflow.lua")
        r = rigelk8s("run", example, "-f", rf, "--kubeconfig", self.kc, "--site", "mars-yard")
        self.assertEqual(r.code, 0, r)
        cm = self.k.get("ConfigMap", "custom", "rigel-k8s-application-site")
        self.assertEqual(cm["data"]["SITE"], "mars-yard")
        c = self.deployment("custom")["spec"]["template"]["spec"]["containers"][0]
        self.assertEqual(c["envFrom"], [{"configMapRef": {"name": "rigel-k8s-application-site"}}])
        self.assertIn("post-deploy check passed", r.stderr)
        self.assertLess(r.stderr.index("ConfigMap/rigel-k8s-application-site created"),
                        r.stderr.index("Deployment/ros-master created"))
        doc = rigelk8s("run", example, "-f", rf, "--kubeconfig", self.kc, "-o", "json").json()
        self.assertEqual((doc["state"], doc["check"], doc["site"]), ("ready", "passed", "lab"))
        self.assertEqual(self.k.get("ConfigMap", "custom", "rigel-k8s-application-site")["data"]["SITE"], "lab")


@emulator_only("installs a cluster-wide CustomResourceDefinition (ServiceMonitor), and needs a cluster without it")
class ObservabilityTest(WorkflowTest):
    def test_service_monitor_is_skipped_without_its_crd_and_applied_with_it(self):
        rf = self.rigelfile("obs", persistent_storage=None,
                            observability={"enabled": True, "prometheus": True, "ros_metrics": True})
        r = self.run_ok("deploy", rf, env={"PATH": "/usr/bin:/bin"} if shutil.which("helm") else None)
        self.assertIn("ServiceMonitor/rigel-k8s-application skipped: the cluster has no monitoring.coreos.com/v1 "
                      "ServiceMonitor", r.stderr)
        self.assertIsNotNone(self.k.get("Service", "obs", "rigel-k8s-application-metrics"))
        doc = self.run_ok("deploy", rf, "-o", "json").json()
        self.assertEqual([s["name"] for s in doc["applied"]["skipped"]], ["ServiceMonitor/rigel-k8s-application"])
        self.emu.ok("POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", SERVICE_MONITOR_CRD)
        r = self.run_ok("deploy", rf)
        self.assertIn("ServiceMonitor/rigel-k8s-application created", r.stderr)
        sm = self.k.get("ServiceMonitor", "obs", "rigel-k8s-application")
        self.assertIsNotNone(sm)


class CommandLineTest(WorkflowTest):
    def test_exit_code_2_for_usage_and_config_errors(self):
        rf = self.rigelfile("cli")
        for args, needle in [
            (["deploy", "-f", rf, "--kubeconfig", self.kc, "--bogus"], "unknown flag '--bogus'"),
            (["deploy", "-f", rf, "--kubeconfig", self.kc, "--timout", "5s"], "did you mean '--timeout'?"),
            (["deploy", "-f", rf, "--kubeconfig", self.kc, "--timeout", "soon"], "--timeout: bad duration 'soon'"),
            (["deploy", "-f", rf, "--kubeconfig", self.kc, "-o", "yaml"], "expected text or json"),
            (["deploy", "-f", os.path.join(self.dir, "nope"), "--kubeconfig", self.kc], "no such file"),
            (["deploy", "-f", rf, "--kubeconfig", self.kc, "--context", "nope"], 'no context "nope"'),
            (["frobnicate"], "unknown command 'frobnicate'"),
        ]:
            r = rigelk8s(*args)
            self.assertEqual(r.code, 2, r)
            self.assertIn(needle, r.stderr)
        bad = write_rigelfile(self.dir, orchestration("cli", persistent_storage={"volumes": [{"name": "x", "size": "lots"}]}),
                              name="Bad.Rigelfile")
        r = rigelk8s("deploy", "-f", bad, "--kubeconfig", self.kc, "-o", "json")
        self.assertEqual(r.code, 2, r)
        doc = json.loads(r.stdout)
        self.assertEqual((doc["state"], doc["exit_code"]), ("error", 2))
        self.assertIn("persistent_storage.volumes[0].size", doc["message"])
        r = rigelk8s("deploy", "-f", rf, "--kubeconfig", self.kc, "-o", "json", "--bogus")
        self.assertEqual(r.code, 2, r)
        self.assertEqual(json.loads(r.stdout)["exit_code"], 2)

    @emulator_only("the emulator's users: a wrong token and its read-only context emulator-viewer")
    def test_exit_code_3_names_the_server_and_context(self):
        rf = self.rigelfile("down")
        dead = os.path.join(self.dir, "dead-kubeconfig")
        with open(self.kc) as f:
            text = f.read()
        with open(dead, "w") as f:
            f.write(re.sub(r"127\.0\.0\.1:\d+", "127.0.0.1:9", text))
        for command in ("deploy", "update", "status", "delete", "diff", "rollback"):
            r = rigelk8s(command, "-f", rf, "--kubeconfig", dead, "--timeout", "10s")
            self.assertEqual(r.code, 3, r)
            self.assertIn('cannot reach http://127.0.0.1:9 (context "emulator")', r.stderr)
            self.assertLess(r.elapsed, 8)
        bad_token = os.path.join(self.dir, "bad-token")
        with open(bad_token, "w") as f:
            f.write(text.replace("emulator-admin-token", "wrong-token"))
        r = rigelk8s("deploy", "-f", rf, "--kubeconfig", bad_token, "-o", "json")
        self.assertEqual(r.code, 3, r)
        self.assertIn("Unauthorized", json.loads(r.stdout)["message"])
        r = rigelk8s("deploy", "-f", rf, "--kubeconfig", self.kc, "--context", "emulator-viewer")
        self.assertEqual(r.code, 3, r)
        self.assertIn("forbidden", r.stderr)

    def test_json_output_is_one_document_on_stdout(self):
        rf = self.rigelfile("js")
        r = self.run_ok("deploy", rf, "-o", "json")
        self.assertEqual(r.stderr, "")
        self.assertEqual(r.stdout.count("\n"), 1)
        doc = json.loads(r.stdout)
        js = self.ns("js")
        self.assertEqual((doc["command"], doc["state"], doc["exit_code"], doc["namespace"]), ("deploy", "ready", 0, js))
        self.assertEqual(sorted(doc["applied"]["created"]), sorted([
            "Namespace/" + js, "PersistentVolumeClaim/data-volume-pvc", "Deployment/ros-master", "Service/ros-master",
            "Deployment/rigel-k8s-application"]))
        self.assertEqual([(o["kind"], o["name"], o["state"]) for o in doc["objects"]], [
            ("Deployment", "ros-master", "ready"), ("PersistentVolumeClaim", "data-volume-pvc", "ready"),
            ("Deployment", "rigel-k8s-application", "ready")])
        r = self.run_code(4, "update", rf, "--image", fm.image("never-ready"), "--timeout", self.timeout(3),
                          "--output=json")
        doc = json.loads(r.stdout)
        self.assertEqual((doc["state"], doc["exit_code"]), ("timeout", 4))
        self.assertIn("not ready", doc["diagnosis"])
        r = self.run_code(1, "update", rf, "--image", fm.image("crashloop"), "-o", "json")
        self.assertEqual(json.loads(r.stdout)["state"], "failed")

    def test_job_flag_picks_one_of_several_orchestration_jobs(self):
        doc = {"vars": {"distro": "noetic"}, "jobs": {
            name: {"plugin": "rigelk8s", "with": {"orchestration": self.orch(ns, persistent_storage=None)}}
            for name, ns in (("robot", "job-robot"), ("cloud", "job-cloud"))}}
        rf = os.path.join(self.dir, "Two.Rigelfile")
        with open(rf, "w") as f:
            json.dump(doc, f)
        r = self.run_code(2, "deploy", rf)
        self.assertIn("cloud", r.stderr)
        self.assertIn("robot", r.stderr)
        self.assertIn("--job", r.stderr)
        self.run_ok("deploy", rf, "--job", "cloud")
        self.assertIsNotNone(self.deployment("job-cloud"))
        self.assertIsNone(self.k.get("Namespace", None, "job-robot"))

    def test_namespace_flag_overrides_the_rigelfile(self):
        rf = self.rigelfile("fromfile", persistent_storage=None)
        self.run_ok("deploy", rf, "-n", self.ns("fromflag"))
        self.assertIsNotNone(self.deployment("fromflag"))
        self.assertIsNone(self.k.get("Namespace", None, "fromfile"))

    def test_live_progress_on_a_terminal_and_plain_lines_otherwise(self):
        rf = self.rigelfile("tty", persistent_storage=None)
        r = rigelk8s_tty("deploy", "-f", rf, "--kubeconfig", self.kc)
        self.assertEqual(r.code, 0, r)
        # Rows redrawn in place (cursor up), short messages, colours. Each frame draws the two
        # rows ("\r\x1b[2K" each); a rollout that was Ready by the first frame (a loaded
        # machine: the apply took longer than the pods) has no second frame to redraw.
        if r.stderr.count("\r\x1b[2K") > 2:
            self.assertIn("\x1b[2A", r.stderr)
        self.assertRegex(r.stderr, r"✓ deploy/rigel-k8s-application\s+1/1 updated, 1 available\s+\d+s")
        self.assertIn("\x1b[32m", r.stderr)
        self.assertNotRegex(r.stderr, r"\d\d:\d\d:\d\d \[")
        for env, flag in (({"NO_COLOR": "1"}, []), ({}, ["--no-color"])):
            rf2 = self.rigelfile("tty", persistent_storage=None, application_image=fm.good("app:%d" % len(flag), len(flag)))
            r = rigelk8s_tty("update", "-f", rf2, "--kubeconfig", self.kc, *flag, env=env)
            self.assertEqual(r.code, 0, r)
            self.assertNotIn("\x1b[32m", r.stderr)
            self.assertIn("\x1b[2A", r.stderr)
        # Without a terminal: timestamped lines with kubectl's messages, no escapes.
        r = self.run_ok("update", rf, "--image", fm.good("app:9", 2))
        self.assertNotIn("\x1b", r.stderr)
        self.assertRegex(r.stderr, r"(?m)^\d\d:\d\d:\d\d \[ready\]\s+Deployment/rigel-k8s-application: "
                                   r"deployment \"rigel-k8s-application\" successfully rolled out$")


if __name__ == "__main__":
    unittest.main()
