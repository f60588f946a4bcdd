"""The failure report (README, "When a rollout fails") end to end, against the Kubernetes
API emulator (its kubelet is simulated: the image name selects the pod's fate, and the
container log lines are the emulator's, plus lines a test registers with
/_emulator/pod-logs: simulated output, said so in each test's name).

What is shown: a crash-looping `update --atomic` leaves a 0600 report holding the current
and the previous container's log and the pod's events, read before the rollback (the
emulator's --request-log orders the requests); secret values are masked in it (an env
password, registry credentials, a password in a URL, in specs and in logs); nothing is
written on success; --report-dir and -o json; an unwritable --report-dir is a clear error
and the rollback still happens; a container that never restarted has its missing previous
log recorded as such; a script gets the report from wf.wait and wf.failure_report; a
sequence passes --report-dir to its jobs.

Run: RIGELK8S_BIN=build/rigelk8s python3 -m unittest -v test_failure_report_emulator   (from tests/e2e)"""
import base64
import glob
import json
import os
import sys
import shutil
import stat
import subprocess
import textwrap
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "emulator"))  # tests/emulator/emuharness.py
from emuharness import need_binary, BIN, CLUSTER_MODE, NODES, Cluster, Emulator, image, orchestration, revision, tmpdir, \
    write_rigelfile

GOOD = "registry.example.com/robot/app:1.0"
CRASH = "registry.example.com/robot/app:crashloop"
APP = "rigel-k8s-application"
DB_PASSWORD = "hunter2-db-pa55word"
REGISTRY_PASSWORD = "registry-pa55-s3cret"
URL_PASSWORD = "pw-in-the-url"
REPORT_GLOB = "rigelk8s-failure-*.json"


def run(args, cwd, timeout=90, env=None):
    t0 = time.monotonic()
    extra = env or {}
    env = dict(os.environ)
    env.pop("NO_COLOR", None)
    env.pop("RIGELK8S_REPORT_DIR", None)   # ctest sets it; these tests choose
    env.update(extra)
    p = subprocess.run([BIN] + list(args), cwd=cwd, capture_output=True, text=True, timeout=timeout, env=env)
    p.elapsed = time.monotonic() - t0
    return p


def show(p):
    return "exit %s\n--- stdout\n%s--- stderr\n%s" % (p.returncode, p.stdout, p.stderr)


