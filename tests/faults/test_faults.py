"""Faults injected into the emulator while rigelk8s works: restarts, dropped watches,
410 Gone, throttling, 5xx bursts, slow answers, refused connections, TLS and credential
failures, and one object of a batch rejected. Each test checks what the user sees, the
exit code, and that the report matches what the emulator really holds afterwards."""
import json
import os
import re
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "emulator"))  # tests/emulator/emuharness.py
from emuharness import (Background, Emulator, TempDir, applied_refs, b64file, clean_env, free_port,
                        kubeconfig, live, make_ca, names, really_ready, rigelk8s, user_lines,
                        small_orchestration as orchestration, verbose_lines, write_rigelfile)

ROLLED = ["Deployment/ros-master", "Deployment/rigel-k8s-application"]


class FaultCase(unittest.TestCase):
    ready_delay = 0.0
    tls = False

    def setUp(self):
        self.tmp = TempDir("rk-faults-")
        self.emu = Emulator(tls=self.tls, ready_delay=self.ready_delay)
        self.kc = self.emu.kubeconfig

    def tearDown(self):
        self.emu.stop()
        self.tmp.cleanup()

    def rigelfile(self, ns, **over):
        return write_rigelfile(self.tmp.path, orchestration(ns, **over), name="Rigelfile-" + ns)

    def assert_report_matches_cluster(self, doc, ns):
        """Every object of the JSON report is in the state the emulator really has it in,
        and the applied lists name exactly what exists."""
        self.assertEqual(doc["exit_code"], 0, doc)
        self.assertEqual(doc["state"], "ready", doc)
        reported = {(o["kind"], o["name"]): o["state"] for o in doc["objects"]}
        self.assertEqual(set(reported), {("Deployment", "ros-master"), ("Deployment", "rigel-k8s-application"),
                                         ("PersistentVolumeClaim", "data-pvc")})
        for (kind, name), state in reported.items():
            obj = live(self.emu, kind, ns, name)
            self.assertTrue(really_ready(obj), "%s/%s reported %s but is %r" % (kind, name, state, obj and obj.get("status")))
            self.assertEqual(state, "ready")
        a = doc["applied"]
        self.assertEqual(sorted(a["created"] + a["configured"] + a["unchanged"]), applied_refs(self.emu, ns))

    def assert_nothing_created(self, ns):
        self.assertEqual(applied_refs(self.emu, ns), [], "a failed run must not leave objects behind")


