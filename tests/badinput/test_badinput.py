"""The bad-input corpus: every directory under cases/ is one hostile or broken input.

A case directory holds:
  args       the rigelk8s arguments, one per line ({kubeconfig}, {case}, {home} and {url}
             are replaced; blank lines and lines starting with # are skipped)
  expected   `exit N`, then checks, one per line:
               stderr ~ REGEX   stderr !~ REGEX   stdout ~ REGEX   stdout !~ REGEX
               stdout empty
  setup      optional directives:
               cluster emulator        run against the shared emulator ({kubeconfig});
                                       nothing may be written to it
               cluster fake MODE       run against fakeserver.py in MODE; no writes
               cluster none            (default) HOME and KUBECONFIG point at nothing
               env NAME=VALUE          extra environment
               stdin FILE              feed FILE on standard input
               interrupt SECONDS       send SIGINT after SECONDS (Ctrl-C)
               terminate SECONDS       send SIGTERM after SECONDS
               timeout SECONDS         the case's limit (default 20 s): a hang fails
  make.py    optional: writes big or binary inputs into the case's working copy
  ...        any input files (Rigelfiles, scripts, kubeconfigs)

Every case also must not crash (no signal other than the one the case sends, no
AddressSanitizer/UBSan report) and, unless it runs a user script, must not end in a
Lua traceback (an uncaught error inside rigelk8s is a bug, whatever the input).

  RK_BADINPUT=NAME python3 -m unittest test_badinput     runs the cases whose name
                                                          contains NAME;
  RK_BADINPUT_SHOW=1 ...                                  prints what each case did."""
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "emulator"))  # tests/emulator/emuharness.py
from emuharness import BIN, Emulator, clean_env, kubeconfig  # noqa: E402
from fakeserver import FakeServer  # noqa: E402

CASES = os.path.join(HERE, "cases")
CRASH = re.compile(r"AddressSanitizer|LeakSanitizer|UndefinedBehaviorSanitizer|runtime error:|"
                   r"Segmentation fault|core dumped")


def read_lines(path):
    if not os.path.exists(path):
        return []
    with open(path, encoding="utf-8", errors="surrogateescape") as f:
        return [l.rstrip("\n") for l in f if l.strip() and not l.startswith("#")]


class Case:
    def __init__(self, name):
        self.name = name
        self.dir = os.path.join(CASES, name)
        self.args = read_lines(os.path.join(self.dir, "args"))
        self.expected = read_lines(os.path.join(self.dir, "expected"))
        self.cluster, self.mode, self.env, self.stdin = "none", None, {}, None
        self.interrupt = self.terminate = None
        self.timeout = 20.0
        for line in read_lines(os.path.join(self.dir, "setup")):
            word, _, rest = line.partition(" ")
            if word == "cluster":
                self.cluster, _, self.mode = rest.partition(" ")
            elif word == "env":
                k, _, v = rest.partition("=")
                self.env[k] = v
            elif word == "stdin":
                self.stdin = rest
            elif word == "interrupt":
                self.interrupt = float(rest)
            elif word == "terminate":
                self.terminate = float(rest)
            elif word == "timeout":
                self.timeout = float(rest)
            else:
                raise ValueError("%s/setup: unknown directive %r" % (name, line))
        if not self.expected or not self.expected[0].startswith("exit "):
            raise ValueError("%s/expected must start with 'exit N'" % name)


