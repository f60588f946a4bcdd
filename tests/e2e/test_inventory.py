"""End-to-end tests of the application inventory (ApplySet parent ConfigMap
`rigelk8s.<deployment_name>`), pruning, `rigelk8s list`, status/delete --app, rename
warnings and write errors, against the Kubernetes API emulator (a stand-in for a real
cluster: every test name here ran against it). kubectl (when installed) reads the
inventory as an ApplySet.

Run: RIGELK8S_BIN=build/rigelk8s python3 -m unittest -v test_inventory   (from tests/e2e)"""
import json
import os
import shutil
import signal
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "emulator"))  # tests/emulator/emuharness.py
from emuharness import (need_binary, BIN, SERVICE_MONITOR_CRD, Emulator, orchestration, rigelk8s, start_emulator, tmpdir,
                        write_rigelfile)

APP = "rigel-k8s-application"
PARENT = "rigelk8s." + APP
PART_OF = "applyset.kubernetes.io/part-of"


class InventoryTest(unittest.TestCase):
    def setUp(self):
        start_emulator(self, ready_delay=0.1)
        # No helm: observability releases are skipped with a message, not installed.
        self.env = {"PATH": "/usr/bin:/bin"} if shutil.which("helm") else None

    # -- helpers --------------------------------------------------------------------------

    def write(self, ns, name="Rigelfile", **over):
        over.setdefault("persistent_storage", None)
        return write_rigelfile(self.dir, orchestration(ns, **over), name=name)

    def run_code(self, code, *args, **kw):
        kw.setdefault("env", self.env)
        r = rigelk8s(*args, "--kubeconfig", self.kc, **kw)
        self.assertEqual(r.code, code, r)
        return r

    def deploy(self, rf, *args, code=0, command="deploy"):
        return self.run_code(code, command, "-f", rf, "--timeout", "30s", *args)

    def inventory(self, ns, app=APP):
        cm = self.k.get("ConfigMap", ns, "rigelk8s." + app)
        self.assertIsNotNone(cm, "no inventory in %s" % ns)
        return cm

    def members(self, ns, app=APP):
        return sorted("%s/%s" % (m["kind"], m["name"]) for m in json.loads(self.inventory(ns, app)["data"]["objects"]))

    def edit_inventory(self, ns, fn, app=APP):
        cm = self.inventory(ns, app)
        fn(cm)
        cm["metadata"].pop("managedFields", None)
        st, _, body = self.emu.request("PUT", "/api/v1/namespaces/%s/configmaps/rigelk8s.%s" % (ns, app), cm)
        self.assertEqual(st, 200, body)

    def components(self, ns, names, **over):
        return self.write(ns, components=[{"name": n} for n in names], **over)

    def no_pods(self, ns, app):
        return [p["metadata"]["name"] for p in self.k.get("Pod", ns)
                if p["metadata"].get("labels", {}).get("app") == app]


