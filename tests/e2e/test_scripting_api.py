"""End-to-end tests of the scripting API's promises, against the Kubernetes API emulator:
on_ready / on_failure fire once per run with the final result (deploy, update --atomic,
a script that waits twice), after_wait fires per wait, misspelled hook names and apply
phases are refused with "did you mean", and every apply line, row and report names the
namespace when a run spans several.

Run: RIGELK8S_BIN=build/rigelk8s python3 -m unittest -v test_scripting_api   (from tests/e2e)"""
import os
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "emulator"))  # tests/emulator/emuharness.py
from emuharness import orchestration, rigelk8s, start_emulator, write_rigelfile

HOOKS = '''
local log = assert(io.open(os.getenv("HOOK_LOG"), "a"))
local function note(s) log:write(s, "\\n"); log:flush() end
return {
  after_wait = function(ctx, r) note("after_wait " .. r.state) end,
  on_ready = function(ctx, r) note("on_ready " .. r.state) end,
  on_failure = function(ctx, r) note("on_failure " .. r.state .. (r.rolled_back and " rolled_back" or "")) end,
}
'''

# A migration Job, then the application: two waits in one run.
WAIT_TWICE = '''
local wf = require "rigelk8s.workflow"
return wf.main(function(ctx)
  local cfg = wf.config(ctx)
  wf.render(ctx)
  local job = {apiVersion = "batch/v1", kind = "Job", metadata = {name = "migrate", namespace = cfg.namespace},
               spec = {backoffLimit = 1, template = {spec = {restartPolicy = "Never",
                       containers = {{name = "m", image = os.getenv("JOB_IMAGE")}}}}}}
  wf.apply(ctx, wf.phase_objects(ctx, {"namespace"}))
  wf.apply(ctx, {job})
  local r = wf.wait_job(ctx, job)
  if r.state ~= "ready" then return wf.finish(ctx, r) end
  wf.apply(ctx, ctx.objects)
  return wf.finish(ctx, wf.wait(ctx, wf.wait_targets(ctx)))
end, arg, {command = "migrate-then-deploy"})
'''


class ScriptingTest(unittest.TestCase):
    def setUp(self):
        start_emulator(self)
        self.hook_log = os.path.join(self.dir, "hooks.log")
        open(self.hook_log, "w").close()
        self.hooks = self.write("hooks.lua", HOOKS)

    def write(self, name, text):
        path = os.path.join(self.dir, name)
        with open(path, "w") as f:
            f.write(text)
        return path

    def rigelfile(self, ns, **over):
        over.setdefault("persistent_storage", None)
        return write_rigelfile(self.dir, orchestration(ns, **over))

    def run_rk(self, code, *args, env=None):
        e = {"HOOK_LOG": self.hook_log}
        e.update(env or {})
        r = rigelk8s(*args, "--kubeconfig", self.kc, env=e)
        self.assertEqual(r.code, code, r)
        return r

    def log(self):
        with open(self.hook_log) as f:
            lines = f.read().splitlines()
        open(self.hook_log, "w").close()
        return lines


