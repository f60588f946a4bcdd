"""Fleet rollouts in waves, against Kubernetes API emulators (stand-ins for real clusters).

Ten emulators, one per robot (r0..r9), each with the application in namespace `fleet`;
extra robots (offline, slow, lost mid-wave) get their own emulator or a closed port.
The tests run in order and share the fleet: each leaves it Ready on a known image.
FleetTest runs them with the default runner (every target in this one rigelk8s process);
FleetProcessTest runs them again with RIGELK8S_FLEET_RUNNER=process (one rigelk8s
process per target, the runner for --hooks, ros_graph, delete and distributed)."""
import json
import os
import shlex
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "emulator"))  # tests/emulator/emuharness.py
from emuharness import BIN, Emulator, emulator_only, free_port  # noqa: E402

N = 10
APP = "/apis/apps/v1/namespaces/{ns}/deployments/rigel-k8s-application"

RIGELFILE = """\
vars:
  distro: noetic
  base_image: {image}
jobs:
  deploy_k8s:
    plugin: "src.plugin.OrchestrationPlugin"
    with:
      orchestration:
        namespace: fleet
        deploy_ros_master: true
"""


def run(args, cwd, timeout=120, env=None):
    p = subprocess.run([BIN] + args, cwd=cwd, capture_output=True, text=True, timeout=timeout, env=env)
    return p.returncode, p.stdout, p.stderr


