"""The ROS 2 graph gate: the check Job rigelk8s runs (its spec: image, env, super-client
settings, TTL) and how its output is read. The emulator runs no containers, so the Job's
output is SIMULATED: each test registers the line the check script would print
(POST /_emulator/pod-logs) and says so in its name. The script itself is compiled here,
and run against the real ROS 2 only on a real cluster.

Run: RIGELK8S_BIN=build/rigelk8s python3 -m unittest -v test_ros2_graph   (from tests/e2e)"""
import json
import os
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "emulator"))  # tests/emulator/emuharness.py
from emuharness import orchestration, rigelk8s, start_emulator, write_rigelfile

GRAPH = {"nodes": ["/listener", "/talker"],
         "topics": [{"name": "/chatter", "type": "std_msgs/msg/String", "publishers": ["/talker"],
                     "subscribers": ["/listener"]},
                    {"name": "/rosout", "type": "rcl_interfaces/msg/Log", "publishers": ["/listener", "/talker"],
                     "subscribers": []}],
         "services": [{"name": "/talker/describe_parameters", "providers": ["/talker"]}]}
WANT = {"nodes": ["/talker", "/listener"], "topics": {"/chatter": {"publishers": 1, "subscribers": 1}},
        "timeout": "20s"}


class Ros2GraphTest(unittest.TestCase):
    def setUp(self):
        start_emulator(self)

    def rigelfile(self, ns, graph=WANT, **over):
        orch = orchestration(ns, ros_graph=graph, ros_domain_id=9, persistent_storage=None, **over)
        return write_rigelfile(self.dir, orch, distro="humble")

    def simulate_output(self, ns, lines):
        st, _, b = self.emu.admin("pod-logs", {"namespace": ns, "container": "ros-graph-check", "lines": lines})
        self.assertEqual(st, 200, b)

    def deploy(self, rf):
        return rigelk8s("deploy", "-f", rf, "--kubeconfig", self.emu.kubeconfig, "-o", "json", timeout=120)

    def job(self, ns, name):
        st, _, b = self.emu.get("/apis/batch/v1/namespaces/%s/jobs/%s" % (ns, name))
        self.assertEqual(st, 200, b)
        return b

    def test_check_job_spec_fastdds_super_client_ttl_and_simulated_output_parsed(self):
        self.simulate_output("r2a", ["some rclpy noise", "RIGELK8S_ROS_GRAPH " + json.dumps(GRAPH)])
        r = self.deploy(self.rigelfile("r2a"))
        self.assertEqual(r.code, 0, r)
        doc = r.json()
        g = doc["ros_graph"]
        self.assertEqual(g["state"], "ready", doc)
        self.assertEqual(g["graph"]["nodes"], ["/listener", "/talker"])
        chatter = [t for t in g["graph"]["topics"] if t["name"] == "/chatter"][0]
        self.assertEqual(chatter["type"], "std_msgs/msg/String")
        job = self.job("r2a", g["job"])
        spec = job["spec"]
        self.assertEqual(spec["ttlSecondsAfterFinished"], 120)
        self.assertEqual(spec["backoffLimit"], 0)
        pod = spec["template"]["spec"]
        self.assertEqual(pod["restartPolicy"], "Never")
        [c] = pod["containers"]
        self.assertEqual(c["image"], "registry.example.com/robot/app:1.0")  # the application's image
        self.assertEqual(c["command"][:2], ["bash", "-c"])
        self.assertIn("source /opt/ros/humble/setup.bash", c["command"][2])
        env = {e["name"]: e.get("value") for e in c["env"]}
        self.assertEqual(env["ROS_SUPER_CLIENT"], "true")
        self.assertEqual(env["ROS_DISCOVERY_SERVER"], "ros-discovery-server.r2a.svc:11811")
        self.assertEqual(env["ROS_DOMAIN_ID"], "9")
        self.assertEqual(env["RMW_IMPLEMENTATION"], "rmw_fastrtps_cpp")
        self.assertEqual(env["FASTRTPS_DEFAULT_PROFILES_FILE"], "/etc/rigelk8s/fastdds/profile.xml")
        self.assertEqual(pod["volumes"][0]["configMap"]["name"], "rigel-k8s-application-fastdds-profile")
        self.assertEqual(json.loads(env["RIGELK8S_WANT"]),
                         {"nodes": ["/talker", "/listener"], "services": [],
                          "topics": {"/chatter": {"publishers": 1, "subscribers": 1}}})
        self.assertEqual(env["RIGELK8S_TIMEOUT"], "20")
        compile(env["RIGELK8S_SCRIPT"], "ros-graph-check", "exec")  # valid Python

    def test_simulated_output_missing_listener_fails_with_diagnosis(self):
        partial = dict(GRAPH, nodes=["/talker"],
                       topics=[dict(GRAPH["topics"][0], subscribers=[])])
        self.simulate_output("r2b", ["RIGELK8S_ROS_GRAPH " + json.dumps(partial)])
        r = self.deploy(self.rigelfile("r2b"))
        self.assertEqual(r.code, 1, r)
        doc = r.json()
        self.assertEqual(doc["ros_graph"]["state"], "incomplete")
        self.assertIn("pods are Ready but the ROS graph is incomplete: node /listener is not registered; "
                      "topic /chatter has 1 publisher and 0 subscribers", doc["diagnosis"])

    def test_check_job_without_a_graph_line_in_its_emulator_output_fails_naming_the_job(self):
        # No simulated output: the emulator's own log has no RIGELK8S_ROS_GRAPH line.
        r = self.deploy(self.rigelfile("r2c"))
        self.assertEqual(r.code, 1, r)
        doc = r.json()
        self.assertIn("the check Job printed no RIGELK8S_ROS_GRAPH line (Job %s)" % doc["ros_graph"]["job"],
                      doc["diagnosis"])

    def test_check_job_spec_cyclonedds_uses_the_peer_list_and_no_super_client_simulated_output(self):
        self.simulate_output("r2d", ["RIGELK8S_ROS_GRAPH " + json.dumps(GRAPH)])
        r = self.deploy(self.rigelfile("r2d", ros2={"rmw": "cyclonedds"}))
        self.assertEqual(r.code, 0, r)
        job = self.job("r2d", r.json()["ros_graph"]["job"])
        env = {e["name"]: e.get("value") for e in job["spec"]["template"]["spec"]["containers"][0]["env"]}
        self.assertEqual(env["RMW_IMPLEMENTATION"], "rmw_cyclonedds_cpp")
        self.assertIn('<Peer address="rigel-k8s-application-dds-peers.r2d.svc"/>', env["CYCLONEDDS_URI"])
        self.assertNotIn("ROS_SUPER_CLIENT", env)
        self.assertNotIn("ROS_DISCOVERY_SERVER", env)


    def test_status_ros_reads_the_graph_from_a_check_job_simulated_output(self):
        rf = self.rigelfile("r2e")
        self.simulate_output("r2e", ["RIGELK8S_ROS_GRAPH " + json.dumps(GRAPH)])
        self.assertEqual(self.deploy(rf).code, 0)
        r = rigelk8s("status", "-f", rf, "--kubeconfig", self.emu.kubeconfig, "--ros", timeout=120)
        self.assertEqual(r.code, 0, r)
        self.assertRegex(r.stdout, r"ROS graph \(check Job rigel-k8s-application-graph-check-[0-9a-f]+ in namespace r2e\):")
        self.assertIn("    /chatter [std_msgs/msg/String]  1 publisher, 1 subscriber", r.stdout)
        r = rigelk8s("status", "-f", rf, "--kubeconfig", self.emu.kubeconfig, "--ros", "-o", "json", timeout=120)
        self.assertEqual(r.code, 0, r)
        ros = r.json()["ros_graph"]
        self.assertEqual(ros["problems"], [])
        self.assertEqual(ros["graph"]["nodes"], ["/listener", "/talker"])
        # status asks the Job to watch a few seconds before it answers (discovery settles).
        st, _, jobs = self.emu.get("/apis/batch/v1/namespaces/r2e/jobs")
        settle = [e.get("value") for j in jobs["items"] for e in j["spec"]["template"]["spec"]["containers"][0]["env"]
                  if e["name"] == "RIGELK8S_SETTLE"]
        self.assertEqual(settle, ["3", "3"])


if __name__ == "__main__":
    unittest.main()
