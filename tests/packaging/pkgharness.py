"""Shared bits of the packaging tests: where the source and the binary under test are."""
import os
import subprocess

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.environ.get("RK_SOURCE_DIR") or os.path.dirname(os.path.dirname(HERE))
BIN = os.environ.get("RIGELK8S_BIN") or os.path.join(ROOT, "build", "rigelk8s")
BUILD = os.environ.get("RK_BUILD_DIR") or os.path.dirname(BIN)


def clean_env(**extra):
    """The environment without rigelk8s's own overrides, so that what is tested is what
    a user gets (no RIGELK8S_LUA_DIR, no RIGELK8S_LIBDIR)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("RIGELK8S_")}
    env.update(extra)
    return env


def run(args, **kw):
    kw.setdefault("env", clean_env())
    kw.setdefault("timeout", 120)
    return subprocess.run(args, capture_output=True, text=True, **kw)
