"""Real ROS 1 parts for the graph-gate tests (built on tests/emulator/emuharness.py): Debian's rosmaster on a free loopback port,
and rospy talker / listener / service nodes (tests/e2e/rosnode.py). Nothing here models
ROS: these are the real master and client library (python3-rosmaster, python3-rospy).

Debian's rospy lives in /usr/lib/python3/dist-packages, which only Debian's own python3
sees; ROS_PYTHON is the first interpreter that can import rospy (None: tests skip)."""
import os
import shutil
import subprocess
import sys
import tempfile
import time
import xmlrpc.client

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "emulator"))
from emuharness import free_port, stop_process  # noqa: E402

NODE_SCRIPT = os.path.join(HERE, "rosnode.py")


def _ros_python():
    for cand in ("/usr/bin/python3", shutil.which("python3")):
        if cand and os.access(cand, os.X_OK):
            r = subprocess.run([cand, "-c", "import rospy, rosmaster, std_msgs.msg, roscpp.srv"],
                               capture_output=True)
            if r.returncode == 0:
                return cand
    return None


ROS_PYTHON = _ros_python()
ROSMASTER = shutil.which("rosmaster")
MISSING = None if ROS_PYTHON and ROSMASTER else (
    "the real ROS 1 master and rospy are not installed (apt-get install python3-rosmaster "
    "python3-rospy python3-roslaunch, or make deps)")


class RosMaster:
    """Debian's rosmaster (--core) on 127.0.0.1:port; stop() ends it by its pid."""

    def __init__(self):
        self.port = free_port()
        self.home = tempfile.mkdtemp(prefix="ros-home-")
        self.uri = "http://127.0.0.1:%d" % self.port
        self.env = dict(os.environ, ROS_HOME=self.home, ROS_IP="127.0.0.1", ROS_MASTER_URI=self.uri)
        self.log = open(os.path.join(self.home, "master.out"), "w")
        self.proc = subprocess.Popen([ROS_PYTHON, ROSMASTER, "--core", "-p", str(self.port)],
                                     stdout=self.log, stderr=subprocess.STDOUT, env=self.env)
        self.nodes = []
        end = time.monotonic() + 30
        while True:
            try:
                with xmlrpc.client.ServerProxy(self.uri) as proxy:
                    code, _, _ = proxy.getSystemState("/test")
                if code == 1:
                    break
            except OSError:
                pass
            if self.proc.poll() is not None or time.monotonic() > end:
                self.stop()
                raise RuntimeError("rosmaster did not start on port %d" % self.port)
            time.sleep(0.05)

    def state(self):
        with xmlrpc.client.ServerProxy(self.uri) as proxy:
            return proxy.getSystemState("/test")[2]

    def node(self, name, role):
        """Starts a rospy node (role: talker, listener, server, idle) and waits until it
        is registered with the master."""
        n = RosNode(self, name, role)
        self.nodes.append(n)
        return n

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)

    def stop(self):
        for n in self.nodes:
            n.stop()
        self.kill()
        self.log.close()
        shutil.rmtree(self.home, True)


class RosNode:
    def __init__(self, master, name, role):
        self.name = "/" + name
        self.proc = subprocess.Popen([ROS_PYTHON, NODE_SCRIPT, name, role], stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, env=master.env, text=True)
        line = self.proc.stdout.readline()
        if "up" not in line:
            self.stop()
            raise RuntimeError("rospy node %s did not start: %r" % (name, line))
        end = time.monotonic() + 20
        with xmlrpc.client.ServerProxy(master.uri) as proxy:
            while proxy.lookupNode("/test", self.name)[0] != 1:
                if time.monotonic() > end:
                    self.stop()
                    raise RuntimeError("node %s never registered" % self.name)
                time.sleep(0.05)

    def stop(self):
        stop_process(self.proc)


def point_proxy(emu, namespace, target=None, forbidden=False, service="ros-master", port=11311):
    """Registers the emulator's service proxy for ros-master:11311 in namespace."""
    body = {"namespace": namespace, "service": service, "port": str(port)}
    if forbidden:
        body["forbidden"] = True
    else:
        body["target"] = target
    st, _, b = emu.admin("service-proxy", body)
    assert st == 200, b


def proxy_requests(emu):
    st, _, b = emu.admin("service-proxy")
    assert st == 200, b
    return sum(r["requests"] for r in b["routes"])
