"""The examples: every example Rigelfile renders, deploys to the emulator and becomes
Ready (and runs its `demo` sequence); deploy_and_update.lua runs to completion; the ROS
sample applications are complete (nodes, Dockerfile, entry point, readiness probe).

In cluster mode (RIGELK8S_TEST_KUBECONFIG, make test-cluster) the deployments go to that
cluster, each into a namespace of its own (deploy -n, or a copy of the Rigelfile with its
namespace replaced), deleted afterwards. A real cluster must be able to pull the example
images (build and push them, see each example's Dockerfile), so those tests run there only
with RIGELK8S_TEST_EXAMPLE_IMAGES=1."""
import ast
import json
import os
import re
import subprocess
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "emulator"))  # tests/emulator/emuharness.py
import failmodes as fm  # noqa: E402
from emuharness import (BIN, CLUSTER_MODE, NODES, ROOT, Emulator, emulator_only, shared_cluster,  # noqa: E402
                        unique_namespace)

EXAMPLES = os.path.join(ROOT, "examples")

# Example Rigelfile -> (namespace, the application Deployments it must bring up).
RIGELFILES = {
    "Rigelfile.example": ("default", ["ros-master", "rigel-k8s-application"]),
    "pubsub/Rigelfile": ("pubsub", ["ros-master", "pubsub"]),
    "service/Rigelfile": ("ros-service", ["ros-master", "add-two-ints"]),
    "action/Rigelfile": ("ros-action", ["ros-master", "fibonacci"]),
    "ros2-pubsub/Rigelfile": ("ros2-pubsub", ["ros-discovery-server", "ros2-pubsub"]),
    "distributed/Rigelfile": ("robot-distributed", ["ros-master", "driver", "planner"]),
}
SAMPLES = {  # ROS sample application -> (base image, node scripts)
    "pubsub": ("ros:noetic-ros-core", ["talker.py", "listener.py"]),
    "service": ("ros:noetic-ros-core", ["add_two_ints_server.py", "add_two_ints_client.py"]),
    "action": ("ros:noetic-ros-core", ["fibonacci_server.py", "fibonacci_client.py"]),
    "ros2-pubsub": ("ros:humble-ros-core", ["talker.py", "listener.py"]),
    "distributed": ("ros:noetic-ros-core", ["driver.py", "planner.py"]),
}


def example_rigelfiles():
    """Every Rigelfile under examples/ (paths relative to it)."""
    return sorted(os.path.relpath(os.path.join(d, f), EXAMPLES) for d, _, files in os.walk(EXAMPLES)
                  for f in files if f == "Rigelfile" or f.endswith(".Rigelfile") or f == "Rigelfile.example")


def rk(*args, timeout=120):
    # The emulator runs no ROS nodes: the examples' ros_graph is checked against the real
    # rosmaster in test_ros_graph.py, so here the gate is skipped (with its warning).
    env = dict(os.environ, NO_COLOR="1", RIGELK8S_ROS_GRAPH="skip")
    env.pop("REGISTRY", None)
    return subprocess.run([BIN] + list(args), cwd=ROOT, env=env, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True, timeout=timeout)


class TestRender(unittest.TestCase):
    def test_the_examples_are_all_here(self):
        self.assertLessEqual(set(RIGELFILES), set(example_rigelfiles()))

    def test_every_example_rigelfile_renders(self):
        for name in example_rigelfiles():
            with self.subTest(rigelfile=name):
                p = rk("render", "-f", os.path.join("examples", name), "-o", "json")
                self.assertEqual(p.returncode, 0, p.stderr)
                objects = json.loads(p.stdout)
                self.assertTrue(any(o["kind"] == "Deployment" for o in objects))
                if name not in RIGELFILES:
                    continue
                namespace, deployments = RIGELFILES[name]
                rendered = [o["metadata"]["name"] for o in objects if o["kind"] == "Deployment"]
                self.assertEqual(sorted(rendered), sorted(deployments))
                for o in objects:
                    if o["kind"] != "Namespace":
                        self.assertEqual(o["metadata"].get("namespace", namespace), namespace)


def skip_unless_example_images():
    """On a real cluster the example images must have been built and pushed."""
    if CLUSTER_MODE and fm.real() and os.environ.get("RIGELK8S_TEST_EXAMPLE_IMAGES") != "1":
        raise unittest.SkipTest("cluster mode: the cluster must pull the example images (build and push them, "
                                "then set RIGELK8S_TEST_EXAMPLE_IMAGES=1 and REGISTRY)")


