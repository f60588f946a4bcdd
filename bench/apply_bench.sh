#!/usr/bin/env bash
# Server-side apply of 500 ConfigMaps from one file, rigelk8s (a `rigelk8s run` script
# calling c:apply_all) against `kubectl apply --server-side -f`, both talking HTTPS to
# the kube emulator. Medians of N runs (default 5) of: a first apply (objects created),
# a re-apply with no changes, and the peak RSS of each. Targets: >= 5x faster for both
# applies, peak RSS <= 1/5 of kubectl's.
#
#   bench/apply_bench.sh [path/to/rigelk8s] [runs]
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
bin=$(realpath "${1:-${RIGELK8S_BIN:-$src/build/rigelk8s}}")
runs=${2:-5}
[ "$runs" -ge 5 ] || runs=5
objects=500

[ -x "$bin" ] || { echo "apply_bench: no binary at $bin (build first)"; exit 1; }
command -v kubectl > /dev/null || { echo "apply_bench: kubectl is not installed; skipped"; exit 0; }
[ -x /usr/bin/time ] || { echo "apply_bench: /usr/bin/time is missing (apt-get install time)"; exit 1; }

work=$(mktemp -d /tmp/rk-apply-bench-XXXXXX)
emu_pid=
cleanup() {
  [ -n "$emu_pid" ] && kill "$emu_pid" 2> /dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

"$src/tests/kube-emulator/kube-emulator" --port 0 --tls --write-kubeconfig "$work/kubeconfig" \
  > "$work/emulator.out" 2> "$work/emulator.log" &
emu_pid=$!
for _ in $(seq 1 100); do
  grep -q "listening on" "$work/emulator.out" 2> /dev/null && break
  sleep 0.1
done
grep -q "listening on" "$work/emulator.out" || { echo "apply_bench: emulator did not start"; cat "$work/emulator.log"; exit 1; }
export KUBECONFIG=$work/kubeconfig
# kubectl keeps its discovery cache under HOME: give it one of its own, warmed up below.
export HOME=$work/home
mkdir -p "$HOME"

# The manifest: 500 ConfigMaps with a few keys each, no namespace (chosen per run).
python3 - "$work/configmaps.yaml" "$objects" << 'EOF'
import sys
path, n = sys.argv[1], int(sys.argv[2])
with open(path, "w") as f:
    for i in range(n):
        f.write("---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: bench-%04d\n"
                "  labels:\n    app: apply-bench\n    shard: \"%d\"\n"
                "data:\n  ROS_MASTER_URI: http://ros-master:11311\n  index: \"%d\"\n"
                "  config.yaml: |\n    rate: 10\n    frame: base_link\n    robot: r%d\n" % (i, i % 8, i, i))
EOF

cat > "$work/apply.lua" << 'EOF'
-- rigelk8s run apply.lua FILE NAMESPACE: server-side apply of every document in FILE.
local yaml = require "rigelk8s.yaml"
local k8s = require "rigelk8s.k8s"
local file, ns = ...
local docs = yaml.load_file(file, {all = true})
local c <close> = k8s.connect{namespace = ns}
local results, failed = c:apply_all(docs, {concurrency = 16})
if failed > 0 then
  for _, r in ipairs(results) do
    if not r.ok then error(r.error, 0) end
  end
end
assert(#results == #docs)
EOF

# Every run applies into a namespace of its own, so that a first apply creates objects.
cat > "$work/namespaces.lua" << 'EOF'
local k8s = require "rigelk8s.k8s"
local c <close> = k8s.connect{}
for _, name in ipairs{...} do c:apply{apiVersion = "v1", kind = "Namespace", metadata = {name = name}} end
EOF
names=(bench-warm)
for i in $(seq 1 "$runs"); do names+=("bench-rk-$i" "bench-kc-$i"); done
"$bin" run "$work/namespaces.lua" "${names[@]}"

# One timed run: prints "seconds max_rss_kib".
timed() {
  /usr/bin/time -f "%e %M" -o "$work/time.out" "$@" > /dev/null 2> "$work/run.err" || {
    echo "apply_bench: failed: $*" >&2; cat "$work/run.err" >&2; exit 1; }
  cat "$work/time.out"
}

cat > "$work/connect.lua" << 'EOF'
local k8s = require "rigelk8s.k8s"
local c <close> = k8s.connect{}
c:server_version()
EOF

rk_apply() { timed "$bin" run "$work/apply.lua" "$work/configmaps.yaml" "$1"; }
kc_apply() { timed kubectl apply --server-side -f "$work/configmaps.yaml" -n "$1"; }

# Warm-ups: kubectl fills its discovery cache, both tools fault their binaries in.
rk_apply bench-warm > /dev/null; kc_apply bench-warm > /dev/null

: > "$work/rk_first"; : > "$work/kc_first"; : > "$work/rk_again"; : > "$work/kc_again"
for i in $(seq 1 "$runs"); do
  # Interleaved, so that drift in the emulator's speed hits both tools alike.
  rk_apply "bench-rk-$i" >> "$work/rk_first"; rk_apply "bench-rk-$i" >> "$work/rk_again"
  kc_apply "bench-kc-$i" >> "$work/kc_first"; kc_apply "bench-kc-$i" >> "$work/kc_again"
done

median() { sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
col() { awk -v c="$2" '{print $c}' "$work/$1" | median; }

rk_first=$(col rk_first 1); kc_first=$(col kc_first 1)
rk_again=$(col rk_again 1); kc_again=$(col kc_again 1)
rk_rss=$(cat "$work/rk_first" "$work/rk_again" | awk '{print $2}' | sort -n | tail -1)
kc_rss=$(cat "$work/kc_first" "$work/kc_again" | awk '{print $2}' | sort -n | tail -1)

# What any TLS client built on Debian's libcurl + OpenSSL costs before it does any work:
# a connection and one GET. Most of it is shared library pages (libcrypto, libc, gnutls
# pulled in by librtmp), which peak RSS counts and a static Go binary does not have.
: > "$work/rk_floor"
for _ in $(seq 1 "$runs"); do timed "$bin" run "$work/connect.lua" >> "$work/rk_floor"; done
rk_floor=$(col rk_floor 2)

# The same for a bare C program that links Debian's libcurl and makes one HTTPS GET with
# the kubeconfig's CA blob: what no client built on these libraries can go below.
bare_floor=
if command -v cc > /dev/null && [ -f /usr/include/x86_64-linux-gnu/curl/curl.h -o -f /usr/include/curl/curl.h ]; then
  cat > "$work/bare.c" << 'EOF'
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
static size_t sink(char *p, size_t s, size_t n, void *u) { (void)p; (void)u; return s * n; }
int main(int argc, char **argv) {
  if (argc < 4) return 2;
  FILE *f = fopen(argv[2], "rb");
  if (!f) return 2;
  static char ca[65536];
  size_t len = fread(ca, 1, sizeof ca, f);
  fclose(f);
  curl_global_init(CURL_GLOBAL_DEFAULT);
  CURL *e = curl_easy_init();
  struct curl_blob blob = {ca, len, CURL_BLOB_COPY};
  struct curl_slist *h = curl_slist_append(NULL, argv[3]);
  curl_easy_setopt(e, CURLOPT_URL, argv[1]);
  curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, sink);
  curl_easy_setopt(e, CURLOPT_CAINFO_BLOB, &blob);
  curl_easy_setopt(e, CURLOPT_HTTPHEADER, h);
  CURLcode rc = curl_easy_perform(e);
  curl_easy_cleanup(e);
  curl_slist_free_all(h);
  curl_global_cleanup();
  return rc != CURLE_OK;
}
EOF
  if cc -O2 -o "$work/bare" "$work/bare.c" -lcurl 2> /dev/null; then
    server=$(awk '$1 == "server:" {print $2; exit}' "$KUBECONFIG")
    awk '$1 == "certificate-authority-data:" {print $2; exit}' "$KUBECONFIG" | base64 -d > "$work/ca.pem"
    token=$(awk '$1 == "token:" {print $2; exit}' "$KUBECONFIG")
    : > "$work/bare_floor"
    for _ in $(seq 1 "$runs"); do
      timed "$work/bare" "$server/version" "$work/ca.pem" "Authorization: Bearer $token" >> "$work/bare_floor"
    done
    bare_floor=$(col bare_floor 2)
  fi
fi

status=0
report() { # label rigelk8s kubectl unit target: kubectl/rigelk8s must reach target
  awk -v l="$1" -v r="$2" -v k="$3" -v u="$4" -v t="$5" 'BEGIN {
    ratio = (r > 0) ? k / r : 0
    fmt = (u == "s") ? "%9.3f" : "%9d"
    printf "  %-32s rigelk8s " fmt " %s   kubectl " fmt " %s   %5.1fx (target >= %dx) %s\n",
           l, r, u, k, u, ratio, t, (ratio >= t) ? "ok" : "MISSED"
    exit (ratio >= t) ? 0 : 1 }' || status=1
}
echo "apply_bench: $objects ConfigMaps, server-side apply over HTTPS to the kube emulator, median of $runs runs"
report "first apply (objects created)" "$rk_first" "$kc_first" s 5
report "re-apply, nothing changed" "$rk_again" "$kc_again" s 5
report "peak RSS" "$((rk_rss))" "$((kc_rss))" KiB 5
awk -v f="$rk_floor" -v r="$rk_rss" 'BEGIN {
  printf "  (rigelk8s floor: TLS connect + one GET = %d KiB; the 500 applies add %d KiB)\n", f, r - f }'
[ -z "$bare_floor" ] || awk -v b="$bare_floor" -v k="$kc_rss" 'BEGIN {
  printf "  (bare C + Debian libcurl, one HTTPS GET = %d KiB, median; 1/5 of kubectl is %d KiB)\n", b, k / 5 }'
exit $status