class BadInputTests(unittest.TestCase):
    emu = None

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="rk-badinput-")
        cls.home = os.path.join(cls.tmp, "home")
        os.makedirs(cls.home)

    @classmethod
    def tearDownClass(cls):
        if cls.emu:
            cls.emu.stop()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    @classmethod
    def emulator(cls):
        if not cls.emu:
            cls.emu = Emulator()
        return cls.emu

    def cluster_state(self):
        self.emu.settle()
        st, _, body = self.emu.admin("state")
        objs = {k: v for k, v in body["objects"].items() if k != "events"}
        return body["resourceVersion"], objs

    def run_case(self, case):
        work = os.path.join(self.tmp, case.name)
        shutil.copytree(case.dir, work)
        if os.path.exists(os.path.join(work, "make.py")):
            subprocess.run([sys.executable, "make.py"], cwd=work, check=True, timeout=60)
        fake = None
        subst = {"case": work, "home": self.home, "kubeconfig": os.path.join(self.tmp, "no-kubeconfig"), "url": ""}
        if case.cluster == "emulator":
            emu = self.emulator()
            subst["kubeconfig"], subst["url"] = emu.kubeconfig, emu.url
            before = self.cluster_state()
        elif case.cluster == "fake":
            fake = FakeServer(case.mode)
            subst["url"] = fake.url
            subst["kubeconfig"] = kubeconfig(os.path.join(work, ".fake-kubeconfig"), fake.url,
                                             user={"token": "fake-token"}, context="fake")
        def fill(text):
            for k, v in subst.items():
                text = text.replace("{" + k + "}", v)
            return text
        args = [fill(a) for a in case.args]
        env = clean_env({"KUBECONFIG": os.path.join(self.tmp, "no-kubeconfig")}, home=self.home)
        env.update({k: fill(v) for k, v in case.env.items()})
        stdin = open(os.path.join(work, case.stdin), "rb") if case.stdin else subprocess.DEVNULL
        t0 = time.monotonic()
        try:
            p = subprocess.Popen([BIN] + args, cwd=work, env=env, stdin=stdin,
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            if case.interrupt is not None or case.terminate is not None:
                time.sleep(case.interrupt if case.interrupt is not None else case.terminate)
                p.send_signal(signal.SIGINT if case.interrupt is not None else signal.SIGTERM)
            try:
                out, err = p.communicate(timeout=case.timeout)
            except subprocess.TimeoutExpired:
                p.kill()
                out, err = p.communicate()
                self.fail("%s: no answer within %ss (a hang):\n%s" % (case.name, case.timeout,
                                                                    err.decode(errors="replace")[-3000:]))
        finally:
            if case.stdin:
                stdin.close()
            if fake:
                fake.stop()
        elapsed = time.monotonic() - t0
        out = out.decode("utf-8", errors="replace")
        err = err.decode("utf-8", errors="replace")
        report = "rigelk8s %s -> %s in %.2fs\n--- stdout\n%s\n--- stderr\n%s" % (
            " ".join(args)[:500], p.returncode, elapsed, out[-3000:], err[-3000:])
        if os.environ.get("RK_BADINPUT_SHOW"):
            sys.stderr.write("\n===== %s\n%s\n" % (case.name, report))
        self.assertNotRegex(err, CRASH, report)
        if case.terminate is None:
            self.assertGreaterEqual(p.returncode, 0, "killed by a signal: " + report)
        if not case.args or case.args[0] != "run":
            self.assertNotIn("stack traceback", err, "an internal error: " + report)
        for line in case.expected:
            if line.startswith("exit "):
                if line != "exit ?":  # a new case, while its expectations are written
                    self.assertEqual(p.returncode, int(line.split()[1]), report)
                continue
            if line == "stdout empty":
                self.assertEqual(out, "", report)
                continue
            m = re.match(r"(stdout|stderr) (!?~) (.*)$", line)
            self.assertTrue(m, "%s/expected: bad line %r" % (case.name, line))
            text = out if m.group(1) == "stdout" else err
            pattern = m.group(3)
            for k in ("case", "url", "kubeconfig"):
                pattern = pattern.replace("{" + k + "}", re.escape(subst[k]))
            if m.group(2) == "~":
                self.assertRegex(text, re.compile(pattern, re.M), report)
            else:
                self.assertNotRegex(text, re.compile(pattern, re.M), report)
        if case.cluster == "emulator":
            self.assertEqual(self.cluster_state(), before, "the cluster changed: " + report)
        if fake:
            self.assertEqual(fake.writes, 0, "writes reached the server: " + report)


def _make(case):
    def test(self):
        self.run_case(case)
    test.__doc__ = case.name
    return test


def _load():
    only = os.environ.get("RK_BADINPUT")
    names = sorted(n for n in os.listdir(CASES) if os.path.isdir(os.path.join(CASES, n)))
    for name in names:
        if only and only not in name:
            continue
        setattr(BadInputTests, "test_" + re.sub(r"\W", "_", name), _make(Case(name)))
    return len(names)


CASE_COUNT = _load()


class CorpusSize(unittest.TestCase):
    def test_the_corpus_has_at_least_60_cases(self):
        self.assertGreaterEqual(CASE_COUNT, 60)


if __name__ == "__main__":
    unittest.main()