class ClusterCase(unittest.TestCase):
    """A test's own emulator, or in cluster mode the cluster under test with a namespace
    per use, deleted (and waited for) when the test ends."""

    def start(self, *args, ready_delay=0.05):
        if CLUSTER_MODE:
            cluster = shared_cluster()
            skip_unless_example_images()
            self.namespaces = []
            self.addCleanup(lambda: self.assertEqual(cluster.delete_namespaces(self.namespaces), [],
                                                     "namespaces still there after the test"))
            return cluster
        emu = Emulator(*args, ready_delay=ready_delay)
        self.addCleanup(emu.stop)
        return emu

    def ns(self, name):
        if not CLUSTER_MODE:
            return name
        ns = unique_namespace(name)
        self.namespaces.append(ns)
        return ns

    def namespaced_copy(self, name, ns):
        """examples/NAME with its orchestration namespace set to ns, beside the original (its
        relative paths keep working); returns the path relative to the repository."""
        with open(os.path.join(EXAMPLES, name)) as f:
            text = f.read()
        text, n = re.subn(r"(?m)^(\s*)(?:# )?namespace: \S+", lambda m: m.group(1) + "namespace: " + ns, text, count=1)
        self.assertEqual(n, 1, "no namespace line in examples/" + name)
        path = os.path.join(os.path.dirname(os.path.join("examples", name)), ".rk-e2e-%s.tmp" % ns)
        with open(os.path.join(ROOT, path), "w") as f:
            f.write(text)
        self.addCleanup(os.remove, os.path.join(ROOT, path))
        return path


class TestDeploy(ClusterCase):
    def setUp(self):
        self.emu = self.start("--nodes", NODES)

    def get(self, path):
        status, _, body = self.emu.get(path)
        return body if status == 200 else None

    def pods(self, namespace, app):
        body = self.get("/api/v1/namespaces/%s/pods?labelSelector=app%%3D%s" % (namespace, app))
        return body["items"]

    def test_every_example_deploys_and_becomes_ready(self):
        for name in example_rigelfiles():
            with self.subTest(rigelfile=name):
                if CLUSTER_MODE and name.startswith("distributed/"):
                    self.skipTest("cluster mode: needs the emulator: --nodes: its placement needs nodes labelled "
                                  "deploymentType=local and remote")
                namespace = RIGELFILES[name][0] if name in RIGELFILES else None
                flags = []
                if CLUSTER_MODE:
                    namespace = self.ns(os.path.dirname(name).replace("/", "-") or "example")
                    flags = ["-n", namespace]
                p = rk("deploy", "-f", os.path.join("examples", name), "--kubeconfig", self.emu.kubeconfig,
                       "-o", "json", *flags)
                self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
                doc = json.loads(p.stdout)
                self.assertEqual(doc["state"], "ready")
                ready = {o["name"] for o in doc["objects"] if o["kind"] == "Deployment" and o["state"] == "ready"}
                self.assertTrue(ready)
                if name not in RIGELFILES:
                    continue
                deployments = RIGELFILES[name][1]
                self.assertEqual(doc["namespace"], namespace)
                self.assertEqual(ready, set(deployments))
                for d in deployments:
                    live = self.get("/apis/apps/v1/namespaces/%s/deployments/%s" % (namespace, d))
                    self.assertEqual(live["status"].get("readyReplicas"), 1, d)

    @emulator_only("--nodes: nodes labelled deploymentType=local and remote")
    def test_distributed_components_run_where_their_placement_says(self):
        p = rk("distributed", "-f", "examples/distributed/Rigelfile", "--kubeconfig", self.emu.kubeconfig,
               "-o", "json")
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        nodes = {c["name"]: c["nodes"] for c in json.loads(p.stdout)["components"]}
        self.assertEqual(nodes, {"driver": ["robot-1"], "planner": ["cloud-1"]})
        for component, node in (("driver", "robot-1"), ("planner", "cloud-1")):
            [pod] = self.pods("robot-distributed", component)
            self.assertEqual(pod["spec"]["nodeName"], node)
            env = {e["name"]: e.get("value") for e in pod["spec"]["containers"][0]["env"]}
            self.assertEqual(env["ROS_NODES"], component + ".py")
            self.assertEqual(pod["spec"]["containers"][0]["readinessProbe"]["exec"]["command"],
                             ["/usr/local/bin/readiness_probe.sh"])

    def test_demo_sequences(self):
        # The seed's `poetry run rigel run sequence demo`, without Rigel.
        for name in ("Rigelfile.example", "pubsub/Rigelfile", "ros2-pubsub/Rigelfile"):
            with self.subTest(rigelfile=name):
                path = os.path.join("examples", name)
                if CLUSTER_MODE:  # a sequence has no -n: a copy with its own namespace
                    path = self.namespaced_copy(name, self.ns(os.path.dirname(name) or "example"))
                p = rk("sequence", "demo", "-f", path, "--kubeconfig", self.emu.kubeconfig, "-o", "json")
                self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
                doc = json.loads(p.stdout)
                self.assertEqual(doc["state"], "succeeded")
                jobs = [(j["name"], j["state"]) for s in doc["stages"] for j in s["jobs"]]
                self.assertTrue(all(state == "succeeded" for _, state in jobs), jobs)

    def test_release_sequences_need_rigel_for_the_build(self):
        p = rk("sequence", "release", "-f", "examples/pubsub/Rigelfile", "--kubeconfig", self.emu.kubeconfig)
        self.assertEqual(p.returncode, 2)
        self.assertIn("job build (plugin rigel.plugins.core.BuildXPlugin)", p.stderr)


