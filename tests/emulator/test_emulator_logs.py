"""The kube-emulator's pods/log: follow=true as a chunked stream that ends when the pod is
deleted, sinceSeconds, tailLines, the tick lines of --log-tick, and the bad-input test
hooks (a 64 MiB line, a stream cut mid-line). Raw sockets, so the framing is checked."""
import os
import shutil
import socket
import subprocess
import threading
import time
import unittest

from emuharness import ADMIN, Emulator, pod

NS = "/api/v1/namespaces/default"


def running(p):
    cs = ((p or {}).get("status") or {}).get("containerStatuses") or []
    return bool(cs) and "running" in (cs[0].get("state") or {})


class LogStream:
    """GET a log on a raw socket; decodes the chunked body as it arrives and tells
    whether the final chunk came (complete) or the connection was dropped first."""

    def __init__(self, emu, path, timeout=20):
        self.sock = socket.create_connection((emu.host, emu.port), timeout=timeout)
        self.sock.sendall(("GET %s HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n\r\n"
                           % (path, ADMIN)).encode())
        self.raw = b""
        self.body = b""
        self.complete = False
        self.closed = False
        while b"\r\n\r\n" not in self.raw:
            self._recv()
        head, self.raw = self.raw.split(b"\r\n\r\n", 1)
        self.head = head.decode("latin-1")
        self.status = int(self.head.split()[1])
        assert "Transfer-Encoding: chunked" in self.head, self.head

    def _recv(self):
        d = self.sock.recv(1 << 20)
        if not d:
            self.closed = True
            raise EOFError
        self.raw += d

    def _decode(self):
        while not self.complete:
            if b"\r\n" not in self.raw:
                return
            size_s, rest = self.raw.split(b"\r\n", 1)
            size = int(size_s, 16)
            if len(rest) < size + 2:
                return
            if size == 0:
                self.complete = True
                return
            self.body += rest[:size]
            self.raw = rest[size + 2:]

    def until(self, pred, timeout=15):
        """Reads until pred(body) holds, the stream completes or is dropped."""
        end = time.time() + timeout
        self.sock.settimeout(0.5)
        while not pred(self.body) and not self.complete and not self.closed:
            if time.time() > end:
                raise AssertionError("timed out; got %r" % self.body[-300:])
            try:
                self._recv()
            except socket.timeout:
                continue
            except EOFError:
                break
            self._decode()
        self._decode()
        return self.body

    def close(self):
        self.sock.close()


