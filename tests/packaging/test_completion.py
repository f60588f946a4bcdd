"""rigelk8s completion bash|zsh|fish. The bash script is checked with `bash -n` and driven
the way bash drives it (COMP_WORDS, COMP_CWORD, then COMPREPLY); contexts, jobs and
sequences come from a kubeconfig and a Rigelfile written here, read at completion time by
the binary under test. fish is driven with `complete -C`, zsh interactively on a
pseudo-terminal (Tab pressed, the completed line read back). The expected flags of
each command come from its `--help`, parsed here, not from the generator."""
import os
import pty
import re
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "emulator"))  # tests/emulator/emuharness.py
from emuharness import BIN, run  # noqa: E402

KUBECONFIG_A = """apiVersion: v1
kind: Config
current-context: robot-a
contexts:
- name: robot-a
  context: {cluster: c, user: u}
- name: edge-b
  context: {cluster: c, user: u}
"""
KUBECONFIG_B = """apiVersion: v1
kind: Config
contexts:
- name: cloud-c
  context: {cluster: c, user: u}
"""
RIGELFILE = """vars: {distro: noetic}
jobs:
  build:
    plugin: rigel.plugins.core.BuildXPlugin
    with: {image: x}
  deploy_robot:
    plugin: src.plugin.OrchestrationPlugin
    with: {orchestration: {application_image: a:1}}
  deploy_cloud:
    plugin: rigelk8s
    with: {orchestration: {application_image: a:1}}
sequences:
  ship:
    stages: [{jobs: [build, deploy_robot]}]
  field_test:
    stages: [{jobs: [deploy_cloud]}]
"""


def help_flags(command):
    """Long and short flags listed by `rigelk8s COMMAND --help`."""
    out = run([BIN, command, "--help"])
    assert out.returncode == 0, out.stderr
    flags = set()
    for line in out.stdout.split("\nflags:\n", 1)[1].splitlines():
        m = re.match(r"^ {2,}(-\w, )?(--[\w-]+)", line)
        if m:
            if m.group(1):
                flags.add(m.group(1)[:2])
            flags.add(m.group(2))
    return flags


def help_commands():
    out = run([BIN, "--help"]).stdout
    section = out.split("Commands:\n", 1)[1].split("\n\n", 1)[0]
    return [line.split()[0] for line in section.splitlines()]


class Fixture(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="rk-completion-")
        cls.kc_a = os.path.join(cls.tmp, "a.yaml")
        cls.kc_b = os.path.join(cls.tmp, "b.yaml")
        cls.rigelfile = os.path.join(cls.tmp, "Rigelfile")
        for path, text in ((cls.kc_a, KUBECONFIG_A), (cls.kc_b, KUBECONFIG_B), (cls.rigelfile, RIGELFILE)):
            with open(path, "w") as f:
                f.write(text)
        cls.scripts = {}
        for shell in ("bash", "zsh", "fish"):
            got = run([BIN, "completion", shell])
            assert got.returncode == 0, got.stderr
            path = os.path.join(cls.tmp, "rigelk8s." + shell)
            with open(path, "w") as f:
                f.write(got.stdout)
            cls.scripts[shell] = path

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)


