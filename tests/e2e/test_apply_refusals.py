"""End-to-end: what a workflow says when the API server refuses its writes for reasons a
real kube-apiserver has (../shared/apiserver-transcripts/09, 10, 11): a namespace being
deleted, immutable fields of claims and Deployments, and that `rigelk8s delete` (a
Foreground delete) returns only once the dependents are gone. Against the Kubernetes API
emulator; the exact real bodies are checked in tests/lua/explain_spec.lua.

Run: RIGELK8S_BIN=build/rigelk8s python3 -m unittest -v test_apply_refusals   (from tests/e2e)"""
import http.client
import json
import os
import sys
import threading
import time
import unittest
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "emulator"))  # tests/emulator/emuharness.py
from emuharness import orchestration, rigelk8s, start_emulator, write_rigelfile

PREFIX = "jobs.deploy_k8s.with.orchestration"


class ApplyRefusalTest(unittest.TestCase):
    def setUp(self):
        start_emulator(self, nodes="robot-1:deploymentType=local")

    def rk(self, code, command, rf, *args):
        r = rigelk8s(command, "-f", rf, "--kubeconfig", self.emu.kubeconfig, *args, timeout=120)
        self.assertEqual(r.code, code, r)
        return r

    def test_deploy_into_a_terminating_namespace_says_wait_or_use_another(self):
        # A namespace held in Terminating by a finalizer, as one being emptied is.
        st, _, body = self.emu.post("/api/v1/namespaces", {
            "apiVersion": "v1", "kind": "Namespace",
            "metadata": {"name": "going", "finalizers": ["example.com/hold"]}})
        self.assertEqual(st, 201, body)
        st, _, body = self.emu.delete("/api/v1/namespaces/going")
        self.assertEqual(st, 200, body)
        self.assertIsNotNone(self.k.get("Namespace", None, "going")["metadata"].get("deletionTimestamp"))
        rf = write_rigelfile(self.dir, orchestration("going"))
        r = self.rk(1, "deploy", rf, "--timeout", "30s")
        self.assertIn("namespace going is being deleted (Terminating)", r.stderr)
        self.assertIn("wait until `kubectl get namespace going` answers NotFound", r.stderr)
        self.assertIn("%s.namespace" % PREFIX, r.stderr)
        self.assertNotIn("RBAC", r.stderr)
        self.assertEqual(r.stderr.count("being deleted"), 1, r)
        # Nothing new was created in it.
        self.assertIsNone(self.k.get("Deployment", "going", "rigel-k8s-application"))

    def test_a_script_applying_into_a_terminating_namespace_gets_the_same_error_not_a_403_stack(self):
        # No Namespace object among the script's objects: the server's 403s are what tell.
        st, _, body = self.emu.post("/api/v1/namespaces", {
            "apiVersion": "v1", "kind": "Namespace",
            "metadata": {"name": "going", "finalizers": ["example.com/hold"]}})
        self.assertEqual(st, 201, body)
        st, _, body = self.emu.delete("/api/v1/namespaces/going")
        self.assertEqual(st, 200, body)
        script = os.path.join(self.dir, "cms.lua")
        with open(script, "w") as f:
            f.write('local wf = require "rigelk8s.workflow"\n'
                    'return wf.main(function(ctx)\n'
                    '  wf.config(ctx)\n'
                    '  local objs = {}\n'
                    '  for i = 1, 3 do\n'
                    '    objs[i] = {apiVersion = "v1", kind = "ConfigMap", data = {k = "v"},\n'
                    '               metadata = {name = "cm-" .. i, namespace = "going"}}\n'
                    '  end\n'
                    '  wf.apply(ctx, objs)\n'
                    '  return 0\n'
                    'end, arg, {command = "cms"})\n')
        rf = write_rigelfile(self.dir, orchestration("going"))
        r = rigelk8s("run", script, "-f", rf, "--kubeconfig", self.emu.kubeconfig, timeout=60)
        self.assertEqual(r.code, 1, r)
        self.assertIn("namespace going is being deleted (Terminating)", r.stderr)
        self.assertEqual(r.stderr.count("being deleted"), 1, r)
        self.assertNotIn("RBAC", r.stderr)
        self.assertNotIn("forbidden", r.stderr)

    def test_changing_a_claims_storage_class_names_the_rigelfile_field_and_the_fix(self):
        rf = write_rigelfile(self.dir, orchestration("pvc"))
        self.rk(0, "deploy", rf, "--timeout", "60s")
        o = orchestration("pvc")
        o["persistent_storage"]["volumes"][0]["storage_class"] = "slow-hdd"
        rf2 = write_rigelfile(self.dir, o, name="Rigelfile2")
        r = self.rk(1, "deploy", rf2, "--timeout", "30s")
        self.assertIn("%s.persistent_storage.volumes[0].storage_class: the storage class of an existing claim "
                      "cannot change (the claim has fast-ssd, the Rigelfile asks for slow-hdd)" % PREFIX, r.stderr)
        self.assertIn("fix: keep storage_class at fast-ssd, or delete and recreate the claim", r.stderr)
        self.assertIn("data", r.stderr)
        self.assertRegex(r.stderr, r"LOST|kept on PersistentVolume|depends on its PersistentVolume's reclaimPolicy")

    def test_a_deployment_selector_that_cannot_change_is_explained(self):
        # The application Deployment was made by another tool, selecting other labels.
        st, _, body = self.emu.post("/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace",
                                                           "metadata": {"name": "sel"}})
        self.assertEqual(st, 201, body)
        st, _, body = self.emu.post("/apis/apps/v1/namespaces/sel/deployments", {
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "rigel-k8s-application"},
            "spec": {"replicas": 1, "selector": {"matchLabels": {"legacy": "yes"}},
                     "template": {"metadata": {"labels": {"legacy": "yes"}},
                                  "spec": {"containers": [{"name": "ros-app", "image": "old:1"}]}}}})
        self.assertEqual(st, 201, body)
        rf = write_rigelfile(self.dir, orchestration("sel"))
        # First the other tool's fields: a conflict that names it and the fix.
        r = self.rk(1, "deploy", rf, "--timeout", "30s")
        self.assertRegex(r.stderr, r'Deployment/rigel-k8s-application: conflicts with changes another tool made '
                                   r'\(field manager "[^"]+" owns \.spec\.')
        self.assertIn("fix: rerun with --force-conflicts", r.stderr)
        # Taking the fields over still cannot change the selector.
        r = self.rk(1, "deploy", rf, "--force-conflicts", "--timeout", "30s")
        self.assertIn("spec.selector of a Deployment cannot change", r.stderr)
        self.assertIn("%s.additional_k8s_params.application" % PREFIX, r.stderr)
        self.assertIn("fix: delete and recreate the Deployment (`kubectl delete deployment rigel-k8s-application "
                      "-n sel`", r.stderr)
        self.assertIn("the data on its claims is kept", r.stderr)

    def test_delete_returns_once_the_dependents_are_gone(self):
        rf = write_rigelfile(self.dir, orchestration("del"))
        self.rk(0, "deploy", rf, "--timeout", "60s")
        self.assertTrue(self.k.get("Pod", "del"))
        r = rigelk8s("delete", "-f", rf, "--kubeconfig", self.emu.kubeconfig, "-v", "--timeout", "60s", timeout=120)
        self.assertEqual(r.code, 0, r)
        # Right when it returns: no ReplicaSet and no Pod of the application or the master.
        self.assertEqual(self.k.get("ReplicaSet", "del"), [])
        self.assertEqual([p["metadata"]["name"] for p in self.k.get("Pod", "del")], [])


