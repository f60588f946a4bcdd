"""The Rigel plugin shim (examples/rigel-plugin) against the real rigelk8s binary and
the Kubernetes API emulator. Standard library only; Rigel's Plugin base class comes from
the real `rigel` package when it is installed, else from standin/."""
import json
import os
import stat
import sys
import tempfile
import types
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.environ.get("RK_SOURCE_DIR") or os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tests", "emulator"))
sys.path.insert(0, os.path.join(ROOT, "examples", "rigel-plugin"))
try:
    import rigel.plugins  # noqa: F401  (the real Rigel, when installed)
    REAL_RIGEL = True
except ImportError:
    sys.path.insert(0, os.path.join(HERE, "standin"))
    REAL_RIGEL = False

from emuharness import Emulator  # noqa: E402
from rigelk8s_rigel import OrchestrationPlugin, RigelK8sError  # noqa: E402

BIN = os.environ.get("RIGELK8S_BIN") or os.path.join(ROOT, "build", "rigelk8s")
APPS = "/apis/apps/v1/namespaces/%s/deployments/%s"


def application(distro="noetic"):
    return types.SimpleNamespace(distro=distro, dir=".")


class ShimCase(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.emu = Emulator(ready_delay=0.05)
        cls.saved_env = {k: os.environ.get(k) for k in ("KUBECONFIG", "RIGELK8S_BIN", "RIGELK8S_ARGS")}
        os.environ["KUBECONFIG"] = cls.emu.kubeconfig
        os.environ["RIGELK8S_BIN"] = BIN
        os.environ.pop("RIGELK8S_ARGS", None)

    @classmethod
    def tearDownClass(cls):
        cls.emu.stop()
        for k, v in cls.saved_env.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v

    def deployment(self, namespace, name):
        status, _, body = self.emu.get(APPS % (namespace, name))
        return body if status == 200 else None

    def lifecycle(self, plugin):
        """What Rigel's executor does for a job of a sequential stage."""
        plugin.setup()
        plugin.start()
        plugin.process()
        plugin.stop()


class TestLifecycle(ShimCase):
    def test_uses_rigels_plugin_base_class(self):
        import rigel.plugins
        self.assertTrue(issubclass(OrchestrationPlugin, rigel.plugins.Plugin))

    def test_start_deploys_and_process_records_the_report_in_shared_data(self):
        shared = {}
        plugin = OrchestrationPlugin(
            {"orchestration": {"namespace": "shim-a", "deployment_name": "app-a", "deploy_ros_master": True,
                               "application_image": "reg/app:1"}},
            {"distro": "noetic"}, application(), {}, shared)
        self.lifecycle(plugin)
        report = shared["rigelk8s"]
        self.assertEqual(report["state"], "ready")
        self.assertEqual(report["exit_code"], 0)
        self.assertEqual(report["namespace"], "shim-a")
        names = sorted(o["name"] for o in report["objects"])
        self.assertEqual(names, ["app-a", "ros-master"])
        live = self.deployment("shim-a", "app-a")
        self.assertIsNotNone(live, "the application Deployment was not created")
        self.assertEqual(live["spec"]["template"]["spec"]["containers"][0]["image"], "reg/app:1")
        self.assertEqual(live["status"].get("readyReplicas"), 1)

    def test_stop_without_cleanup_leaves_the_deployment(self):
        plugin = OrchestrationPlugin({"namespace": "shim-b", "deployment_name": "app-b", "deploy_ros_master": True},
                                     {}, application(), {}, {})
        self.lifecycle(plugin)
        self.assertIsNotNone(self.deployment("shim-b", "app-b"))
        self.assertIsNotNone(self.deployment("shim-b", "ros-master"))

    def test_cleanup_true_deletes_on_stop(self):
        shared = {}
        plugin = OrchestrationPlugin({"orchestration": {"namespace": "shim-c", "deployment_name": "app-c",
                                                        "deploy_ros_master": True},
                                      "cleanup": True}, {}, application(), {}, shared)
        plugin.setup()
        plugin.start()
        plugin.process()
        self.assertIsNotNone(self.deployment("shim-c", "app-c"))
        plugin.stop()
        self.assertEqual(shared["rigelk8s_cleanup"]["exit_code"], 0)
        self.emu.wait_for(lambda: self.deployment("shim-c", "app-c") is None, msg="app-c deleted")
        self.assertIsNone(self.deployment("shim-c", "ros-master"))

    def test_concurrent_stage_dependency_lives_until_stop(self):
        # Rigel's ConcurrentStagesExecutor: dependencies setup+start, the jobs run, then
        # the dependencies stop.
        shared = {}
        dependency = OrchestrationPlugin({"namespace": "shim-d", "deployment_name": "sim", "cleanup": "yes"},
                                         {}, application(), {}, shared)
        dependency.setup()
        dependency.start()
        self.assertIsNotNone(self.deployment("shim-d", "sim"))
        dependency.stop()
        self.emu.wait_for(lambda: self.deployment("shim-d", "sim") is None, msg="sim deleted")

    def test_rigel_application_distro_and_base_image_fill_in(self):
        shared = {}
        plugin = OrchestrationPlugin({"namespace": "shim-ros2", "deployment_name": "talker", "deploy_ros_master": True},
                                     {"base_image": "reg/ros2-app:7"}, application("humble"), {}, shared)
        self.lifecycle(plugin)
        names = sorted(o["name"] for o in shared["rigelk8s"]["objects"])
        self.assertEqual(names, ["ros-discovery-server", "talker"])
        live = self.deployment("shim-ros2", "talker")
        self.assertEqual(live["spec"]["template"]["spec"]["containers"][0]["image"], "reg/ros2-app:7")

    def test_old_rigel_run_method(self):
        shared = {}
        plugin = OrchestrationPlugin({"namespace": "shim-run", "deployment_name": "app"}, {}, application(), {},
                                     shared)
        plugin.setup()
        plugin.run()
        self.assertEqual(shared["rigelk8s"]["state"], "ready")


class TestFailures(ShimCase):
    def test_failed_rollout_raises_with_the_diagnosis_and_exit_code(self):
        plugin = OrchestrationPlugin({"namespace": "shim-fail", "deployment_name": "app",
                                      "application_image": "reg/app:crashloop", "timeout": "60s"},
                                     {}, application(), {}, {})
        plugin.setup()
        with self.assertRaises(RigelK8sError) as cm:
            plugin.start()
        err = cm.exception
        self.assertEqual(err.code, 1)
        self.assertIn("CrashLoopBackOff", err.diagnosis)
        self.assertIn("rigelk8s deploy failed (exit code 1)", str(err))
        self.assertEqual(err.result["state"], "failed")

    def test_bad_config_raises_exit_code_2_naming_the_field(self):
        plugin = OrchestrationPlugin({"orchestration": {"namespace": "Not_A_Name"}}, {}, application(), {}, {})
        plugin.setup()
        with self.assertRaises(RigelK8sError) as cm:
            plugin.start()
        self.assertEqual(cm.exception.code, 2)
        self.assertIn("with.orchestration.namespace", cm.exception.diagnosis)
        self.assertIn("Not_A_Name", cm.exception.diagnosis)

    def test_unreachable_cluster_raises_exit_code_3(self):
        with tempfile.TemporaryDirectory() as tmp:
            kc = os.path.join(tmp, "kubeconfig")
            with open(self.emu.kubeconfig) as f:
                text = f.read()
            with open(kc, "w") as f:
                f.write(text.replace(self.emu.url, "http://127.0.0.1:9"))
            os.environ["RIGELK8S_ARGS"] = "--kubeconfig %s" % kc
            try:
                plugin = OrchestrationPlugin({"namespace": "shim-x"}, {}, application(), {}, {})
                plugin.setup()
                with self.assertRaises(RigelK8sError) as cm:
                    plugin.start()
            finally:
                os.environ.pop("RIGELK8S_ARGS", None)
        self.assertEqual(cm.exception.code, 3)
        self.assertIn("127.0.0.1:9", cm.exception.diagnosis)

    def test_missing_binary_is_reported_at_setup(self):
        os.environ["RIGELK8S_BIN"] = "/nonexistent/rigelk8s"
        try:
            plugin = OrchestrationPlugin({}, {}, application(), {}, {})
            with self.assertRaises(RigelK8sError) as cm:
                plugin.setup()
        finally:
            os.environ["RIGELK8S_BIN"] = BIN
        self.assertEqual(cm.exception.code, 2)
        self.assertIn("RIGELK8S_BIN=/nonexistent/rigelk8s", str(cm.exception))

    def test_bad_cleanup_value(self):
        with self.assertRaises(RigelK8sError) as cm:
            OrchestrationPlugin({"cleanup": "sometimes"}, {}, application(), {}, {})
        self.assertEqual(cm.exception.code, 2)


class TestProtocol(unittest.TestCase):
    """What exactly the shim runs, through a recording stand-in for rigelk8s."""

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="shim-protocol-")
        self.log = os.path.join(self.tmp, "calls.jsonl")
        fake = os.path.join(self.tmp, "rigelk8s")
        with open(fake, "w") as f:
            f.write("#!%s\nimport json, sys\n" % sys.executable +
                    "with open(%r, 'a') as log:\n" % self.log +
                    "    log.write(json.dumps({'argv': sys.argv[1:], 'stdin': sys.stdin.read()}) + '\\n')\n"
                    "print(json.dumps({'command': sys.argv[1], 'state': 'ready', 'exit_code': 0}))\n")
        os.chmod(fake, os.stat(fake).st_mode | stat.S_IXUSR)
        self.saved = os.environ.get("RIGELK8S_BIN")
        os.environ["RIGELK8S_BIN"] = fake

    def tearDown(self):
        if self.saved is None:
            os.environ.pop("RIGELK8S_BIN", None)
        else:
            os.environ["RIGELK8S_BIN"] = self.saved
        import shutil
        shutil.rmtree(self.tmp, ignore_errors=True)

    def calls(self):
        with open(self.log) as f:
            return [json.loads(line) for line in f]

    def test_deploy_gets_the_with_data_as_json_on_stdin(self):
        with_data = {"orchestration": {"namespace": "robots", "replicas": 2,
                                       "readiness": {"command": "/probe.sh"}},
                     "cleanup": True, "timeout": "10m"}
        plugin = OrchestrationPlugin(with_data, {"base_image": "reg/x:1"}, application("noetic"), {}, {})
        plugin.setup()
        plugin.start()
        plugin.process()
        plugin.stop()
        deploy, delete = self.calls()
        self.assertEqual(deploy["argv"], ["deploy", "-o", "json", "--config", "-", "--timeout", "10m"])
        self.assertEqual(delete["argv"][:5], ["delete", "-o", "json", "--config", "-"])
        sent = json.loads(deploy["stdin"])
        self.assertEqual(sent, {"orchestration": {"namespace": "robots", "replicas": 2,
                                                  "readiness": {"command": "/probe.sh"},
                                                  "distro": "noetic", "application_image": "reg/x:1"}})
        self.assertEqual(json.loads(delete["stdin"]), sent)

    def test_config_values_win_over_rigels(self):
        plugin = OrchestrationPlugin({"distro": "humble", "application_image": "mine:2"},
                                     {"base_image": "theirs:1"}, application("noetic"), {}, {})
        plugin.setup()
        plugin.start()
        self.assertEqual(json.loads(self.calls()[0]["stdin"]), {"distro": "humble", "application_image": "mine:2"})

    def test_no_cleanup_means_no_delete(self):
        plugin = OrchestrationPlugin({"namespace": "x"}, {}, application(), {}, {})
        plugin.setup()
        plugin.start()
        plugin.stop()
        self.assertEqual([c["argv"][0] for c in self.calls()], ["deploy"])


if __name__ == "__main__":
    unittest.main()
