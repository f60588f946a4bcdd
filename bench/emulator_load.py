#!/usr/bin/env python3
"""Load benchmark for the kube-emulator (stdlib only).

Starts the emulator on 127.0.0.1, opens 50 concurrent watches on ConfigMaps, creates
2,000 ConfigMaps from several keep-alive client threads, checks that every watch saw
every object and that no request failed, then lists everything with pagination.
Prints throughput and latency numbers. Exit status 0 only when no error occurred.

    python3 bench/emulator_load.py [--objects 2000] [--watches 50] [--clients 8] [--tls]
"""
import argparse
import os
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "tests", "emulator"))
from emuharness import Emulator, WatchStream  # noqa: E402


def pct(values, p):
    if not values:
        return 0.0
    values = sorted(values)
    return values[min(len(values) - 1, int(len(values) * p / 100.0))]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--objects", type=int, default=2000)
    ap.add_argument("--watches", type=int, default=50)
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--tls", action="store_true")
    ap.add_argument("--deadline", type=float, default=120.0, help="give up after this many seconds")
    args = ap.parse_args()

    t_start = time.time()
    emu = Emulator(tls=args.tls, ready_delay=0)
    errors = []
    try:
        print("emulator %s started in %.3fs" % (emu.url, emu.startup))
        ns = "bench"
        emu.ok("POST", "/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
        rv = emu.ok("GET", "/api/v1/namespaces/%s/configmaps?limit=1" % ns)["metadata"]["resourceVersion"]

        # ---- watches
        seen = [set() for _ in range(args.watches)]
        done = threading.Event()
        watch_ready = threading.Barrier(args.watches + 1)

        def watcher(i):
            try:
                w = WatchStream(emu, "/api/v1/namespaces/%s/configmaps?watch=true&resourceVersion=%s&allowWatchBookmarks=true"
                                % (ns, rv), timeout=args.deadline)
                watch_ready.wait()
                while len(seen[i]) < args.objects and not done.is_set():
                    ev = w.next()
                    if ev is None:
                        errors.append("watch %d ended early" % i)
                        return
                    if ev["type"] == "ADDED":
                        seen[i].add(ev["object"]["metadata"]["name"])
                    elif ev["type"] == "ERROR":
                        errors.append("watch %d error %s" % (i, ev))
                        return
                w.close()
            except Exception as e:
                errors.append("watch %d: %r" % (i, e))
                try:
                    watch_ready.abort()
                except Exception:
                    pass

        wts = [threading.Thread(target=watcher, args=(i,), daemon=True) for i in range(args.watches)]
        for t in wts:
            t.start()
        watch_ready.wait()
        print("%d watches open" % args.watches)

        # ---- writers
        lat = []
        lat_lock = threading.Lock()
        per = args.objects // args.clients
        extra = args.objects - per * args.clients

        def writer(c):
            my = []
            n = per + (1 if c < extra else 0)
            conn = emu.conn(timeout=args.deadline)
            for j in range(n):
                name = "cm-%d-%d" % (c, j)
                body = {"apiVersion": "v1", "kind": "ConfigMap",
                        "metadata": {"name": name, "labels": {"bench": "yes", "client": str(c)}},
                        "data": {"payload": "x" * 256, "index": str(j)}}
                t0 = time.perf_counter()
                try:
                    st, _, b = emu.request("POST", "/api/v1/namespaces/%s/configmaps" % ns, body, conn=conn)
                except Exception as e:
                    errors.append("create %s: %r" % (name, e))
                    continue
                my.append(time.perf_counter() - t0)
                if st != 201:
                    errors.append("create %s -> %d %s" % (name, st, b))
            conn.close()
            with lat_lock:
                lat.extend(my)

        t0 = time.perf_counter()
        cts = [threading.Thread(target=writer, args=(c,)) for c in range(args.clients)]
        for t in cts:
            t.start()
        for t in cts:
            t.join()
        t_create = time.perf_counter() - t0

        # ---- watch delivery
        end = time.time() + max(5.0, args.deadline - (time.time() - t_start))
        for t in wts:
            t.join(max(0.0, end - time.time()))
        t_deliver = time.perf_counter() - t0
        done.set()
        incomplete = [i for i in range(args.watches) if len(seen[i]) != args.objects]
        if incomplete:
            errors.append("%d watches incomplete (e.g. watch %d saw %d/%d)" % (
                len(incomplete), incomplete[0], len(seen[incomplete[0]]), args.objects))

        # ---- paginated list
        t1 = time.perf_counter()
        total, cont, pages = 0, "", 0
        while True:
            q = "labelSelector=bench%3Dyes&limit=500" + ("&continue=" + cont if cont else "")
            b = emu.ok("GET", "/api/v1/namespaces/%s/configmaps?%s" % (ns, q))
            total += len(b["items"])
            pages += 1
            cont = b["metadata"].get("continue")
            if not cont:
                break
        t_list = time.perf_counter() - t1
        if total != args.objects:
            errors.append("list returned %d objects, expected %d" % (total, args.objects))
        state = emu.ok("GET", "/_emulator/state", token=None)

        print("created %d objects with %d clients in %.2fs: %.0f creates/s" % (
            args.objects, args.clients, t_create, args.objects / t_create))
        print("create latency ms: p50 %.2f  p90 %.2f  p99 %.2f  max %.2f" % (
            pct(lat, 50) * 1e3, pct(lat, 90) * 1e3, pct(lat, 99) * 1e3, max(lat or [0]) * 1e3))
        print("watch delivery: %d watches x %d events = %d events, all delivered after %.2fs (%.0f events/s)" % (
            args.watches, args.objects, args.watches * args.objects, t_deliver,
            args.watches * args.objects / t_deliver))
        print("paginated list of %d objects in %d pages: %.3fs" % (total, pages, t_list))
        print("server: resourceVersion %s, %d writes, %d requests, %d open watches at end" % (
            state["resourceVersion"], state["writes"], state["requests"], state["watches"]))
    finally:
        emu.stop()
    if errors:
        print("ERRORS (%d):" % len(errors))
        for e in errors[:20]:
            print("  " + e)
        print("RESULT: FAIL")
        return 1
    print("errors: 0")
    print("RESULT: OK (total %.1fs)" % (time.time() - t_start))
    return 0


if __name__ == "__main__":
    sys.exit(main())
