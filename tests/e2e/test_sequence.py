"""`rigelk8s sequence` end to end against the Kubernetes API emulator: sequential,
concurrent and parallel/matrix stages, entry `with` merging, rigelk8s.lua jobs, foreign
jobs (refused, delegated to a stand-in `rigel`, skipped) and the errors that stop a
sequence before anything runs.

In cluster mode (RIGELK8S_TEST_KUBECONFIG, make test-cluster) every test runs against that
cluster with its namespaces prefixed by a name of its own (T()), deleted after the test.
The Rigelfile's images are the emulator's names (reg/app:1, a crash loop by name), so on a
real cluster these tests are skipped."""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "emulator"))  # tests/emulator/emuharness.py
import failmodes as fm  # noqa: E402
from emuharness import BIN, CLUSTER_MODE, NODES, RUN_ID, _NAMESPACES, Emulator, shared_cluster  # noqa: E402

RIGELFILE = """\
vars:
  distro: noetic
  image: "reg/app:1"

jobs:
  build:
    plugin: "rigel.plugins.core.BuildXPlugin"
    with:
      image: "{{ vars.image }}"

  deploy_base:
    plugin: "src.plugin.OrchestrationPlugin"
    with:
      namespace: seq-base
      deployment_name: base
      application_image: "{{ vars.image }}"

  simulation:
    plugin: "rigelk8s"
    with:
      namespace: seq-sim
      deployment_name: simulation
      deploy_ros_master: false

  probe:
    plugin: "rigelk8s.lua"
    with:
      script: probe.lua
      label: "{{ vars.image }}"
      args: ["--probe-flag"]

  deploy_ns:
    plugin: "rigelk8s"
    with:
      namespace: "{{ data.ns }}"
      deployment_name: "app-{{ data.ns }}"
      application_image: "{{ data.image }}"
      deploy_ros_master: false

  deploy_by_ns:
    plugin: "rigelk8s"
    with:
      namespace: "{{ data.ns }}"
      deployment_name: app
      application_image: "reg/{{ data.ns }}:1"
      deploy_ros_master: false

  hooked:
    plugin: "rigelk8s"
    with:
      namespace: seq-hooked
      deployment_name: hooked
      deploy_ros_master: false
      hooks: hooks.lua

  lone:
    plugin: "rigelk8s"
    with:
      namespace: seq-lone
      deployment_name: lone
      deploy_ros_master: false

sequences:
  full:
    stages:
      - jobs:
          - name: deploy_base
            with: {deployment_name: base-override}
      - jobs: [probe]
        dependencies:
          - name: simulation
            with: {cleanup: true}
      - parallel:
          - jobs: [deploy_ns]
        matrix:
          ns: [seq-matrix-a, seq-matrix-b]
          image: ["reg/app:2"]

  half_broken:
    stages:
      - parallel:
          - jobs: [deploy_by_ns]
        matrix:
          ns: [seq-ok, seq-crashloop]
      - jobs: [lone]

  release:
    stages:
      - jobs: [build, lone]

  probe_each:
    stages:
      - parallel:
          - jobs: [probe]
        matrix:
          ns: [alpha, beta]

  hooks_per_job:
    stages:
      - jobs: [hooked, lone]

  failing_script:
    stages:
      - jobs: [{name: probe, with: {fail_with: 3}}]
      - jobs: [lone]
"""

# The rigelk8s.lua job: records what it received, and checks that the concurrent stage's
# dependency is deployed while it runs.
PROBE = """\
local json = require "rigelk8s.json"
local k8s = require "rigelk8s.k8s"
local cli = require "rigelk8s.cli"
local config, job = ...
local rest = {}
local spec = cli.merge(cli.global, {{"probe_flag", nil, "--probe-flag"}})
local opts = cli.parse(arg, spec)
local client = k8s.connect{kubeconfig = opts.kubeconfig}
local sim = client:try_get{apiVersion = "apps/v1", kind = "Deployment", name = "simulation", namespace = "seq-sim"}
local f = assert(io.open(opts.config))
local config_file = json.decode(f:read("a"))
f:close()
local out = assert(io.open(os.getenv("PROBE_LOG"), "a"))
out:write(json.encode{config = config, config_file = config_file, job = job.name, sequence = job.sequence,
                      last_deploy = job.data.rigelk8s and job.data.rigelk8s.namespace or "none",
                      simulation_running = sim ~= nil, probe_flag = opts.probe_flag == true,
                      script = arg[0]}, "\\n")
out:close()
job.data.probed = true
if config.fail_with then error({message = "probe failed on purpose", exit_code = config.fail_with}) end
print("probe output on stdout")
return 0
"""

