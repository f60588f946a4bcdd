#!/usr/bin/env bash
# Start-up: `rigelk8s run` of an empty script, beside `lua5.4` running the same file; then
# `render` of examples/Rigelfile.example with the Lua library embedded as bytecode (the
# default build, RK_EMBED_BYTECODE=ON) against the same source embedded as text
# (RK_EMBED_BYTECODE=OFF) and as bytecode without debug information (RK_EMBED_MODE=
# stripped), both built here from this tree in $STARTUP_BUILD_DIR (incremental after the
# first run). The three binaries are run in turn, round after round, so that the load of
# the machine falls on all of them alike; each is timed by wall clock and by its own CPU
# time (user + system, from wait4).
#   bash bench/startup.sh [BIN]     (BIN: the default build's rigelk8s)
set -euo pipefail
bin=$(realpath "${1:-build/rigelk8s}")
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
variants=${STARTUP_BUILD_DIR:-$root/build-bench}
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
: > "$tmp/empty.lua"
echo "== start-up (target: rigelk8s median <= 3 ms)"
# The floor: starting any process at all on this machine, measured the same way.
"$here/timeit.py" -n 21 --label "/bin/true (the floor) " -- /bin/true
"$here/timeit.py" -n 21 --label "rigelk8s run empty.lua" -- "$bin" run "$tmp/empty.lua"
if command -v lua5.4 >/dev/null; then
  "$here/timeit.py" -n 21 --label "lua5.4 empty.lua     " -- lua5.4 "$tmp/empty.lua"
fi

mode=$(sed -n 's/^RK_EMBED_BYTECODE:BOOL=//p' "$(dirname "$bin")/CMakeCache.txt" 2>/dev/null || true)
if [ "${mode:-ON}" != ON ]; then
  echo "startup.sh: $bin embeds the library as text (RK_EMBED_BYTECODE=$mode); give the default build" >&2
  exit 1
fi
build_variant() { # NAME CMAKE-ARGS...
  local dir=$variants/$1; shift
  if [ ! -f "$dir/CMakeCache.txt" ]; then
    cmake -S "$root" -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DRK_TESTS=OFF "$@" > /dev/null
  fi
  cmake --build "$dir" --target rigelk8s -j "$(nproc)" > "$tmp/build.log" 2>&1 ||
    { cat "$tmp/build.log" >&2; echo "startup.sh: cannot build $dir" >&2; exit 1; }
  echo "$dir/rigelk8s"
}
echo "== render examples/Rigelfile.example: library embedded as bytecode vs as text (target: <= 3 ms)"
text=$(build_variant text -DRK_EMBED_BYTECODE=OFF)
stripped=$(build_variant stripped -DRK_EMBED_BYTECODE=ON -DRK_EMBED_MODE=stripped)
cd "$root"
python3 - "$bin" "$text" "$stripped" <<'PY'
import os, statistics, subprocess, sys, time
bins = {"bytecode (default)": sys.argv[1], "text": sys.argv[2], "bytecode, stripped": sys.argv[3]}
cmd = ["render", "-f", "examples/Rigelfile.example"]
want = None
for label, b in bins.items():  # same output from all three, and a warm-up run
    out = subprocess.run([b] + cmd, capture_output=True, check=True).stdout
    if want is not None and out != want:
        sys.exit("startup.sh: %s renders differently" % label)
    want = out
# Wall time, and the CPU time (user + system) of the process itself, which a loaded
# machine disturbs less.
wall = {label: [] for label in bins}
cpu = {label: [] for label in bins}
devnull = os.open(os.devnull, os.O_WRONLY)
for _ in range(41):
    for label, b in bins.items():
        t0 = time.perf_counter()
        p = subprocess.Popen([b] + cmd, stdout=devnull)
        _, status, ru = os.wait4(p.pid, 0)
        wall[label].append((time.perf_counter() - t0) * 1000)
        p.returncode = os.waitstatus_to_exitcode(status)
        if p.returncode != 0:
            sys.exit("startup.sh: %s exited %d" % (label, p.returncode))
        cpu[label].append((ru.ru_utime + ru.ru_stime) * 1000)
ref_wall, ref_cpu = statistics.median(wall["text"]), statistics.median(cpu["text"])
for label in bins:
    w, c = statistics.median(wall[label]), statistics.median(cpu[label])
    print("render, library as %-19s median %.2f ms wall (min %.2f), %.2f ms CPU; %.2fx / %.2fx of text%s" % (
        label + ":", w, min(wall[label]), c, w / ref_wall, c / ref_cpu,
        "  [<= 3 ms %s]" % ("ok" if w <= 3 else "MISSED") if label.startswith("bytecode (") else ""))
PY
# Instructions executed (valgrind's callgrind, Ir): the same comparison, independent of
# the machine's load.
if command -v valgrind > /dev/null; then
  for v in "bytecode (default):$bin" "text:$text" "bytecode, stripped:$stripped"; do
    label=${v%%:*} b=${v#*:}
    ir=$(valgrind --tool=callgrind --callgrind-out-file=/dev/null "$b" render -f examples/Rigelfile.example 2>&1 >/dev/null |
         sed -n 's/.*Collected : \([0-9]*\).*/\1/p')
    echo "$label $ir" 
  done | awk '{ir[NR]=$NF; $NF=""; lab[NR]=$0} END {for (i = 1; i <= NR; i++)
    printf "render, library as %-19s %.2f M instructions; %.2fx of text\n", lab[i], ir[i] / 1e6, ir[i] / ir[2]}'
fi
