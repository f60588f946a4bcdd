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
sys.path.insert(0, os.path.join(HERE, "..", "emulator"))  # tests/emulator/emuharness.py
from emuharness import BIN, ROOT, Emulator  # noqa: E402
sys.path.insert(0, os.path.join(ROOT, "examples", "rigel-plugin"))
try:
    import rigel.plugins  # noqa: F401  (the real Rigel, when installed)
    REAL_RIGEL = True
except ImportError:
    sys.path.insert(0, os.path.join(HERE, "standin"))
    REAL_RIGEL = False
import rigel  # noqa: E402

if REAL_RIGEL:
    sys.stderr.write("test_plugin: using the real Rigel from %s\n" % os.path.dirname(rigel.__file__))
else:
    sys.stderr.write("test_plugin: Rigel is not installed: these tests use a STAND-IN for Rigel's Plugin "
                     "and RigelError (tests/rigel-plugin/standin); the tests of Rigel's own loader and "
                     "CLI are skipped\n")
NO_RIGEL = "Rigel is not installed (import rigel failed): needs Rigel's real loader and CLI"

from rigelk8s_rigel import LuaPlugin, OrchestrationPlugin, RigelK8sError  # noqa: E402

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
        # The examples declare ros_graph; no ROS nodes run here (see tests/e2e/test_ros_graph.py).
        cls.saved_env["RIGELK8S_ROS_GRAPH"] = os.environ.get("RIGELK8S_ROS_GRAPH")
        os.environ["RIGELK8S_ROS_GRAPH"] = "skip"
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
        self.assertEqual(deploy["argv"], ["deploy", "-o", "json", "--progress", "--no-color", "--config", "-", "--timeout", "10m"])
        self.assertEqual(delete["argv"][:7], ["delete", "-o", "json", "--progress", "--no-color", "--config", "-"])
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


def write_fake_rigelk8s(tmp, body):
    """A stand-in rigelk8s (for protocol tests only): logs its argv and stdin to
    calls.jsonl in tmp, then runs body (Python) with `argv`, `stdin` and `log` defined."""
    log = os.path.join(tmp, "calls.jsonl")
    fake = os.path.join(tmp, "rigelk8s")
    with open(fake, "w") as f:
        f.write("#!%s\nimport json, os, sys, time\nargv = sys.argv[1:]\nstdin = sys.stdin.read()\n" % sys.executable +
                "log = %r\n" % log +
                "with open(log, 'a') as f:\n    f.write(json.dumps({'argv': argv, 'stdin': stdin}) + '\\n')\n" + body)
    os.chmod(fake, os.stat(fake).st_mode | stat.S_IXUSR)
    return fake, log


class FakeBinaryCase(unittest.TestCase):
    """Runs the shim against a stand-in rigelk8s that records what it was given."""
    BODY = "print(json.dumps({'command': argv[0], 'state': 'ready', 'exit_code': 0, 'namespace': 'robots', " \
           "'diagnosis': None, 'objects': []}))\n"

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="shim-fake-")
        self.fake, self.log = write_fake_rigelk8s(self.tmp, self.BODY)
        self.saved = os.environ.get("RIGELK8S_BIN")
        os.environ["RIGELK8S_BIN"] = self.fake
        self.cwd = os.getcwd()
        os.chdir(self.tmp)  # Rigel runs in the Rigelfile's directory

    def tearDown(self):
        os.chdir(self.cwd)
        if self.saved is None:
            os.environ.pop("RIGELK8S_BIN", None)
        else:
            os.environ["RIGELK8S_BIN"] = self.saved
        import shutil
        shutil.rmtree(self.tmp, ignore_errors=True)

    def calls(self):
        with open(self.log) as f:
            return [json.loads(line) for line in f]

    def sent_config(self):
        return json.loads(self.calls()[0]["stdin"])

    def write_rigelfile(self, text):
        with open(os.path.join(self.tmp, "Rigelfile"), "w") as f:
            f.write(text)


