#!/usr/bin/env bash
# make bench: the headline figures (bench.py), then each issue's own benchmarks.
# Every script starts the emulators it needs and prints its figures and ratios.
set -uo pipefail
bin=$(realpath "${1:-build/rigelk8s}")
here=$(cd "$(dirname "$0")" && pwd)
cd "$here/.."
status=0
step() { echo; echo "######## $*"; }
step "bench.py: the six headline figures";        python3 bench/bench.py "$bin" || status=1
step "startup.sh (run of an empty script; render with the library as bytecode vs text)"; bash bench/startup.sh "$bin" || status=1
step "yaml_bench.sh";                             bash bench/yaml_bench.sh "$bin" || status=1
step "render_bench.sh";                           bash bench/render_bench.sh "$bin" || status=1
step "diff_bench.sh (4,000 lines, 80 changes)";    bash bench/diff_bench.sh "$bin" || status=1
step "regex_bench.sh (regex_replace on PCRE2)";    bash bench/regex_bench.sh "$bin" || status=1
step "apply_bench.sh (HTTPS, 500 ConfigMaps)";    bash bench/apply_bench.sh "$bin" || status=1
step "fleet_bench.py";                            python3 bench/fleet_bench.py "$bin" || status=1
step "rosgraph_bench.py (ROS graph gate, real rosmaster)"; python3 bench/rosgraph_bench.py "$bin" || status=1
step "emulator_load.py";                          python3 bench/emulator_load.py || status=1
exit $status