class TestEmulatorLogs(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.emu = Emulator("--log-tick", "0.3")

    @classmethod
    def tearDownClass(cls):
        cls.emu.stop()

    def start_pod(self, name, image="nginx:1.25"):
        self.emu.ok("POST", NS + "/pods", pod(name, image=image))
        self.emu.wait_for(lambda: running(self.emu.get(NS + "/pods/" + name)[2]), msg=name + " running")

    def test_follow_streams_ticks_and_ends_when_the_pod_goes(self):
        self.start_pod("follow1")
        s = LogStream(self.emu, NS + "/pods/follow1/log?follow=true")
        try:
            self.assertEqual(s.status, 200)
            self.assertIn("Content-Type: text/plain", s.head)
            body = s.until(lambda b: b"tick 3\n" in b)
            lines = body.decode().splitlines()
            self.assertEqual(lines[0], "[emulator] main started (image nginx:1.25)")
            self.assertEqual(lines[1], "ready")
            self.assertIn("[emulator] main tick 3", lines)
            self.assertFalse(s.complete)
            self.emu.ok("DELETE", NS + "/pods/follow1")
            s.until(lambda b: False, timeout=10)
            self.assertTrue(s.complete, "the followed log must end with the final chunk once the pod is gone")
        finally:
            s.close()

    def test_plain_read_has_ticks_and_since_and_tail(self):
        self.start_pod("since1")
        time.sleep(1.6)
        st, _, b = self.emu.get(NS + "/pods/since1/log")
        lines = b.decode().splitlines()
        self.assertEqual(lines[:2], ["[emulator] main started (image nginx:1.25)", "ready"])
        self.assertIn("[emulator] main tick 3", lines)
        st, _, b = self.emu.get(NS + "/pods/since1/log?sinceSeconds=1")
        self.assertEqual(st, 200)
        recent = b.decode().splitlines()
        self.assertTrue(recent and all("tick" in l for l in recent), recent)
        self.assertLess(len(recent), len(lines))
        st, _, b = self.emu.get(NS + "/pods/since1/log?tailLines=1")
        last = b.decode().splitlines()
        self.assertEqual(len(last), 1)
        self.assertRegex(last[0], r"^\[emulator\] main tick \d+$")
        st, _, b = self.emu.get(NS + "/pods/since1/log?sinceSeconds=0")
        self.assertEqual(st, 400)
        self.assertIn("sinceSeconds", b["message"])

    def test_previous_without_a_previous_container(self):
        self.start_pod("noprev")
        st, _, b = self.emu.get(NS + "/pods/noprev/log?previous=true")
        self.assertEqual(st, 400)
        self.assertEqual(b["message"], 'previous terminated container "main" in pod "noprev" not found')

    def test_huge_line_hook(self):
        self.start_pod("huge1", image="example.com/log-huge-line:1")
        s = LogStream(self.emu, NS + "/pods/huge1/log", timeout=60)
        try:
            body = s.until(lambda b: False, timeout=60)
        finally:
            s.close()
        self.assertTrue(s.complete)
        lines = body.split(b"\n")
        self.assertEqual(lines[0], b"[emulator] main started (image example.com/log-huge-line:1)")
        self.assertEqual(len(lines[1]), 64 * 1024 * 1024)
        self.assertEqual(lines[1].strip(b"x"), b"")
        self.assertEqual(lines[2:4], [b"ready", b"after the huge line"])

    def test_cut_hook_drops_the_connection_mid_line(self):
        self.start_pod("cut1", image="example.com/log-cut:1")
        s = LogStream(self.emu, NS + "/pods/cut1/log?follow=true")
        try:
            body = s.until(lambda b: False, timeout=10)
        finally:
            s.close()
        self.assertFalse(s.complete, "a cut stream has no final chunk")
        self.assertTrue(s.closed)
        self.assertTrue(body.endswith(b"\nthis line is cut off mid-"), body)
        # Asked again for the lines after the cut, the log follows on without a cut.
        time.sleep(1.2)
        s = LogStream(self.emu, NS + "/pods/cut1/log?follow=true&sinceSeconds=1")
        try:
            body = s.until(lambda b: b"tick" in b, timeout=10)
        finally:
            s.close()
        self.assertNotIn(b"cut off", body)

    @unittest.skipUnless(shutil.which("kubectl"), "kubectl not installed")
    def test_kubectl_logs_follow_ends_when_the_pod_is_deleted(self):
        """kubectl, the judge of the emulator's fidelity, follows the chunked log and ends
        (exit 0) once the pod is gone."""
        self.start_pod("kfollow")
        env = dict(os.environ, KUBECONFIG=self.emu.kubeconfig)
        p = subprocess.Popen(["kubectl", "logs", "-f", "kfollow"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True, env=env)
        lines = []
        reader = threading.Thread(target=lambda: lines.extend(p.stdout), daemon=True)
        reader.start()
        try:
            end = time.time() + 20
            while not any("tick 2" in l for l in lines) and time.time() < end:
                time.sleep(0.05)
            self.assertTrue(any("tick 2" in l for l in lines), lines)
            self.emu.ok("DELETE", NS + "/pods/kfollow")
            self.assertEqual(p.wait(15), 0, p.stderr.read())
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
            reader.join(5)
            p.stdout.close()
            p.stderr.close()
        self.assertEqual(lines[0].rstrip("\n"), "[emulator] main started (image nginx:1.25)")


if __name__ == "__main__":
    unittest.main()