class TestDeployAndUpdate(ClusterCase):
    SCRIPT = os.path.join("examples", "deploy_and_update.lua")

    def test_help(self):
        p = rk("run", self.SCRIPT, "--help")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("usage: rigelk8s run examples/deploy_and_update.lua", p.stdout)
        self.assertIn("--broken-image IMAGE", p.stdout)

    def test_runs_to_completion(self):
        emu = self.start()
        ns, good, broken = self.ns("dau"), fm.good("reg/app:v2"), fm.image("crashloop")
        p = rk("run", self.SCRIPT, "-f", "examples/Rigelfile.example", "-n", ns, "--kubeconfig",
               emu.kubeconfig, "--image", good, "--broken-image", broken)
        self.assertEqual(p.returncode, 0, p.stderr)
        err = p.stderr
        for text in ("== deploy rigel-k8s-application to namespace " + ns, "== rolling update to " + good,
                     "deployment rigel-k8s-application: revision 1 -> 2", "== status",
                     "== update to %s (expected to fail)" % broken, "CrashLoopBackOff",
                     "rolling back deployment rigel-k8s-application to revision 2",
                     "the failed update was rolled back"):
            self.assertIn(text, err)
        status, _, live = emu.get("/apis/apps/v1/namespaces/%s/deployments/rigel-k8s-application" % ns)
        self.assertEqual(live["spec"]["template"]["spec"]["containers"][0]["image"], good)
        self.assertEqual(live["status"]["readyReplicas"], 1)

    def test_unreachable_cluster(self):
        emu = Emulator()
        kubeconfig = os.path.join(emu.tmp, "unreachable")
        with open(emu.kubeconfig) as f, open(kubeconfig, "w") as out:
            out.write(f.read().replace(emu.url, "http://127.0.0.1:9"))
        try:
            p = rk("run", self.SCRIPT, "-f", "examples/Rigelfile.example", "--kubeconfig", kubeconfig)
        finally:
            emu.stop()
        self.assertEqual(p.returncode, 3, p.stderr)
        self.assertIn("cannot reach http://127.0.0.1:9", p.stderr)
        self.assertIn("Nothing was changed. Check that:", p.stderr)


class TestSampleApplications(unittest.TestCase):
    def test_each_sample_is_complete(self):
        for sample, (base, nodes) in SAMPLES.items():
            d = os.path.join(EXAMPLES, sample)
            with self.subTest(sample=sample):
                with open(os.path.join(d, "Dockerfile")) as f:
                    dockerfile = f.read()
                self.assertRegex(dockerfile, r"(?m)^FROM %s$" % re.escape(base))
                self.assertRegex(dockerfile, r"COPY readiness_probe\.sh /usr/local/bin/readiness_probe\.sh")
                self.assertRegex(dockerfile, r"COPY entrypoint\.sh /usr/local/bin/entrypoint\.sh")
                self.assertIn('ENTRYPOINT ["/usr/local/bin/entrypoint.sh"]', dockerfile)
                for script in ("entrypoint.sh", "readiness_probe.sh"):
                    path = os.path.join(d, script)
                    self.assertTrue(os.access(path, os.X_OK), path + " is not executable")
                    p = subprocess.run(["bash", "-n", path], stderr=subprocess.PIPE, text=True)
                    self.assertEqual(p.returncode, 0, p.stderr)
                for node in nodes:
                    path = os.path.join(d, node)
                    self.assertIn(node, dockerfile)
                    with open(path) as f:
                        tree = ast.parse(f.read(), path)
                    imported = {n.names[0].name.split(".")[0] if isinstance(n, ast.Import) else n.module.split(".")[0]
                                for n in ast.walk(tree) if isinstance(n, (ast.Import, ast.ImportFrom))}
                    self.assertIn("rclpy" if base.startswith("ros:humble") else "rospy", imported, path)

    def test_ros_interfaces(self):
        def source(path):
            with open(os.path.join(EXAMPLES, path)) as f:
                return f.read()
        self.assertIn("rospy.Publisher(\"chatter\"", source("pubsub/talker.py"))
        self.assertIn("rospy.Subscriber(\"chatter\"", source("pubsub/listener.py"))
        self.assertIn("rospy.Service(\"add_two_ints\", AddTwoInts", source("service/add_two_ints_server.py"))
        self.assertIn("rospy.ServiceProxy(\"add_two_ints\", AddTwoInts", source("service/add_two_ints_client.py"))
        self.assertIn("actionlib.SimpleActionServer", source("action/fibonacci_server.py"))
        self.assertIn("actionlib.SimpleActionClient(\"fibonacci\", FibonacciAction)",
                      source("action/fibonacci_client.py"))
        self.assertIn("ros-noetic-rospy-tutorials", source("service/Dockerfile"))
        self.assertIn("ros-noetic-actionlib-tutorials", source("action/Dockerfile"))
        self.assertIn("create_publisher(String, \"chatter\"", source("ros2-pubsub/talker.py"))
        self.assertIn("distro: humble", source("ros2-pubsub/Rigelfile"))


if __name__ == "__main__":
    unittest.main()