# Hooks of the `hooked` job only: they must not run for the jobs after it.
HOOKS = """\
return {on_ready = function(ctx, result)
  local f = assert(io.open(os.getenv("PROBE_LOG"), "a"))
  f:write(require("rigelk8s.json").encode{hook = "on_ready", deployment = ctx.cfg.deployment_name}, "\\n")
  f:close()
end}
"""

FAKE_RIGEL = """\
#!/bin/sh
printf '%s|%s\\n' "$*" "$(pwd)" >> "$RIGEL_LOG"
echo "fake rigel: $*"
exit "${RIGEL_EXIT:-0}"
"""


class SequenceCase(unittest.TestCase):
    prefix = ""

    @classmethod
    def setUpClass(cls):
        if CLUSTER_MODE:
            cls.emu = shared_cluster()
            if fm.real():
                raise unittest.SkipTest("cluster mode: needs the emulator: the sequence Rigelfile's images are the "
                                        "emulator's names (reg/app:1; a crash loop by the name reg/seq-crashloop:1)")
        else:
            cls.emu = Emulator("--nodes", NODES, ready_delay=0.05)
        cls.dir = tempfile.mkdtemp(prefix="rk-sequence-")
        cls.rigelfile = os.path.join(cls.dir, "Rigelfile")
        cls.write_files()

    @classmethod
    def write_files(cls):
        with open(cls.rigelfile, "w") as f:
            f.write(cls.T(RIGELFILE))
        with open(os.path.join(cls.dir, "probe.lua"), "w") as f:
            f.write(cls.T(PROBE))
        with open(os.path.join(cls.dir, "hooks.lua"), "w") as f:
            f.write(HOOKS)
        cls.bin_dir = os.path.join(cls.dir, "bin")
        os.makedirs(cls.bin_dir, exist_ok=True)
        rigel = os.path.join(cls.bin_dir, "rigel")
        with open(rigel, "w") as f:
            f.write(FAKE_RIGEL)
        os.chmod(rigel, 0o755)

    @classmethod
    def tearDownClass(cls):
        if not CLUSTER_MODE:
            cls.emu.stop()
        shutil.rmtree(cls.dir, ignore_errors=True)

    @classmethod
    def T(cls, text):
        """The test's names for namespaces seq-*: themselves on the test's own emulator, with
        the test's own prefix in cluster mode."""
        return text.replace("seq-", cls.prefix + "seq-")

    def delete_namespaces(self):
        st, _, body = self.emu.get("/api/v1/namespaces")
        self.assertEqual(st, 200, body)
        mine = [n["metadata"]["name"] for n in body["items"] if n["metadata"]["name"].startswith(self.prefix)]
        self.assertEqual(self.emu.delete_namespaces(mine), [], "namespaces still there after the test")

    def setUp(self):
        if CLUSTER_MODE:
            _NAMESPACES[0] += 1
            type(self).prefix = "rk%s%d-" % (RUN_ID, _NAMESPACES[0])
            self.write_files()
            self.addCleanup(self.delete_namespaces)
        self.probe_log = os.path.join(self.dir, "probe-%s.jsonl" % self._testMethodName)
        self.rigel_log = os.path.join(self.dir, "rigel-%s.log" % self._testMethodName)

    def run_rk(self, *args, rigel=False, env=None, cwd=None):
        e = dict(os.environ)
        # A PATH without any real rigel; with rigel=True the stand-in comes first.
        e["PATH"] = (self.bin_dir + ":" if rigel else "") + "/usr/bin:/bin"
        e.update({"PROBE_LOG": self.probe_log, "RIGEL_LOG": self.rigel_log, "NO_COLOR": "1"})
        e.update(env or {})
        return subprocess.run([BIN, "sequence"] + list(args) + ["--kubeconfig", self.emu.kubeconfig],
                              cwd=cwd or self.dir, env=e, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True, timeout=120)

    def run_json(self, *args, **kw):
        p = self.run_rk(*args, "-o", "json", **kw)
        try:
            doc = json.loads(p.stdout)
        except ValueError:
            self.fail("stdout is not one JSON document: %r\nstderr: %s" % (p.stdout, p.stderr))
        return p, doc

    def deployment(self, namespace, name):
        status, _, body = self.emu.get("/apis/apps/v1/namespaces/%s/deployments/%s" % (namespace, name))
        return body if status == 200 else None

    def probes(self):
        if not os.path.exists(self.probe_log):
            return []
        with open(self.probe_log) as f:
            return [json.loads(line) for line in f]

    def rigel_calls(self):
        if not os.path.exists(self.rigel_log):
            return []
        with open(self.rigel_log) as f:
            return [line.rstrip("\n").split("|") for line in f]


