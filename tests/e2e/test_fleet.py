"""Fleet runs: one command rolls a Rigelfile out to ten clusters (ten emulators) at once.

One target is unreachable on purpose: the others must still succeed, and the report
must name the failure. --fail-fast must stop the rest."""
import json
import os
import subprocess
import sys
import tempfile
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.environ.get("RK_SOURCE_DIR") or os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tests", "emulator"))
from emuharness import Emulator  # noqa: E402
sys.path.insert(0, HERE)
from wfharness import emulator_only  # noqa: E402

BIN = os.environ.get("RIGELK8S_BIN") or os.path.join(ROOT, "build", "rigelk8s")
N = 10

RIGELFILE = """\
vars:
  distro: noetic
  base_image: my-registry/my-ros-app:v1
jobs:
  deploy_k8s:
    plugin: "src.plugin.OrchestrationPlugin"
    with:
      orchestration:
        namespace: fleet
        fleet:
{targets}
"""


def run(args, cwd, timeout=120):
    p = subprocess.run([BIN] + args, cwd=cwd, capture_output=True, text=True, timeout=timeout)
    return p.returncode, p.stdout, p.stderr


@emulator_only("a fleet of ten clusters (ten emulators), one of them down on purpose")
class FleetTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.emus = [Emulator(ready_delay=0.2) for _ in range(N)]
        cls.dir = tempfile.mkdtemp(prefix="rk-fleet-")
        lines = [f"          - {{name: robot-{i}, context: emulator, kubeconfig: {e.kubeconfig}}}"
                 for i, e in enumerate(cls.emus)]
        # A target whose cluster is down: its kubeconfig points at a closed port.
        dead = os.path.join(cls.dir, "dead-kubeconfig")
        with open(cls.emus[0].kubeconfig) as f:
            text = f.read()
        with open(dead, "w") as f:
            f.write(text.replace(cls.emus[0].url, "http://127.0.0.1:1"))
        cls.dead_line = f"          - {{name: robot-down, context: emulator, kubeconfig: {dead}}}"
        cls.lines = lines

    @classmethod
    def tearDownClass(cls):
        for e in cls.emus:
            e.stop()

    def write(self, with_dead):
        lines = self.lines + ([self.dead_line] if with_dead else [])
        path = os.path.join(self.dir, "Rigelfile")
        with open(path, "w") as f:
            f.write(RIGELFILE.format(targets="\n".join(lines)))
        return path

    def images(self):
        out = []
        for e in self.emus:
            d = e.ok("GET", "/apis/apps/v1/namespaces/fleet/deployments/rigel-k8s-application")
            out.append(d["spec"]["template"]["spec"]["containers"][0]["image"])
        return out

    def test_1_deploy_and_update_ten_clusters_with_one_down(self):
        self.write(with_dead=True)
        rc, out, err = run(["deploy", "-o", "json"], self.dir)
        doc = json.loads(out)
        self.assertEqual(doc["fleet"], True)
        self.assertEqual(sorted(doc["succeeded"]), sorted(f"robot-{i}" for i in range(N)), err)
        self.assertEqual(doc["failed"], ["robot-down"])
        down = [t for t in doc["targets"] if t["name"] == "robot-down"][0]
        self.assertEqual(down["exit_code"], 3, down)
        self.assertNotEqual(rc, 0)
        self.assertEqual(self.images(), ["my-registry/my-ros-app:v1"] * N)

        # The update, in text mode: a live table, then a summary naming the failure.
        rc, out, err = run(["update", "--image", "my-registry/my-ros-app:v2"], self.dir)
        self.assertEqual(rc, 3, err)
        self.assertIn(f"fleet update: {N} succeeded, 1 failed", err)
        self.assertRegex(err, r"robot-down \(context emulator, exit 3\): .*127\.0\.0\.1:1")
        self.assertEqual(self.images(), ["my-registry/my-ros-app:v2"] * N)

    def test_2_fail_fast_and_max_parallel(self):
        self.write(with_dead=True)
        # The dead target is last; with one target at a time, --fail-fast has run the
        # others before it, and nothing after it. Put it first to see skipping.
        path = os.path.join(self.dir, "Rigelfile")
        with open(path) as f:
            text = f.read()
        text = text.replace(self.dead_line + "\n", "").replace("        fleet:\n", "        fleet:\n" + self.dead_line + "\n")
        with open(path, "w") as f:
            f.write(text)
        rc, out, err = run(["status", "-o", "json", "--max-parallel", "1", "--fail-fast"], self.dir)
        doc = json.loads(out)
        self.assertEqual(doc["failed"], ["robot-down"])
        self.assertEqual(len(doc["skipped"]), N, doc)
        # The run's exit code is the failed targets' own when they agree (3: unreachable).
        self.assertEqual(rc, 3)

    def test_3_contexts_flag(self):
        # --contexts picks targets from one kubeconfig; the emulator's has 'emulator'.
        rc, out, err = run(["status", "-f", self.write(with_dead=False), "--contexts", "emulator",
                            "--kubeconfig", self.emus[1].kubeconfig, "-o", "json"], self.dir)
        doc = json.loads(out)
        self.assertEqual(doc["succeeded"], ["emulator"], err)
        self.assertEqual(rc, 0, err)

    def test_4_bad_max_parallel(self):
        rc, out, err = run(["status", "--max-parallel", "zero"], self.dir)
        self.assertEqual(rc, 2)
        self.assertIn("--max-parallel: expected a whole number", err)


if __name__ == "__main__":
    unittest.main()