BUILDX_RIGELFILE = """\
vars:
  registry: reg.example.com
  tag: "7"
application:
  distro: noetic
jobs:
  a_other:
    plugin: "rigel.plugins.core.DockerfilePlugin"
    with: {image: "not/this:1"}
  build:
    plugin: "rigel.plugins.core.BuildXPlugin"
    with:
      image: "{{ vars.registry }}/robot:{{ vars.tag }}"
      push: true
  deploy_k8s:
    plugin: "rigelk8s_rigel.OrchestrationPlugin"
    with:
      orchestration: {namespace: robots}
"""


class TestBuildxImage(FakeBinaryCase):
    def deploy(self, with_data, global_data):
        plugin = OrchestrationPlugin(with_data, global_data, application(), {}, {})
        plugin.setup()
        plugin.start()
        return self.sent_config()["orchestration"]

    def test_the_buildx_jobs_image_is_deployed(self):
        self.write_rigelfile(BUILDX_RIGELFILE)
        with self.assertLogs("Rigel", level="INFO") as logs:
            sent = self.deploy({"orchestration": {"namespace": "robots"}}, {"registry": "reg.example.com", "tag": "7"})
        self.assertEqual(sent["application_image"], "reg.example.com/robot:7")
        self.assertTrue(any("from jobs.build.with.image" in line for line in logs.output), logs.output)

    def test_base_image_and_application_image_come_first(self):
        self.write_rigelfile(BUILDX_RIGELFILE)
        sent = self.deploy({"orchestration": {}}, {"base_image": "base:1", "registry": "r", "tag": "1"})
        self.assertEqual(sent["application_image"], "base:1")
        os.remove(self.log)
        sent = self.deploy({"orchestration": {"application_image": "mine:2"}}, {"base_image": "base:1"})
        self.assertEqual(sent["application_image"], "mine:2")

    def test_a_buildx_image_rigel_cannot_render_is_refused(self):
        self.write_rigelfile(BUILDX_RIGELFILE.replace("{{ vars.tag }}", "{{ vars.tag | default('1') }}"))
        with self.assertRaises(RigelK8sError) as cm:
            OrchestrationPlugin({"orchestration": {}}, {"registry": "r"}, application(), {}, {})
        self.assertEqual(cm.exception.code, 2)
        self.assertIn("jobs.build.with.image", str(cm.exception))
        self.assertFalse(os.path.exists(self.log), "nothing may be deployed")

    def test_no_image_anywhere_warns_that_plain_ros_core_is_deployed(self):
        with self.assertLogs("Rigel", level="WARNING") as logs:
            sent = self.deploy({"orchestration": {}}, {})
        self.assertNotIn("application_image", sent)  # rigelk8s's own default applies
        self.assertTrue(any("ros:noetic-ros-core" in line for line in logs.output), logs.output)


class TestTemplatesRigelCannotRender(FakeBinaryCase):
    def test_a_filter_left_as_text_by_rigel_is_refused_with_its_path(self):
        with self.assertRaises(RigelK8sError) as cm:
            OrchestrationPlugin({"orchestration": {"namespace": "{{ vars.ns | default('x') }}",
                                                   "ports": ["{{ vars.ports[0] }}"]}}, {}, application(), {}, {})
        msg = str(cm.exception)
        self.assertEqual(cm.exception.code, 2)
        self.assertIn("with.orchestration.namespace: {{ vars.ns | default('x') }} is not a template Rigel can render",
                      msg)
        self.assertIn("with.orchestration.ports[0]", msg)
        self.assertIn("rigelk8s sequence", msg)
        self.assertFalse(os.path.exists(self.log), "nothing may be deployed")


def rigel_lookup(template, shared):
    """How Rigel's decoder resolves {{ data.NAME }}: the whole dotted NAME is one key."""
    name = template.replace("{", "").replace("}", "").replace(" ", "")
    header, variable = name.split(".", 1)
    assert header == "data"
    if variable not in shared:
        raise KeyError("Field set to undeclared shared variable '%s'" % variable)
    return shared[variable]


