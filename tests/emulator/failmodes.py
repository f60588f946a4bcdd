"""The one table of failure modes (and good images) the e2e tests use.

On the kube-emulator the kubelet is simulated: the image NAME selects the pod's fate
(tests/kube-emulator/README.md, "Kubelet"). A real kubelet runs containers, so on a real
cluster every mode has a real equivalent: a container that cannot start for a crash
loop, a tag that does not exist for a pull failure, a readiness probe that never passes,
a nodeSelector that no node matches.

Which column applies is the TARGET: "emulator" when the tests start their own emulator,
or when the cluster under test answers /version as the kube-emulator (it runs no
containers, so busybox would simply be Ready there); "real" otherwise. RIGELK8S_TEST_FAILMODES
(emulator|real) forces it.

Images are configurable for air-gapped clusters (they must be pullable by the nodes):
  RIGELK8S_TEST_IMAGE          a small image with sh, sleep and httpd (default busybox:1.36)
  RIGELK8S_TEST_IMAGES_MORE    more tags of it for updates, comma separated
                               (default busybox:1.35,busybox:1.34,busybox:1.33,busybox:1.32)
  RIGELK8S_TEST_CRASH_IMAGE    an image without a shell: the container command cannot
                               start, the kubelet restarts it: CrashLoopBackOff
                               (default registry.k8s.io/pause:3.9)
  RIGELK8S_TEST_NEVER_READY_IMAGE  an image with sh and sleep in which the readiness probe
                               below fails (default alpine:3.19: it has /etc/alpine-release)
  RIGELK8S_TEST_STORAGE_CLASS  the class for the tests' volumes (default: the cluster's default)
  RIGELK8S_TEST_TIME_SCALE     multiplies the tests' time bounds in cluster mode (default 6
                               on a real cluster: image pulls, a 10 s first crash back-off;
                               3 on a kube-emulator started without the tests' knobs)"""
import os

TARGET = "emulator"

# Emulator image names: substrings its simulated kubelet acts on.
EMULATOR = {
    "good": "registry.example.com/robot/app:1.0",
    "crashloop": "app:crashloop",
    "imagepull": "registry.example.com/app:imagepull-fail",
    "never-ready": "app:never-ready",
    "master-never-ready": "ros:never-ready",
    "master-imagepull": "ros:imagepull-fail",
}

# The readiness probe every application gets on a real cluster: passes in the good images,
# fails in the never-ready one.
REAL_READINESS = "test ! -e /etc/alpine-release"
# Containers that stay up with nothing but busybox: the application sleeps, the master
# serves TCP 11311 (its readiness probe is a TCP check on that port).
REAL_APP_COMMAND = ["sh", "-c", "exec sleep 2147483647"]
REAL_MASTER_COMMAND = ["sh", "-c"]
REAL_MASTER_ARGS = ["exec httpd -f -p 11311 -h /tmp"]
# A nodeSelector no node matches: the same knob on both targets.
UNSCHEDULABLE = {"gpu": "true"}


def _env_list(name, default):
    return [s.strip() for s in os.environ.get(name, default).split(",") if s.strip()]


def real_images():
    good = os.environ.get("RIGELK8S_TEST_IMAGE", "busybox:1.36")
    more = _env_list("RIGELK8S_TEST_IMAGES_MORE", "busybox:1.35,busybox:1.34,busybox:1.33,busybox:1.32")
    repo = good.rsplit(":", 1)[0] if ":" in good.rsplit("/", 1)[-1] else good
    return {
        "good": good,
        "more": more,
        "crashloop": os.environ.get("RIGELK8S_TEST_CRASH_IMAGE", "registry.k8s.io/pause:3.9"),
        "imagepull": repo + ":rigelk8s-test-no-such-tag",
        "never-ready": os.environ.get("RIGELK8S_TEST_NEVER_READY_IMAGE", "alpine:3.19"),
    }


SCALE = 1.0


