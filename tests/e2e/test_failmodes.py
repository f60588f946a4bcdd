"""The failure-mode table (failmodes.py) on a real cluster: what each mode's Rigelfile
renders to, through the real `rigelk8s render`. No cluster is needed: this proves that the
real equivalents reach the manifests (container commands, probe, images, storage class);
whether a real kubelet then behaves as the table says is what make test-cluster shows."""
import json
import os
import shutil
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "emulator"))  # tests/emulator/emuharness.py
import failmodes as fm  # noqa: E402
from emuharness import BIN, orchestration, tmpdir, write_rigelfile


class RealColumn(unittest.TestCase):
    def setUp(self):
        if not os.access(BIN, os.X_OK):
            self.skipTest("no rigelk8s binary at %s (set RIGELK8S_BIN)" % BIN)
        saved = fm.TARGET, fm.SCALE
        self.addCleanup(lambda: (setattr(fm, "TARGET", saved[0]), setattr(fm, "SCALE", saved[1])))
        env = dict(os.environ)
        self.addCleanup(lambda: (os.environ.clear(), os.environ.update(env)))
        for k in [k for k in os.environ if k.startswith("RIGELK8S_TEST_")]:
            del os.environ[k]
        fm.set_target("real")
        self.dir = tmpdir()
        self.addCleanup(shutil.rmtree, self.dir, True)

    def render(self, **over):
        rf = write_rigelfile(self.dir, fm.orchestration_overrides(orchestration("fm", **over)))
        p = subprocess.run([BIN, "render", "-f", rf, "-o", "json"], capture_output=True, text=True, timeout=30)
        self.assertEqual(p.returncode, 0, p.stderr)
        objs = {(o["kind"], o["metadata"]["name"]): o for o in json.loads(p.stdout)}
        return objs

    def container(self, objs, deployment):
        [c] = objs[("Deployment", deployment)]["spec"]["template"]["spec"]["containers"]
        return c

    def test_good_application_and_master_run_with_busybox_alone(self):
        objs = self.render()
        app = self.container(objs, "rigel-k8s-application")
        self.assertEqual(app["image"], "busybox:1.36")
        self.assertEqual(app["command"], ["sh", "-c", "exec sleep 2147483647"])
        self.assertEqual(app["readinessProbe"]["exec"]["command"], ["sh", "-c", "test ! -e /etc/alpine-release"])
        master = self.container(objs, "ros-master")
        self.assertEqual(master["image"], "busybox:1.36")
        self.assertEqual((master["command"], master["args"]), (["sh", "-c"], ["exec httpd -f -p 11311 -h /tmp"]))
        self.assertEqual(master["readinessProbe"]["tcpSocket"]["port"], 11311)
        # The tests' "fast-ssd" becomes the cluster's default class.
        self.assertNotIn("storageClassName", objs[("PersistentVolumeClaim", "data-volume-pvc")]["spec"])

    def test_each_failure_mode_has_its_real_equivalent(self):
        self.assertEqual(self.container(self.render(application_image=fm.EMULATOR["imagepull"]),
                                        "rigel-k8s-application")["image"], "busybox:rigelk8s-test-no-such-tag")
        self.assertEqual(self.container(self.render(application_image=fm.EMULATOR["crashloop"]),
                                        "rigel-k8s-application")["image"], "registry.k8s.io/pause:3.9")
        self.assertEqual(self.container(self.render(application_image=fm.EMULATOR["never-ready"]),
                                        "rigel-k8s-application")["image"], "alpine:3.19")
        master = self.container(self.render(ros_master_image=fm.EMULATOR["master-never-ready"]), "ros-master")
        self.assertEqual((master["image"], master["args"]), ("alpine:3.19", ["exec sleep 2147483647"]))
        self.assertEqual(fm.image("crashloop"), "registry.k8s.io/pause:3.9")
        self.assertEqual(fm.good("app:2.0", 1), "busybox:1.34")
        self.assertEqual(fm.within(10), 60)

    def test_images_come_from_the_environment(self):
        os.environ.update({"RIGELK8S_TEST_IMAGE": "mirror.lab:5000/busybox:1.36",
                           "RIGELK8S_TEST_CRASH_IMAGE": "mirror.lab:5000/pause:3.9",
                           "RIGELK8S_TEST_STORAGE_CLASS": "local-path", "RIGELK8S_TEST_TIME_SCALE": "2"})
        fm.set_target("real")
        objs = self.render()
        self.assertEqual(self.container(objs, "rigel-k8s-application")["image"], "mirror.lab:5000/busybox:1.36")
        self.assertEqual(objs[("PersistentVolumeClaim", "data-volume-pvc")]["spec"]["storageClassName"], "local-path")
        self.assertEqual(fm.image("imagepull"), "mirror.lab:5000/busybox:rigelk8s-test-no-such-tag")
        self.assertEqual(fm.image("crashloop"), "mirror.lab:5000/pause:3.9")
        self.assertEqual(fm.within(10), 20)


if __name__ == "__main__":
    unittest.main()