class TestFlatSharedKeys(FakeBinaryCase):
    def test_report_fields_are_published_under_flat_and_dotted_keys(self):
        shared = {}
        plugin = OrchestrationPlugin({"orchestration": {"namespace": "robots", "deployment_name": "arm"}},
                                     {}, application(), {}, shared)
        plugin.setup()
        plugin.start()
        plugin.process()
        self.assertEqual(shared["rigelk8s"]["namespace"], "robots")  # the nested form stays
        for template, want in [("{{ data.rigelk8s_namespace }}", "robots"),
                               ("{{ data.rigelk8s.namespace }}", "robots"),
                               ("{{ data.rigelk8s_state }}", "ready"),
                               ("{{ data.rigelk8s_exit_code }}", 0),
                               ("{{ data.rigelk8s_deployment_name }}", "arm"),
                               ("{{ data.rigelk8s.deployment_name }}", "arm")]:
            self.assertEqual(rigel_lookup(template, shared), want, template)
        self.assertNotIn("rigelk8s_objects", shared)  # lists stay in the nested report only


LUA_JOB = """\
local config, job = ...
local wf_config = {}
for i = 1, #arg do if arg[i] == "--config" then
  local f = assert(io.open(arg[i + 1])); wf_config = require("rigelk8s.json").decode(f:read("a")); f:close()
end end
print("hello from " .. job.name .. " for " .. tostring(config.who))
io.stderr:write("progress line\\n")
job.data.greeting = "hi " .. config.who
job.data.seen_namespace = job.data.rigelk8s_namespace
job.data.config_file_who = wf_config.who
job.data.args = table.concat(arg, " ", #arg - 1, #arg)
if config.fail == "error" then error("the robot is not ready", 0) end
if config.fail == "code" then return 3 end
if config.fail == "false" then return false end
"""


class TestLuaPlugin(unittest.TestCase):
    """LuaPlugin runs the script with the real rigelk8s binary (`rigelk8s run`)."""

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="shim-lua-")
        with open(os.path.join(self.tmp, "check.lua"), "w") as f:
            f.write(LUA_JOB)
        self.cwd = os.getcwd()
        os.chdir(self.tmp)
        self.saved = os.environ.get("RIGELK8S_BIN")
        os.environ["RIGELK8S_BIN"] = BIN

    def tearDown(self):
        os.chdir(self.cwd)
        if self.saved is None:
            os.environ.pop("RIGELK8S_BIN", None)
        else:
            os.environ["RIGELK8S_BIN"] = self.saved
        import shutil
        shutil.rmtree(self.tmp, ignore_errors=True)

    def run_job(self, with_data, shared):
        plugin = LuaPlugin(with_data, {}, application(), {}, shared)
        plugin.setup()
        plugin.start()
        plugin.process()
        plugin.stop()
        return plugin

    def test_the_stock_rigelk8s_lua_name_loads_the_lua_plugin(self):
        # Rigel's PluginManager: "rigelk8s.lua".rsplit(".", 1) -> import rigelk8s, getattr "lua"
        import importlib
        module, attr = "rigelk8s.lua".rsplit(".", 1)
        self.assertIs(getattr(importlib.import_module(module), attr), LuaPlugin)
        self.assertTrue(issubclass(LuaPlugin, rigel.plugins.Plugin))

    def test_script_runs_with_config_and_shared_data_and_publishes_data(self):
        shared = {"rigelk8s_namespace": "robots"}
        with self.assertLogs("Rigel", level="INFO") as logs:
            self.run_job({"script": "check.lua", "who": "arm", "args": ["--extra", "x"]}, shared)
        self.assertEqual(shared["greeting"], "hi arm")
        self.assertEqual(shared["seen_namespace"], "robots")
        self.assertEqual(shared["config_file_who"], "arm")  # --config FILE holds the config
        self.assertEqual(shared["args"], "--extra x")
        self.assertTrue(any("hello from check for arm" in line for line in logs.output), logs.output)
        self.assertTrue(any("progress line" in line for line in logs.output), logs.output)

    def test_failures_are_rigel_errors_with_the_scripts_message_and_code(self):
        for fail, code, text in [("error", 1, "the robot is not ready"), ("code", 3, "exit code 3"),
                                 ("false", 1, "returned false")]:
            with self.subTest(fail=fail):
                with self.assertRaises(RigelK8sError) as cm:
                    self.run_job({"script": "check.lua", "who": "arm", "fail": fail}, {})
                self.assertIsInstance(cm.exception, rigel.exceptions.RigelError)
                self.assertEqual(cm.exception.code, code)
                self.assertIn(text, str(cm.exception))

    def test_missing_script_is_a_configuration_error(self):
        with self.assertRaises(RigelK8sError) as cm:
            LuaPlugin({"who": "x"}, {}, application(), {}, {})
        self.assertEqual(cm.exception.code, 2)
        with self.assertRaises(RigelK8sError) as cm:
            LuaPlugin({"script": "nope.lua"}, {}, application(), {}, {}).setup()
        self.assertIn("nope.lua: no such file", str(cm.exception))