HOLD = 1.5  # seconds the stand-in keeps the Deployment after a Foreground delete


class ForegroundProxy:
    """A stand-in in front of the emulator that answers a Foreground DELETE of one
    Deployment as a real kube-apiserver does (transcript 11): 200 with the object marked
    deletionTimestamp + finalizers [foregroundDeletion], the object still there, and gone
    (DELETED on the watch) only HOLD seconds later, once its dependents would be. Every
    other request, watches included, passes through unchanged."""

    def __init__(self, emu, name):
        self.emu, self.name, self.deletes, self.deleted_at = emu, name, [], None
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def handle_one(self, method):
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n) if n else b""
                target = "/deployments/" + proxy.name
                if method == "DELETE" and self.path.split("?")[0].endswith(target):
                    proxy.deletes.append((self.path, body.decode()))
                    if "Foreground" in self.path or b"Foreground" in body:
                        return self.hold(self.path.split("?")[0])
                conn = http.client.HTTPConnection(proxy.emu.host, proxy.emu.port, timeout=300)
                headers = {k: v for k, v in self.headers.items()
                           if k.lower() not in ("host", "content-length", "connection")}
                conn.request(method, self.path, body=body or None, headers=headers)
                resp = conn.getresponse()
                self.send_response(resp.status)
                for k, v in resp.getheaders():
                    if k.lower() not in ("transfer-encoding", "content-length", "connection"):
                        self.send_header(k, v)
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                try:
                    while True:
                        data = resp.read1(65536)
                        if not data:
                            break
                        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
                        self.wfile.flush()
                    self.wfile.write(b"0\r\n\r\n")
                except (OSError, http.client.HTTPException):
                    # The client or the emulator closed a watch: so does the stand-in.
                    self.close_connection = True
                conn.close()

            def hold(self, path):
                st, _, obj = proxy.emu.get(path)
                obj["metadata"]["deletionTimestamp"] = "2020-01-01T00:00:00Z"
                obj["metadata"]["finalizers"] = ["foregroundDeletion"]
                out = json.dumps(obj).encode()
                self.send_response(st)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)

                def later():
                    time.sleep(HOLD)
                    proxy.emu.request("DELETE", path, {"propagationPolicy": "Foreground"})
                    proxy.deleted_at = time.monotonic()
                threading.Thread(target=later, daemon=True).start()

            def do_GET(self):
                self.handle_one("GET")

            def do_PATCH(self):
                self.handle_one("PATCH")

            def do_DELETE(self):
                self.handle_one("DELETE")

            def do_POST(self):
                self.handle_one("POST")

            def do_PUT(self):
                self.handle_one("PUT")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = "http://127.0.0.1:%d" % self.server.server_address[1]

    def kubeconfig(self, directory):
        with open(self.emu.kubeconfig) as f:
            text = f.read().replace(self.emu.url, self.url)
        path = os.path.join(directory, "kubeconfig-proxy")
        with open(path, "w") as f:
            f.write(text)
        return path

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


