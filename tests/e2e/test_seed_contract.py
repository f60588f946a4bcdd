"""End-to-end tests of the seed's contract against the Kubernetes API emulator: `rigelk8s
results` (kubectl cp out of a pod; the emulator simulates the pod side: a test registers
the files its exec serves), private registries (image_pull_secrets, registry_credentials),
the component entrypoint rule, readiness.timeout_seconds as the wait deadline, and the
placement warning for nodes without the label.

Run: RIGELK8S_BIN=build/rigelk8s python3 -m unittest -v test_seed_contract   (from tests/e2e)"""
import base64
import json
import os
import shutil
import stat
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "emulator"))  # tests/emulator/emuharness.py
from emuharness import BIN, orchestration, rigelk8s, start_emulator, write_rigelfile

HAVE_KUBECTL = shutil.which("kubectl") is not None


class SeedContractTest(unittest.TestCase):
    nodes = "robot-1:deploymentType=local;cloud-1:deploymentType=remote"

    def setUp(self):
        start_emulator(self, nodes=self.nodes, ready_delay=0.1)

    def rigelfile(self, ns, **over):
        return write_rigelfile(self.dir, orchestration(ns, **over), name="Rigelfile-" + ns)

    def run_code(self, code, *args, **kw):
        r = rigelk8s(*args, "--kubeconfig", self.kc, **kw)
        self.assertEqual(r.code, code, r)
        return r

    def container(self, ns, deployment):
        d = self.k.get("Deployment", ns, deployment)
        self.assertIsNotNone(d, "no Deployment %s/%s" % (ns, deployment))
        return d["spec"]["template"]["spec"]["containers"][0], d["spec"]["template"]["spec"]


