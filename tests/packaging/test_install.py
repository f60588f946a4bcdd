"""make install / make uninstall: the README's exact commands, into a temporary DESTDIR,
from the build directory under test (RK_BUILD_DIR), then the installed binary runs from
that tree and finds its plugin there (and after the tree is moved)."""
import gzip
import os
import shutil
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "emulator"))  # tests/emulator/emuharness.py
from emuharness import BIN, BUILD, ROOT, run  # noqa: E402



def configured_prefix():
    """The PREFIX the build under test was configured for (/usr/local unless someone ran
    make install PREFIX=... with it): installing there needs no reconfiguration."""
    with open(os.path.join(BUILD, "CMakeCache.txt")) as f:
        for line in f:
            if line.startswith("CMAKE_INSTALL_PREFIX:PATH="):
                return line.split("=", 1)[1].strip()
    return "/usr/local"


PREFIX = configured_prefix()
P = PREFIX.strip("/")
EXPECTED = sorted([
    P + "/bin/rigelk8s",
    P + "/lib/rigelk8s/rigelk8s-kube.so",
    P + "/share/bash-completion/completions/rigelk8s",
    P + "/share/fish/vendor_completions.d/rigelk8s.fish",
    P + "/share/man/man1/rigelk8s.1.gz",
    P + ("/share/zsh/vendor-completions/_rigelk8s" if PREFIX == "/usr"
         else "/share/zsh/site-functions/_rigelk8s"),
])


def files_under(root):
    out = []
    for d, _, names in os.walk(root):
        for n in names:
            out.append(os.path.relpath(os.path.join(d, n), root))
    return sorted(out)


class MakeInstall(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="rk-install-")
        cls.destdir = os.path.join(cls.tmp, "x")
        # The README's command; BUILD= points make at the build under test, which ctest
        # has just built: -o build keeps make from rebuilding it, which would relink the
        # binary under the tests running beside this one if the git commit changed since.
        cls.install = run(["make", "--no-print-directory", "-C", ROOT, "-o", "build", "install",
                           "DESTDIR=" + cls.destdir, "BUILD=" + BUILD, "PREFIX=" + PREFIX],
                          timeout=600)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def test_1_installs_binary_plugin_man_page_and_completions(self):
        self.assertEqual(self.install.returncode, 0, self.install.stdout + self.install.stderr)
        self.assertEqual(files_under(self.destdir), EXPECTED)

    def test_2_installed_binary_renders_the_example(self):
        installed = os.path.join(self.destdir, P + "/bin/rigelk8s")
        got = run([installed, "render", "-f", "examples/Rigelfile.example"], cwd=ROOT)
        self.assertEqual(got.returncode, 0, got.stderr)
        want = run([BIN, "render", "-f", "examples/Rigelfile.example"], cwd=ROOT)
        self.assertEqual(want.returncode, 0, want.stderr)
        self.assertEqual(got.stdout, want.stdout)
        self.assertIn("name: rigel-k8s-application", got.stdout)

    def test_3_installed_binary_loads_its_plugin_from_lib_rigelk8s(self):
        installed = os.path.join(self.destdir, P + "/bin/rigelk8s")
        got = run([installed, "--version", "-v"])
        self.assertEqual(got.returncode, 0, got.stdout + got.stderr)
        self.assertRegex(got.stdout, r"(?m)^libcurl: \d+\.\d+")

    def test_4_a_moved_tree_still_finds_its_plugin(self):
        moved = os.path.join(self.tmp, "elsewhere", "opt", "rk")
        os.makedirs(os.path.dirname(moved))
        shutil.copytree(os.path.join(self.destdir, P), moved, symlinks=True)
        binary = os.path.join(moved, "bin", "rigelk8s")
        got = run([binary, "--version", "-v"])
        self.assertEqual(got.returncode, 0, got.stdout + got.stderr)
        self.assertRegex(got.stdout, r"(?m)^libcurl: ")
        # Without the plugin the error says where it looked and what to do.
        shutil.rmtree(os.path.join(moved, "lib"))
        if os.path.exists(PREFIX + "/lib/rigelk8s/rigelk8s-kube.so"):
            self.skipTest("a rigelk8s is installed in %s on this machine: the compiled-in "
                          "fallback finds its plugin" % PREFIX)
        got = run([binary, "--version", "-v"])
        self.assertEqual(got.returncode, 1, got.stdout + got.stderr)
        self.assertIn("rigelk8s-kube.so", got.stdout + got.stderr)
        self.assertIn("RIGELK8S_LIBDIR", got.stdout + got.stderr)

    def test_5_installed_man_page_is_the_generated_one(self):
        with gzip.open(os.path.join(self.destdir, P + "/share/man/man1/rigelk8s.1.gz"), "rt") as f:
            installed = f.read()
        self.assertEqual(installed, run([BIN, "__man"]).stdout)
        with open(os.path.join(self.destdir, P + "/share/bash-completion/completions/rigelk8s")) as f:
            self.assertEqual(f.read(), run([BIN, "completion", "bash"]).stdout)

    def test_6_uninstall_removes_everything_it_installed(self):
        got = run(["make", "--no-print-directory", "-C", ROOT, "uninstall",
                   "DESTDIR=" + self.destdir, "BUILD=" + BUILD])
        self.assertEqual(got.returncode, 0, got.stdout + got.stderr)
        self.assertEqual(files_under(self.destdir), [])
        self.assertFalse(os.path.exists(os.path.join(self.destdir, P, "lib/rigelk8s")))


if __name__ == "__main__":
    unittest.main()