class ForegroundDeleteStandInTest(unittest.TestCase):
    """`rigelk8s delete` against the emulator behind ForegroundProxy (a stand-in for a
    real server's foregroundDeletion finalizer, which the emulator does not model)."""

    def setUp(self):
        start_emulator(self, nodes="robot-1:deploymentType=local")

    def test_stand_in_delete_waits_until_the_foreground_deleted_deployment_is_gone(self):
        rf = write_rigelfile(self.dir, orchestration("fg"))
        r = rigelk8s("deploy", "-f", rf, "--kubeconfig", self.emu.kubeconfig, "--timeout", "60s", timeout=120)
        self.assertEqual(r.code, 0, r)
        proxy = ForegroundProxy(self.emu, "rigel-k8s-application")
        self.addCleanup(proxy.stop)
        r = rigelk8s("delete", "-f", rf, "--kubeconfig", proxy.kubeconfig(self.dir), "--timeout", "60s", timeout=120)
        done = time.monotonic()
        self.assertEqual(r.code, 0, r)
        self.assertEqual(len(proxy.deletes), 1, proxy.deletes)
        self.assertIn("Foreground", proxy.deletes[0][0] + proxy.deletes[0][1])
        # It returned only after the server let the Deployment go, not at the 200.
        self.assertIsNotNone(proxy.deleted_at, r)
        self.assertGreaterEqual(done, proxy.deleted_at)
        self.assertGreaterEqual(r.elapsed, HOLD, r)
        self.assertIn("Deployment/rigel-k8s-application deleted", r.output)
        self.assertIsNone(self.k.get("Deployment", "fg", "rigel-k8s-application"))
        self.assertEqual(self.k.get("ReplicaSet", "fg"), [])


if __name__ == "__main__":
    unittest.main()