def set_target(target):
    """Cluster mode: the cluster under test is a kube-emulator ("emulator") or not ("real").
    Time bounds scale by RIGELK8S_TEST_TIME_SCALE, by default 3 on an emulator started
    without the tests' knobs (pods Ready after 0.5 s, not 0.2 s) and 6 on a real cluster."""
    global TARGET, SCALE
    assert target in ("emulator", "real"), target
    TARGET = os.environ.get("RIGELK8S_TEST_FAILMODES") or target
    SCALE = float(os.environ.get("RIGELK8S_TEST_TIME_SCALE") or (6 if target == "real" else 3))


def real():
    return TARGET == "real"


def image(mode):
    """The image that gives `mode` (good, crashloop, imagepull, never-ready,
    master-never-ready, master-imagepull) on the current target."""
    if not real():
        return EMULATOR[mode]
    imgs = real_images()
    return imgs[mode.replace("master-", "")]


def real_equivalent(name):
    """An emulator image name (EMULATOR) -> the real image of the same mode; other names
    as they are."""
    for mode, emu_name in EMULATOR.items():
        if name == emu_name:
            return image(mode)
    return name


def good(emulator_name, n=0):
    """Another good image: on the emulator any name works (tests keep their readable
    names); on a real cluster the n-th extra tag of RIGELK8S_TEST_IMAGE."""
    if not real():
        return emulator_name
    more = real_images()["more"]
    return more[n % len(more)]


def orchestration_overrides(orch):
    """On a real cluster: the commands and the probe that make the images above behave as
    the table says. Merged into a Rigelfile's orchestration block (returns a new dict)."""
    if not real():
        return orch
    o = dict(orch)
    imgs = real_images()
    o["application_image"] = real_equivalent(o.get("application_image") or EMULATOR["good"])
    if o.get("ros_master_image") in (None, EMULATOR["master-never-ready"], EMULATOR["master-imagepull"]):
        o["ros_master_image"] = {EMULATOR["master-never-ready"]: imgs["never-ready"],
                                 EMULATOR["master-imagepull"]: imgs["imagepull"]}.get(o.get("ros_master_image"),
                                                                                      imgs["good"])
    if o.get("readiness") is not None:
        o["readiness"] = dict(o["readiness"], command=REAL_READINESS)
    extra = dict(o.get("additional_k8s_params") or {})
    app = extra.get("application") or {}
    tmpl = dict(app.get("spec", {}).get("template", {}))
    spec = dict(tmpl.get("spec", {}))
    spec["containers"] = [{"name": "ros-app", "command": REAL_APP_COMMAND}]
    tmpl["spec"] = spec
    extra["application"] = dict(app, spec=dict(app.get("spec", {}), template=tmpl))
    # A master that never gets Ready: it runs, but nothing listens on 11311.
    args = REAL_APP_COMMAND[2:] if o["ros_master_image"] == imgs["never-ready"] else REAL_MASTER_ARGS
    extra["ros_master"] = {"spec": {"template": {"spec": {"containers": [
        {"name": "ros-master", "command": REAL_MASTER_COMMAND, "args": args}]}}}}
    o["additional_k8s_params"] = extra
    # The tests' class "fast-ssd" stands for "a class that exists": the cluster's default
    # one (or RIGELK8S_TEST_STORAGE_CLASS). Unknown classes in failure tests stay as they are.
    storage = o.get("persistent_storage")
    if storage and storage.get("volumes"):
        volumes = []
        for v in storage["volumes"]:
            v = dict(v)
            if v.get("storage_class") == "fast-ssd":
                v.pop("storage_class")
                if os.environ.get("RIGELK8S_TEST_STORAGE_CLASS"):
                    v["storage_class"] = os.environ["RIGELK8S_TEST_STORAGE_CLASS"]
            volumes.append(v)
        o["persistent_storage"] = dict(storage, volumes=volumes)
    return o


def within(seconds):
    """A time bound of the tests, scaled on a real cluster."""
    return seconds * SCALE
