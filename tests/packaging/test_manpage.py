"""The man page rigelk8s(1) and --help say the same: the same commands, and for each
command the same flags with the same help text (both come from lua/rigelk8s/cli.lua's
tables; this test parses the two outputs independently). The page also renders without
warnings with man(1)/groff."""
import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "emulator"))  # tests/emulator/emuharness.py
from emuharness import BIN, ROOT, user_env, run  # noqa: E402


def unroff(text):
    text = re.sub(r"\\f[BIRP]", "", text)
    return text.replace("\\-", "-").replace("\\e", "\\").replace("\\&", "")


def man_sections(man):
    """{command: [(flag names, help)]} from the COMMANDS section of the roff source."""
    commands = {}
    body = man.split("\n.SH COMMANDS\n", 1)[1].split("\n.SH ", 1)[0]
    current = None
    lines = body.split("\n")
    for i, line in enumerate(lines):
        if line.startswith(".SS "):
            current = unroff(line[4:]).split()[0]
            commands[current] = []
        elif line == ".TP":
            commands[current].append((unroff(lines[i + 1]), unroff(lines[i + 2])))
    return commands


def help_commands():
    out = run([BIN, "--help"]).stdout
    section = out.split("Commands:\n", 1)[1].split("\n\n", 1)[0]
    return [line.split()[0] for line in section.splitlines()]


def help_flags(command):
    out = run([BIN, command, "--help"])
    assert out.returncode == 0, out.stderr
    flags = []
    for line in out.stdout.split("\nflags:\n", 1)[1].splitlines():
        m = re.match(r"^  ((?:-\w, )?--[\w-]+(?: \S+)?)\s+(.*)$", line.replace("      --", "  --"))
        if m:
            flags.append((m.group(1), m.group(2)))
    return flags


class ManPage(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        got = run([BIN, "__man"])
        assert got.returncode == 0, got.stderr
        cls.man = got.stdout

    def test_same_commands_as_help(self):
        self.assertEqual(list(man_sections(self.man)), help_commands())

    def test_each_command_has_the_flags_of_its_help(self):
        sections = man_sections(self.man)
        for command in help_commands():
            if command == "run":   # main.c's own; it has no flags
                self.assertEqual(sections["run"], [])
                continue
            with self.subTest(command=command):
                flags = help_flags(command)
                self.assertGreater(len(flags), 0)
                self.assertEqual(sections[command], flags,
                                 "a command missing from the table in lua/rigelk8s/cli.lua "
                                 "(M.commands) is listed without its flags: add it there")

    def test_usage_and_description_of_a_command_are_in_the_page(self):
        out = run([BIN, "render", "--help"]).stdout
        usage = out.splitlines()[0][len("usage: "):]
        self.assertIn("Usage: " + usage, unroff(self.man))

    def test_exit_codes_are_those_of_help(self):
        out = run([BIN, "--help"]).stdout
        codes = re.findall(r"(?m)^  (\d+) +", out.split("Exit codes:\n", 1)[1])
        page = self.man.split("\n.SH EXIT STATUS\n", 1)[1].split("\n.SH ", 1)[0]
        self.assertEqual(re.findall(r"\\fB(\d+)\\fR", page), codes)

    @unittest.skipUnless(shutil.which("man") and shutil.which("groff"), "man-db/groff not installed")
    def test_renders_without_warnings(self):
        got = subprocess.run(["man", "--warnings=all", "-E", "UTF-8", "-l", "-Tutf8", "-"],
                             input=self.man, capture_output=True, text=True,
                             env={"PATH": "/usr/bin:/bin", "MANWIDTH": "80", "LC_ALL": "C.UTF-8"})
        self.assertEqual(got.returncode, 0, got.stderr)
        self.assertEqual(got.stderr, "")
        text = re.sub(".\b", "", got.stdout)   # overstrike (bold) as man prints it to a pipe
        self.assertIn("RIGELK8S(1)", text)
        self.assertIn("--kubeconfig PATH", text)
        self.assertNotIn(".br", text)


class CommandTable(unittest.TestCase):
    """How --help and the man page learn a command's flags: by running its script up to
    its cli.parse call and no further; a script missing from the table is listed by name
    and never run."""

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="rk-commands-")
        self.scripts = os.path.join(self.tmp, "scripts")
        shutil.copytree(os.path.join(ROOT, "scripts"), self.scripts)
        self.marker = os.path.join(self.tmp, "ran")

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def write(self, name, text):
        with open(os.path.join(self.scripts, name + ".lua"), "w") as f:
            f.write(text.replace("MARKER", self.marker))

    def rk(self, *args):
        return run([BIN, *args], env=user_env(RIGELK8S_SCRIPT_DIR=self.scripts))

    def test_a_listed_script_runs_only_up_to_cli_parse(self):
        self.write("render", """local cli = require "rigelk8s.cli"
cli.parse(arg, {{"shiny", nil, "--shiny", value = "HOW", help = "a flag only this test has"}},
          {usage = "rigelk8s render --shiny HOW"})
io.open("MARKER", "w"):close()
""")
        man = self.rk("__man")
        self.assertEqual(man.returncode, 0, man.stderr)
        self.assertIn("\\fB\\-\\-shiny HOW\\fR\na flag only this test has", man.stdout)
        self.assertEqual(self.rk("completion", "bash").returncode, 0)
        self.assertFalse(os.path.exists(self.marker), "the script ran past cli.parse")
        self.assertEqual(self.rk("render", "--shiny", "x").returncode, 0)
        self.assertTrue(os.path.exists(self.marker))   # the fixture itself works

    def test_a_script_missing_from_the_table_is_listed_and_not_run(self):
        self.write("frobnicate", '-- rigelk8s frobnicate: turn the knobs\nio.open("MARKER", "w"):close()\n')
        got = self.rk("--help")
        self.assertEqual(got.returncode, 0, got.stderr)
        self.assertRegex(got.stdout, r"(?m)^  frobnicate +turn the knobs$")
        man = self.rk("__man")
        self.assertIn(".SS frobnicate\nturn the knobs\n", man.stdout)
        self.assertEqual(self.rk("completion", "zsh").returncode, 0)
        self.assertFalse(os.path.exists(self.marker), "an unlisted script was run by --help")


if __name__ == "__main__":
    unittest.main()