class TestRestartsAndWatches(FaultCase):
    ready_delay = 1.5  # pods get Ready 1.5 s after scheduling: the faults hit the wait

    def test_api_server_restart_during_the_rollout_wait(self):
        rf = self.rigelfile("restart")
        bg = Background("deploy", "-f", rf, "--kubeconfig", self.kc, "-v", "--timeout", "60s", "-o", "json")
        bg.wait_for("(stream opened)", n=5)
        # Let every watch receive the objects it starts with (pods are Ready only after
        # 1.5 s), so that each has a resourceVersion to resume from when it is cut.
        time.sleep(0.3)
        self.assertTrue(bg.running())
        self.emu.fault({"restart": True})
        r = bg.finish()
        self.assertEqual(r.code, 0, r)
        log = verbose_lines(r.stderr)
        dropped = [l for l in log if "watch=true" in l and "failed: connection dropped" in l]
        # The restart cuts every watch the server had accepted (how many had got there,
        # of the ones the client had opened, is a race; at least one always has).
        self.assertGreaterEqual(len(dropped), 1, r)
        # A dropped watch resumes from the resourceVersion it had reached, never from
        # scratch. (Whether a given one reopens before the rollout is already known to be
        # Ready is a race, so this checks every reopening, and that there was one.)
        first_drop = log.index(dropped[0])
        reopened = [l for l in log[first_drop:] if "(stream opened)" in l]
        self.assertTrue(reopened, r)
        for line in reopened:
            self.assertIn("resourceVersion=", line, r)
        self.assertEqual(user_lines(r.stderr), [], "-o json keeps stderr quiet apart from -v:\n%s" % r.stderr)
        self.assert_report_matches_cluster(r.json(), "restart")

    def test_restart_seen_by_a_user_without_verbose_output(self):
        rf = self.rigelfile("quiet")
        bg = Background("deploy", "-f", rf, "--kubeconfig", self.kc, "--timeout", "60s")
        bg.wait_for("Deployment/rigel-k8s-application created")
        time.sleep(0.2)
        self.emu.fault({"restart": True})
        r = bg.finish()
        self.assertEqual(r.code, 0, r)
        self.assertRegex(r.stderr, r"deploy succeeded in [\d.]+s: ready: 3 objects; applied: 5 created")
        self.assertNotRegex(r.stderr.lower(), r"error|dropped|unreachable|retry", r)
        for ref in ROLLED:
            self.assertRegex(r.stderr, r"\n  %s\s+ready " % re.escape(ref))
            self.assertTrue(really_ready(live(self.emu, "Deployment", "quiet", ref.split("/")[1])))

    def test_watches_dropped_repeatedly_then_410_gone(self):
        rf = self.rigelfile("drops")
        bg = Background("deploy", "-f", rf, "--kubeconfig", self.kc, "-v", "--timeout", "60s", "-o", "json")
        bg.wait_for("(stream opened)", n=4)
        for _ in range(5):
            self.emu.fault({"drop_watches": True})
            time.sleep(0.12)
        # The next watch request gets an in-band 410 Expired: that watch must list again.
        self.emu.fault({"gone_next_watch": True})
        self.emu.fault({"drop_watches": True})
        r = bg.finish()
        self.assertEqual(r.code, 0, r)
        log = verbose_lines(r.stderr)
        self.assertGreaterEqual(len([l for l in log if "failed: connection dropped" in l]), 5, r)
        # After 410 the set lists the resource again (limit=500 pages), then watches on.
        relists = [i for i, l in enumerate(log) if re.search(r"GET \S+\?limit=500 -> 200", l)]
        self.assertTrue(relists, "no relist after 410 Gone:\n%s" % "\n".join(log))
        self.assertTrue(any("(stream opened)" in l for l in log[relists[-1]:]), r)
        self.assert_report_matches_cluster(r.json(), "drops")
        st, _, faults = self.emu.admin("faults")
        self.assertFalse(faults["gone_next_watch"], "the forced 410 was never served")


class TestThrottlingAndServerErrors(FaultCase):
    ready_delay = 1.0  # the wait lasts long enough for the watches to meet their faults

    def test_429_with_retry_after_is_honoured(self):
        rf = self.rigelfile("throttled")
        self.emu.fault({"status": 429, "count": 3, "retry_after": 1})
        r = rigelk8s("deploy", "-f", rf, "--kubeconfig", self.kc, "-v", "-o", "json")
        self.assertEqual(r.code, 0, r)
        waits = re.findall(r"-> 429 .*retrying in ([\d.]+) s", r.stderr)
        self.assertEqual(len(waits), 3, r)
        for w in waits:  # the server's Retry-After, not the client's own backoff
            self.assertGreaterEqual(float(w), 1.0)
            self.assertLessEqual(float(w), 1.2)
        self.assertGreaterEqual(r.elapsed, 3.0)
        self.assert_report_matches_cluster(r.json(), "throttled")

    def test_500_and_503_bursts_on_reads_writes_and_watches(self):
        rf = self.rigelfile("bursts")
        self.emu.fault([{"status": 503, "count": 3, "method": "GET"},
                        {"status": 500, "count": 4, "method": "PATCH"},
                        {"status": 503, "count": 2, "path": "/apis/apps/v1/namespaces/bursts/replicasets"}])
        r = rigelk8s("deploy", "-f", rf, "--kubeconfig", self.kc, "-v", "-o", "json")
        self.assertEqual(r.code, 0, r)
        self.assertGreaterEqual(len(re.findall(r"-> 503 .*retrying in", r.stderr)), 3, r)
        self.assertGreaterEqual(len(re.findall(r"PATCH .* -> 500 .*retrying in", r.stderr)), 4, r)
        self.assert_report_matches_cluster(r.json(), "bursts")
        st, _, faults = self.emu.admin("faults")
        self.assertEqual(faults["statuses"], [], "every injected error was served")

    def test_a_server_that_keeps_failing_is_reported_with_its_name_and_the_attempts(self):
        rf = self.rigelfile("down")
        self.emu.fault({"status": 503, "count": 1000})
        r = rigelk8s("deploy", "-f", rf, "--kubeconfig", self.kc)
        self.assertEqual(r.code, 1, r)
        self.assertLess(r.elapsed, 20)
        self.assertIn("GET /version", r.stderr)
        self.assertRegex(r.stderr, r"%s answered 503 to all 6 attempts over [\d.]+s" % re.escape(self.emu.url))
        self.emu.admin("reset", {})
        self.assert_nothing_created("down")