class TestStages(SequenceCase):
    def test_sequential_concurrent_and_matrix_stages(self):
        p, doc = self.run_json("full")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual((doc["command"], doc["sequence"], doc["state"], doc["exit_code"]),
                         ("sequence", "full", "succeeded", 0))
        self.assertEqual([s["kind"] for s in doc["stages"]], ["sequential", "concurrent", "parallel"])
        self.assertEqual([s["state"] for s in doc["stages"]], ["succeeded"] * 3)

        # Stage 1: the entry's with replaced deployment_name, the job's namespace stayed.
        job = doc["stages"][0]["jobs"][0]
        self.assertEqual((job["name"], job["runner"], job["state"]), ("deploy_base", "rigelk8s deploy", "succeeded"))
        self.assertEqual(job["result"]["namespace"], self.T("seq-base"))
        live = self.deployment(self.T("seq-base"), "base-override")
        self.assertIsNotNone(live)
        self.assertEqual(live["status"]["readyReplicas"], 1)
        self.assertIsNone(self.deployment(self.T("seq-base"), "base"))

        # Stage 2: the dependency was deployed while the job ran, then cleaned up.
        dep, probe = doc["stages"][1]["jobs"]
        self.assertEqual((dep["name"], dep["role"], probe["name"], probe["role"]),
                         ("simulation", "dependency", "probe", "job"))
        self.assertEqual(dep["cleanup"]["deleted"], ["Deployment/simulation"])
        self.emu.wait_for(lambda: self.deployment(self.T("seq-sim"), "simulation") is None, msg="simulation deleted")
        [seen] = self.probes()
        self.assertTrue(seen["simulation_running"], "the dependency was not running during the job")
        self.assertEqual(seen["last_deploy"], self.T("seq-sim"))
        self.assertEqual(seen["config"], {"label": "reg/app:1"})
        self.assertEqual(seen["config_file"], {"label": "reg/app:1"})
        self.assertTrue(seen["probe_flag"])
        self.assertEqual(os.path.basename(seen["script"]), "probe.lua")
        # Under -o json what the script printed is in its report, not on stdout.
        self.assertEqual(probe["result"]["output"], "probe output on stdout\n")

        # Stage 3: one branch per matrix combination, {{ data.k }} rendered in each.
        branches = doc["stages"][2]["branches"]
        self.assertEqual([b["label"] for b in branches],
                         [self.T("ns=seq-matrix-a image=reg/app:2"), self.T("ns=seq-matrix-b image=reg/app:2")])
        for b, ns in zip(branches, [self.T("seq-matrix-a"), self.T("seq-matrix-b")]):
            self.assertEqual(b["state"], "succeeded")
            self.assertEqual(b["values"], {"ns": ns, "image": "reg/app:2"})
            [job] = b["stages"][0]["jobs"]
            self.assertEqual(job["result"]["namespace"], ns)
            live = self.deployment(ns, "app-" + ns)
            self.assertIsNotNone(live, "no Deployment in " + ns)
            self.assertEqual(live["spec"]["template"]["spec"]["containers"][0]["image"], "reg/app:2")
            self.assertEqual(live["status"]["readyReplicas"], 1)

    def test_text_output_shows_stages_jobs_and_a_summary(self):
        p = self.run_rk("full")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(p.stdout, "probe output on stdout\n")
        err = p.stderr
        for text in ("stage 1/3: jobs deploy_base", "stage 2/3: jobs probe, dependencies simulation",
                     "stage 3/3: parallel: 1 stage, matrix ns x image", self.T("[ns=seq-matrix-b image=reg/app:2] "),
                     "simulation: cleanup: 1 deleted", "summary:", "sequence full succeeded"):
            self.assertIn(text, err)
        self.assertRegex(err, self.T(r"✓ stage 3\.1 +\[ns=seq-matrix-a image=reg/app:2\] deploy_ns +succeeded"))

    def test_a_failed_branch_fails_the_stage_after_every_branch_ran(self):
        p, doc = self.run_json("half_broken")
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertEqual(doc["state"], "failed")
        branches = doc["stages"][0]["branches"]
        self.assertEqual([b["state"] for b in branches], ["succeeded", "failed"])
        self.assertIn("CrashLoopBackOff", branches[1]["stages"][0]["jobs"][0]["message"])
        self.assertEqual(doc["stages"][1]["state"], "not_run")
        self.assertEqual(doc["stages"][1]["jobs"][0]["state"], "not_run")
        self.assertIsNone(self.deployment(self.T("seq-lone"), "lone"), "a stage after the failed one ran")
        self.assertIn(self.T("[ns=seq-crashloop]"), doc["failed_job"])
        self.assertIsNotNone(self.deployment(self.T("seq-ok"), "app"))

    def test_lua_jobs_in_branches_keep_their_output_apart_from_the_report(self):
        p = self.run_rk("probe_each")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("[ns=alpha] probe output on stdout", p.stderr)
        self.assertIn("[ns=beta] probe output on stdout", p.stderr)
        self.assertEqual(len(self.probes()), 2)

    def test_each_orchestration_job_runs_its_own_hooks(self):
        p, doc = self.run_json("hooks_per_job")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(self.probes(), [{"hook": "on_ready", "deployment": "hooked"}])

    def test_lua_job_exit_code_fails_the_sequence(self):
        p, doc = self.run_json("failing_script")
        self.assertEqual(p.returncode, 3, p.stderr)
        job = doc["stages"][0]["jobs"][0]
        self.assertEqual((job["state"], job["exit_code"], job["message"]), ("failed", 3, "probe failed on purpose"))
        [seen] = self.probes()
        self.assertEqual(seen["config"], {"label": "reg/app:1", "fail_with": 3})