@unittest.skipUnless(HAVE_KUBECTL, "kubectl is not installed: rigelk8s results needs kubectl cp")
class ResultsTest(SeedContractTest):
    """`rigelk8s results` runs the real kubectl cp; the pod side is simulated by the
    emulator's exec (tests/kube-emulator/kubeemu/podexec.py), which serves registered files."""

    def register(self, ns, pod, files, container=None):
        st, _, body = self.emu.admin("exec-files", {"namespace": ns, "pod": pod, "container": container,
                                                    "files": files})
        self.assertEqual(st, 200, body)

    def test_results_copies_source_path_out_of_the_newest_ready_pod_simulated_pod_side(self):
        rf = self.rigelfile("res", results={"source_path": "/root/results"}, replicas=2)
        self.run_code(0, "deploy", "-f", rf, "--timeout", "30s")
        pods = [p for p in self.k.get("Pod", "res") if p["metadata"]["labels"].get("app") == "rigel-k8s-application"]
        self.assertEqual(len(pods), 2)
        newest = max(pods, key=lambda p: (p["metadata"]["creationTimestamp"], p["metadata"]["name"]))
        older = [p for p in pods if p is not newest][0]
        # Each pod serves different content: the copy must come from the newest one.
        self.register("res", newest["metadata"]["name"], {"/root/results/run.csv": "t,x\n1,2\n",
                                                          "/root/results/logs/node.log": "ok\n"}, "ros-app")
        self.register("res", older["metadata"]["name"], {"/root/results/run.csv": "stale\n"}, "ros-app")
        out = os.path.join(self.dir, "out")
        r = self.run_code(0, "results", "-f", rf, "-o", out)
        self.assertIn("copying %s:/root/results (container ros-app)" % newest["metadata"]["name"], r.stderr)
        with open(os.path.join(out, "results", "run.csv")) as f:
            self.assertEqual(f.read(), "t,x\n1,2\n")
        with open(os.path.join(out, "results", "logs", "node.log")) as f:
            self.assertEqual(f.read(), "ok\n")
        # --json: one report on stdout.
        r = self.run_code(0, "results", "-f", rf, "-o", os.path.join(self.dir, "out2"), "--json")
        doc = json.loads(r.stdout)
        self.assertEqual(doc["pod"], newest["metadata"]["name"])
        self.assertEqual(doc["destination"], os.path.join(self.dir, "out2", "results"))

    def test_results_says_what_is_missing(self):
        rf = self.rigelfile("res2", results={"source_path": "/root/results"})
        # Nothing deployed yet: no ready pod.
        r = self.run_code(1, "results", "-f", rf, "-o", os.path.join(self.dir, "o"))
        self.assertIn("no ready pod of rigel-k8s-application with a container ros-app in namespace res2", r.stderr)
        self.run_code(0, "deploy", "-f", rf, "--timeout", "30s")
        # A path the pod does not have: kubectl cp fails (tar exits 2), and we say what to check.
        r = self.run_code(1, "results", "-f", rf, "-o", os.path.join(self.dir, "o"))
        self.assertIn("failed (exit code 2, its message is above); check that /root/results exists in "
                      "container ros-app", r.stderr)
        # kubectl not on PATH.
        empty = os.path.join(self.dir, "empty-path")
        os.mkdir(empty)
        r = self.run_code(1, "results", "-f", rf, env={"PATH": empty})
        self.assertIn("kubectl is not on PATH", r.stderr)
        # No source_path: a config error naming the field.
        rf2 = self.rigelfile("res3")
        r = self.run_code(2, "results", "-f", rf2)
        self.assertIn("jobs.deploy_k8s.with.orchestration.results.source_path is not set", r.stderr)


    def test_rigel_shim_stop_copies_the_results_simulated_pod_side(self):
        # The shim under Rigel's Plugin base class, or the tests' stand-in when Rigel is
        # not installed (said in the output).
        import importlib
        import sys
        import types
        sys.path.insert(0, os.path.join(os.environ.get("RK_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "..", "..")),
                                        "examples", "rigel-plugin"))
        try:
            importlib.import_module("rigel.plugins")
        except ImportError:
            sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "rigel-plugin", "standin"))
            print("(Rigel is not installed: the shim runs on the tests' stand-in Plugin base class)")
        from rigelk8s_rigel import OrchestrationPlugin
        dest = os.path.join(self.dir, "shim-out")
        saved = {k: os.environ.get(k) for k in ("KUBECONFIG", "RIGELK8S_BIN", "RIGELK8S_ARGS")}
        os.environ.update(KUBECONFIG=self.kc, RIGELK8S_BIN=BIN)
        os.environ.pop("RIGELK8S_ARGS", None)
        try:
            shared = {}
            plugin = OrchestrationPlugin({"orchestration": orchestration(
                "shimres", results={"source_path": "/data/out", "destination": dest})},
                {}, types.SimpleNamespace(distro="noetic", dir="."), {}, shared)
            plugin.setup()
            plugin.start()
            plugin.process()
            pod = [p for p in self.k.get("Pod", "shimres")
                   if p["metadata"]["labels"].get("app") == "rigel-k8s-application"][0]["metadata"]["name"]
            self.register("shimres", pod, {"/data/out/result.txt": "from the shim\n"})
            plugin.stop()
        finally:
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v
        with open(os.path.join(dest, "out", "result.txt")) as f:
            self.assertEqual(f.read(), "from the shim\n")
        self.assertEqual(shared["rigelk8s_results"]["pod"], pod)


