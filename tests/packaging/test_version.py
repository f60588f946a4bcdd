"""rigelk8s --version: the release and the git commit of the build; --version -v the
versions of the libraries it runs with (compared with pkg-config's, i.e. the Debian
packages installed); -o json result documents carry "rigelk8s_version"."""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "emulator"))  # tests/emulator/emuharness.py
from emuharness import BIN, ROOT, run  # noqa: E402


def cmake_version():
    with open(os.path.join(ROOT, "CMakeLists.txt")) as f:
        return re.search(r"project\(rigelk8s VERSION (\S+)", f.read()).group(1)


def pkg_version(name):
    got = subprocess.run(["pkg-config", "--modversion", name], capture_output=True, text=True)
    return got.stdout.strip() if got.returncode == 0 else None


class Version(unittest.TestCase):
    def test_version_and_commit(self):
        got = run([BIN, "--version"])
        self.assertEqual(got.returncode, 0, got.stderr)
        m = re.fullmatch(r"rigelk8s (\S+) \(commit (\S+)\)\n", got.stdout)
        self.assertTrue(m, got.stdout)
        self.assertEqual(m.group(1), cmake_version())
        head = subprocess.run(["git", "-C", ROOT, "rev-parse", "HEAD"], capture_output=True, text=True)
        if head.returncode != 0:
            self.assertEqual(m.group(2), "unknown")
        else:
            # The build re-reads the commit at every build: a stale one means a stale binary.
            self.assertRegex(m.group(2), r"^[0-9a-f]{12}(-dirty)?$")
            self.assertTrue(head.stdout.startswith(m.group(2)[:12]),
                            "built from %s, HEAD is %s: rebuild" % (m.group(2), head.stdout))

    def test_verbose_version_lists_the_linked_libraries(self):
        got = run([BIN, "--version", "-v"])
        self.assertEqual(got.returncode, 0, got.stdout + got.stderr)
        lines = dict(l.split(": ", 1) for l in got.stdout.splitlines()[1:])
        self.assertEqual(sorted(lines), ["Lua", "libcurl", "libyaml"])
        for key, pkg, fmt in (("libcurl", "libcurl", "{}"), ("libyaml", "yaml-0.1", "{}"),
                              ("Lua", "lua5.4", "Lua {}")):
            want = pkg_version(pkg)
            if want is None:
                self.assertRegex(lines[key], r"\d+\.\d+")
            else:
                self.assertEqual(lines[key], fmt.format(want), key)

    def test_json_results_carry_the_version(self):
        tmp = tempfile.mkdtemp(prefix="rk-version-")
        try:
            # No cluster needed: a missing Rigelfile is a JSON error document too.
            got = run([BIN, "status", "-f", os.path.join(tmp, "missing"), "-o", "json"], cwd=tmp)
            self.assertEqual(got.returncode, 2, got.stderr)
            doc = json.loads(got.stdout)
            self.assertEqual(doc["rigelk8s_version"], cmake_version())
            self.assertEqual(doc["state"], "error")
        finally:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    unittest.main()