class TestTimeoutsAndConnections(FaultCase):

    def test_answers_slower_than_the_request_timeout(self):
        rf = self.rigelfile("slow")
        self.emu.fault({"latency_ms": 2500})
        for how in (["--request-timeout", "1s"], []):
            env = clean_env({"RIGELK8S_REQUEST_TIMEOUT": "1"}) if not how else None
            r = rigelk8s("deploy", "-f", rf, "--kubeconfig", self.kc, *how, env=env)
            self.assertEqual(r.code, 3, r)
            self.assertLess(r.elapsed, 2.4, "a request timeout is not retried: %r" % r)
            self.assertIn('GET /version: %s (context "emulator") did not answer within the request '
                          'timeout of 1s; raise it with --request-timeout or RIGELK8S_REQUEST_TIMEOUT'
                          % self.emu.url, r.stderr)
        # `sequence` hands the limit on to the workflows it runs.
        with open(rf) as f:
            doc = json.load(f)
        doc["sequences"] = {"deploy": {"stages": [{"jobs": ["deploy_k8s"]}]}}
        with open(rf, "w") as f:
            json.dump(doc, f)
        r = rigelk8s("sequence", "deploy", "-f", rf, "--kubeconfig", self.kc, "--request-timeout", "1s")
        self.assertEqual(r.code, 3, r)
        self.assertIn("did not answer within the request timeout of 1s", r.stderr)
        self.emu.admin("reset", {})
        self.assert_nothing_created("slow")
        # Slow but within the limit: it just works.
        self.emu.fault({"latency_ms": 150})
        r = rigelk8s("deploy", "-f", rf, "--kubeconfig", self.kc, "--request-timeout", "2s")
        self.assertEqual(r.code, 0, r)

    def test_bad_request_timeout_values_are_usage_errors(self):
        rf = self.rigelfile("badto")
        r = rigelk8s("deploy", "-f", rf, "--kubeconfig", self.kc, "--request-timeout", "soon")
        self.assertEqual(r.code, 2, r)
        self.assertIn("--request-timeout: bad duration 'soon'", r.stderr)
        r = rigelk8s("deploy", "-f", rf, "--kubeconfig", self.kc,
                     env=clean_env({"RIGELK8S_REQUEST_TIMEOUT": "0"}))
        self.assertEqual(r.code, 2, r)
        self.assertIn("request timeout: expected a positive number of seconds", r.stderr)

    def test_connection_refused_at_start_up(self):
        rf = self.rigelfile("refused")
        port = free_port()
        kc = kubeconfig(self.tmp.join("kc"), "http://127.0.0.1:%d" % port, context="robot-lab")
        for out in ("text", "json"):
            r = rigelk8s("deploy", "-f", rf, "--kubeconfig", kc, "-o", out)
            self.assertEqual(r.code, 3, r)
            self.assertLess(r.elapsed, 5)
            self.assertIn('cannot reach http://127.0.0.1:%d (context "robot-lab"): connection refused' % port, r.stderr)
        self.assertEqual(r.json()["exit_code"], 3)
        self.assertEqual(r.json()["reason"], "Unreachable")