class Forwarder:
    """A robot coming back online: a TCP forwarder to an emulator, started late on a port
    the robot's kubeconfig already names."""

    def __init__(self, port, target_port):
        self.srv = socket.socket()
        self.srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.srv.bind(("127.0.0.1", port))
        self.srv.listen(16)
        self.target = target_port
        self.closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while not self.closed:
            try:
                c, _ = self.srv.accept()
            except OSError:
                return
            u = socket.create_connection(("127.0.0.1", self.target))
            for a, b in ((c, u), (u, c)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(a, b):
        try:
            while True:
                d = a.recv(65536)
                if not d:
                    break
                b.sendall(d)
        except OSError:
            pass
        for s in (a, b):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()

    def close(self):
        self.closed = True
        self.srv.close()


@emulator_only("a fleet of ten clusters (ten emulators), one of them down on purpose")
class FleetTest(unittest.TestCase):
    RUNNER = "inprocess"  # what the fleet's JSON report must name

    @classmethod
    def setUpClass(cls):
        cls.saved_runner = os.environ.pop("RIGELK8S_FLEET_RUNNER", None)
        if cls.RUNNER == "process":
            os.environ["RIGELK8S_FLEET_RUNNER"] = "process"
        cls.emus = [Emulator(ready_delay=0.2) for _ in range(N)]
        cls.dir = tempfile.mkdtemp(prefix="rk-fleet-")
        cls.rigelfile(cls, "my/app:v1")
        cls.targets = [
            f"  - {{name: r{i}, context: emulator, kubeconfig: {e.kubeconfig}, namespace: fleet, "
            f"labels: {{site: {'lab' if i < 5 else 'field'}, robot: r{i}}}}}"
            for i, e in enumerate(cls.emus)]
        cls.fleet = cls.write_fleet(cls, "fleet.yaml", cls.targets)
        rc, out, err = run(["deploy", "--fleet", cls.fleet, "-o", "json"], cls.dir)
        assert rc == 0, (out, err)

    @classmethod
    def tearDownClass(cls):
        for e in cls.emus:
            e.stop()
        os.environ.pop("RIGELK8S_FLEET_RUNNER", None)
        if cls.saved_runner is not None:
            os.environ["RIGELK8S_FLEET_RUNNER"] = cls.saved_runner

    def rigelfile(self, image):
        with open(os.path.join(self.dir, "Rigelfile"), "w") as f:
            f.write(RIGELFILE.format(image=image))

    def write_fleet(self, name, lines):
        path = os.path.join(self.dir, name)
        with open(path, "w") as f:
            f.write("fleet:\n" + "\n".join(lines) + "\n")
        return path

    def dead_kubeconfig(self, name, port=1):
        path = os.path.join(self.dir, name)
        with open(self.emus[0].kubeconfig) as f:
            text = f.read()
        with open(path, "w") as f:
            f.write(text.replace(self.emus[0].url, "http://127.0.0.1:%d" % port))
        return path

    @staticmethod
    def image(emu, ns="fleet"):
        d = emu.ok("GET", APP.format(ns=ns))
        return d["spec"]["template"]["spec"]["containers"][0]["image"]

    @staticmethod
    def rolled_out(emu, ns="fleet"):
        d = emu.ok("GET", APP.format(ns=ns))
        st, want = d.get("status", {}), d["spec"].get("replicas", 1)
        return (st.get("observedGeneration") == d["metadata"]["generation"] and st.get("updatedReplicas") == want
                and st.get("availableReplicas") == want and st.get("replicas") == want)

    def images(self):
        return [self.image(e) for e in self.emus]

    def by_name(self, doc):
        return {t["name"]: t for t in doc["targets"]}

    def test_01_canary_then_three_waves(self):
        rc, out, err = run(["update", "--fleet", self.fleet, "--image", "my/app:v2",
                            "--canary", "1", "--wave-size", "3", "-o", "json"], self.dir)
        doc = json.loads(out)
        self.assertEqual(rc, 0, err)
        self.assertEqual(doc["runner"], self.RUNNER)
        self.assertEqual([w["name"] for w in doc["waves"]], ["canary", "wave 1", "wave 2", "wave 3"])
        self.assertEqual([w["targets"] for w in doc["waves"]],
                         [["r0"], ["r1", "r2", "r3"], ["r4", "r5", "r6"], ["r7", "r8", "r9"]])
        self.assertEqual(sorted(doc["succeeded"]), sorted(f"r{i}" for i in range(N)))
        # Each wave starts only after the one before it has finished.
        t = self.by_name(doc)
        for prev, nxt in zip(doc["waves"], doc["waves"][1:]):
            last_end = max(t[n]["finished_at"] for n in prev["targets"])
            first_start = min(t[n]["started_at"] for n in nxt["targets"])
            self.assertLessEqual(last_end, first_start, (prev, nxt))
        self.assertEqual(self.images(), ["my/app:v2"] * N)

    def test_02_atomic_failure_in_wave_2_rolls_back_every_finished_wave(self):
        # r5 (wave 2) cannot schedule its new pod: its node is cordoned.
        node = "/api/v1/nodes/emulator-node"
        self.emus[5].ok("PATCH", node, {"spec": {"unschedulable": True}})
        try:
            before = {i: self.emus[i].ok("GET", APP.format(ns="fleet"))["metadata"]["annotations"]
                      ["deployment.kubernetes.io/revision"] for i in range(N)}
            # A cordon may be lifted: r5 fails once its pod has been Unschedulable for the grace.
            rc, out, err = run(["update", "--fleet", self.fleet, "--image", "my/app:v3", "--canary", "1",
                                "--wave-size", "3", "--atomic", "--timeout", "30s", "--unschedulable-grace", "2s",
                                "-o", "json"], self.dir)
        finally:
            self.emus[5].ok("PATCH", node, {"spec": {"unschedulable": False}})
        doc = json.loads(out)
        self.assertEqual(rc, 1, err)
        t = self.by_name(doc)
        self.assertEqual(doc["failed"], ["r5"])
        self.assertIn("Unschedulable", t["r5"]["message"])
        self.assertTrue(t["r5"]["rolled_back"])  # its own update --atomic rolled it back
        self.assertIn("wave 2 had 1 failure", doc["stop_reason"])
        # The canary, wave 1 and the rest of wave 2 were rolled back by the fleet.
        self.assertEqual(sorted(doc["rolled_back"]), ["r0", "r1", "r2", "r3", "r4", "r6"])
        for n in doc["rolled_back"]:
            self.assertRegex(t[n]["final_revision"], r"rolled back to revision \d+; rigel-k8s-application rev \d+")
        self.assertEqual(sorted(doc["skipped"]), ["r7", "r8", "r9"])
        # Every robot ends on its previous image; wave 3 never changed.
        self.assertEqual(self.images(), ["my/app:v2"] * N)
        for i in (7, 8, 9):
            rev = self.emus[i].ok("GET", APP.format(ns="fleet"))["metadata"]["annotations"]["deployment.kubernetes.io/revision"]
            self.assertEqual(rev, before[i])
        # Text mode names each rolled-back target with its final revision.
        rc, _, err = run(["update", "--fleet", self.fleet, "--image", "my/app:v2", "--select", "name=r0"], self.dir)
        self.assertEqual(rc, 0, err)

    def test_03_select(self):
        rc, out, err = run(["update", "--fleet", self.fleet, "--image", "my/app:v4",
                            "--select", "site=field,robot!=r7", "-o", "json"], self.dir)
        doc = json.loads(out)
        self.assertEqual(rc, 0, err)
        self.assertEqual(sorted(doc["succeeded"]), ["r5", "r6", "r8", "r9"])
        self.assertEqual(self.images(), ["my/app:v2"] * 5 + ["my/app:v4"] * 2 + ["my/app:v2"] + ["my/app:v4"] * 2)
        rc, out, err = run(["update", "--fleet", self.fleet, "--image", "my/app:v2", "-o", "json"], self.dir)
        self.assertEqual(rc, 0, err)
        rc, _, err = run(["status", "--fleet", self.fleet, "--select", "site=moon"], self.dir)
        self.assertEqual(rc, 2)
        self.assertIn("--select site=moon matches none of the 10 targets", err)

    def test_04_held_target_skipped_then_waited_on(self):
        ns = "/api/v1/namespaces/fleet"
        self.emus[2].ok("PATCH", ns, {"metadata": {"annotations": {"rigelk8s.io/hold": "on a mission"}}})
        try:
            rc, out, err = run(["update", "--fleet", self.fleet, "--image", "my/app:v5",
                                "--select", "site=lab"], self.dir)
            self.assertEqual(rc, 3, err)
            self.assertIn("held r2 (context emulator): held (on a mission)", err)
            self.assertRegex(err, r"retry only the offline and held targets: rigelk8s update .*--select name=r2")
            self.assertEqual(self.image(self.emus[2]), "my/app:v2")
            self.assertEqual([self.image(self.emus[i]) for i in (0, 1, 3, 4)], ["my/app:v5"] * 4)
            # The veto holds for delete and rollback too.
            for cmd in (["delete"], ["rollback"]):
                rc, out, err = run(cmd + ["--fleet", self.fleet, "--select", "name=r2", "-o", "json"], self.dir)
                doc = json.loads(out)
                self.assertEqual(rc, 3, err)
                self.assertEqual(doc["held"], ["r2"], cmd)
                self.assertEqual(self.image(self.emus[2]), "my/app:v2")
            # --offline wait: the robot lifts its hold 1.5 s later and is updated then.
            lift = threading.Timer(1.5, lambda: self.emus[2].ok(
                "PATCH", ns, {"metadata": {"annotations": {"rigelk8s.io/hold": None}}}))
            lift.start()
            rc, out, err = run(["update", "--fleet", self.fleet, "--image", "my/app:v5", "--select", "name=r2",
                                "--offline", "wait:20s", "-o", "json"], self.dir)
            lift.join()
            doc = json.loads(out)
            self.assertEqual(rc, 0, err)
            self.assertEqual(doc["succeeded"], ["r2"])
            self.assertEqual(self.image(self.emus[2]), "my/app:v5")
        finally:
            self.emus[2].ok("PATCH", ns, {"metadata": {"annotations": {"rigelk8s.io/hold": None}}})

    def test_05_offline_skip_fail_wait_and_the_retry_command(self):
        port = free_port()
        back = self.dead_kubeconfig("back-kubeconfig", port)
        lines = self.targets[:2] + [f"  - {{name: rx, context: emulator, kubeconfig: {back}, namespace: fleet}}"]
        path = self.write_fleet("offline.yaml", lines)
        # skip (the default): the others go on; rx is listed with the command that retries it.
        rc, out, err = run(["update", "--fleet", path, "--image", "my/app:v6", "-o", "json"], self.dir)
        doc = json.loads(out)
        self.assertEqual(rc, 3, err)
        self.assertEqual(doc["offline"], ["rx"])
        self.assertEqual(sorted(doc["succeeded"]), ["r0", "r1"])
        self.assertEqual(doc["failed"], [])
        retry = doc["retry_command"]
        self.assertIn("--select name=rx", retry)
        # fail: an offline robot is a failure, and stops the rollout after its wave.
        rc, out, err = run(["update", "--fleet", path, "--image", "my/app:v6", "--offline", "fail",
                            "--wave-size", "1", "--select", "name=rx|r0", "-o", "json"], self.dir)
        doc = json.loads(out)
        self.assertEqual(rc, 1, err)
        self.assertEqual(doc["offline"], ["rx"])
        self.assertIn("wave 2 had 1 failure", doc["stop_reason"])
        # wait: given up after the wait, still listed as offline.
        t0 = time.time()
        rc, out, err = run(["update", "--fleet", path, "--image", "my/app:v6", "--offline", "wait:2s",
                            "--select", "name=rx"], self.dir)
        self.assertGreaterEqual(time.time() - t0, 2)
        self.assertEqual(rc, 3, err)
        self.assertRegex(err, r"offline rx \(context emulator\): offline: cannot reach http://127\.0\.0\.1:%d" % port)
        # The robot comes back: the retry command updates it, and only it.
        fwd = Forwarder(port, self.emus[9].port)
        try:
            argv = shlex.split(retry)
            self.assertEqual(argv[:2], ["rigelk8s", "update"])
            rc, out, err = run(argv[1:], self.dir)
            doc = json.loads(out)
            self.assertEqual(rc, 0, err)
            self.assertEqual([t["name"] for t in doc["targets"]], ["rx"])
            self.assertEqual(self.image(self.emus[9]), "my/app:v6")
        finally:
            fwd.close()
        run(["update", "--fleet", self.fleet, "--image", "my/app:v2", "-o", "json"], self.dir)

    def test_06_fleet_status_shows_drift_on_one_target(self):
        self.rigelfile("my/app:v7")
        rc, out, err = run(["update", "--fleet", self.fleet, "-o", "json"], self.dir)
        self.assertEqual(rc, 0, err)
        # Someone edits r3 by hand (another field manager).
        self.emus[3].ok("PATCH", APP.format(ns="fleet") + "?fieldManager=kubectl-edit",
                        {"spec": {"template": {"spec": {"containers": [
                            {"name": "ros-app", "image": "my/app:hotfix"}]}}}},
                        ctype="application/strategic-merge-patch+json")
        rc, out, err = run(["fleet", "status", "--fleet", self.fleet, "-o", "json"], self.dir)
        doc = json.loads(out)
        self.assertEqual(rc, 1, err)
        rows = {t["name"]: t for t in doc["targets"]}
        self.assertEqual(rows["r3"]["drift"], ["Deployment/rigel-k8s-application"])
        for i in set(range(N)) - {3}:
            self.assertEqual(rows[f"r{i}"]["drift"], [], i)
            self.assertTrue(rows[f"r{i}"]["reachable"])
        app = [d for d in rows["r3"]["deployments"] if d["name"] == "rigel-k8s-application"][0]
        self.assertEqual(app["images"], ["my/app:hotfix"])
        self.assertRegex(app["last_change"], r"^\d{4}-\d\d-\d\dT")
        # The text matrix: a header, and the drift on r3's row.
        rc, out, err = run(["fleet", "status", "--fleet", self.fleet], self.dir)
        self.assertRegex(out, r"TARGET +REACHABLE +DEPLOYMENT +IMAGE +REV +READY +DRIFT +LAST CHANGE")
        self.assertRegex(out, r"\nr3 +yes +ros-master .*Deployment/rigel-k8s-application")
        self.assertRegex(out, r"\nr4 +yes +ros-master .* none ")
        run(["update", "--fleet", self.fleet, "--select", "name=r3"], self.dir)

    def test_07_bad_input(self):
        kc = self.emus[0].kubeconfig
        dup = self.write_fleet("dup.yaml", [f"  - {{name: a, context: emulator, kubeconfig: {kc}}}",
                                            f"  - {{name: a, context: emulator, kubeconfig: {kc}}}"])
        rc, _, err = run(["update", "--fleet", dup], self.dir)
        self.assertEqual(rc, 2)
        self.assertIn(f"{dup}: fleet[1]: target name 'a' is used twice (first at {dup}: fleet[0])", err)
        unk = self.write_fleet("unk.yaml", [f"  - {{name: a, context: emulatr, kubeconfig: {kc}}}"])
        rc, _, err = run(["update", "--fleet", unk], self.dir)
        self.assertEqual(rc, 2)
        self.assertIn(f"{unk}: fleet[0]: target 'a': context 'emulatr' is not in {kc}; did you mean 'emulator'?", err)
        rc, _, err = run(["update", "--fleet", self.fleet, "--wave-size", "0"], self.dir)
        self.assertEqual(rc, 2)
        self.assertIn("--wave-size: expected a whole number >= 1 or a percentage", err)
        rc, _, err = run(["update", "--fleet", self.fleet, "--offline", "later"], self.dir)
        self.assertEqual(rc, 2)
        self.assertIn("--offline: expected skip, fail or wait:DURATION", err)
        rc, _, err = run(["status", "--max-parallel", "zero", "--fleet", self.fleet], self.dir)
        self.assertEqual(rc, 2)
        self.assertIn("--max-parallel: expected a whole number", err)

    def test_08_emulator_dies_mid_wave(self):
        slow = Emulator(ready_delay=4)
        try:
            lines = self.targets[:2] + [f"  - {{name: lost, context: emulator, kubeconfig: {slow.kubeconfig}, namespace: fleet}}"]
            path = self.write_fleet("lost.yaml", lines)
            rc, out, err = run(["deploy", "--fleet", path, "-o", "json", "--select", "name=lost"], self.dir)
            self.assertEqual(rc, 0, err)
            p = subprocess.Popen([BIN, "update", "--fleet", path, "--image", "my/app:v8", "--timeout", "8s",
                                  "-o", "json"], cwd=self.dir, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            # Once the update reached the slow robot (its new ReplicaSet exists), kill it.
            slow.wait_for(lambda: self.image(slow) == "my/app:v8", timeout=20, msg="update applied")
            slow.proc.kill()
            out, err = p.communicate(timeout=60)
        finally:
            slow.stop()
        doc = json.loads(out)
        t = self.by_name(doc)
        self.assertEqual(doc["failed"], ["lost"], err)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("lost contact mid-update (it may have changed)", t["lost"]["message"])
        self.assertEqual(sorted(doc["succeeded"]), ["r0", "r1"])
        self.assertEqual(doc["offline"], [])
        run(["update", "--fleet", self.fleet, "--image", "my/app:v7", "-o", "json"], self.dir)

    def test_09_ctrl_c_mid_wave_reports_exactly_which_targets_changed(self):
        slow = Emulator(ready_delay=5)
        try:
            lines = self.targets[:3] + [f"  - {{name: slow, context: emulator, kubeconfig: {slow.kubeconfig}, namespace: fleet}}"] \
                + self.targets[3:5]
            path = self.write_fleet("slow.yaml", lines)
            rc, out, err = run(["deploy", "--fleet", path, "-o", "json", "--select", "name=slow"], self.dir, timeout=60)
            self.assertEqual(rc, 0, err)
            # wave 1: r0 r1; wave 2: r2 slow; wave 3: r3 r4. Interrupt while slow waits for its pod.
            p = subprocess.Popen([BIN, "update", "--fleet", path, "--image", "my/app:v9", "--wave-size", "2",
                                  "-o", "json"], cwd=self.dir, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            slow.wait_for(lambda: self.image(slow) == "my/app:v9", timeout=30, msg="slow robot applied")
            # r2, slow's wave-mate, finishes its rollout first (both runners stop every
            # running target at a Ctrl-C that reaches them all).
            self.emus[2].wait_for(lambda: self.rolled_out(self.emus[2]), timeout=30, msg="r2 rolled out")
            time.sleep(0.3)
            p.send_signal(signal.SIGINT)
            out, err = p.communicate(timeout=60)
            doc = json.loads(out)
            self.assertEqual(p.returncode, 130, err)
            self.assertEqual(doc["exit_code"], 130)
            changed = sorted(doc["changed"] + doc["maybe_changed"])
            self.assertEqual(sorted(doc["changed"]), ["r0", "r1", "r2", "slow"], doc)
            # Exactly those changed on the clusters; the rest did not.
            live = {"r%d" % i: self.image(self.emus[i]) for i in range(5)}
            live["slow"] = self.image(slow)
            self.assertEqual(sorted(n for n, img in live.items() if img == "my/app:v9"), changed)
            self.assertEqual(sorted(doc["skipped"]), ["r3", "r4"])
            # slow was interrupted; r2, its wave-mate, finished before the Ctrl-C or (on a
            # loaded machine, still finishing its report) was interrupted with it: either
            # way it is listed as changed above, and nothing outside wave 2 was running.
            self.assertIn("slow", doc["interrupted"])
            self.assertLessEqual(set(doc["interrupted"]), {"r2", "slow"})
            self.assertEqual(sorted(doc["succeeded"]), sorted({"r0", "r1", "r2"} - set(doc["interrupted"])))
        finally:
            slow.stop()

    def test_10_pause_until_fleet_resume_or_enter(self):
        import pty
        path = self.write_fleet("pause.yaml", self.targets[:2])
        for n, how in enumerate(("resume", "enter")):
            image = f"my/app:p{n}"
            master, slave = pty.openpty() if how == "enter" else (None, None)
            p = subprocess.Popen([BIN, "update", "--fleet", path, "--image", image, "--canary", "1", "--pause"],
                                 cwd=self.dir, stdin=slave if slave is not None else subprocess.DEVNULL,
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            try:
                self.emus[0].wait_for(lambda: self.image(self.emus[0]) == image, timeout=30, msg="canary updated")
                time.sleep(1.0)
                self.assertIsNone(p.poll())
                self.assertNotEqual(self.image(self.emus[1]), image, "wave 1 started during the pause")
                if how == "resume":
                    end = time.time() + 20
                    while True:
                        rc, out, err = run(["fleet", "resume", str(p.pid)], self.dir)
                        if rc == 0 or time.time() > end:
                            break
                        time.sleep(0.2)
                    self.assertEqual(rc, 0, err)
                    self.assertIn(f"resumed rollout {p.pid} (paused after canary)", out)
                else:
                    os.write(master, b"\n")
                out, err = p.communicate(timeout=60)
            finally:
                if p.poll() is None:
                    p.kill()
                for fd in (master, slave):
                    if fd is not None:
                        os.close(fd)
            self.assertEqual(p.returncode, 0, err)
            self.assertRegex(err, r"paused after canary: run `rigelk8s fleet resume` \(or `rigelk8s fleet resume \d+`\)"
                             + (", or press Enter" if how == "enter" else " to go on"))
            self.assertEqual(self.image(self.emus[1]), image)
        rc, _, err = run(["fleet", "resume", "1"], self.dir)
        self.assertEqual(rc, 1)
        self.assertIn("fleet resume: no paused rollout with PID 1", err)

    def test_11_rigelfile_fleet_list_and_contexts(self):
        d = tempfile.mkdtemp(prefix="rk-fleet-rf-", dir=self.dir)
        with open(os.path.join(d, "Rigelfile"), "w") as f:
            f.write(RIGELFILE.format(image="my/app:v7") + "        fleet:\n" + "\n".join(
                "        " + line for line in self.targets[:3]) + "\n")
        rc, out, err = run(["status", "--select", "name!=r1", "-o", "json"], d)
        doc = json.loads(out)
        self.assertEqual(rc, 0, err)
        self.assertEqual(doc["succeeded"], ["r0", "r2"])
        with open(os.path.join(d, "Rigelfile"), "a") as f:
            f.write("        " + self.targets[0] + "\n")
        rc, _, err = run(["status"], d)
        self.assertEqual(rc, 2)
        self.assertRegex(err, r"Rigelfile: .*fleet\[3\]: target name 'r0' is used twice \(first at .*fleet\[0\]\)")
        # --contexts: contexts of one kubeconfig (the emulator's has 'emulator').
        rc, out, err = run(["status", "--contexts", "emulator", "--kubeconfig", self.emus[1].kubeconfig,
                            "-n", "fleet", "-o", "json"], self.dir)
        doc = json.loads(out)
        self.assertEqual(doc["succeeded"], ["emulator"], err)
        self.assertEqual(rc, 0, err)
        rc, _, err = run(["status", "--contexts", "emulator,nope", "--kubeconfig", self.emus[1].kubeconfig], self.dir)
        self.assertEqual(rc, 2)
        self.assertIn("--contexts: target 'nope': context 'nope' is not in", err)

    def test_12_hooks_run_one_process_per_target(self):
        # A --hooks file is code of the user's: every target gets a process of its own,
        # whatever the default, and the hooks run in each (here: they leave a file).
        hooks = os.path.join(self.dir, "hooks.lua")
        with open(hooks, "w") as f:
            f.write("return {after_wait = function(ctx)\n"
                    "  local name = (ctx.opts.kubeconfig or 'none'):gsub('[^%w]', '_')\n"
                    "  local f = assert(io.open(os.getenv('RK_HOOK_DIR') .. '/' .. name, 'w'))\n"
                    "  f:write('after_wait'); f:close()\n"
                    "end}\n")
        out_dir = tempfile.mkdtemp(prefix="rk-hooks-", dir=self.dir)
        env = dict(os.environ, RK_HOOK_DIR=out_dir)
        rc, out, err = run(["update", "--fleet", self.fleet, "--select", "name=r1|r2", "--hooks", hooks,
                            "-o", "json"], self.dir, env=env)
        doc = json.loads(out)
        self.assertEqual(rc, 0, err)
        self.assertEqual(doc["runner"], "process")
        self.assertEqual(sorted(doc["succeeded"]), ["r1", "r2"])
        self.assertEqual(len(os.listdir(out_dir)), 2)


class FleetProcessTest(FleetTest):
    RUNNER = "process"


if __name__ == "__main__":
    unittest.main()