class PruneTest(InventoryTest):
    def test_removed_component_is_pruned_its_pods_gone_and_named_in_the_report(self):
        rf = self.components("prune1", ["driver", "old-planner"])
        self.deploy(rf)
        self.assertTrue(self.no_pods("prune1", "old-planner"))
        self.assertIn("Deployment/old-planner", self.members("prune1"))
        # Every member carries the ApplySet part-of label with the parent's id.
        inv_id = self.inventory("prune1")["metadata"]["labels"]["applyset.kubernetes.io/id"]
        for d in ("driver", "old-planner", "ros-master"):
            self.assertEqual(self.k.get("Deployment", "prune1", d)["metadata"]["labels"][PART_OF], inv_id)

        self.components("prune1", ["driver"])
        r = self.deploy(rf)
        self.assertIn("pruned Deployment/old-planner (no longer in the Rigelfile)", r.stderr)
        self.assertIn("pruned 1 object no longer in the Rigelfile: Deployment/old-planner", r.stderr)
        self.assertNotIn("no changes", r.stderr)
        self.assertIsNone(self.k.get("Deployment", "prune1", "old-planner"))
        self.assertEqual(self.no_pods("prune1", "old-planner"), [])   # Foreground: pods gone first
        self.assertIsNotNone(self.k.get("Deployment", "prune1", "driver"))
        self.assertNotIn("Deployment/old-planner", self.members("prune1"))
        # The prune comes after the new objects are Ready, before the verdict.
        self.assertLess(r.stderr.index("[ready]"), r.stderr.index("pruned Deployment/old-planner"))
        self.assertLess(r.stderr.index("pruned Deployment/old-planner"), r.stderr.index("deploy succeeded"))
        # Nothing left to prune: the next deploy says so plainly.
        r = self.deploy(rf)
        self.assertNotIn("pruned", r.stderr)

    def test_update_prunes_too_and_json_names_what_was_pruned(self):
        rf = self.components("prune2", ["driver", "old-planner"])
        self.deploy(rf)
        self.components("prune2", ["driver"])
        doc = self.deploy(rf, "-o", "json", command="update").json()
        self.assertEqual([p["name"] for p in doc["pruned"]], ["Deployment/old-planner"])
        self.assertIsNone(self.k.get("Deployment", "prune2", "old-planner"))

    def test_distributed_prunes_a_removed_component(self):
        def rf(components):
            return self.write("dist1", readiness=None, rolling_update=None,
                              distributed={"enabled": True, "default_to_remote": True, "components": components})
        path = rf([{"name": "drivers", "placement": "local"}, {"name": "planner", "after": ["drivers"]}])
        self.run_code(0, "distributed", "-f", path, "--timeout", "30s")
        self.assertIsNotNone(self.k.get("Deployment", "dist1", "planner"))
        rf([{"name": "drivers", "placement": "local"}])
        r = self.run_code(0, "distributed", "-f", path, "--timeout", "30s")
        self.assertIn("pruned Deployment/planner", r.stderr)
        self.assertIsNone(self.k.get("Deployment", "dist1", "planner"))
        self.assertIsNotNone(self.k.get("Deployment", "dist1", "drivers"))

    def test_no_prune_keeps_what_left_the_rigelfile_and_a_later_deploy_prunes_it(self):
        rf = self.components("prune3", ["driver", "old-planner"])
        self.deploy(rf)
        self.components("prune3", ["driver"])
        r = self.deploy(rf, "--no-prune")
        self.assertNotIn("pruned", r.stderr)
        self.assertIsNotNone(self.k.get("Deployment", "prune3", "old-planner"))
        self.assertIn("Deployment/old-planner", self.members("prune3"))
        self.deploy(rf)
        self.assertIsNone(self.k.get("Deployment", "prune3", "old-planner"))

    def test_a_failed_rollout_prunes_nothing(self):
        rf = self.components("prune4", ["driver", "old-planner"])
        self.deploy(rf)
        self.write("prune4", components=[{"name": "driver"}],
                   application_image="registry.example.com/app:imagepull-fail")
        r = self.deploy(rf, code=1)
        self.assertRegex(r.stderr, r"(ErrImagePull|ImagePullBackOff)")
        self.assertNotIn("pruned", r.stderr)
        self.assertIsNotNone(self.k.get("Deployment", "prune4", "old-planner"))
        self.assertIn("Deployment/old-planner", self.members("prune4"))

    def test_removed_volume_claim_is_kept_and_the_user_told_then_pruned_with_prune_storage(self):
        vol = {"volumes": [{"name": "data-volume", "size": "1Gi"}]}
        rf = self.write("vol1", persistent_storage=vol)
        self.deploy(rf)
        self.assertIsNotNone(self.k.get("PersistentVolumeClaim", "vol1", "data-volume-pvc"))
        self.write("vol1")
        r = self.deploy(rf)
        self.assertIn("kept PersistentVolumeClaim/data-volume-pvc: the Rigelfile no longer uses it", r.stderr)
        self.assertIn("--prune-storage", r.stderr)
        self.assertIn("kubectl delete pvc data-volume-pvc -n vol1", r.stderr)
        self.assertIsNotNone(self.k.get("PersistentVolumeClaim", "vol1", "data-volume-pvc"))
        doc = self.deploy(rf, "-o", "json").json()
        self.assertEqual(doc["unused_claims"], ["PersistentVolumeClaim/data-volume-pvc"])
        self.assertEqual(doc["pruned"], [])
        r = self.deploy(rf, "--prune-storage")
        self.assertIn("pruned PersistentVolumeClaim/data-volume-pvc", r.stderr)
        self.assertIsNone(self.k.get("PersistentVolumeClaim", "vol1", "data-volume-pvc"))
        self.assertNotIn("PersistentVolumeClaim/data-volume-pvc", self.members("vol1"))

    def test_a_hostpath_volume_is_in_the_inventory_with_its_cluster_scoped_pv(self):
        vol = {"volumes": [{"name": "maps", "size": "1Gi", "host_path": "/data/maps", "mount_path": "/maps"}]}
        rf = self.write("hp1", persistent_storage=vol)
        self.deploy(rf)
        inv = json.loads(self.inventory("hp1")["data"]["objects"])
        pv = [m for m in inv if m["kind"] == "PersistentVolume"]
        self.assertEqual(len(pv), 1, inv)
        self.assertNotIn("namespace", pv[0])
        self.assertIn("Namespace/hp1", self.members("hp1"))
        st, _, live = self.emu.get("/api/v1/persistentvolumes/" + pv[0]["name"])
        self.assertEqual(st, 200, live)
        self.write("hp1")
        r = self.deploy(rf)
        self.assertIn("kept PersistentVolume/%s" % pv[0]["name"], r.stderr)
        self.assertIn("kubectl delete pv " + pv[0]["name"], r.stderr)
        r = self.deploy(rf, "--prune-storage")
        self.assertIn("pruned PersistentVolume/" + pv[0]["name"], r.stderr)
        st, _, _ = self.emu.get("/api/v1/persistentvolumes/" + pv[0]["name"])
        self.assertEqual(st, 404)

    def test_observability_switched_off_prunes_its_objects(self):
        self.emu.ok("POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", SERVICE_MONITOR_CRD)
        obs = {"enabled": True, "prometheus": True, "ros_metrics": True,
               "grafana": {"enabled": True, "default_dashboards": True}}
        rf = self.write("obs1", observability=obs)
        self.deploy(rf)
        for kind, name in (("ServiceMonitor", APP), ("Service", APP + "-metrics"),
                           ("ConfigMap", APP + "-grafana-dashboard")):
            self.assertIsNotNone(self.k.get(kind, "obs1", name), (kind, name))
        self.write("obs1", observability={"enabled": False})
        r = self.deploy(rf, command="update")
        for ref in ("ServiceMonitor/" + APP, "Service/%s-metrics" % APP, "ConfigMap/%s-grafana-dashboard" % APP):
            self.assertIn("pruned " + ref, r.stderr)
        for kind, name in (("ServiceMonitor", APP), ("Service", APP + "-metrics"),
                           ("ConfigMap", APP + "-grafana-dashboard")):
            self.assertIsNone(self.k.get(kind, "obs1", name), (kind, name))
        self.assertIsNotNone(self.k.get("Deployment", "obs1", APP))

    def test_diff_and_dry_run_list_what_would_be_pruned_and_prune_nothing(self):
        rf = self.components("dry1", ["driver", "old-planner"],
                             persistent_storage={"volumes": [{"name": "data-volume", "size": "1Gi"}]})
        self.deploy(rf)
        self.components("dry1", ["driver"])
        r = self.run_code(1, "diff", "-f", rf)
        self.assertIn("- PRUNE  Deployment/old-planner (no longer in the Rigelfile; deploy deletes it)", r.stdout)
        self.assertIn("~ keep   PersistentVolumeClaim/data-volume-pvc", r.stdout)
        self.assertIn("Deployment/old-planner (prune)", r.stderr)
        doc = self.run_code(1, "diff", "-f", rf, "-o", "json").json()
        self.assertIn("Deployment/old-planner (prune)", doc["changed"])
        r = self.deploy(rf, "--dry-run")
        self.assertIn("would prune Deployment/old-planner (no longer in the Rigelfile) (dry run)", r.stderr)
        self.assertIn("would prune 1 object no longer in the Rigelfile: Deployment/old-planner", r.stderr)
        doc = self.deploy(rf, "--dry-run", "-o", "json").json()
        self.assertEqual([p["name"] for p in doc["would_prune"]], ["Deployment/old-planner"])
        self.assertIsNotNone(self.k.get("Deployment", "dry1", "old-planner"))
        self.assertIn("Deployment/old-planner", self.members("dry1"))
        # --prune-storage in a diff says the claim would go too.
        r = self.run_code(1, "diff", "-f", rf, "--prune-storage")
        self.assertIn("- PRUNE  PersistentVolumeClaim/data-volume-pvc", r.stdout)

    def test_an_object_changed_by_another_manager_is_pruned_and_the_manager_named(self):
        rf = self.components("mgr1", ["driver", "old-planner"])
        self.deploy(rf)
        st, _, body = self.emu.request(
            "PATCH", "/apis/apps/v1/namespaces/mgr1/deployments/old-planner?fieldManager=kubectl-edit",
            {"metadata": {"annotations": {"note": "hand edit"}}}, ctype="application/merge-patch+json")
        self.assertEqual(st, 200, body)
        self.components("mgr1", ["driver"])
        r = self.deploy(rf)
        self.assertIn("pruned Deployment/old-planner (no longer in the Rigelfile; changed since by kubectl-edit)",
                      r.stderr)
        self.assertIsNone(self.k.get("Deployment", "mgr1", "old-planner"))

    def test_an_object_whose_part_of_label_was_removed_is_not_pruned(self):
        rf = self.components("lbl1", ["driver", "old-planner"])
        self.deploy(rf)
        st, _, body = self.emu.request(
            "PATCH", "/apis/apps/v1/namespaces/lbl1/deployments/old-planner?fieldManager=someone",
            {"metadata": {"labels": {PART_OF: None}}}, ctype="application/merge-patch+json")
        self.assertEqual(st, 200, body)
        self.components("lbl1", ["driver"])
        r = self.deploy(rf)
        self.assertIn("not pruned Deployment/old-planner: it no longer carries " + PART_OF, r.stderr)
        self.assertIsNotNone(self.k.get("Deployment", "lbl1", "old-planner"))
        self.assertNotIn("Deployment/old-planner", self.members("lbl1"))


    def test_a_scripts_own_objects_are_pruned_by_that_script_only(self):
        script = os.path.join(self.dir, "site.lua")
        with open(script, "w") as f:
            f.write('''local wf = require "rigelk8s.workflow"
return wf.main(function(ctx)
  wf.config(ctx)
  wf.render(ctx)
  wf.add(ctx, {apiVersion = "v1", kind = "ConfigMap", metadata = {name = os.getenv("SITE_CM")},
               data = {SITE = "lab"}}, "config")
  wf.apply(ctx, ctx.objects)
  return wf.finish(ctx, wf.wait(ctx, wf.wait_targets(ctx)))
end, arg, {command = "site-deploy"})
''')
        rf = self.write("own1")
        self.run_code(0, "run", script, "-f", rf, env={"SITE_CM": "site-a"})
        self.assertIn("ConfigMap/site-a", self.members("own1"))
        # The stock workflows do not render site-a, but it is not theirs to prune.
        r = self.deploy(rf, command="update")
        self.assertNotIn("pruned", r.stderr)
        self.assertIsNotNone(self.k.get("ConfigMap", "own1", "site-a"))
        # The script that added it prunes it once it no longer adds it.
        r = self.run_code(0, "run", script, "-f", rf, env={"SITE_CM": "site-b"})
        self.assertIn("pruned ConfigMap/site-a", r.stderr)
        self.assertIsNone(self.k.get("ConfigMap", "own1", "site-a"))
        self.assertIsNotNone(self.k.get("ConfigMap", "own1", "site-b"))