class RegistryTest(SeedContractTest):
    def test_pull_secrets_and_registry_credentials_reach_every_pod_and_never_the_output(self):
        secret_auth = base64.b64encode(b"robot:hunter2-secret").decode()
        other_auth = base64.b64encode(b"someone:else-secret").decode()
        config = os.path.join(self.dir, "docker-config.json")
        with open(config, "w") as f:
            json.dump({"auths": {"https://registry.example.com": {"auth": secret_auth},
                                 "other.example.org": {"auth": other_auth}}}, f)
        os.chmod(config, 0o600)
        rf = self.rigelfile("priv", image_pull_secrets=["team-pull"],
                            registry_credentials={"from_docker_config": config})
        outputs = []
        for cmd in (["render", "-f", rf], ["deploy", "-f", rf, "--timeout", "30s", "-v"],
                    ["deploy", "-f", rf, "--timeout", "30s", "-o", "json"], ["diff", "-f", rf]):
            r = rigelk8s(*cmd, *(["--kubeconfig", self.kc] if cmd[0] != "render" else []))
            self.assertIn(r.code, (0, 1) if cmd[0] == "diff" else (0,), r)
            outputs.append(r.output)
        for out in outputs:
            self.assertNotIn(secret_auth, out)
            self.assertNotIn("hunter2", out)
            self.assertNotIn(other_auth, out)
        secret = self.k.get("Secret", "priv", "rigel-k8s-application-registry")
        self.assertEqual(secret["type"], "kubernetes.io/dockerconfigjson")
        data = json.loads(base64.b64decode(secret["data"][".dockerconfigjson"]))
        # Only the entry of the application image's registry (registry.example.com).
        self.assertEqual(data, {"auths": {"https://registry.example.com": {"auth": secret_auth}}})
        for name in ("ros-master", "rigel-k8s-application"):
            _, pod = self.container("priv", name)
            self.assertEqual(pod["imagePullSecrets"], [{"name": "team-pull"},
                                                       {"name": "rigel-k8s-application-registry"}])
        # Commands that never apply the Secret do not need the credentials.
        os.rename(config, config + ".away")
        self.run_code(0, "status", "-f", rf)
        self.run_code(0, "delete", "-f", rf, "--timeout", "30s")
        os.rename(config + ".away", config)
        # rigelk8s wrote no copy of the credentials anywhere under its working directory.
        for root, _, files in os.walk(self.dir):
            for fn in files:
                if os.path.join(root, fn) != config:
                    with open(os.path.join(root, fn), "rb") as f:
                        self.assertNotIn(b"hunter2", f.read())
        self.assertEqual(stat.S_IMODE(os.stat(config).st_mode), 0o600)

    def test_registry_credentials_without_an_entry_for_the_image_is_a_config_error(self):
        config = os.path.join(self.dir, "docker-config.json")
        with open(config, "w") as f:
            json.dump({"auths": {"other.example.org": {"auth": "eDp5"}}, "credsStore": "desktop"}, f)
        rf = self.rigelfile("priv2", registry_credentials={"from_docker_config": config})
        r = self.run_code(2, "deploy", "-f", rf, "--timeout", "10s")
        self.assertIn("registry_credentials.from_docker_config", r.stderr)
        self.assertIn("credential helper 'desktop'", r.stderr)
        self.assertNotIn("eDp5", r.output)
        self.assertIsNone(self.k.get("Deployment", "priv2", "rigel-k8s-application"))


class MasterDefaultTest(SeedContractTest):
    def test_no_master_by_default_with_a_warning_that_names_the_fix(self):
        rf = self.rigelfile("nomaster", deploy_ros_master=None)
        r = self.run_code(0, "deploy", "-f", rf, "--timeout", "30s")
        self.assertIn("warning: jobs.deploy_k8s.with.orchestration: this ROS 1 application gets no ROS master", r.stderr)
        self.assertIn("set deploy_ros_master: true, or ros_master_uri: http://HOST:11311", r.stderr)
        self.assertIsNone(self.k.get("Deployment", "nomaster", "ros-master"))
        c, _ = self.container("nomaster", "rigel-k8s-application")
        self.assertNotIn("ROS_MASTER_URI", [e["name"] for e in c["env"]])
        # -o json: the warning is in the report, and stderr stays quiet.
        r = self.run_code(0, "deploy", "-f", rf, "--timeout", "30s", "-o", "json")
        self.assertEqual(r.stderr, "")
        self.assertEqual(len(r.json()["warnings"]), 1)
        self.assertIn("deploy_ros_master", r.json()["warnings"][0])


class ObservabilityTest(SeedContractTest):
    def test_grafana_admin_password_reaches_helm_only_in_a_private_values_file(self):
        # A stand-in helm records its argv and the values file (content and mode).
        bindir = os.path.join(self.dir, "bin")
        os.makedirs(bindir)
        log = os.path.join(self.dir, "helm-log")
        with open(os.path.join(bindir, "helm"), "w") as f:
            f.write('#!/bin/sh\nprintf "%%s\\n" "$@" >> "%s"\n'
                    'prev=; for a in "$@"; do if [ "$prev" = --values ]; then stat -c "mode=%%a" "$a" >> "%s"; '
                    'stat -c "dirmode=%%a" "$(dirname "$a")" >> "%s"; cat "$a" >> "%s"; echo >> "%s"; fi; prev=$a; done\n'
                    % (log, log, log, log, log))
        os.chmod(os.path.join(bindir, "helm"), 0o755)
        rf = self.rigelfile("obs", observability={"enabled": True, "grafana": {"admin_password": "pw-very-secret"}})
        r = rigelk8s("deploy", "-f", rf, "--kubeconfig", self.kc, "--timeout", "30s", "-v",
                     env={"PATH": bindir + ":" + os.environ["PATH"]})
        self.assertEqual(r.code, 0, r)
        self.assertNotIn("pw-very-secret", r.output)
        with open(log) as f:
            text = f.read()
        self.assertIn("kube-prometheus-stack", text)  # observability.enabled alone: prometheus on
        self.assertIn("loki-stack", text)              # ...and loki
        self.assertIn('"adminPassword":"pw-very-secret"', text.replace(" ", ""))
        self.assertIn("mode=600", text)
        self.assertIn("dirmode=700", text)
        self.assertNotIn("pw-very-secret", "\n".join(l for l in text.splitlines() if not l.startswith("{")))
        # The values files are gone afterwards.
        for line in text.splitlines():
            if line.endswith("/values.json"):
                self.assertFalse(os.path.exists(line), line)


