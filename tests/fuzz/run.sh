#!/usr/bin/env bash
# Runs the libFuzzer targets one after another (one process: the fuzzers share the
# machine), each for SECONDS, and prints executions and crashes per target. Exits 1 if
# any target crashed; the crashing input is in BUILD/artifacts/TARGET/ and the line
# printed for it reproduces the crash.
#
#   tests/fuzz/run.sh BUILD SECONDS TARGET...      (make fuzz runs it)
#
# The working corpus (BUILD/corpus/TARGET) grows from run to run; the checked-in seeds
# (tests/fuzz/corpus/TARGET) are read as a second corpus and never written. Each run is
# appended to BUILD/fuzz-history.tsv: the totals behind the README's numbers.
set -u
build=${1:?usage: run.sh BUILD SECONDS TARGET...}
seconds=${2:?usage: run.sh BUILD SECONDS TARGET...}
shift 2
here=$(cd "$(dirname "$0")" && pwd)
history=$build/fuzz-history.tsv
[ -f "$history" ] || printf 'date\ttarget\tseconds\texecutions\tcrashes\tcommand\n' >"$history"

failed=0
rows=()
for t in "$@"; do
  bin=$build/fuzz_$t
  if [ ! -x "$bin" ]; then
    echo "run.sh: $bin is missing (build the fuzz_all target of $build)" >&2
    exit 2
  fi
  corpus=$build/corpus/$t
  artifacts=$build/artifacts/$t
  mkdir -p "$corpus" "$artifacts"
  log=$build/fuzz-$t.log
  dict=()
  [ -f "$here/dict/$t.dict" ] && dict=(-dict="$here/dict/$t.dict")
  # Per-input limits: 30 s (a template may legitimately spend a few seconds under the
  # sanitizers), 2 GB; inputs up to 4 kB, which is larger than any Rigelfile value.
  cmd=("$bin" -max_total_time="$seconds" -timeout=30 -rss_limit_mb=2048 -max_len=4096
       -len_control=20 -print_final_stats=1 -artifact_prefix="$artifacts/" "${dict[@]}"
       "$corpus" "$here/corpus/$t")
  before=$(ls "$artifacts" | wc -l)
  echo "== fuzz_$t: ${seconds}s (log: $log)"
  "${cmd[@]}" >"$log" 2>&1
  rc=$?
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
  new=$(( $(ls "$artifacts" | wc -l) - before ))
  crashes=$new
  # libFuzzer stops at the first crash; a non-zero exit without an artifact (setup
  # failure, out-of-memory in the fuzzer itself) counts as one too.
  [ "$rc" -ne 0 ] && [ "$crashes" -eq 0 ] && crashes=1
  rows+=("$(printf '%-12s %8ss %12s %9s %7s %8s' "$t" "$seconds" "${execs:-?}" "${rate:-?}" \
            "$(ls "$corpus" | wc -l)" "$crashes")")
  printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$(date -u +%FT%TZ)" "$t" "$seconds" "${execs:-0}" \
         "$crashes" "$bin -max_total_time=$seconds $corpus $here/corpus/$t" >>"$history"
  if [ "$crashes" -ne 0 ]; then
    failed=1
    grep -E 'ERROR:|property violated|SUMMARY' "$log" | head -5 | sed 's/^/   /'
    for a in $(ls -t "$artifacts" | head -n "$new"); do
      echo "   reproduce: $bin $artifacts/$a"
    done
    echo "   fix it, then copy the input to tests/fuzz/regressions/$t/ (replayed by make test)"
  fi
done

echo
printf '%-12s %9s %12s %9s %7s %8s\n' target time executions exec/s corpus crashes
printf '%s\n' "${rows[@]}"
awk -F'\t' 'NR > 1 { s += $3; e += $4 } END { printf "all runs so far (%s): %.2f hours, %d executions\n", FILENAME, s / 3600, e }' "$history"
exit $failed
