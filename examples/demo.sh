#!/usr/bin/env bash
# make demo: the main job, end to end, against the local Kubernetes API emulator.
set -euo pipefail
bin=${1:-build/rigelk8s}
cd "$(dirname "$0")/.."
echo "== rigelk8s $("$bin" --version | cut -d' ' -f2): loading a multi-document manifest and printing it as JSON"
"$bin" run examples/hello.lua