class TestTLS(FaultCase):
    tls = True

    def kubeconfig_with(self, **cluster):
        with open(self.kc) as f:
            text = f.read()
        text = re.sub(r"\n *certificate-authority-data: \S+", "", text)
        extra = "".join("\n    %s: %s" % (k.replace("_", "-"), v) for k, v in cluster.items())
        text = re.sub(r"(\n    server: \S+)", lambda m: m.group(1) + extra, text, count=1)
        path = self.tmp.join("kc-%d" % len(os.listdir(self.tmp.path)))
        with open(path, "w") as f:
            f.write(text)
        return path

    def test_a_ca_that_did_not_sign_the_server_certificate(self):
        other = make_ca(self.tmp.join("other"))
        rf = self.rigelfile("tls")
        kc = self.kubeconfig_with(certificate_authority_data=b64file(other))
        r = rigelk8s("deploy", "-f", rf, "--kubeconfig", kc)
        self.assertEqual(r.code, 3, r)
        self.assertIn('TLS with %s failed (context "emulator"): the server\'s certificate is not trusted by '
                      'certificate-authority-data of cluster "emulator" in %s' % (self.emu.url, kc), r.stderr)
        kc = self.kubeconfig_with(certificate_authority=other)
        r = rigelk8s("deploy", "-f", rf, "--kubeconfig", kc, "--context", "emulator-cert")
        self.assertEqual(r.code, 3, r)
        self.assertIn("not trusted by certificate-authority %s" % other, r.stderr)
        # No CA at all: the system bundle cannot know the emulator's CA either.
        r = rigelk8s("deploy", "-f", rf, "--kubeconfig", self.kubeconfig_with())
        self.assertEqual(r.code, 3, r)
        self.assertIn("not trusted by the system CA bundle", r.stderr)
        self.assert_nothing_created("tls")
        # The emulator's own CA works (the control).
        r = rigelk8s("deploy", "-f", rf, "--kubeconfig", self.kc)
        self.assertEqual(r.code, 0, r)

    def test_a_certificate_authority_file_that_is_not_a_certificate(self):
        bad = self.tmp.join("garbage.crt")
        with open(bad, "w") as f:
            f.write("-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydA==\n-----END CERTIFICATE-----\n")
        rf = self.rigelfile("tlsbad")
        r = rigelk8s("deploy", "-f", rf, "--kubeconfig", self.kubeconfig_with(certificate_authority=bad))
        self.assertEqual(r.code, 3, r)
        self.assertRegex(r.stderr, r"TLS with %s failed \(context \"emulator\"\)" % re.escape(self.emu.url))
        self.assert_nothing_created("tlsbad")


PLUGIN = r"""#!/bin/sh
# A test exec credential plugin: counts its runs; MODE picks what it answers.
n=$(cat "%(dir)s/runs" 2>/dev/null || echo 0); n=$((n+1)); echo $n > "%(dir)s/runs"
good=emulator-admin-token
case "$MODE" in
  expired-first)  # an already expired credential first, then a fresh one
    if [ $n -eq 1 ]; then tok=$good; exp=2001-01-01T00:00:00Z; else tok=$good; exp=2099-01-01T00:00:00Z; fi ;;
  revoked-first)  # a token the server refuses (revoked), then a good one
    if [ $n -eq 1 ]; then tok=revoked-token; else tok=$good; fi; exp=2099-01-01T00:00:00Z ;;
  always-bad) tok=revoked-token; exp=2099-01-01T00:00:00Z ;;
esac
printf '{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"token":"%%s","expirationTimestamp":"%%s"}}\n' "$tok" "$exp"
"""


class TestExecCredentials(FaultCase):

    def setUp(self):
        super().setUp()
        self.plugin = self.tmp.join("plugin.sh")
        with open(self.plugin, "w") as f:
            f.write(PLUGIN % {"dir": self.tmp.path})
        os.chmod(self.plugin, 0o700)
        self.kc_exec = kubeconfig(self.tmp.join("kc-exec"), self.emu.url, context="sso", user={
            "exec": {"apiVersion": "client.authentication.k8s.io/v1", "command": self.plugin,
                     "interactiveMode": "Never"}})

    def runs(self):
        with open(self.tmp.join("runs")) as f:
            return int(f.read())

    def deploy(self, mode, ns):
        return rigelk8s("deploy", "-f", self.rigelfile(ns), "--kubeconfig", self.kc_exec,
                        env=clean_env({"MODE": mode}))

    def test_an_expired_credential_makes_rigelk8s_run_the_plugin_again(self):
        r = self.deploy("expired-first", "exec1")
        self.assertEqual(r.code, 0, r)
        self.assertGreaterEqual(self.runs(), 2)
        self.assertEqual(len(applied_refs(self.emu, "exec1")), 5)

    def test_a_revoked_token_is_refreshed_once_after_401(self):
        r = self.deploy("revoked-first", "exec2")
        self.assertEqual(r.code, 0, r)
        self.assertEqual(self.runs(), 2)

    def test_a_token_the_server_keeps_rejecting(self):
        r = self.deploy("always-bad", "exec3")
        self.assertEqual(r.code, 3, r)
        self.assertIn('GET /version: Unauthorized (the server refused the credential that the exec plugin "%s" '
                      'of user "u" in context "sso" gave, also after running the plugin again' % self.plugin, r.stderr)
        self.assertNotIn("revoked-token", r.output)
        self.assertEqual(self.runs(), 2, "one refresh, not a loop")
        self.assert_nothing_created("exec3")


