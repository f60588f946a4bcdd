#!/usr/bin/env python3
"""Times a command: timeit.py [-n RUNS] [--label L] -- CMD ARGS...

Runs CMD RUNS times (default 11) after one warm-up run, and prints
`LABEL: median X ms (min Y, max Z, n=RUNS), peak RSS R KiB`. With --json, prints one JSON
object instead. Peak RSS is the largest ru_maxrss of the runs (the child and its own
children). Exit status is non-zero if any run fails."""
import argparse, json, os, resource, statistics, subprocess, sys, time


def run_once(cmd, stdin_path):
    stdin = open(stdin_path, "rb") if stdin_path else subprocess.DEVNULL
    t0 = time.perf_counter()
    p = subprocess.Popen(cmd, stdin=stdin, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, err = p.communicate()
    dt = time.perf_counter() - t0
    return p.returncode, dt, err


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
    times, peak = [], 0
    for _ in range(a.n):
        before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        rc, dt, err = run_once(cmd, a.stdin)
        after = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        if rc != 0:
            sys.stderr.write(err.decode(errors="replace"))
            sys.exit(f"timeit: {' '.join(cmd)} exited {rc}")
        times.append(dt * 1000)
        peak = max(peak, after if after > before else 0)
    # ru_maxrss of RUSAGE_CHILDREN is the max over all waited-for children so far, so the
    # figure is only exact for the largest run; that is the one we report.
    res = {"label": a.label or " ".join(cmd), "median_ms": statistics.median(times),
           "min_ms": min(times), "max_ms": max(times), "n": a.n, "peak_rss_kib": peak}
    if a.json:
        print(json.dumps(res))
    else:
        print(f"{res['label']}: median {res['median_ms']:.2f} ms (min {res['min_ms']:.2f}, "
              f"max {res['max_ms']:.2f}, n={a.n}), peak RSS {peak} KiB")


if __name__ == "__main__":
    main()