class TestForeignRefused(SequenceCase):
    def test_refused_without_rigel_before_anything_runs(self):
        p = self.run_rk("release")
        self.assertEqual(p.returncode, 2)
        self.assertIn("sequence release cannot run: 1 job uses a plugin that only Rigel runs, "
                      "and `rigel` is not on PATH:", p.stderr)
        self.assertIn("Rigelfile:6:3: job build (plugin rigel.plugins.core.BuildXPlugin)", p.stderr)
        self.assertIn("--skip-foreign", p.stderr)
        self.assertIsNone(self.deployment(self.T("seq-lone"), "lone"))

    def test_refusal_as_json(self):
        p, doc = self.run_json("release")
        self.assertEqual(p.returncode, 2)
        self.assertEqual((doc["state"], doc["exit_code"], doc["reason"]), ("error", 2, "ForeignJobs"))
        self.assertIn("job build", doc["message"])
        self.assertIsNone(self.deployment(self.T("seq-lone"), "lone"))


class TestForeignJobs(SequenceCase):
    def test_delegated_to_rigel_run_job_in_the_rigelfile_directory(self):
        elsewhere = tempfile.mkdtemp(prefix="rk-cwd-")
        try:
            p, doc = self.run_json("release", "-f", self.rigelfile, rigel=True, cwd=elsewhere)
        finally:
            shutil.rmtree(elsewhere)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(self.rigel_calls(), [["run job build", os.path.realpath(self.dir)]])
        build, lone = doc["stages"][0]["jobs"]
        self.assertEqual((build["runner"], build["state"]), ("rigel", "succeeded"))
        self.assertEqual(lone["state"], "succeeded")
        # rigel's own output went to stderr: stdout is the one JSON document.
        self.assertIn("fake rigel: run job build", p.stderr)

    def test_rigel_failure_stops_the_sequence(self):
        p, doc = self.run_json("release", rigel=True, env={"RIGEL_EXIT": "5"})
        self.assertEqual(p.returncode, 1)
        build, lone = doc["stages"][0]["jobs"]
        self.assertEqual((build["state"], build["message"]), ("failed", "rigel run job build exited with 5"))
        self.assertEqual(lone["state"], "not_run")

    def test_skip_foreign_runs_the_rest(self):
        p, doc = self.run_json("release", "--skip-foreign", rigel=True)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(self.rigel_calls(), [])
        build, lone = doc["stages"][0]["jobs"]
        self.assertEqual((build["state"], lone["state"]), ("skipped", "succeeded"))
        self.assertIsNotNone(self.deployment(self.T("seq-lone"), "lone"))

    def test_a_file_not_named_rigelfile_cannot_be_delegated(self):
        other = os.path.join(self.dir, "Other.Rigelfile")
        shutil.copy(self.rigelfile, other)
        p = self.run_rk("release", "-f", other, rigel=True)
        self.assertEqual(p.returncode, 2)
        self.assertIn("rigel reads ./Rigelfile, not Other.Rigelfile", p.stderr)
        self.assertEqual(self.rigel_calls(), [])