class TestRigelErrorExit(FakeBinaryCase):
    BODY = "sys.stderr.write('deploying...\\n')\n" \
           "print(json.dumps({'command': 'deploy', 'state': 'failed', 'exit_code': 1, " \
           "'diagnosis': 'Pod app-1: CrashLoopBackOff (exit code 2)'}))\nsys.exit(1)\n"

    def test_a_failure_is_a_rigel_error_carrying_rigelk8s_message(self):
        import rigel.exceptions
        self.assertTrue(issubclass(RigelK8sError, rigel.exceptions.RigelError))
        plugin = OrchestrationPlugin({"namespace": "x"}, {}, application(), {}, {})
        plugin.setup()
        # What `rigel run sequence` does with it (rigel/cli/run.py): catch RigelError,
        # log it, exit 1.
        try:
            plugin.start()
        except rigel.exceptions.RigelError as err:
            caught = err
        else:
            self.fail("no error raised")
        self.assertEqual(str(caught), "rigelk8s deploy failed (exit code 1): Pod app-1: CrashLoopBackOff (exit code 2)")
        self.assertEqual(caught.code, 1)


class TestProgressStreams(FakeBinaryCase):
    # The stand-in rigelk8s writes one progress line, then waits (up to 10 s) for the
    # shim to have logged it before it finishes: it fails when lines are only logged at the end.
    BODY = "sys.stderr.write('step 1 of 2\\n'); sys.stderr.flush()\n" \
           "marker = os.path.join(os.path.dirname(log), 'seen')\n" \
           "deadline = time.time() + 10\n" \
           "while not os.path.exists(marker) and time.time() < deadline: time.sleep(0.02)\n" \
           "if not os.path.exists(marker):\n" \
           "    print(json.dumps({'state': 'failed', 'exit_code': 1, 'diagnosis': 'progress was not streamed'}))\n" \
           "    sys.exit(1)\n" \
           "print(json.dumps({'command': 'deploy', 'state': 'ready', 'exit_code': 0}))\n"

    def test_progress_lines_reach_rigels_log_while_rigelk8s_runs(self):
        import logging
        marker = os.path.join(self.tmp, "seen")

        class Seen(logging.Handler):
            def emit(self, record):
                if "step 1 of 2" in record.getMessage():
                    open(marker, "w").close()
        handler = Seen()
        logging.getLogger("Rigel").addHandler(handler)
        try:
            plugin = OrchestrationPlugin({"namespace": "x"}, {}, application(), {}, {})
            plugin.setup()
            plugin.start()
        finally:
            logging.getLogger("Rigel").removeHandler(handler)
        self.assertEqual(plugin.result["state"], "ready")
        self.assertIn("--progress", self.calls()[0]["argv"])