class AppsWithoutRigelfileTest(InventoryTest):
    def test_list_all_namespaces_shows_two_apps_in_two_namespaces(self):
        self.deploy(self.components("team-a", ["driver"], name="A.Rigelfile"))
        self.deploy(self.write("team-b", name="B.Rigelfile", deployment_name="mapper",
                               application_image="registry.example.com/robot/mapper:2.0"))
        r = self.run_code(0, "list", "-A")
        lines = r.stdout.splitlines()
        self.assertEqual(lines[0].split(), ["NAME", "NAMESPACE", "JOB", "READY", "IMAGES", "DEPLOYED", "VERSION"])
        rows = {tuple(l.split()[:2]): l.split() for l in lines[1:]}
        self.assertEqual(set(rows), {(APP, "team-a"), ("mapper", "team-b")})
        self.assertEqual(rows[(APP, "team-a")][3], "4/4")    # Namespace, master Deployment+Service, driver
        self.assertIn("registry.example.com/robot/mapper:2.0", rows[("mapper", "team-b")][4])
        doc = self.run_code(0, "list", "-A", "-o", "json").json()
        by = {(a["name"], a["namespace"]): a for a in doc["applications"]}
        self.assertEqual(by[("mapper", "team-b")]["job"], "deploy_k8s")
        self.assertTrue(by[("mapper", "team-b")]["rigelfile"].endswith("B.Rigelfile"))
        self.assertEqual(by[("mapper", "team-b")]["ready"], by[("mapper", "team-b")]["objects"])
        self.assertRegex(by[(APP, "team-a")]["deployed"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
        self.assertRegex(by[(APP, "team-a")]["version"], r"^\d+\.\d+")
        # -n limits the list to one namespace.
        doc = self.run_code(0, "list", "-n", "team-b", "-o", "json").json()
        self.assertEqual([(a["name"], a["namespace"]) for a in doc["applications"]], [("mapper", "team-b")])
        r = self.run_code(2, "list", "-A", "-n", "team-b")
        self.assertIn("-A and -n team-b", r.stderr)

    def test_status_and_delete_by_app_need_no_rigelfile(self):
        rf = self.components("noref", ["driver"], persistent_storage={"volumes": [{"name": "data-volume", "size": "1Gi"}]})
        self.deploy(rf)
        os.remove(rf)
        empty = tmpdir()
        self.addCleanup(shutil.rmtree, empty, True)
        def here(code, *args):
            p = subprocess.run([BIN] + list(args) + ["--kubeconfig", self.kc], cwd=empty, capture_output=True,
                               text=True, timeout=60)
            self.assertEqual(p.returncode, code, p)
            return p
        p = here(0, "status", "--app", APP, "-n", "noref", "-o", "json")
        doc = json.loads(p.stdout)
        self.assertTrue(doc["ready"])
        names = sorted("%s/%s" % (o["kind"], o["name"]) for o in doc["objects"])
        self.assertEqual(names, ["Deployment/driver", "Deployment/ros-master", "Namespace/noref",
                                 "PersistentVolumeClaim/data-volume-pvc", "Service/ros-master"])
        p = here(0, "status", "--app", APP, "-n", "noref")
        self.assertIn("driver", p.stdout)
        p = here(2, "status", "--app", APP)
        self.assertIn("-n <namespace>", p.stderr)
        p = here(1, "status", "--app", "nosuch", "-n", "noref")
        self.assertIn("no application 'nosuch' in namespace noref", p.stderr)
        p = here(0, "delete", "--app", APP, "-n", "noref")
        self.assertIn("Deployment/driver deleted", p.stderr)
        self.assertIsNone(self.k.get("Deployment", "noref", "driver"))
        self.assertIsNone(self.k.get("Deployment", "noref", "ros-master"))
        self.assertIsNotNone(self.k.get("PersistentVolumeClaim", "noref", "data-volume-pvc"))
        # What was kept stays in the inventory, so that list and delete still find it.
        self.assertEqual(self.members("noref"), ["Namespace/noref", "PersistentVolumeClaim/data-volume-pvc"])
        here(0, "delete", "--app", APP, "-n", "noref", "--delete-storage")
        self.assertIsNone(self.k.get("PersistentVolumeClaim", "noref", "data-volume-pvc"))
        self.assertIsNone(self.k.get("ConfigMap", "noref", PARENT))

    def test_delete_with_a_rigelfile_also_deletes_members_it_no_longer_renders(self):
        rf = self.components("del1", ["driver", "old-planner"])
        self.deploy(rf)
        self.components("del1", ["driver"])
        r = self.run_code(0, "delete", "-f", rf)
        self.assertIn("Deployment/old-planner deleted", r.stderr)
        self.assertIsNone(self.k.get("Deployment", "del1", "old-planner"))
        self.assertIsNone(self.k.get("Deployment", "del1", "driver"))

    def test_status_with_a_rigelfile_shows_members_it_no_longer_renders(self):
        rf = self.components("st1", ["driver", "old-planner"])
        self.deploy(rf)
        self.components("st1", ["driver"])
        r = self.run_code(0, "status", "-f", rf)
        line = [l for l in r.stdout.splitlines() if "old-planner" in l and l.startswith("Deployment")][0]
        self.assertIn("no longer in the Rigelfile: the next deploy prunes it", line)

    def test_renamed_deployment_name_warns_with_the_command_and_deletes_nothing(self):
        rf = self.write("ren1")
        self.deploy(rf)
        self.write("ren1", deployment_name="navigator")
        r = self.deploy(rf)
        self.assertIn("warning: application '%s' in namespace ren1, deployed earlier from this Rigelfile "
                      "(job deploy_k8s), is still running" % APP, r.stderr)
        self.assertIn("rigelk8s delete --app %s -n ren1" % APP, r.stderr)
        self.assertIsNotNone(self.k.get("Deployment", "ren1", APP))
        self.assertIsNotNone(self.k.get("Deployment", "ren1", "navigator"))
        doc = self.deploy(rf, "-o", "json").json()
        self.assertEqual(doc["renamed"], [{"application": APP, "namespace": "ren1",
                                           "command": "rigelk8s delete --app %s -n ren1" % APP}])
        # The command it gives works, and then the warning stops.
        self.run_code(0, "delete", "--app", APP, "-n", "ren1")
        self.assertIsNone(self.k.get("Deployment", "ren1", APP))
        self.assertIsNotNone(self.k.get("Deployment", "ren1", "navigator"))

    def test_changed_namespace_warns_and_never_deletes_across_namespaces(self):
        rf = self.write("old-ns")
        self.deploy(rf)
        self.write("new-ns")
        r = self.deploy(rf)
        self.assertIn("application '%s' in namespace old-ns" % APP, r.stderr)
        self.assertIn("rigelk8s delete --app %s -n old-ns" % APP, r.stderr)
        self.assertIsNotNone(self.k.get("Deployment", "old-ns", APP))
        self.assertIsNotNone(self.k.get("Deployment", "new-ns", APP))


class BadInventoryTest(InventoryTest):
    def test_garbage_inventory_gives_a_clear_message_and_deletes_nothing(self):
        rf = self.components("bad1", ["driver", "old-planner"])
        self.deploy(rf)
        self.components("bad1", ["driver"])
        for garbage, needle in [
            ("not json{", "data.objects is not valid JSON"),
            ('{"a": 1}', "data.objects is not a JSON list"),
            ('[{"kind": "Deployment"}]', "data.objects[0] is not {apiVersion, kind, name, namespace}"),
            ('[{"apiVersion": "apps/v1", "kind": "Deployment", "name": "driver", "namespace": "kube-system"}]',
             "data.objects[0] (Deployment/driver) is in namespace kube-system, not bad1"),
        ]:
            self.edit_inventory("bad1", lambda cm: cm["data"].update(objects=garbage))
            for args in (["deploy", "-f", rf], ["delete", "--app", APP, "-n", "bad1"],
                         ["status", "--app", APP, "-n", "bad1"], ["diff", "-f", rf]):
                r = self.run_code(2, *args)
                self.assertIn("inventory ConfigMap bad1/%s: %s" % (PARENT, needle), r.stderr)
                self.assertIn("kubectl edit configmap %s -n bad1" % PARENT, r.stderr)
            r = self.run_code(1, "list", "-n", "bad1")
            self.assertIn(needle, r.stderr)
        for d in ("driver", "old-planner", "ros-master"):
            self.assertIsNotNone(self.k.get("Deployment", "bad1", d), d)

    def test_a_configmap_of_that_name_not_written_by_rigelk8s_is_left_alone(self):
        self.emu.ok("POST", "/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "bad2"}})
        self.emu.ok("POST", "/api/v1/namespaces/bad2/configmaps",
                    {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": PARENT}, "data": {"x": "1"}})
        r = self.run_code(2, "deploy", "-f", self.write("bad2"))
        self.assertIn("inventory ConfigMap bad2/%s exists but is not a rigelk8s inventory" % PARENT, r.stderr)
        self.assertEqual(self.k.get("ConfigMap", "bad2", PARENT)["data"], {"x": "1"})

    def test_a_member_of_a_kind_the_server_no_longer_serves(self):
        self.emu.ok("POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", SERVICE_MONITOR_CRD)
        rf = self.write("gone1", observability={"enabled": True, "prometheus": True, "ros_metrics": True})
        self.deploy(rf)
        self.assertIn("ServiceMonitor/" + APP, self.members("gone1"))
        st, _, body = self.emu.request("DELETE", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/"
                                       "servicemonitors.monitoring.coreos.com")
        self.assertIn(st, (200, 202), body)
        self.write("gone1", observability={"enabled": False})
        r = self.deploy(rf)
        self.assertIn("cannot prune ServiceMonitor/%s: the cluster no longer serves monitoring.coreos.com/v1 "
                      "ServiceMonitor; it stays in the inventory" % APP, r.stderr)
        self.assertIn("pruned Service/%s-metrics" % APP, r.stderr)
        self.assertIn("ServiceMonitor/" + APP, self.members("gone1"))
        self.assertIsNotNone(self.k.get("Deployment", "gone1", APP))
        # delete --app goes on past it and says why.
        r = self.run_code(0, "delete", "--app", APP, "-n", "gone1")
        self.assertIn("ServiceMonitor/%s not deleted: the cluster no longer serves" % APP, r.stderr)
        self.assertIsNone(self.k.get("Deployment", "gone1", APP))

    def test_two_rigelfiles_claiming_one_app_name_in_one_namespace(self):
        first = self.components("two1", ["driver", "old-planner"], name="first.Rigelfile")
        self.deploy(first)
        second = self.components("two1", ["mapper"], name="second.Rigelfile")
        r = self.run_code(0, "deploy", "-f", second, "--timeout", "30s")
        self.assertIn("warning: application '%s' in namespace two1 was deployed from another Rigelfile (%s, job "
                      "deploy_k8s); this one (%s) updates it but prunes nothing" % (APP, first, second), r.stderr)
        self.assertIn("set a different deployment_name in " + second, r.stderr)
        self.assertIn("--adopt", r.stderr)
        self.assertNotIn("pruned Deployment", r.stderr)
        for d in ("driver", "old-planner", "mapper"):
            self.assertIsNotNone(self.k.get("Deployment", "two1", d), d)
        # The inventory still belongs to the first Rigelfile, and lists both's objects.
        ann = self.inventory("two1")["metadata"]["annotations"]
        self.assertEqual(ann["rigelk8s.io/rigelfile"], first)
        self.assertTrue({"Deployment/driver", "Deployment/mapper"} <= set(self.members("two1")))
        # -o json: the warning is in the report, stderr stays quiet; diff lists no prune.
        doc = self.run_code(0, "deploy", "-f", second, "--timeout", "30s", "-o", "json").json()
        self.assertTrue(any("was deployed from another Rigelfile" in w for w in doc["warnings"]), doc)
        r = self.run_code(0, "diff", "-f", second)
        self.assertNotIn("PRUNE", r.stdout)
        # --adopt makes it the application's Rigelfile: what it does not render goes.
        r = self.run_code(0, "deploy", "-f", second, "--adopt", "--timeout", "30s")
        self.assertIn("pruned Deployment/driver", r.stderr)
        self.assertIn("pruned Deployment/old-planner", r.stderr)
        self.assertIsNotNone(self.k.get("Deployment", "two1", "mapper"))
        self.assertEqual(self.inventory("two1")["metadata"]["annotations"]["rigelk8s.io/rigelfile"], second)


class KubectlApplySetTest(InventoryTest):
    """kubectl (a real, independent client) reads our inventory as an ApplySet."""

    def setUp(self):
        super().setUp()
        self.kubectl = shutil.which("kubectl")
        if not self.kubectl:
            self.skipTest("kubectl is not installed")

    def kubectl_run(self, *args, env=None):
        e = dict(os.environ)
        e.update(env or {})
        return subprocess.run([self.kubectl, "--kubeconfig", self.kc] + list(args), capture_output=True, text=True,
                              timeout=60, env=e)

    def test_kubectl_computes_the_same_applyset_id_and_finds_the_members_by_label(self):
        # kubectl makes an ApplySet whose parent has our parent's name; its id is ours.
        self.emu.ok("POST", "/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "kc1"}})
        manifest = os.path.join(self.dir, "cm.yaml")
        with open(manifest, "w") as f:
            f.write("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: probe, namespace: kc1}\ndata: {a: '1'}\n")
        p = self.kubectl_run("apply", "-n", "kc1", "--server-side", "--prune", "--applyset=configmap/" + PARENT,
                             "-f", manifest, env={"KUBECTL_APPLYSET": "true"})
        self.assertEqual(p.returncode, 0, p)
        kubectl_id = self.k.get("ConfigMap", "kc1", PARENT)["metadata"]["labels"]["applyset.kubernetes.io/id"]
        script = os.path.join(self.dir, "id.lua")
        with open(script, "w") as f:
            f.write('print(require("rigelk8s.inventory").identity(...).id)\n')
        r = rigelk8s("run", script, APP, "kc1")
        self.assertEqual(r.code, 0, r)
        self.assertEqual(r.stdout.strip(), kubectl_id)
        # An ApplySet that kubectl manages is not ours to read, change or prune.
        r = self.run_code(2, "status", "--app", APP, "-n", "kc1")
        self.assertIn("inventory ConfigMap kc1/%s exists but is not a rigelk8s inventory (its "
                      "applyset.kubernetes.io/tooling annotation is 'kubectl/" % PARENT, r.stderr)
        r = self.run_code(2, "deploy", "-f", self.write("kc1"))
        self.assertIn("is not a rigelk8s inventory", r.stderr)
        self.assertIsNotNone(self.k.get("ConfigMap", "kc1", "probe"))

        # Our deploy: kubectl's label query over contains-group-kinds finds exactly our members.
        rf = self.components("kc2", ["driver"], persistent_storage={"volumes": [{"name": "data-volume", "size": "1Gi"}]})
        self.deploy(rf)
        parent = self.inventory("kc2")
        gks = parent["metadata"]["annotations"]["applyset.kubernetes.io/contains-group-kinds"].split(",")
        self.assertEqual(gks, sorted(["Deployment.apps", "Namespace", "PersistentVolumeClaim", "Service"]))
        self.assertTrue(parent["metadata"]["annotations"]["applyset.kubernetes.io/tooling"].startswith("rigelk8s/"))
        inv_id = parent["metadata"]["labels"]["applyset.kubernetes.io/id"]
        p = self.kubectl_run("get", "deployments.apps,services,persistentvolumeclaims", "-n", "kc2",
                             "-l", "%s=%s" % (PART_OF, inv_id), "-o", "name")
        self.assertEqual(p.returncode, 0, p)
        found = sorted(p.stdout.split())
        self.assertEqual(found, ["deployment.apps/driver", "deployment.apps/ros-master",
                                 "persistentvolumeclaim/data-volume-pvc", "service/ros-master"])

    def test_kubectl_recognises_the_applyset_and_refuses_to_prune_another_tools_set(self):
        rf = self.components("kc3", ["driver"])
        self.deploy(rf)
        manifest = os.path.join(self.dir, "cm.yaml")
        with open(manifest, "w") as f:
            f.write("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: probe, namespace: kc3}\ndata: {a: '1'}\n")
        p = self.kubectl_run("apply", "-n", "kc3", "--server-side", "--prune", "--applyset=configmap/" + PARENT,
                             "-f", manifest, env={"KUBECTL_APPLYSET": "true"})
        # KEP-3659: a tool must not change an ApplySet another tool manages. kubectl says so.
        self.assertNotEqual(p.returncode, 0, p)
        self.assertIn('managed by tooling "rigelk8s"', p.stderr)
        self.assertIsNotNone(self.k.get("Deployment", "kc3", "driver"))
        self.assertIsNone(self.k.get("ConfigMap", "kc3", "probe"))


class WriteErrorTest(unittest.TestCase):
    def setUp(self):
        need_binary(self)
        self.dir = tmpdir()
        self.addCleanup(shutil.rmtree, self.dir, True)
        self.rf = write_rigelfile(self.dir, orchestration("wr"))

    def test_render_to_dev_full_exits_1_with_the_reason(self):
        with open("/dev/full", "w") as full:
            p = subprocess.run([BIN, "render", "-f", self.rf], stdout=full, stderr=subprocess.PIPE, text=True,
                               timeout=30)
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertEqual(p.stderr, "rigelk8s: cannot write output: No space left on device\n")
        with open("/dev/full", "w") as full:
            p = subprocess.run([BIN, "render", "-f", self.rf, "-o", "json"], stdout=full, stderr=subprocess.PIPE,
                               text=True, timeout=30)
        self.assertEqual((p.returncode, p.stderr), (1, "rigelk8s: cannot write output: No space left on device\n"))

    def test_render_with_stdout_closed_exits_1(self):
        p = subprocess.run(["bash", "-c", '"$0" render -f "$1" >&-', BIN, self.rf], capture_output=True, text=True,
                           timeout=30)
        self.assertEqual((p.returncode, p.stderr), (1, "rigelk8s: cannot write output: Bad file descriptor\n"))

    def test_status_json_with_stdout_closed_exits_1(self):
        emu = Emulator()
        self.addCleanup(emu.stop)
        r = rigelk8s("deploy", "-f", self.rf, "--kubeconfig", emu.kubeconfig, "--timeout", "30s")
        self.assertEqual(r.code, 0, r)
        p = subprocess.run(["bash", "-c", '"$0" status -f "$1" --kubeconfig "$2" -o json >&-', BIN, self.rf,
                            emu.kubeconfig], capture_output=True, text=True, timeout=60)
        self.assertEqual((p.returncode, p.stderr), (1, "rigelk8s: cannot write output: Bad file descriptor\n"))
        # The same command with stdout open succeeds: the failure above was the write.
        r = rigelk8s("status", "-f", self.rf, "--kubeconfig", emu.kubeconfig, "-o", "json")
        self.assertEqual(r.code, 0, r)
        # stderr counts too: a deploy whose progress could not be written fails (nowhere
        # to say why), while -o json, which keeps stderr quiet, succeeds.
        with open("/dev/full", "w") as full:
            p = subprocess.run([BIN, "deploy", "-f", self.rf, "--kubeconfig", emu.kubeconfig], stdout=subprocess.PIPE,
                               stderr=full, text=True, timeout=60)
            self.assertEqual(p.returncode, 1, p.stdout)
            p = subprocess.run([BIN, "deploy", "-f", self.rf, "--kubeconfig", emu.kubeconfig, "-o", "json"],
                               stdout=subprocess.PIPE, stderr=full, text=True, timeout=60)
            self.assertEqual(p.returncode, 0, p.stdout)
            self.assertEqual(json.loads(p.stdout)["state"], "ready")

    def test_render_into_head_ends_quietly(self):
        p = subprocess.run(["bash", "-c", '"$0" render -f "$1" | head -1; echo "status=${PIPESTATUS[0]}"',
                            BIN, self.rf], capture_output=True, text=True, timeout=30)
        self.assertEqual(p.stderr, "")
        out = p.stdout.splitlines()
        self.assertEqual(out[0], "apiVersion: v1")
        # Killed by SIGPIPE (141) when head has gone, 0 when all output fit in the pipe first.
        self.assertIn(out[1], ("status=0", "status=141"))

    def test_a_reader_that_has_gone_ends_it_by_sigpipe_without_a_message(self):
        # Deterministic: the pipe's reader is closed before rigelk8s writes anything.
        for ignore in (False, True):
            r, w = os.pipe()
            os.close(r)
            pre = (lambda: signal.signal(signal.SIGPIPE, signal.SIG_IGN)) if ignore else None
            p = subprocess.run([BIN, "render", "-f", self.rf], stdout=w, stderr=subprocess.PIPE, text=True,
                               timeout=30, preexec_fn=pre)
            os.close(w)
            self.assertEqual(p.stderr, "")
            self.assertEqual(p.returncode, -signal.SIGPIPE)


if __name__ == "__main__":
    unittest.main()