class ComponentEntrypointTest(SeedContractTest):
    def test_component_command_becomes_args_so_the_image_entrypoint_stays(self):
        # The emulator runs no image, so this checks what the API server stores: no
        # `command` (which would replace ENTRYPOINT, /ros_entrypoint.sh in ros:* images).
        rf = self.rigelfile("comp", persistent_storage={"volumes": [{"name": "logs", "size": "1Gi"}]},
                            components=[{"name": "talker", "command": "rosrun demo talker.py"},
                                        {"name": "listener", "command": ["roslaunch", "demo", "l.launch"],
                                         "args": ["rate:=5"], "volumes": []}])
        self.run_code(0, "deploy", "-f", rf, "--timeout", "30s")
        talker, talker_pod = self.container("comp", "talker")
        self.assertNotIn("command", talker)
        self.assertEqual(talker["args"], ["bash", "-c", "rosrun demo talker.py"])
        listener, listener_pod = self.container("comp", "listener")
        self.assertNotIn("command", listener)
        self.assertEqual(listener["args"], ["roslaunch", "demo", "l.launch", "rate:=5"])
        # ...and they get what the application gets: readiness probe, readiness-init, volumes.
        self.assertEqual(talker["readinessProbe"]["exec"]["command"], ["/usr/local/bin/readiness_probe.sh"])
        self.assertEqual([c["name"] for c in talker_pod["initContainers"]], ["readiness-init"])
        self.assertIn({"name": "logs", "mountPath": "/persistent_logs"}, talker["volumeMounts"])
        self.assertNotIn("logs", [v["name"] for v in listener_pod.get("volumes", [])])


class ReadinessDeadlineTest(SeedContractTest):
    def test_readiness_timeout_seconds_is_the_wait_deadline_unless_timeout_is_given(self):
        rf = self.rigelfile("slow", application_image="registry.example.com/robot/never-ready:1",
                            readiness={"command": "/probe.sh", "timeout_seconds": 2, "probe_timeout_seconds": 3})
        r = self.run_code(4, "deploy", "-f", rf)
        self.assertLess(r.elapsed, 20, r)
        _, pod = self.container("slow", "rigel-k8s-application")
        self.assertEqual(pod["containers"][0]["readinessProbe"]["timeoutSeconds"], 3)
        r = self.run_code(4, "deploy", "-f", rf, "--timeout", "4s")
        self.assertIn("--timeout 4s", r.stderr)


class PlacementTest(SeedContractTest):
    nodes = "robot-1:deploymentType=local;robot-2:deploymentType=local"

    def test_a_missing_node_label_is_named_with_the_kubectl_label_command(self):
        rf = self.rigelfile("place", distributed={"enabled": True, "default_to_remote": True})
        # The scheduler's verdict (Unschedulable) ends the wait at once: exit 1.
        r = self.run_code(1, "deploy", "-f", rf, "--timeout", "10s")
        self.assertIn("Unschedulable", r.stderr)
        self.assertIn("no node is labelled deploymentType=remote, so Deployment/rigel-k8s-application will "
                      "stay Pending; label the nodes that should run them: kubectl label node robot-1 "
                      "deploymentType=remote (nodes: robot-1, robot-2)", r.stderr)
        # As the plugin did: force_local_flag places nothing, so the pods run anywhere.
        rf = self.rigelfile("place2", distributed={"enabled": True, "default_to_remote": True,
                                                   "force_local_flag": True})
        r = self.run_code(0, "deploy", "-f", rf, "--timeout", "30s")
        self.assertNotIn("no node is labelled", r.stderr)


if __name__ == "__main__":
    unittest.main()