RIGEL_RIGELFILE = """\
vars:
  ns: shim-rigel
  base_image: "reg/app:{{ vars.TAG }}"
application:
  distro: noetic
jobs:
  deploy_k8s:
    plugin: "rigelk8s_rigel.OrchestrationPlugin"
    with:
      orchestration:
        namespace: "{{ vars.ns }}"
        deployment_name: app
  check:
    plugin: "rigelk8s.lua"
    with:
      script: check.lua
      flat: "{{ data.rigelk8s_namespace }}"
      dotted: "{{ data.rigelk8s.namespace }}"
      deployment: "{{ data.rigelk8s_deployment_name }}"
sequences:
  demo:
    stages:
      - jobs: ["deploy_k8s"]
      - jobs: ["check"]
"""

RIGEL_CHECK = """\
local config, job = ...
local f = assert(io.open(os.getenv("SHIM_OUT"), "w"))
f:write(require("rigelk8s.json").encode(config))
f:close()
job.data.checked = true
"""


@unittest.skipUnless(REAL_RIGEL, NO_RIGEL)
class TestUnderRealRigel(ShimCase):
    """Rigel's own PluginManager and `rigel run sequence` (its CLI), against the emulator."""

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="shim-rigel-")
        with open(os.path.join(self.tmp, "check.lua"), "w") as f:
            f.write(RIGEL_CHECK)

    def tearDown(self):
        import shutil
        shutil.rmtree(self.tmp, ignore_errors=True)

    def rigel(self, rigelfile, *args):
        with open(os.path.join(self.tmp, "Rigelfile"), "w") as f:
            f.write(rigelfile)
        import subprocess
        env = dict(os.environ, SHIM_OUT=os.path.join(self.tmp, "out.json"), TAG="5",
                   PYTHONPATH=os.pathsep.join([os.path.join(ROOT, "examples", "rigel-plugin"),
                                               os.path.dirname(os.path.dirname(rigel.__file__))]))
        return subprocess.run([sys.executable, "-c", "import sys; from rigel.main import main; "
                               "sys.argv = ['rigel'] + sys.argv[1:]; main()"] + list(args),
                              cwd=self.tmp, env=env, capture_output=True, text=True, timeout=300)

    def test_rigels_plugin_manager_loads_the_shims_plugins(self):
        from rigel.plugins.manager import PluginManager
        cwd = os.getcwd()
        os.chdir(self.tmp)
        try:
            for name, cls, raw in [("rigelk8s_rigel.OrchestrationPlugin", OrchestrationPlugin, {"namespace": "x"}),
                                   ("rigelk8s.lua", LuaPlugin, {"script": "check.lua"}),
                                   ("rigelk8s_rigel.LuaPlugin", LuaPlugin, {"script": "check.lua"})]:
                with self.subTest(plugin=name):
                    plugin = PluginManager().load(name, dict(raw), {}, application(), {}, {})
                    self.assertIsInstance(plugin, cls)
        finally:
            os.chdir(cwd)

    def test_rigel_run_sequence_deploys_and_passes_flat_shared_data_to_a_lua_job(self):
        proc = self.rigel(RIGEL_RIGELFILE, "run", "sequence", "demo")
        self.assertEqual(proc.returncode, 0, proc.stdout + proc.stderr)
        self.assertNotIn("Traceback", proc.stderr)
        live = self.deployment("shim-rigel", "app")
        self.assertEqual(live["spec"]["template"]["spec"]["containers"][0]["image"], "reg/app:5")
        with open(os.path.join(self.tmp, "out.json")) as f:
            seen = json.load(f)
        self.assertEqual(seen, {"flat": "shim-rigel", "dotted": "shim-rigel", "deployment": "app"})
        self.assertIn("successfully rolled out", proc.stderr)  # progress reached Rigel's log

    def test_a_failed_deploy_is_rigels_error_line_and_exit_1_not_a_traceback(self):
        text = RIGEL_RIGELFILE.replace("deployment_name: app", "deployment_name: app\n"
                                       "        application_image: reg/app:crashloop").replace("shim-rigel", "shim-rigel-f")
        proc = self.rigel(text, "run", "sequence", "demo")
        self.assertEqual(proc.returncode, 1, proc.stdout + proc.stderr)
        self.assertNotIn("Traceback", proc.stderr)
        self.assertIn("ERROR - rigelk8s deploy failed (exit code 1):", proc.stderr)
        self.assertIn("CrashLoopBackOff", proc.stderr)
        self.assertFalse(os.path.exists(os.path.join(self.tmp, "out.json")), "the check job must not run")