class TestBatchRejections(FaultCase):

    def deploy_json(self, ns, **over):
        return rigelk8s("deploy", "-f", self.rigelfile(ns, **over), "--kubeconfig", self.kc, "-o", "json")

    def check_partial(self, r, ns, rejected, later=()):
        self.assertEqual(r.code, 1, r)
        doc = r.json()
        self.assertEqual(doc["reason"], "ApplyFailed")
        a = doc["applied"]
        done = sorted(a["created"] + a["configured"] + a["unchanged"])
        self.assertEqual(done, applied_refs(self.emu, ns), "the report must list exactly what exists")
        self.assertEqual([x["name"] for x in a["rejected"]], rejected)
        self.assertEqual(a["not_applied"], list(later))
        for ref in rejected + list(later):
            self.assertNotIn(ref, applied_refs(self.emu, ns))
        return doc

    def test_an_invalid_container_name_in_additional_k8s_params(self):
        bad = {"application": {"spec": {"template": {"spec": {"containers": [{"name": "Bad_Name", "image": "x"}]}}}}}
        r = self.deploy_json("reject1", additional_k8s_params=bad)
        doc = self.check_partial(r, "reject1", ["Deployment/rigel-k8s-application"])
        self.assertIn('spec.template.spec.containers[1].name: Invalid value: "Bad_Name"', doc["applied"]["rejected"][0]["message"])
        # The same in text: applied / not applied.
        r = rigelk8s("deploy", "-f", self.rigelfile("reject1", additional_k8s_params=bad), "--kubeconfig", self.kc)
        self.assertEqual(r.code, 1, r)
        self.assertIn("1 object was rejected by the API server:\n  Deployment/rigel-k8s-application: apply "
                      "Deployment reject1/rigel-k8s-application: Deployment.apps \"rigel-k8s-application\" is invalid", r.stderr)
        self.assertIn("\napplied: Namespace/reject1, PersistentVolumeClaim/data-pvc, Deployment/ros-master, "
                      "Service/ros-master\nnot applied: Deployment/rigel-k8s-application (rejected)\n", r.stderr)

    def test_a_selector_that_does_not_match_the_template(self):
        bad = {"application": {"spec": {"selector": {"matchLabels": {"app": "something-else"}}}}}
        r = self.deploy_json("reject2", additional_k8s_params=bad)
        doc = self.check_partial(r, "reject2", ["Deployment/rigel-k8s-application"])
        self.assertIn("`selector` does not match template `labels`", doc["message"])

    def test_a_rejected_master_leaves_the_later_phases_unapplied(self):
        bad = {"ros_master": {"spec": {"template": {"spec": {"containers": [{"name": "x", "image": ""}]}}}}}
        r = self.deploy_json("reject3", additional_k8s_params=bad)
        self.check_partial(r, "reject3", ["Deployment/ros-master"], later=["Deployment/rigel-k8s-application"])


class TestRestartDuringABatch(FaultCase):

    def test_restart_in_the_middle_of_300_concurrent_applies(self):
        script = self.tmp.join("many.lua")
        with open(script, "w") as f:
            f.write("""
local k8s = require "rigelk8s.k8s"
local c <close> = k8s.connect{kubeconfig = arg[1], namespace = "batch"}
c:apply{apiVersion = "v1", kind = "Namespace", metadata = {name = "batch"}}
local list = {}
for i = 1, 300 do
  list[i] = {apiVersion = "v1", kind = "ConfigMap", metadata = {name = "cm-" .. i, namespace = "batch"},
             data = {i = tostring(i), blob = string.rep("x", 2000)}}
end
io.stderr:write("applying\\n")
local results, failed = c:apply_all(list, {concurrency = 16})
print(#results, failed)
""")
        self.emu.fault({"latency_ms": 5})  # so that the restart lands inside the batch
        bg = Background("run", script, self.kc)
        bg.wait_for("applying")
        time.sleep(0.1)
        self.emu.fault({"restart": True})
        r = bg.finish()
        self.assertEqual(r.code, 0, r)
        self.assertEqual(r.stdout.split(), ["300", "0"], r)
        self.emu.admin("reset", {})
        self.assertEqual(len([n for n in names(self.emu, "/api/v1/namespaces/batch/configmaps") if n.startswith("cm-")]), 300)


if __name__ == "__main__":
    unittest.main()
