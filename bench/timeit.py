#!/usr/bin/env python3
"""Times a command: timeit.py [-n RUNS] [--label L] -- CMD ARGS...

Runs CMD RUNS times (default 11) after one warm-up run, and prints
`LABEL: median X ms (min Y, max Z, n=RUNS), peak RSS R KiB`. With --json, prints one JSON
object instead. Peak RSS (the maximum resident set size) is
measured in one extra run under GNU time. Exit status is non-zero if any run fails."""
import argparse, json, os, statistics, subprocess, sys, time


def run_once(cmd, stdin_path):
    stdin = open(stdin_path, "rb") if stdin_path else subprocess.DEVNULL
    t0 = time.perf_counter()
    p = subprocess.Popen(cmd, stdin=stdin, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, err = p.communicate()
    dt = time.perf_counter() - t0
    return p.returncode, dt, err


def peak_rss(cmd, stdin_path):
    """Peak RSS in KiB of one more run, measured by GNU time (a small C program): the
    ru_maxrss of a child forked from Python would include Python's own pages."""
    import tempfile
    if not os.path.exists("/usr/bin/time"):
        return -1
    with tempfile.NamedTemporaryFile("r") as out:
        stdin = open(stdin_path, "rb") if stdin_path else subprocess.DEVNULL
        subprocess.run(["/usr/bin/time", "-f", "%M", "-o", out.name] + cmd, stdin=stdin,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        text = out.read().strip().splitlines()
        return int(text[-1]) if text and text[-1].isdigit() else -1


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("-n", type=int, default=11)
    ap.add_argument("--label", default=None)
    ap.add_argument("--stdin", default=None)
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--no-warmup", action="store_true")
    ap.add_argument("cmd", nargs=argparse.REMAINDER)
    a = ap.parse_args()
    cmd = a.cmd[1:] if a.cmd and a.cmd[0] == "--" else a.cmd
    if not cmd:
        ap.error("no command")
    if not a.no_warmup:
        run_once(cmd, a.stdin)
    times = []
    for _ in range(a.n):
        rc, dt, err = run_once(cmd, a.stdin)
        if rc != 0:
            sys.stderr.write(err.decode(errors="replace"))
            sys.exit(f"timeit: {' '.join(cmd)} exited {rc}")
        times.append(dt * 1000)
    peak = peak_rss(cmd, a.stdin)
    res = {"label": a.label or " ".join(cmd), "median_ms": statistics.median(times),
           "min_ms": min(times), "max_ms": max(times), "n": a.n, "peak_rss_kib": peak}
    if a.json:
        print(json.dumps(res))
    else:
        print(f"{res['label']}: median {res['median_ms']:.2f} ms (min {res['min_ms']:.2f}, "
              f"max {res['max_ms']:.2f}, n={a.n}), peak RSS {peak} KiB")


if __name__ == "__main__":
    main()
