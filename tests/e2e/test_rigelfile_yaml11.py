"""Rigelfile scalars follow PyYAML's YAML 1.1 rules (Rigel reads Rigelfiles with PyYAML),
manifests keep kubectl's. Runs the real rigelk8s binary (`render` and `run`); the
differential test compares with PyYAML itself when it is importable, and is reported as
skipped otherwise."""
import json
import math
import os
import subprocess
import tempfile
import textwrap
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.environ.get("RK_SOURCE_DIR") or os.path.dirname(os.path.dirname(HERE))
BIN = os.environ.get("RIGELK8S_BIN") or os.path.join(ROOT, "build", "rigelk8s")

try:
    import yaml as pyyaml
except ImportError:  # the differential test is skipped, and says so
    pyyaml = None

# Each scalar with what PyYAML's SafeLoader gives for it (yaml/resolver.py, constructor.py).
SCALARS = [
    ("y", "y"), ("Y", "Y"), ("n", "n"), ("N", "N"),
    ("yes", True), ("No", False), ("on", True), ("OFF", False), ("True", True), ("tRue", "tRue"),
    ("~", None), ("Null", None), ("", None),
    ("0o17", "0o17"), ("017", 15), ("08", "08"), ("0x1F", 31), ("0b101", 5), ("-0b11", -3),
    ("1_000", 1000), ("1:30", 90), ("-1:30", -90), ("12:60", "12:60"),
    ("1e3", "1e3"), ("1.0e3", "1.0e3"), ("1.0e+3", 1000.0), ("1.", 1.0), ("-.5", "-.5"),
    (".5", 0.5), (".inf", math.inf), ("-.Inf", -math.inf), (".NaN", math.nan), ("1:30.5", 90.5),
    ("2001-12-14", "2001-12-14"), ("Yes please", "Yes please"),
]

LOAD_SCRIPT = """
local yaml = require "rigelk8s.yaml"
local core = require "rigelk8s"
local f = assert(io.open(arg[1])); local text = f:read("a"); f:close()
local doc = yaml.load(text, {scalars = arg[2]})
local keys = {}
for k in pairs(doc) do keys[#keys + 1] = k end
table.sort(keys)
for _, k in ipairs(keys) do
  local v = doc[k]
  local t = v == core.null and "null" or math.type(v) or type(v)
  print(k .. "\\t" .. t .. "\\t" .. (t == "float" and string.format("%.17g", v) or tostring(v)))
end
"""

CONVERT = {"integer": int, "float": float, "string": str, "boolean": lambda v: v == "true",
           "null": lambda v: None}


def same(a, b):
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a):
        return math.isnan(b)
    return a == b and type(a) is type(b)


class Yaml11Case(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="rk-yaml11-")

    def tearDown(self):
        import shutil
        shutil.rmtree(self.tmp, ignore_errors=True)

    def write(self, name, text):
        path = os.path.join(self.tmp, name)
        with open(path, "w") as f:
            f.write(text)
        return path

    def load(self, text, scalars):
        """The document as rigelk8s.yaml.load reads it: {key: python value}."""
        script = self.write("load.lua", LOAD_SCRIPT)
        doc = self.write("doc.yaml", text)
        proc = subprocess.run([BIN, "run", script, doc, scalars], capture_output=True, text=True)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        out = {}
        for line in proc.stdout.splitlines():
            k, t, v = line.split("\t")
            out[k] = CONVERT[t](v)
        return out

    def render(self, rigelfile):
        path = self.write("Rigelfile", rigelfile)
        env = dict(os.environ, HOME=self.tmp, KUBECONFIG=os.path.join(self.tmp, "none"))
        proc = subprocess.run([BIN, "render", "-f", path, "-o", "json"], capture_output=True, text=True,
                              env=env)
        return proc


class TestScalars(Yaml11Case):
    def doc(self):
        return "".join("k%02d: %s\n" % (i, text) for i, (text, _) in enumerate(SCALARS))

    def test_rigelfile_mode_gives_pyyaml_values(self):
        got = self.load(self.doc(), "pyyaml")
        for i, (text, want) in enumerate(SCALARS):
            with self.subTest(scalar=text):
                self.assertTrue(same(got["k%02d" % i], want), "%r: got %r, PyYAML gives %r"
                                % (text, got["k%02d" % i], want))

    def test_manifest_mode_keeps_kubectls_rules(self):
        got = self.load("a: y\nb: n\nc: 0o17\nd: 1e3\ne: 1:30\n", "kubectl")
        self.assertEqual(got, {"a": True, "b": False, "c": 15, "d": 1000.0, "e": "1:30"})

    @unittest.skipIf(pyyaml is None, "PyYAML is not importable: the differential check against it was skipped")
    def test_same_as_pyyaml_itself(self):
        text = self.doc()
        want = pyyaml.safe_load(text)
        got = self.load(text, "pyyaml")
        for i, (scalar, _) in enumerate(SCALARS):
            k = "k%02d" % i
            with self.subTest(scalar=scalar):
                w = want[k]
                if not isinstance(w, (str, int, float, bool, type(None))):
                    w = scalar  # timestamps: rigelk8s keeps them as text
                self.assertTrue(same(got[k], w), "%r: rigelk8s %r, PyYAML %r" % (scalar, got[k], w))


RIGELFILE = textwrap.dedent("""\
    vars:
      y: robot-y
      n: 2
    application:
      distro: noetic
    jobs:
      deploy_k8s:
        plugin: "src.plugin.OrchestrationPlugin"
        with:
          orchestration:
            namespace: "{{ vars.y }}"
            deployment_name: app
            application_image: reg/app:1
            replicas: "{{ vars.n }}"
            additional_k8s_params:
              application:
                metadata:
                  labels:
                    y: n
                    on: "off"
                spec:
                  template:
                    spec:
                      containers:
                        - name: ros-app
                          env:
                            - name: FLAG
                              value: y
    """)


class TestRigelfileKeys(Yaml11Case):
    def test_bare_y_key_is_the_string_y_and_on_key_is_true(self):
        proc = self.render(RIGELFILE)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        objects = json.loads(proc.stdout)
        objects = objects.get("items", objects) if isinstance(objects, dict) else objects
        app = [o for o in objects if o["kind"] == "Deployment" and o["metadata"]["name"] == "app"]
        self.assertEqual(len(app), 1, [o["metadata"]["name"] for o in objects])
        app = app[0]
        # vars: {y: robot-y} defines vars.y (a bare y key is "y", as in PyYAML)
        self.assertEqual(app["metadata"]["namespace"], "robot-y")
        self.assertEqual(app["spec"]["replicas"], 2)
        labels = app["metadata"]["labels"]
        self.assertEqual(labels.get("y"), "n")       # value n is the string "n"
        self.assertEqual(labels.get("true"), "off")  # key on is PyYAML's True: "true" as JSON sends it
        self.assertNotIn("on", labels)
        env = {e["name"]: e.get("value") for e in app["spec"]["template"]["spec"]["containers"][0].get("env", [])}
        self.assertEqual(env.get("FLAG"), "y")


if __name__ == "__main__":
    unittest.main()