class Bash(Fixture):
    def complete(self, *words, env=None, cwd=None):
        """COMPREPLY for the command line BIN words..., the last word being completed."""
        script = ('source "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$((${#COMP_WORDS[@]} - 1)); '
                  'COMPREPLY=(); _rigelk8s; printf "%s\\n" "${COMPREPLY[@]}"')
        e = dict(os.environ, HOME=self.tmp)
        e.pop("KUBECONFIG", None)
        e.update(env or {})
        got = subprocess.run(["bash", "-c", script, "bash", self.scripts["bash"], BIN, *words],
                             capture_output=True, text=True, env=e, cwd=cwd or self.tmp, timeout=60)
        self.assertEqual(got.returncode, 0, got.stderr)
        self.assertEqual(got.stderr, "")
        return sorted(w for w in got.stdout.split("\n") if w)

    def test_syntax(self):
        got = subprocess.run(["bash", "-n", self.scripts["bash"]], capture_output=True, text=True)
        self.assertEqual(got.returncode, 0, got.stderr)

    def test_commands(self):
        self.assertEqual(self.complete(""), sorted(help_commands()))
        self.assertEqual(self.complete("de"), ["delete", "deploy"])
        self.assertEqual(self.complete("--v"), ["--version"])

    def test_flags_of_each_command_are_those_of_its_help(self):
        for command in help_commands():
            if command == "run":
                continue
            with self.subTest(command=command):
                want = {f for f in help_flags(command)
                        if f not in ("--branch", "--branch-data")}  # (internal) flags
                self.assertEqual(set(self.complete(command, "-")), want)
        self.assertEqual(self.complete("deploy", "--con"), ["--config", "--context", "--contexts"])

    def test_context_names_come_from_the_kubeconfig(self):
        self.assertEqual(self.complete("deploy", "--kubeconfig", self.kc_a, "--context", ""),
                         ["edge-b", "robot-a"])
        self.assertEqual(self.complete("status", "--kubeconfig", self.kc_a, "--context", "r"),
                         ["robot-a"])
        # --context=NAME: bash splits at '='.
        self.assertEqual(self.complete("status", "--kubeconfig", self.kc_a, "--context", "=", "e"),
                         ["edge-b"])
        # KUBECONFIG with two files, merged as kubectl does.
        self.assertEqual(self.complete("deploy", "--context", "",
                                       env={"KUBECONFIG": self.kc_a + ":" + self.kc_b}),
                         ["cloud-c", "edge-b", "robot-a"])
        # ~/.kube/config when nothing else is given.
        os.makedirs(os.path.join(self.tmp, ".kube"), exist_ok=True)
        shutil.copy(self.kc_b, os.path.join(self.tmp, ".kube", "config"))
        self.assertEqual(self.complete("deploy", "--context", ""), ["cloud-c"])

    def test_context_names_with_colons(self):
        # EKS context names are ARNs; bash splits words at ':' (COMP_WORDBREAKS).
        kc = os.path.join(self.tmp, "kc-arn")
        with open(kc, "w") as f:
            f.write(KUBECONFIG_B.replace("cloud-c", "arn:aws:eks:eu-west-1:123:cluster/robot-7") +
                    "- name: arn:aws:eks:eu-west-1:123:cluster/robot-8\n  context: {cluster: c, user: u}\n")
        # (bash's default COMP_WORDBREAKS has the ':'; the test runs with it)
        # arn:aws:eks:eu-west-1:123:cluster/robot-  ->  bash replaces only what follows the last ':'
        self.assertEqual(self.complete("deploy", "--kubeconfig", kc, "--context", "arn", ":", "aws", ":", "eks", ":",
                                       "eu-west-1", ":", "123", ":", "cluster/robot-"),
                         ["cluster/robot-7", "cluster/robot-8"])
        self.assertEqual(self.complete("deploy", "--kubeconfig", kc, "--context", "arn", ":"),
                         ["aws:eks:eu-west-1:123:cluster/robot-7", "aws:eks:eu-west-1:123:cluster/robot-8"])
        # --context=arn:...: split at '=' and at ':'
        self.assertEqual(self.complete("deploy", "--kubeconfig", kc, "--context", "=", "arn", ":", "aws", ":", "eks",
                                       ":", "eu-west-1", ":", "123", ":", "cluster/robot-8"),
                         ["cluster/robot-8"])

    def test_job_names_come_from_the_rigelfile(self):
        # Only orchestration jobs: --job picks one of them.
        self.assertEqual(self.complete("deploy", "-f", self.rigelfile, "--job", ""),
                         ["deploy_cloud", "deploy_robot"])
        self.assertEqual(self.complete("render", "--file", self.rigelfile, "--job", "deploy_r"),
                         ["deploy_robot"])
        # The default Rigelfile in the current directory.
        self.assertEqual(self.complete("deploy", "--job", ""), ["deploy_cloud", "deploy_robot"])

    def test_sequence_names_come_from_the_rigelfile(self):
        self.assertEqual(self.complete("sequence", "-f", self.rigelfile, ""), ["field_test", "ship"])
        self.assertEqual(self.complete("sequence", ""), ["field_test", "ship"])

    def test_fixed_values_and_files(self):
        self.assertEqual(self.complete("deploy", "-o", ""), ["json", "text"])
        self.assertEqual(self.complete("render", "--output", ""), ["json", "yaml"])
        self.assertEqual(self.complete("completion", ""), ["bash", "fish", "zsh"])
        self.assertEqual(self.complete("deploy", "-f", "Rig"), ["Rigelfile"])
        self.assertEqual(self.complete("deploy", "--kubeconfig", "a."), ["a.yaml"])

    def test_a_broken_rigelfile_or_kubeconfig_completes_nothing_and_prints_nothing(self):
        bad = os.path.join(self.tmp, "bad.yaml")
        with open(bad, "w") as f:
            f.write("jobs: [unclosed\n")
        self.assertEqual(self.complete("deploy", "-f", bad, "--job", ""), [])
        self.assertEqual(self.complete("deploy", "--kubeconfig", bad, "--context", ""), [])
        self.assertEqual(self.complete("deploy", "--kubeconfig", "/nonexistent", "--context", ""), [])