class HooksOnceTest(ScriptingTest):
    def test_deploy_fires_on_ready_once(self):
        rf = self.rigelfile("once")
        self.run_rk(0, "deploy", "-f", rf, "--hooks", self.hooks)
        self.assertEqual(self.log(), ["after_wait ready", "on_ready ready"])

    def test_wait_for_master_gate_is_no_outcome(self):
        rf = self.rigelfile("gated", wait_for_master=True)
        self.run_rk(0, "deploy", "-f", rf, "--hooks", self.hooks)
        self.assertEqual(self.log(), ["after_wait ready", "after_wait ready", "on_ready ready"])

    def test_update_atomic_fires_on_failure_once_and_never_on_ready(self):
        rf = self.rigelfile("atomic-hooks")
        self.run_rk(0, "deploy", "-f", rf)
        self.log()
        r = self.run_rk(1, "update", "-f", rf, "--image", "app:crashloop", "--atomic", "--timeout", "60s",
                        "--hooks", self.hooks)
        self.assertIn("--atomic rolled deployment", r.stderr)
        lines = self.log()
        self.assertEqual([l for l in lines if l.startswith("on_")], ["on_failure failed rolled_back"], lines)
        # The update's wait reports to after_wait; the rollback's own wait is internal.
        self.assertEqual(lines[0], "after_wait failed")

    def test_a_script_that_waits_twice_gets_one_outcome(self):
        rf = self.rigelfile("twice")
        script = self.write("migrate.lua", WAIT_TWICE)
        self.run_rk(0, "run", script, "-f", rf, "--hooks", self.hooks, env={"JOB_IMAGE": "migrate:1"})
        self.assertEqual(self.log(), ["after_wait ready", "after_wait ready", "on_ready ready"])
        r = self.run_rk(1, "run", script, "-f", self.rigelfile("twice-fail"), "--hooks", self.hooks,
                        env={"JOB_IMAGE": "migrate:fail"})
        self.assertIn("BackoffLimitExceeded", r.stderr)
        self.assertEqual(self.log(), ["after_wait failed", "on_failure failed"])

    def test_misspelled_hook_and_phase_are_refused_with_a_suggestion(self):
        rf = self.rigelfile("typos")
        bad_hook = self.write("bad-hook.lua", 'return {on_redy = function() end}\n')
        r = self.run_rk(2, "deploy", "-f", rf, "--hooks", bad_hook)
        self.assertIn("unknown hook 'on_redy'; did you mean 'on_ready'?", r.stderr)
        self.assertIn("bad-hook.lua", r.stderr)
        script = self.write("phase.lua", '''
local wf = require "rigelk8s.workflow"
return wf.main(function(ctx)
  wf.add(ctx, {apiVersion = "v1", kind = "ConfigMap", metadata = {name = "x"}, data = {}}, "configs")
  return 0
end, arg, {command = "phase-typo"})
''')
        r = self.run_rk(2, "run", script, "-f", rf)
        self.assertIn("wf.add: unknown apply phase 'configs'; did you mean 'config'?", r.stderr)
        self.assertIsNone(self.k.get("Namespace", None, "typos"))


# One application into three namespaces, the second with an image that crashes.
THREE = '''
local wf = require "rigelk8s.workflow"
return wf.main(function(ctx)
  local objs = {}
  for _, ns in ipairs{"site-a", "site-b", "site-c"} do
    objs[#objs + 1] = {apiVersion = "v1", kind = "Namespace", metadata = {name = ns}}
    objs[#objs + 1] = {apiVersion = "apps/v1", kind = "Deployment", metadata = {name = "robot", namespace = ns},
      spec = {replicas = 1, selector = {matchLabels = {app = "robot"}},
              template = {metadata = {labels = {app = "robot"}},
                          spec = {containers = {{name = "main", image = ns == "site-b" and "app:crashloop" or "app:1"}}}}}}
  end
  wf.apply(ctx, objs)
  return wf.finish(ctx, wf.wait(ctx, objs, {fail_fast = "each"}))
end, arg, {command = "three-sites"})
'''


class NamespacesTest(ScriptingTest):
    def test_every_line_row_and_report_names_the_namespace(self):
        script = self.write("three.lua", THREE)
        r = self.run_rk(1, "run", script)
        for ns in ("site-a", "site-b", "site-c"):
            self.assertIn("%s/Deployment/robot created" % ns, r.stderr)
        self.assertRegex(r.stderr, r"\n  site-a/Deployment/robot\s+ready")
        self.assertRegex(r.stderr, r"\n  site-b/Deployment/robot\s+failed")
        self.assertRegex(r.stderr, r"\n  site-c/Deployment/robot\s+ready")
        self.assertIn("site-b/Deployment/robot", r.stderr.split("failed after")[1])
        # Progress lines are keyed by namespace too: no flip-flop between the three rows.
        progress = [l for l in r.stderr.splitlines() if l.startswith("[")]
        self.assertLessEqual(len([l for l in progress if "site-b/Deployment/robot" in l and "[failed]" in l]), 1,
                             progress)
        doc = self.run_rk(1, "run", script, "-o", "json").json()
        self.assertEqual([(o["namespace"], o["name"], o["state"]) for o in doc["objects"]],
                         [("site-a", "robot", "ready"), ("site-b", "robot", "failed"), ("site-c", "robot", "ready")])

    def test_one_namespace_keeps_short_names(self):
        rf = self.rigelfile("single")
        r = self.run_rk(0, "deploy", "-f", rf)
        self.assertIn("Deployment/rigel-k8s-application created", r.stderr)
        self.assertNotIn("single/Deployment", r.stderr)


if __name__ == "__main__":
    unittest.main()