EXAMPLES = os.path.join(ROOT, "examples")
DEMO_EXAMPLES = ["pubsub", "service", "action", "ros2-pubsub", "distributed"]


class TestExamplesRunUnderRigel(unittest.TestCase):
    """The examples say they run under `rigel run sequence demo`: their templates are
    ones Rigel renders and their plugins are ones Rigel can load (always checked); with
    Rigel installed, each demo sequence is run by Rigel against the emulator."""

    def test_templates_and_plugin_names_are_ones_rigel_handles(self):
        import re
        rigel_template = re.compile(r"{{[a-zA-Z0-9_\s\-\!\?\.]+}}")  # rigel/files/decoder.py
        for name in DEMO_EXAMPLES:
            path = os.path.join(EXAMPLES, name, "Rigelfile")
            with open(path) as f:
                lines = f.read().splitlines()
            for n, line in enumerate(lines, 1):
                code = line.split("#", 1)[0] if not line.lstrip().startswith("#") else ""
                for t in re.findall(r"{{.*?}}", code):
                    with self.subTest(file=name, line=n):
                        self.assertTrue(rigel_template.fullmatch(t), "%s:%d: Rigel cannot render %s" % (path, n, t))
                m = re.match(r'\s*plugin:\s*"?([^"\s#]+)', code)
                if m:
                    plugin = m.group(1)
                    with self.subTest(file=name, line=n):
                        self.assertTrue(plugin.startswith("rigel.plugins.") or plugin.startswith("rigelk8s_rigel.")
                                        or plugin == "rigelk8s.lua",
                                        "%s:%d: Rigel cannot load plugin %s" % (path, n, plugin))

    @unittest.skipUnless(REAL_RIGEL, NO_RIGEL)
    def test_each_demo_sequence_runs_under_rigel(self):
        import shutil
        import subprocess
        emu = Emulator("--nodes", "robot-1:deploymentType=local;cloud-1:deploymentType=remote", ready_delay=0.05)
        tmp = tempfile.mkdtemp(prefix="shim-examples-")
        try:
            for name in DEMO_EXAMPLES:
                shutil.copytree(os.path.join(EXAMPLES, name), os.path.join(tmp, name))
            shutil.copy(os.path.join(EXAMPLES, "smoke_check.lua"), tmp)
            env = dict(os.environ, KUBECONFIG=emu.kubeconfig, RIGELK8S_BIN=BIN,
                       PYTHONPATH=os.pathsep.join([os.path.join(ROOT, "examples", "rigel-plugin"),
                                                   os.path.dirname(os.path.dirname(rigel.__file__))]))
            env.pop("RIGELK8S_ARGS", None)
            for name in DEMO_EXAMPLES:
                with self.subTest(example=name):
                    proc = subprocess.run([sys.executable, "-c", "import sys; from rigel.main import main; "
                                           "sys.argv = ['rigel', 'run', 'sequence', 'demo']; main()"],
                                          cwd=os.path.join(tmp, name), env=env, capture_output=True, text=True,
                                          timeout=300)
                    self.assertEqual(proc.returncode, 0, proc.stdout + proc.stderr)
                    self.assertNotIn("ERROR", proc.stderr)
                    self.assertIn("smoke_check:", proc.stderr)  # the rigelk8s.lua job ran, through the shim
        finally:
            emu.stop()
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    unittest.main()