@unittest.skipUnless(shutil.which("fish"), "fish is not installed (Debian package fish)")
class Fish(Fixture):
    def complete(self, line):
        # `rigelk8s` in the command line is the binary under test, through a function.
        script = ('source $argv[1]; function rigelk8s; $argv[2] $argv; end; '
                  'complete -C $argv[3]').replace("$argv[2] $argv", "%s $argv" % BIN)
        got = subprocess.run(["fish", "--no-config", "-c", script, self.scripts["fish"], BIN, line],
                             capture_output=True, text=True, cwd=self.tmp, timeout=60,
                             env=dict(os.environ, HOME=self.tmp))
        self.assertEqual(got.returncode, 0, got.stderr)
        return sorted(l.split("\t")[0] for l in got.stdout.splitlines() if l)

    def test_syntax(self):
        got = subprocess.run(["fish", "--no-execute", self.scripts["fish"]], capture_output=True, text=True)
        self.assertEqual(got.returncode, 0, got.stderr)

    def test_commands_flags_contexts_jobs_sequences(self):
        self.assertEqual(self.complete("rigelk8s "), sorted(help_commands()))
        self.assertEqual(self.complete("rigelk8s deploy --con"), ["--config", "--context", "--contexts"])
        self.assertEqual(self.complete("rigelk8s deploy --kubeconfig %s --context " % self.kc_a),
                         ["edge-b", "robot-a"])
        self.assertEqual(self.complete("rigelk8s deploy -f %s --job " % self.rigelfile),
                         ["deploy_cloud", "deploy_robot"])
        self.assertEqual(self.complete("rigelk8s sequence -f %s " % self.rigelfile), ["field_test", "ship"])
        self.assertEqual(self.complete("rigelk8s deploy -o "), ["json", "text"])


@unittest.skipUnless(shutil.which("zsh"), "zsh is not installed (Debian package zsh)")
class Zsh(Fixture):
    """Real zsh completion: an interactive zsh on a pseudo-terminal with compinit, the
    generated _rigelk8s in fpath, and Tab pressed after a partial command line."""

    def complete(self, line, expect, timeout=30):
        fpath = os.path.join(self.tmp, "zfunc")
        os.makedirs(fpath, exist_ok=True)
        shutil.copy(self.scripts["zsh"], os.path.join(fpath, "_rigelk8s"))
        pid, fd = pty.fork()
        if pid == 0:
            os.chdir(self.tmp)
            os.execve(shutil.which("zsh"), ["zsh", "-f", "-i"],
                      {"PATH": os.environ["PATH"], "TERM": "dumb", "HOME": self.tmp})
        out = b""

        def read_until(pattern):
            nonlocal out
            end = time.time() + timeout
            while time.time() < end:
                if re.search(pattern, out.decode(errors="replace")):
                    return True
                r, _, _ = select.select([fd], [], [], 0.1)
                if r:
                    try:
                        out += os.read(fd, 65536)
                    except OSError:
                        return False
            return False

        try:
            os.write(fd, ("PS1='> '; fpath=(%s $fpath); autoload -U compinit; compinit -u -D; "
                          "rigelk8s() { %s \"$@\" }; print READY-$((40+2))\n" % (fpath, BIN)).encode())
            self.assertTrue(read_until(r"READY-42"), out)
            out = b""
            os.write(fd, line.encode() + b"\t")
            found = read_until(expect)
            self.assertTrue(found, "zsh did not complete %r to %r; the terminal shows:\n%r"
                            % (line, expect, out.decode(errors="replace")[-600:]))
        finally:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            os.close(fd)

    def test_syntax(self):
        got = subprocess.run(["zsh", "-n", self.scripts["zsh"]], capture_output=True, text=True)
        self.assertEqual(got.returncode, 0, got.stderr)

    def test_command(self):
        self.complete("rigelk8s depl", r"rigelk8s depl\S*oy ")

    def test_flag(self):
        self.complete("rigelk8s deploy --kubec", r"--kubeconfig")

    def test_context_from_the_kubeconfig(self):
        self.complete("rigelk8s deploy --kubeconfig %s --context rob" % self.kc_a, r"robot-a ")

    def test_job_and_sequence_from_the_rigelfile(self):
        self.complete("rigelk8s deploy -f %s --job deploy_r" % self.rigelfile, r"deploy_robot ")
        self.complete("rigelk8s sequence -f %s fie" % self.rigelfile, r"field_test ")

    def test_output_values(self):
        self.complete("rigelk8s render -o js", r"json ")


if __name__ == "__main__":
    unittest.main()
