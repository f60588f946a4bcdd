"""End-to-end tests of `rigelk8s logs` (and `deploy --logs`) against the Kubernetes API
emulator (tests/kube-emulator): its containers print simulated lines ("[emulator] NAME
started (image ...)", "ready", and "[emulator] NAME tick N" every --log-tick seconds), and
its test hooks make bad input (a 64 MiB log line, a log stream cut mid-line). Every run
has a timeout, so a hang fails the test instead of stalling the suite.

Run: RIGELK8S_BIN=build/rigelk8s python3 -m unittest -v test_logs_emulator   (from tests/e2e)"""
import os
import sys
import re
import shutil
import subprocess
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "emulator"))  # tests/emulator/emuharness.py
from emuharness import need_binary, BIN, Background, Emulator, emulator_only, clean_env, rigelk8s, tmpdir, write_rigelfile


def live_run(*args):
    """rigelk8s in the background without colours (emuharness.Background)."""
    return Background(*args, env={"NO_COLOR": "1"})


def orch(ns, name, image, **over):
    o = {"namespace": ns, "deployment_name": name, "application_image": image, "deploy_ros_master": True,
         "rolling_update": {"strategy": "Rolling", "max_surge": 1, "max_unavailable": 0}}
    o.update(over)
    return o


@emulator_only("simulated container output, --log-tick and the log test hooks")
class LogsOnEmulator(unittest.TestCase):
    def setUp(self):
        need_binary(self)
        self.emu = Emulator("--log-tick", "0.5", ready_delay=0.2)
        self.addCleanup(self.emu.stop)
        self.dir = tmpdir()
        self.addCleanup(shutil.rmtree, self.dir, True)
        self.kc = self.emu.kubeconfig

    def rigelfile(self, ns, name, image, **over):
        return write_rigelfile(self.dir, orch(ns, name, image, **over), name="Rigelfile-" + name)

    def deploy(self, rf, ok=True):
        r = rigelk8s("deploy", "-f", rf, "--kubeconfig", self.kc, "--timeout", "30s", timeout=60)
        if ok:
            self.assertEqual(r.code, 0, r)
        return r

    def logs(self, *args, timeout=60):
        return rigelk8s("logs", "--kubeconfig", self.kc, *args, timeout=timeout, env={"NO_COLOR": "1"})

    def test_follow_a_rolling_update_from_old_pods_to_new_on_emulator(self):
        rf = self.rigelfile("roll", "talker", "example.com/talker:v1", replicas=2)
        self.deploy(rf)
        run = live_run("logs", "-f", "--file", rf, "--kubeconfig", self.kc)
        try:
            v1 = re.compile(r"^(talker-\w+) \| \[emulator\] ros-app started \(image example.com/talker:v1\)$")
            run.wait_until(lambda: len({v1.match(l).group(1) for l in run.lines() if v1.match(l)}) == 2,
                         "the start lines of both v1 pods")
            old = {v1.match(l).group(1) for l in run.lines() if v1.match(l)}
            run.wait_until(lambda: all(any(l.startswith(p + " | [emulator] ros-app tick") for l in run.lines())
                                     for p in old), "tick lines of the old pods while they run")
            up = rigelk8s("update", "-f", rf, "--kubeconfig", self.kc, "--image", "example.com/talker:v2",
                          "--timeout", "30s", timeout=60)
            self.assertEqual(up.code, 0, up)
            v2 = re.compile(r"^(talker-\w+) \| \[emulator\] ros-app started \(image example.com/talker:v2\)$")
            run.wait_until(lambda: len({v2.match(l).group(1) for l in run.lines() if v2.match(l)}) == 2,
                         "the start lines of both v2 pods")
            new = {v2.match(l).group(1) for l in run.lines() if v2.match(l)}
            self.assertEqual(old & new, set())
            run.wait_until(lambda: all(any(l == "rigelk8s: - %s (pod deleted; no longer followed)" % p
                                         for l in run.lines("err")) for p in old),
                         "the notes that the old pods are no longer followed")
            for p in new:
                self.assertIn("rigelk8s: + %s (new pod)" % p, run.lines("err"))
            # Once the old pods are gone, only the new ones keep logging.
            gone_at = time.monotonic()
            run.wait_until(lambda: sum(1 for t, l in run.stamped() if t > gone_at + 0.3 and " | [emulator] ros-app tick" in l
                                     and l.split(" ")[0] in new) >= 4, "tick lines of the new pods afterwards")
            after = [l for t, l in run.stamped() if t > gone_at + 0.3]
            self.assertFalse([l for l in after if l.split(" ")[0] in old], after)
            # Old lines came before new ones.
            first_new = min(i for i, l in enumerate(run.lines()) if l.split(" ")[0] in new)
            last_old_start = max(i for i, l in enumerate(run.lines()) if v1.match(l))
            self.assertLess(last_old_start, first_new)
        finally:
            code = run.interrupt()
        self.assertEqual(code, 130, "\n".join(run.lines("err")))
        self.assertFalse([l for l in run.lines("err") if "Traceback" in l or "error" in l.lower()], run.lines("err"))

    def test_logs_of_an_application_that_does_not_exist_on_emulator(self):
        rf = self.rigelfile("nowhere", "ghost", "example.com/talker:v1")
        r = self.logs("--file", rf)
        self.assertEqual(r.code, 1, r)
        self.assertIn("application 'ghost' is not deployed in namespace nowhere", r.stderr)
        self.assertIn("rigelk8s list -A", r.stderr)
        self.assertEqual(r.stdout, "")
        r = self.logs("--app", "ghost", "-n", "nowhere")
        self.assertEqual(r.code, 1, r)
        self.assertIn("no application 'ghost' in namespace nowhere", r.stderr)
        self.assertIn("rigelk8s list -A", r.stderr)
        # -f with a file name after it: -f is --follow here, and the message says so.
        r = self.logs("-f", rf)
        self.assertEqual(r.code, 2, r)
        self.assertIn("-f means --follow for logs: give the Rigelfile as --file %s" % rf, r.stderr)

    def test_previous_container_missing_on_some_pods_on_emulator(self):
        rf = self.rigelfile("prev", "crasher", "example.com/crashloop:1")
        self.deploy(rf, ok=False)  # the rollout fails (CrashLoopBackOff); the pods stay
        pods = "/api/v1/namespaces/prev/pods"

        def restarted():
            items = self.emu.get(pods)[2]["items"]
            return any(cs.get("restartCount", 0) > 0 for p in items
                       for cs in (p.get("status") or {}).get("containerStatuses") or []
                       if (p["metadata"].get("labels") or {}).get("app") == "crasher")
        self.emu.wait_for(restarted, timeout=20, msg="a restarted crasher container")
        # The application crashed before: its previous log is shown.
        r = self.logs("--file", rf, "--previous")
        self.assertEqual(r.code, 0, r)
        self.assertRegex(r.stdout, r"crasher-\w+ \| fatal: simulated crash, exiting with code 1")
        # With the master, which never restarted: a note for it, the rest still shown.
        r = self.logs("--file", rf, "--previous", "--all")
        self.assertEqual(r.code, 0, r)
        self.assertRegex(r.stderr, r"rigelk8s: ros-master-\w+ ros-master-container: no previous container "
                                   r"\(it has not restarted\); skipped")
        self.assertRegex(r.stdout, r"crasher-\w+ \| fatal: simulated crash")
        # Only the master: nothing had logs, so the command fails, saying why.
        r = self.logs("--file", rf, "--previous", "--component", "ros-master")
        self.assertEqual(r.code, 1, r)
        self.assertIn("no previous container", r.stderr)
        self.assertIn("rigelk8s: no logs of crasher in namespace prev", r.stderr)

    def test_64mb_log_line_is_cut_with_a_marker_on_emulator(self):
        rf = self.rigelfile("huge", "huge", "example.com/log-huge-line:1")
        self.deploy(rf)
        t0 = time.monotonic()
        p = subprocess.Popen([BIN, "logs", "--file", rf, "--kubeconfig", self.kc], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, env=clean_env({"NO_COLOR": "1"}))
        try:
            out, err = p.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            p.kill()
            p.communicate()
            self.fail("rigelk8s logs hung on a 64 MiB line")
        self.assertEqual(p.returncode, 0, err)
        lines = out.split(b"\n")
        self.assertRegex(lines[0].decode(), r"^huge-\w+ \| \[emulator\] ros-app started")
        big = lines[1]
        prefix = big.split(b" | ", 1)[0] + b" | "
        self.assertEqual(len(big), len(prefix) + 1024 * 1024 + len(b" [... line cut: 66060288 more bytes not shown]"))
        self.assertTrue(big.endswith(b"x [... line cut: 66060288 more bytes not shown]"))
        self.assertEqual(lines[2].split(b" | ", 1)[1], b"ready")
        self.assertEqual(lines[3].split(b" | ", 1)[1], b"after the huge line")
        print("64 MiB line: %.2f s" % (time.monotonic() - t0))

    def test_64mb_log_line_memory_is_bounded_on_emulator(self):
        rf = self.rigelfile("huge2", "huge2", "example.com/log-huge-line:1")
        self.deploy(rf)
        p = subprocess.Popen([BIN, "logs", "--file", rf, "--kubeconfig", self.kc], stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL, env=clean_env({"NO_COLOR": "1"}))
        end = time.monotonic() + 60
        while time.monotonic() < end:
            pid, status, usage = os.wait4(p.pid, os.WNOHANG)
            if pid:
                break
            time.sleep(0.05)
        else:
            p.kill()
            p.wait()
            self.fail("rigelk8s logs hung on a 64 MiB line")
        self.assertEqual(os.waitstatus_to_exitcode(status), 0)
        # ru_maxrss is in KiB: the 64 MiB line must not be held (1 MiB kept, the rest
        # dropped). Holding it would take more than 64 MiB; the process takes ~28 MB
        # (~44 MB under ASan, whose shadow memory counts too).
        print("max RSS with a 64 MiB line: %d KiB" % usage.ru_maxrss)
        self.assertLess(usage.ru_maxrss, 60 * 1024)
        p.returncode = os.waitstatus_to_exitcode(status)

    def test_stream_cut_mid_line_on_emulator(self):
        rf = self.rigelfile("cut", "cutter", "example.com/log-cut:1")
        self.deploy(rf)
        r = self.logs("--file", rf, timeout=30)
        self.assertEqual(r.code, 1, r)
        self.assertRegex(r.stdout, r"cutter-\w+ \| this line is cut off mid-\n$")
        self.assertRegex(r.stderr, r"cutter-\w+ ros-app: the log stream was cut mid-line \(shown as it arrived\); "
                                   r"it ended there")
        # Following, the log is asked for again from where it broke off and goes on.
        run = live_run("logs", "-f", "--file", rf, "--kubeconfig", self.kc)
        try:
            run.wait_until(lambda: any("reconnecting" in l for l in run.lines("err")), "the reconnection note")
            cut_at = next(i for i, l in enumerate(run.lines()) if l.endswith("| this line is cut off mid-"))
            run.wait_until(lambda: any(" | [emulator] ros-app tick" in l for l in run.lines()[cut_at + 1:]),
                         "tick lines after the reconnection")
        finally:
            code = run.interrupt()
        self.assertEqual(code, 130)
        self.assertEqual(sum(1 for l in run.lines() if l.endswith("| this line is cut off mid-")), 1, run.lines())

    def test_deploy_with_logs_streams_the_new_pods_on_emulator(self):
        rf = self.rigelfile("dl", "shown", "example.com/talker:v1")
        r = rigelk8s("deploy", "-f", rf, "--kubeconfig", self.kc, "--logs", "--timeout", "30s", timeout=60,
                     env={"NO_COLOR": "1"})
        self.assertEqual(r.code, 0, r)
        self.assertRegex(r.output, r"shown-\w+ \| \[emulator\] ros-app started \(image example.com/talker:v1\)")
        r = rigelk8s("update", "-f", rf, "--kubeconfig", self.kc, "--logs", "--image", "example.com/talker:v2",
                     "--timeout", "30s", timeout=60, env={"NO_COLOR": "1"})
        self.assertEqual(r.code, 0, r)
        self.assertRegex(r.output, r"shown-\w+ \| \[emulator\] ros-app started \(image example.com/talker:v2\)")
        self.assertNotIn("image example.com/talker:v1)", r.output)


if __name__ == "__main__":
    unittest.main()
