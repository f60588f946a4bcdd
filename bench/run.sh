#!/usr/bin/env bash
# make bench: every benchmark in bench/, each printing its figures and ratios.
set -uo pipefail
bin=$(realpath "${1:-build/rigelk8s}")
here=$(cd "$(dirname "$0")" && pwd)
cd "$here/.."
status=0
for b in startup yaml_bench render_bench apply_bench deploy_bench fleet_bench emulator_load; do
  for f in "$here/$b.sh" "$here/$b.py"; do
    [ -f "$f" ] || continue
    case "$f" in
      *.sh) bash "$f" "$bin" || status=1 ;;
      *.py) python3 "$f" "$bin" || status=1 ;;
    esac
    echo
  done
done
exit $status