class TestErrors(SequenceCase):
    def write(self, name, text):
        path = os.path.join(self.dir, name)
        with open(path, "w") as f:
            f.write(textwrap.dedent(text))
        return path

    def test_unknown_sequence_lists_the_known_ones(self):
        p = self.run_rk("ful")
        self.assertEqual(p.returncode, 2)
        line = RIGELFILE.splitlines().index("sequences:") + 1
        self.assertIn("Rigelfile:%d:1: sequences:" % line + " no sequence named 'ful'; did you mean 'full'? "
                      "(sequences: failing_script, full, half_broken, hooks_per_job, probe_each, release)", p.stderr)

    def test_unknown_job_bad_stage_and_nested_parallel_name_their_lines(self):
        path = self.write("bad.Rigelfile", """\
            jobs:
              deploy: {plugin: rigelk8s, with: {namespace: x}}
            sequences:
              s:
                stages:
                  - jobs: [deploy, deplyo]
                  - jobz: [deploy]
                  - "deploy"
                  - parallel:
                      - parallel: [{jobs: [deploy]}]
                  - jobs: [deploy]
                    parallel: [{jobs: [deploy]}]
            """)
        p = self.run_rk("s", "-f", os.path.basename(path))
        self.assertEqual(p.returncode, 2)
        err = p.stderr
        self.assertIn("bad.Rigelfile: 5 problems:", err)
        self.assertIn("bad.Rigelfile:6:24: sequences.s.stages[0].jobs[1]: no job named 'deplyo'; "
                      "did you mean 'deploy'? (jobs: deploy)", err)
        self.assertIn("bad.Rigelfile:7:9: sequences.s.stages[1].jobz: unknown key 'jobz' in a stage; "
                      "did you mean 'jobs'?", err)
        self.assertIn("bad.Rigelfile:8:9: sequences.s.stages[2]: a stage is {jobs: [...]}", err)
        self.assertIn("bad.Rigelfile:10:13: sequences.s.stages[3].parallel[0].parallel: a parallel stage "
                      "cannot be nested", err)
        self.assertIn("bad.Rigelfile:11:9: sequences.s.stages[4]: a stage has either jobs: or parallel:", err)

    def test_job_configs_are_checked_for_every_combination_before_anything_runs(self):
        path = self.write("cfg.Rigelfile", """\
            jobs:
              first: {plugin: rigelk8s, with: {namespace: seq-never, deploy_ros_master: false}}
              per_ns: {plugin: rigelk8s, with: {namespace: "{{ data.ns }}"}}
              lua: {plugin: rigelk8s.lua, with: {script: missing.lua}}
            sequences:
              s:
                stages:
                  - jobs: [first]
                  - parallel: [{jobs: [per_ns]}]
                    matrix: {ns: [fine, Not_Fine]}
                  - jobs: [{name: first, with: {replicas: many}}, lua]
            """)
        p = self.run_rk("s", "-f", os.path.basename(path))
        self.assertEqual(p.returncode, 2)
        err = p.stderr
        self.assertIn("cfg.Rigelfile: 3 problems in the jobs of sequence s (nothing was run):", err)
        self.assertIn("cfg.Rigelfile:3:48: jobs.per_ns.with.namespace: \"Not_Fine\" is not a valid Kubernetes "
                      "name", err)
        self.assertIn("(with ns=Not_Fine)", err)
        self.assertIn("cfg.Rigelfile:4:46: jobs.lua.with.script: ./missing.lua: no such file (the script is relative to "
                      "the Rigelfile's directory)", err)
        # The entry's with is reported at the sequence entry's line.
        self.assertIn("cfg.Rigelfile:11:47: jobs.first.with.replicas: expected a whole number", err)
        self.assertIsNone(self.deployment("seq-never", "rigel-k8s-application"))

    def test_list(self):
        p = subprocess.run([BIN, "sequence", "--list", "-f", self.rigelfile], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True)
        self.assertEqual(p.stdout.split(), ["failing_script", "full", "half_broken", "hooks_per_job", "probe_each", "release"])