@unittest.skipIf(CLUSTER_MODE, "cluster mode: needs the emulator's --request-log and simulated pod logs")
class FailureReportTest(unittest.TestCase):
    def setUp(self):
        need_binary(self)
        self.dir = tmpdir()
        self.addCleanup(shutil.rmtree, self.dir, True)
        self.request_log = os.path.join(self.dir, "requests.jsonl")
        self.emu = Emulator("--nodes", NODES, "--request-log", self.request_log, ready_delay=0.2)
        self.addCleanup(self.emu.stop)
        self.k = Cluster(self.emu)
        self.kc = self.emu.kubeconfig
        self.reports = os.path.join(self.dir, "reports")
        os.mkdir(self.reports)

    # -- helpers --------------------------------------------------------------------------

    def rigelfile(self, ns, **over):
        """The seed example in ns, with a secret-looking env variable and registry
        credentials (a docker config with a password for registry.example.com)."""
        config = os.path.join(self.dir, "docker-config.json")
        auth = base64.b64encode(("robot:" + REGISTRY_PASSWORD).encode()).decode()
        with open(config, "w") as f:
            json.dump({"auths": {"registry.example.com": {"auth": auth}}}, f)
        os.chmod(config, 0o600)
        orch = orchestration(ns, persistent_storage=None, registry_credentials={"from_docker_config": config},
                             additional_k8s_params={"application": {"spec": {"template": {"spec": {"containers": [
                                 {"name": "ros-app", "env": [{"name": "DB_PASSWORD", "value": DB_PASSWORD},
                                                             {"name": "LOG_LEVEL", "value": "debug"}]}]}}}}},
                             **over)
        return write_rigelfile(self.dir, orch)

    def simulate_logs(self, ns, lines):
        """Every ros-app container of ns logs these lines (simulated output)."""
        self.emu.ok("POST", "/_emulator/pod-logs", {"namespace": ns, "container": "ros-app", "lines": lines},
                    token=None)

    def rk(self, code, *args, cwd=None, env=None):
        p = run(list(args) + ["--kubeconfig", self.kc], cwd or self.dir, env=env)
        self.assertEqual(p.returncode, code, show(p))
        return p

    def report_files(self, d):
        return sorted(glob.glob(os.path.join(d, REPORT_GLOB)))

    def only_report(self, d):
        files = self.report_files(d)
        self.assertEqual(len(files), 1, files)
        with open(files[0]) as f:
            text = f.read()
        return files[0], text, json.loads(text)

    def requests(self):
        with open(self.request_log) as f:
            return [json.loads(line) for line in f if line.strip()]

    def assert_masked(self, text):
        for secret in (DB_PASSWORD, REGISTRY_PASSWORD, URL_PASSWORD,
                       base64.b64encode(("robot:" + REGISTRY_PASSWORD).encode()).decode()):
            self.assertNotIn(secret, text)

    # -- tests ----------------------------------------------------------------------------

    def test_atomic_crashloop_report_has_both_logs_and_events_before_the_rollback_emulator(self):
        rf = self.rigelfile("atomic")
        self.rk(0, "deploy", "-f", rf, "--timeout", "30s")
        self.simulate_logs("atomic", ["connecting to the database with password " + DB_PASSWORD,
                                      "pulled with " + REGISTRY_PASSWORD,
                                      "db url postgres://robot:%s@db:5432/robot" % URL_PASSWORD])
        p = self.rk(1, "update", "-f", rf, "--image", CRASH, "--atomic", "--timeout", "60s",
                    "--report-dir", self.reports)
        path, text, doc = self.only_report(self.reports)
        self.assertEqual(stat.S_IMODE(os.stat(path).st_mode), 0o600)
        self.assertRegex(os.path.basename(path), r"^rigelk8s-failure-%s-\d{8}T\d{6}Z\.json$" % APP)
        self.assertTrue(os.path.isabs(path))
        # The rollback happened, after the report.
        self.assertRegex(p.stderr, r"update failed, so --atomic rolled deployment %s back to revision 1" % APP)
        self.assertEqual(image(self.k.get("Deployment", "atomic", APP)), GOOD)
        out = p.stderr
        self.assertLess(out.index("failure report saved, before anything else happens: " + path),
                        out.index("--atomic: rolling deployment"))

        # What the report holds.
        self.assertEqual((doc["kind"], doc["app"], doc["command"], doc["state"]),
                         ("RigelK8sFailureReport", APP, "update", "failed"))
        self.assertIn("CrashLoopBackOff", doc["diagnosis"])
        [w] = doc["workloads"]
        self.assertEqual((w["kind"], w["name"], w["state"]), ("Deployment", APP, "failed"))
        self.assertEqual(image(w["rendered"]), CRASH)
        self.assertEqual(image(w["live"]), CRASH)   # read before the rollback put GOOD back
        self.assertEqual(revision(w["live"]), 2)
        self.assertNotIn("managedFields", w["live"]["metadata"])
        pod = w["pods"][0]
        self.assertTrue(pod["name"].startswith(APP + "-"))
        [c] = [c for c in pod["containers"] if c["name"] == "ros-app"]
        self.assertEqual(c["state"]["waiting"]["reason"], "CrashLoopBackOff")
        self.assertEqual(c["last_state"]["terminated"]["exitCode"], 1)
        self.assertGreaterEqual(c["restart_count"], 1)
        for which in ("log", "previous_log"):
            self.assertTrue(c[which]["available"], c[which])
            self.assertEqual(c[which]["lines"][-1], "fatal: simulated crash, exiting with code 1")
            self.assertIn("connecting to the database with password ***", c[which]["lines"])
            self.assertIn("db url postgres://robot:***@db:5432/robot", c[which]["lines"])
        reasons = [(e["type"], e["reason"]) for e in pod["events"]]
        self.assertIn(("Warning", "BackOff"), reasons)
        self.assertIn(("Normal", "Scheduled"), reasons)
        self.assertEqual(doc["log_tail_lines"], 200)
        self.assertEqual((doc["context"], doc["server"]), ("emulator", self.emu.url))
        self.assertGreater(doc["collected_in_seconds"], 0)

        # Secrets: masked in the specs, the related Secret and the logs; gone from the file.
        self.assert_masked(text)
        env = {e["name"]: e.get("value") for e in w["live"]["spec"]["template"]["spec"]["containers"][0]["env"]}
        self.assertEqual(env["DB_PASSWORD"], "***")
        self.assertEqual(env["LOG_LEVEL"], "debug")
        [secret] = [r for r in w["related"] if r["kind"] == "Secret"]
        self.assertEqual(secret["name"], APP + "-registry")
        self.assertEqual(secret["rendered"]["stringData"], {".dockerconfigjson": "***"})

        # The order on the server: the update's apply, then the logs (current and previous)
        # and events, then the rollback's write.
        reqs = self.requests()
        deploy_writes = [r["seq"] for r in reqs if r["method"] in ("PATCH", "PUT")
                         and r["path"].startswith("/apis/apps/v1/namespaces/atomic/deployments/%s?" % APP)]
        self.assertGreaterEqual(len(deploy_writes), 3, deploy_writes)   # deploy, update, rollback
        update_apply, rollback = deploy_writes[-2], deploy_writes[-1]
        logs = [r for r in reqs if r["method"] == "GET" and "/pods/%s/log?" % pod["name"] in r["path"]]
        previous = [r["seq"] for r in logs if "previous=true" in r["path"]]
        current = [r["seq"] for r in logs if "previous=true" not in r["path"]]
        events = [r["seq"] for r in reqs if r["method"] == "GET" and "/namespaces/atomic/events?" in r["path"]
                  and "fieldSelector=involvedObject.uid" in r["path"]]
        self.assertTrue(previous and current and events, logs)
        for seq in previous + current + events:
            self.assertGreater(seq, update_apply)
            self.assertLess(seq, rollback)
        self.assertTrue(all("tailLines=200" in r["path"] for r in logs), logs)

        # The text report: the previous container's last lines under the diagnosis.
        tail = out[out.index("update failed after"):]
        self.assertRegex(tail, r"last \d+ log lines \(previous container of pod %s, container ros-app, "
                               r"exit code 1\):" % pod["name"])
        self.assertIn("  | fatal: simulated crash, exiting with code 1", tail)
        self.assertIn("failure report (logs of every failing container, events, specs): " + path, tail)
        self.assertLess(tail.index("CrashLoopBackOff"), tail.index("| fatal: simulated crash"))
        self.assert_masked(p.stdout + p.stderr)

    def test_no_report_on_success_emulator(self):
        rf = self.rigelfile("fine")
        work = os.path.join(self.dir, "work")
        os.mkdir(work)
        self.rk(0, "deploy", "-f", rf, "--timeout", "30s", "--report-dir", self.reports, cwd=work)
        p = self.rk(0, "update", "-f", rf, "--image", "registry.example.com/robot/app:2.0", "--timeout", "30s",
                    "-o", "json", cwd=work)
        self.assertIsNone(json.loads(p.stdout)["failure_report"])
        self.assertEqual(self.report_files(self.reports), [])
        self.assertEqual(self.report_files(work), [])
        self.assertNotIn("failure report", p.stderr)

    def test_json_output_names_the_report_in_the_working_directory_emulator(self):
        rf = self.rigelfile("jsonrep")
        work = os.path.join(self.dir, "work")
        os.mkdir(work)
        self.rk(0, "deploy", "-f", rf, "--timeout", "30s")
        p = self.rk(1, "update", "-f", rf, "--image", CRASH, "-o", "json", "--timeout", "60s", cwd=work)
        doc = json.loads(p.stdout)   # one document on stdout, nothing else
        path, _, report = self.only_report(work)
        self.assertEqual(doc["failure_report"], os.path.realpath(path))
        self.assertNotIn("failure_report_error", doc)
        self.assertEqual(report["diagnosis"], doc["diagnosis"])
        self.assertEqual(stat.S_IMODE(os.stat(path).st_mode), 0o600)
        # RIGELK8S_REPORT_DIR is the default for --report-dir.
        p = self.rk(1, "update", "-f", rf, "--image", CRASH + "-2", "-o", "json", "--timeout", "60s", cwd=work,
                    env={"RIGELK8S_REPORT_DIR": self.reports})
        path2, _, _ = self.only_report(self.reports)
        self.assertEqual(json.loads(p.stdout)["failure_report"], path2)
        self.assertEqual(len(self.report_files(work)), 1)

    def test_unwritable_report_dir_is_a_clear_error_and_the_rollback_still_happens_emulator(self):
        rf = self.rigelfile("nowrite")
        self.rk(0, "deploy", "-f", rf, "--timeout", "30s")
        not_a_dir = os.path.join(self.dir, "a-file")
        with open(not_a_dir, "w") as f:
            f.write("x")
        bad = os.path.join(not_a_dir, "reports")
        p = self.rk(1, "update", "-f", rf, "--image", CRASH, "--atomic", "--timeout", "60s",
                    "--report-dir", bad, "-o", "json")
        doc = json.loads(p.stdout)
        self.assertIsNone(doc["failure_report"])
        msg = "cannot write the failure report in %s (Not a directory); give --report-dir a directory you can " \
              "write to" % bad
        self.assertEqual(doc["failure_report_error"], msg)
        self.assertIn("rigelk8s: " + msg, p.stderr)   # said on stderr even with -o json
        self.assertTrue(doc["rolled_back"])
        self.assertEqual(doc["rollback"]["state"], "ready")
        self.assertEqual(image(self.k.get("Deployment", "nowrite", APP)), GOOD)
        self.assertEqual(self.report_files(self.dir), [])

    def test_a_container_that_never_restarted_has_no_previous_log_recorded_as_such_emulator(self):
        rf = self.rigelfile("never", application_image="registry.example.com/robot/app:never-ready")
        p = self.rk(4, "deploy", "-f", rf, "--timeout", "3s", "--report-dir", self.reports)
        _, _, doc = self.only_report(self.reports)
        self.assertEqual(doc["state"], "timeout")
        w = [w for w in doc["workloads"] if w["name"] == APP][0]
        [c] = [c for c in w["pods"][0]["containers"] if c["name"] == "ros-app"]
        self.assertEqual(c["restart_count"], 0)
        self.assertTrue(c["log"]["available"])
        self.assertIn("waiting for dependencies: readiness probe will keep failing", c["log"]["lines"])
        self.assertEqual(c["previous_log"]["available"], False)
        self.assertIn("previous terminated container \"ros-app\"", c["previous_log"]["reason"])
        self.assertIn("  | waiting for dependencies: readiness probe will keep failing", p.stderr)
        self.assertRegex(p.stderr, r"log lines? \(current container of pod %s-" % APP)

    def test_a_script_gets_the_report_from_wait_and_from_failure_report_emulator(self):
        rf = self.rigelfile("script", application_image=CRASH)
        second = os.path.join(self.dir, "second")
        os.mkdir(second)
        script = os.path.join(self.dir, "crash.lua")
        with open(script, "w") as f:
            f.write(textwrap.dedent("""\
                local wf = require "rigelk8s.workflow"
                return wf.main(function(ctx)
                  wf.render(ctx)
                  wf.apply(ctx, ctx.objects)
                  local result = wf.wait(ctx, wf.wait_targets(ctx))
                  print("from wait: " .. tostring(result.failure_report and result.failure_report.path))
                  local again = wf.failure_report(ctx, result, {dir = arg[#arg], app = "second look"})
                  print("again: " .. tostring(again.path))
                  print("pods: " .. #again.doc.workloads[1].pods)
                  return wf.finish(ctx, result)
                end, arg, {command = "crash"})
                """))
        p = run(["run", script, "-f", rf, "--kubeconfig", self.kc, "--timeout", "30s", "--report-dir", self.reports,
                 "--", second], self.dir)
        self.assertEqual(p.returncode, 1, show(p))
        first, _, doc = self.only_report(self.reports)
        self.assertIn("from wait: " + first, p.stdout)
        again, _, doc2 = self.only_report(second)
        self.assertRegex(os.path.basename(again), r"^rigelk8s-failure-second-look-\d{8}T\d{6}Z\.json$")
        self.assertIn("again: " + again, p.stdout)
        self.assertIn("pods: 1", p.stdout)
        self.assertEqual(doc["command"], "crash")
        self.assertEqual(doc2["workloads"][0]["name"], doc["workloads"][0]["name"])

    def test_sequence_passes_report_dir_to_its_jobs_emulator(self):
        rf = os.path.join(self.dir, "Rigelfile")
        with open(rf, "w") as f:
            f.write(textwrap.dedent("""\
                vars:
                  distro: noetic
                jobs:
                  crashing:
                    plugin: "rigelk8s"
                    with:
                      namespace: seqcrash
                      deployment_name: seqapp
                      application_image: "reg/app:crashloop"
                      deploy_ros_master: false
                sequences:
                  main:
                    stages:
                      - jobs: [crashing]
                """))
        p = run(["sequence", "main", "-f", rf, "--kubeconfig", self.kc, "--timeout", "30s",
                 "--report-dir", self.reports, "-o", "json"], self.dir)
        self.assertEqual(p.returncode, 1, show(p))
        path, _, doc = self.only_report(self.reports)
        self.assertRegex(os.path.basename(path), r"^rigelk8s-failure-seqapp-")
        self.assertEqual(doc["workloads"][0]["name"], "seqapp")
        self.assertIn(path, p.stdout)   # the job's report in the sequence's JSON names it


if __name__ == "__main__":
    unittest.main()
