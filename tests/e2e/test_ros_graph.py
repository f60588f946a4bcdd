"""The ROS graph gate ("done" means the ROS graph is up) against the REAL ROS 1 master:
Debian's rosmaster and rospy nodes on loopback. The Kubernetes side is the API emulator;
its service proxy (/api/v1/namespaces/NS/services/ros-master:11311/proxy/) forwards to the
real master, as kube-apiserver forwards to the master's pod. The 403 case is the
emulator's RBAC answer (copied from kube-apiserver's wording).

Run: RIGELK8S_BIN=build/rigelk8s python3 -m unittest -v test_ros_graph   (from tests/e2e)"""
import json
import os
import sys
import time
import unittest

from rosharness import MISSING, RosMaster, point_proxy, proxy_requests
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "emulator"))  # tests/emulator/emuharness.py
from emuharness import Background, orchestration, rigelk8s, start_emulator, write_rigelfile

COMPLETE = {"nodes": ["/talker", "/listener", "/server"],
            "topics": {"/chatter": {"publishers": 1, "subscribers": 1}},
            "services": ["/add_two_ints"]}


@unittest.skipIf(MISSING, MISSING)
class RosGraphGateTest(unittest.TestCase):
    def setUp(self):
        start_emulator(self)
        self.master = RosMaster()
        self.addCleanup(self.master.stop)

    def rigelfile(self, ns, graph, **over):
        g = dict(graph)
        g.setdefault("timeout", "20s")
        return write_rigelfile(self.dir, orchestration(ns, ros_graph=g, **over))

    def run_cmd(self, *args, **kw):
        return rigelk8s(*args, "--kubeconfig", self.emu.kubeconfig, timeout=120, **kw)

    def test_complete_graph_real_rosmaster_deploy_succeeds_and_reports_the_graph(self):
        for name, role in (("talker", "talker"), ("listener", "listener"), ("server", "server")):
            self.master.node(name, role)
        point_proxy(self.emu, "g1", self.master.uri[len("http://"):])
        rf = self.rigelfile("g1", COMPLETE)
        r = self.run_cmd("deploy", "-f", rf, "-o", "json")
        self.assertEqual(r.code, 0, r)
        doc = r.json()
        g = doc["ros_graph"]
        self.assertEqual(g["state"], "ready", doc)
        self.assertEqual(g["problems"], [])
        self.assertTrue({"/talker", "/listener", "/server"} <= set(g["graph"]["nodes"]), g)
        chatter = [t for t in g["graph"]["topics"] if t["name"] == "/chatter"][0]
        self.assertEqual(chatter["publishers"], ["/talker"])
        self.assertEqual(chatter["subscribers"], ["/listener"])
        self.assertIn("/add_two_ints", [s["name"] for s in g["graph"]["services"]])
        self.assertGreater(proxy_requests(self.emu), 0)
        # The same deploy in text: one line says the graph holds; on_ros_graph sees the graph.
        hooks = os.path.join(self.dir, "hooks.lua")
        seen = os.path.join(self.dir, "seen.txt")
        with open(hooks, "w") as f:
            f.write("return {on_ros_graph = function(ctx, graph, r)\n"
                    "  local f = assert(io.open(%r, 'w'))\n"
                    "  f:write(r.state, ' ', table.concat(graph.nodes, ','), ' ',\n"
                    "          #graph.topics['/chatter'].subscribers)\n"
                    "  f:close()\nend}\n" % seen)
        r = self.run_cmd("deploy", "-f", rf, "--hooks", hooks)
        self.assertEqual(r.code, 0, r)
        self.assertIn("ROS graph holds after", r.output)
        with open(seen) as f:
            state, nodes, subs = f.read().split(" ")
        self.assertEqual(state, "ready")
        self.assertTrue({"/talker", "/listener", "/server"} <= set(nodes.split(",")), nodes)
        self.assertEqual(subs, "1")

    def test_missing_node_and_topic_without_subscribers_real_rosmaster_fail_with_diagnosis(self):
        self.master.node("talker", "talker")
        self.master.node("server", "server")
        point_proxy(self.emu, "g2", self.master.uri[len("http://"):])
        rf = self.rigelfile("g2", dict(COMPLETE, timeout="2s"))
        r = self.run_cmd("deploy", "-f", rf)
        self.assertEqual(r.code, 1, r)
        self.assertIn("pods are Ready but the ROS graph is incomplete: node /listener is not registered; "
                      "topic /chatter has 1 publisher and 0 subscribers (wants at least 1 subscriber)", r.output)
        self.assertNotIn("/add_two_ints", r.output)  # what is there is not reported missing
        self.assertIn("ros_graph.timeout 2s", r.output)

    def test_gate_gets_only_what_is_left_of_timeout_real_rosmaster(self):
        # ros_graph.timeout 120s, but the run's --timeout is 6s: the gate must not wait 2 min.
        self.master.node("talker", "talker")
        point_proxy(self.emu, "g9", self.master.uri[len("http://"):])
        rf = self.rigelfile("g9", {"nodes": ["/talker", "/listener"], "timeout": "120s"})
        r = self.run_cmd("deploy", "-f", rf, "--timeout", "6s")
        self.assertEqual(r.code, 1, r)
        self.assertIn("node /listener is not registered", r.output)
        self.assertRegex(r.output, r"left of --timeout \(ros_graph\.timeout is 120s\)")
        self.assertLess(r.elapsed, 60, r)

    def test_missing_service_real_rosmaster_is_named(self):
        self.master.node("talker", "talker")
        self.master.node("listener", "listener")
        point_proxy(self.emu, "g3", self.master.uri[len("http://"):])
        rf = self.rigelfile("g3", {"nodes": ["/talker"], "services": ["/add_two_ints"], "timeout": "1s"})
        r = self.run_cmd("deploy", "-f", rf, "-o", "json")
        self.assertEqual(r.code, 1, r)
        doc = r.json()
        self.assertEqual(doc["state"], "failed")
        self.assertEqual(doc["ros_graph"]["problems"], ["service /add_two_ints is not advertised"])
        self.assertIn("service /add_two_ints is not advertised", doc["diagnosis"])

    def test_gate_waits_until_a_late_node_registers_real_rosmaster(self):
        self.master.node("talker", "talker")
        point_proxy(self.emu, "g4", self.master.uri[len("http://"):])
        rf = self.rigelfile("g4", {"nodes": ["/talker", "/listener"],
                                   "topics": {"/chatter": {"publishers": 1, "subscribers": 1}}})
        bg = Background("deploy", "-f", rf, "--kubeconfig", self.emu.kubeconfig)
        try:
            self.emu.wait_for(lambda: proxy_requests(self.emu) >= 2, timeout=60, msg="the gate polling")
            self.master.node("listener", "listener")
        finally:
            r = bg.finish(timeout=60)
        self.assertEqual(r.code, 0, r)
        self.assertIn("ROS graph holds after", r.output)

    def test_master_dying_mid_check_real_rosmaster_fails_naming_the_proxy_error(self):
        self.master.node("talker", "talker")
        point_proxy(self.emu, "g5", self.master.uri[len("http://"):])
        rf = self.rigelfile("g5", {"nodes": ["/talker", "/listener"], "timeout": "6s"})
        bg = Background("deploy", "-f", rf, "--kubeconfig", self.emu.kubeconfig, "-o", "json")
        try:
            self.emu.wait_for(lambda: proxy_requests(self.emu) >= 2, timeout=60, msg="the gate polling")
            self.master.kill()
        finally:
            r = bg.finish(timeout=60)
        self.assertEqual(r.code, 1, r)
        doc = r.json()
        self.assertEqual(doc["ros_graph"]["state"], "unavailable", doc)
        # The last answer the master gave is kept, and the proxy's error is named.
        self.assertIn("node /listener is not registered", doc["diagnosis"])
        self.assertIn("ros-master:11311 in namespace g5", doc["diagnosis"])
        self.assertIn("error trying to reach service", doc["diagnosis"])

    def test_proxy_forbidden_emulated_rbac_says_which_permission_and_skip_is_a_warning(self):
        point_proxy(self.emu, "g6", forbidden=True)
        rf = self.rigelfile("g6", dict(COMPLETE, on_unavailable="fail"))
        t0 = time.monotonic()
        r = self.run_cmd("deploy", "-f", rf)
        self.assertEqual(r.code, 1, r)
        self.assertLess(time.monotonic() - t0, 15, "a 403 must not be waited out")
        self.assertIn("403 Forbidden", r.output)
        self.assertIn('resources ["services/proxy"]', r.output)
        self.assertIn("namespace g6", r.output)
        self.assertIn("or set ros_graph.on_unavailable to job (check from a Job in the cluster, the default) "
                      "or skip (deploy without the check)", r.output)
        rf = self.rigelfile("g6", dict(COMPLETE, on_unavailable="skip"))
        r = self.run_cmd("deploy", "-f", rf)
        self.assertEqual(r.code, 0, r)
        self.assertIn("warning: the ROS graph was not checked (ros_graph.on_unavailable: skip)", r.output)

    def test_update_atomic_rolls_back_when_the_graph_breaks_real_rosmaster(self):
        talker = self.master.node("talker", "talker")
        listener = self.master.node("listener", "listener")
        point_proxy(self.emu, "g7", self.master.uri[len("http://"):])
        graph = {"nodes": ["/talker", "/listener"], "topics": {"/chatter": {"publishers": 1, "subscribers": 1}},
                 "timeout": "2s"}
        rf = self.rigelfile("g7", graph)
        r = self.run_cmd("deploy", "-f", rf)
        self.assertEqual(r.code, 0, r)
        listener.stop()
        self.master.nodes.remove(listener)
        # rospy unregisters on shutdown: wait until the master no longer lists the listener.
        self.emu.wait_for(lambda: not any("/listener" in ns for _, ns in self.master.state()[1]), timeout=20,
                          msg="the listener to unregister")
        r = self.run_cmd("update", "-f", rf, "--image", "registry.example.com/robot/app:2.0", "--atomic",
                         "-o", "json")
        self.assertEqual(r.code, 1, r)
        doc = r.json()
        self.assertIn("node /listener is not registered", doc["diagnosis"])
        self.assertTrue(doc.get("rolled_back"), doc)
        self.assertTrue(talker.proc.poll() is None)

    def test_component_graphs_merge_with_the_orchestration_graph_real_rosmaster(self):
        self.master.node("talker", "talker")
        point_proxy(self.emu, "g8", self.master.uri[len("http://"):])
        orch = orchestration("g8", ros_graph={"nodes": ["/talker"], "timeout": "1s"},
                             components=[{"name": "planner", "ros_graph": {"nodes": ["/planner"]}}])
        rf = write_rigelfile(self.dir, orch)
        r = self.run_cmd("deploy", "-f", rf)
        self.assertEqual(r.code, 1, r)
        self.assertIn("node /planner is not registered", r.output)
        self.assertNotIn("node /talker is not registered", r.output)


    def test_status_ros_text_and_json_real_rosmaster(self):
        for name, role in (("talker", "talker"), ("listener", "listener"), ("server", "server")):
            self.master.node(name, role)
        point_proxy(self.emu, "g9", self.master.uri[len("http://"):])
        rf = self.rigelfile("g9", COMPLETE)
        self.assertEqual(self.run_cmd("deploy", "-f", rf).code, 0)
        r = self.run_cmd("status", "-f", rf, "--ros")
        self.assertEqual(r.code, 0, r)
        self.assertIn("ROS graph (master ros-master:11311 in namespace g9):", r.stdout)
        self.assertIn("    /chatter [std_msgs/String]  1 publisher, 1 subscriber", r.stdout)
        self.assertIn("    /add_two_ints  (/server)", r.stdout)
        for n in ("/listener", "/server", "/talker"):
            self.assertIn("\n    %s\n" % n, r.stdout)
        r = self.run_cmd("status", "-f", rf, "--ros", "-o", "json")
        self.assertEqual(r.code, 0, r)
        doc = r.json()
        g = doc["ros_graph"]["graph"]
        self.assertEqual(doc["ros_graph"]["problems"], [])
        chatter = [t for t in g["topics"] if t["name"] == "/chatter"][0]
        self.assertEqual(chatter, {"name": "/chatter", "type": "std_msgs/String", "publishers": ["/talker"],
                                   "subscribers": ["/listener"]})
        # A declared graph that stops holding makes status fail and say what is missing.
        self.master.nodes[1].stop()
        self.emu.wait_for(lambda: not any("/listener" in ns for _, ns in self.master.state()[1]), timeout=20,
                          msg="the listener to unregister")
        r = self.run_cmd("status", "-f", rf, "--ros")
        self.assertEqual(r.code, 1, r)
        self.assertIn("the declared ros_graph does not hold: node /listener is not registered", r.stdout)
        # Without --ros nothing asks the master.
        before = proxy_requests(self.emu)
        r = self.run_cmd("status", "-f", rf)
        self.assertNotIn("ROS graph", r.stdout)
        self.assertEqual(proxy_requests(self.emu), before)

    def test_status_ros_proxy_forbidden_emulated_rbac_json(self):
        point_proxy(self.emu, "g10", forbidden=True)
        rf = self.rigelfile("g10", dict(COMPLETE, on_unavailable="skip"))
        self.assertEqual(self.run_cmd("deploy", "-f", rf).code, 0)
        r = self.run_cmd("status", "-f", rf, "--ros", "-o", "json")
        self.assertEqual(r.code, 1, r)
        ros = r.json()["ros_graph"]
        self.assertEqual(ros["reason"], "Forbidden")
        self.assertIn("services/proxy", ros["error"])


    def test_examples_declared_graphs_hold_with_their_real_rospy_nodes(self):
        # The nodes the examples' Dockerfiles run, started here as real rospy nodes with the
        # same names, topics and services; the examples' Rigelfiles deploy unchanged.
        from emuharness import ROOT
        cases = {"pubsub": ("pubsub", [("talker", "talker"), ("listener", "listener")]),
                 "service": ("ros-service", [("add_two_ints_server", "server")])}
        for example, (ns, nodes) in cases.items():
            with self.subTest(example=example):
                for name, role in nodes:
                    self.master.node(name, role)
                point_proxy(self.emu, ns, self.master.uri[len("http://"):])
                rf = os.path.join(ROOT, "examples", example, "Rigelfile")
                r = rigelk8s("deploy", "-f", rf, "--kubeconfig", self.emu.kubeconfig, "-o", "json", timeout=120,
                             env={"REGISTRY": "", "RIGELK8S_ROS_GRAPH": ""})
                self.assertEqual(r.code, 0, r)
                self.assertEqual(r.json()["ros_graph"]["state"], "ready", r)

    def test_skip_by_environment_is_a_warning_and_asks_nothing(self):
        rf = self.rigelfile("g11", COMPLETE)
        point_proxy(self.emu, "g11", self.master.uri[len("http://"):])
        r = self.run_cmd("deploy", "-f", rf, env={"RIGELK8S_ROS_GRAPH": "skip"})
        self.assertEqual(r.code, 0, r)
        self.assertIn("warning: the ROS graph was not checked (RIGELK8S_ROS_GRAPH=skip)", r.output)
        self.assertEqual(proxy_requests(self.emu), 0)


    def test_proxy_forbidden_falls_back_to_a_check_job_simulated_output(self):
        # The Job's output is simulated by the emulator (it runs no containers); the ROS 1
        # script itself is run against the real master in the next test.
        point_proxy(self.emu, "g12", forbidden=True)
        graph = {"nodes": ["/listener", "/server", "/talker"],
                 "topics": [{"name": "/chatter", "type": "std_msgs/String", "publishers": ["/talker"],
                             "subscribers": ["/listener"]}],
                 "services": [{"name": "/add_two_ints", "providers": ["/server"]}]}
        st, _, b = self.emu.admin("pod-logs", {"namespace": "g12", "container": "ros-graph-check",
                                               "lines": ["RIGELK8S_ROS_GRAPH " + json.dumps(graph)]})
        self.assertEqual(st, 200, b)
        rf = self.rigelfile("g12", COMPLETE)
        r = self.run_cmd("deploy", "-f", rf, "-o", "json", "--progress")
        self.assertEqual(r.code, 0, r)
        self.assertIn("403 Forbidden", r.stderr)
        self.assertIn("checking the ROS graph with a Job instead (ros_graph.on_unavailable: job)", r.stderr)
        doc = r.json()["ros_graph"]
        self.assertEqual(doc["state"], "ready")
        self.assertIn("services/proxy", doc["proxy_error"])
        st, _, job = self.emu.get("/apis/batch/v1/namespaces/g12/jobs/" + doc["job"])
        self.assertEqual(st, 200, job)
        c = job["spec"]["template"]["spec"]["containers"][0]
        env = {e["name"]: e.get("value") or e.get("valueFrom") for e in c["env"]}
        self.assertEqual(env["ROS_MASTER_URI"], "http://ros-master.g12.svc:11311")
        self.assertEqual(env["ROS_IP"], {"fieldRef": {"fieldPath": "status.podIP"}})
        self.assertIn("source /opt/ros/noetic/setup.bash", c["command"][2])
        self.assertIn("rosgraph.Master", env["RIGELK8S_SCRIPT"])
        self.assertEqual(job["spec"]["ttlSecondsAfterFinished"], 120)

    def test_check_job_ros1_script_against_the_real_rosmaster(self):
        # The script the ROS 1 check Job runs, run here by Debian's python3 with rosgraph,
        # against the real master: complete graph, then a missing listener at the deadline.
        from rosharness import ROS_PYTHON
        import subprocess
        script = rigelk8s("run", "-", stdin='io.write(require("rigelk8s.rosgraph_job").SCRIPT_ROS1)').stdout
        self.assertIn("rosgraph.Master", script)
        for name, role in (("talker", "talker"), ("server", "server")):
            self.master.node(name, role)
        want = {"nodes": ["/talker", "/listener"], "topics": {"/chatter": {"publishers": 1, "subscribers": 1}},
                "services": ["/add_two_ints"]}

        def run(timeout):
            env = dict(self.master.env, RIGELK8S_WANT=json.dumps(want), RIGELK8S_TIMEOUT=str(timeout))
            p = subprocess.run([ROS_PYTHON, "-c", script], env=env, capture_output=True, text=True, timeout=60)
            self.assertEqual(p.returncode, 0, p.stderr)
            [line] = [l for l in p.stdout.splitlines() if l.startswith("RIGELK8S_ROS_GRAPH ")]
            return json.loads(line[len("RIGELK8S_ROS_GRAPH "):])

        t0 = time.monotonic()
        g = run(1.5)
        self.assertGreaterEqual(time.monotonic() - t0, 1.4)  # it waited for the listener
        self.assertNotIn("/listener", g["nodes"])
        chatter = [t for t in g["topics"] if t["name"] == "/chatter"][0]
        self.assertEqual(chatter, {"name": "/chatter", "type": "std_msgs/String", "publishers": ["/talker"],
                                   "subscribers": []})
        self.assertIn({"name": "/add_two_ints", "providers": ["/server"]}, g["services"])
        self.master.node("listener", "listener")
        g = run(30)
        self.assertIn("/listener", g["nodes"])


if __name__ == "__main__":
    unittest.main()