class TestSharedDataForRigel(SequenceCase):
    """Shared data as Rigel can reference it (flat keys), and what `rigel run job` cannot get."""

    def write_rigelfile(self, sub, text):
        d = os.path.join(self.dir, sub)
        os.makedirs(d, exist_ok=True)
        path = os.path.join(d, "Rigelfile")
        with open(path, "w") as f:
            f.write(textwrap.dedent(text))
        return path

    def test_flat_keys_of_the_deploy_report_render_in_later_jobs(self):
        path = self.write_rigelfile("flat", """\
            jobs:
              first: {plugin: rigelk8s, with: {namespace: seq-flat, deployment_name: first, deploy_ros_master: false}}
              second:
                plugin: rigelk8s
                with:
                  namespace: "{{ data.rigelk8s_namespace }}"
                  deployment_name: "{{ data.rigelk8s_deployment_name }}-then-{{ data.rigelk8s.state }}"
                  deploy_ros_master: false
              shim_lua:
                plugin: "rigelk8s_rigel.LuaPlugin"
                with:
                  script: ../probe.lua
                  label: "{{ data.rigelk8s_namespace }}"
            sequences:
              s:
                stages:
                  - jobs: [first]
                  - jobs: [second, shim_lua]
            """)
        p = self.run_rk("s", "-f", path)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIsNotNone(self.deployment("seq-flat", "first-then-ready"))
        # the shim's Lua plugin name runs natively, as rigelk8s.lua does
        [seen] = self.probes()
        self.assertEqual((seen["job"], seen["config"]["label"]), ("shim_lua", "seq-flat"))

    def test_a_delegated_job_using_matrix_data_is_refused_before_anything_runs(self):
        path = self.write_rigelfile("matrix", """\
            jobs:
              first: {plugin: rigelk8s, with: {namespace: seq-never-m, deploy_ros_master: false}}
              sim:
                plugin: "rigel.plugins.core.ComposePlugin"
                with:
                  robot: "{{ data.robot }}"
              other:
                plugin: "rigel.plugins.core.TestPlugin"
                with:
                  ns: "{{ data.rigelk8s_namespace }}"
            sequences:
              s:
                stages:
                  - jobs: [first]
                  - parallel: [{jobs: [sim]}]
                    matrix: {robot: [r1, r2]}
                  - jobs: [other]
            """)
        p = self.run_rk("s", "-f", path, rigel=True)
        self.assertEqual(p.returncode, 2, p.stdout + p.stderr)
        self.assertIn("Rigelfile:5:5: jobs.sim.with: job sim (plugin rigel.plugins.core.ComposePlugin) uses "
                      "{{ data.robot }} in a matrix branch (matrix: robot), but it is delegated to "
                      "`rigel run job sim`, which gets no shared data and no matrix values: run the whole "
                      "sequence with `rigel run sequence s`", p.stderr)
        self.assertIn("jobs.other.with: job other (plugin rigel.plugins.core.TestPlugin) uses "
                      "{{ data.rigelk8s_namespace }}, but it is delegated", p.stderr)
        self.assertEqual(self.rigel_calls(), [])
        self.assertIsNone(self.deployment("seq-never-m", "rigel-k8s-application"))
        # --skip-foreign runs the rest: the refused jobs are skipped, not delegated.
        p = self.run_rk("s", "-f", path, "--skip-foreign", rigel=True)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(self.rigel_calls(), [])


if __name__ == "__main__":
    unittest.main()
