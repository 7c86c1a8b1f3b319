#!/usr/bin/env bash
# fuzz-long: the long fuzzing run (fuzz/README.md), beside the 20 s of each fuzz.* CTest
# case: every harness, or those named, for SECONDS each (default 600), as many at a time as
# there are processors, each from its seed corpus and regressions. Prints per harness the
# executions, executions per second, the corpus it grew and what it found; crashing inputs
# land in the run's directory, which it names. A benchmark, never a test.
#
#   bench/fuzz-long.sh [SECONDS] [datasets|report|dump|cli ...]
#   (MW_BUILD_DIR: the MW_FUZZ build, default build-fuzz; configured and built if missing)
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-600}
shift || true
harnesses=("$@")
((${#harnesses[@]})) || harnesses=(datasets report dump wire cli)
build=${MW_BUILD_DIR:-build-fuzz}

if [ ! -x "$build/fuzz/fuzz_cli" ]; then
  CC=clang MW_BUILD_DIR=$build scripts/setup.sh -DMW_FUZZ=ON
else
  cmake --build "$build" -j"$(nproc)" >/dev/null
fi
bin=$(realpath "$build/fuzz")
out=$PWD/$build/fuzz-long/$(date -u +%Y%m%dT%H%M%SZ)
mkdir -p "$out"
model=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')
echo "fuzz-long: ${harnesses[*]}, $seconds s each, $(nproc) at a time on $(nproc) cores ($model)" |
  tee "$out/summary.txt"
echo "fuzz-long: run directory $out (corpora, logs, and crashes/ per harness)"

# One harness: its corpus is a copy of the seeds and regressions, grown in place.
run() {
  local h=$1 dir=$out/$1
  mkdir -p "$dir/corpus" "$dir/crashes"
  cp fuzz/corpus/"$h"/* "$dir/corpus/"
  if [ -d fuzz/regressions/"$h" ]; then cp fuzz/regressions/"$h"/* "$dir/corpus/" 2>/dev/null || true; fi
  ls "$dir/corpus" | wc -l >"$dir/seeds"
  # -fork=1 would survive a crash, but loses the per-run stats; one crash ends the run.
  # from the run's directory: whatever a fuzzer or its children leave behind stays there
  (cd "$dir" && "$bin/fuzz_$h" -max_total_time="$seconds" -timeout=30 -rss_limit_mb=2048 \
    -print_final_stats=1 -close_fd_mask=3 -artifact_prefix="$dir/crashes/" "$dir/corpus" \
    >"$dir/log" 2>&1) || true
}

for h in "${harnesses[@]}"; do
  [ -x "$build/fuzz/fuzz_$h" ] || { echo "fuzz-long: no harness $h" >&2; exit 2; }
  while (($(jobs -rp | wc -l) >= $(nproc))); do wait -n; done
  run "$h" &
done
wait

printf '%-9s %10s %9s %11s %9s  %s\n' harness execs execs/s "new units" corpus found |
  tee -a "$out/summary.txt"
stat_of() { sed -n "s/^stat::$2: *//p" "$1" | tail -1; } # LOG NAME: libFuzzer's final stats
for h in "${harnesses[@]}"; do
  dir=$out/$h
  execs=$(stat_of "$dir/log" number_of_executed_units)
  rate=$(stat_of "$dir/log" average_exec_per_sec)
  added=$(stat_of "$dir/log" new_units_added)
  found=$(ls "$dir/crashes" | wc -l)
  what="nothing"
  if ((found)); then what="$found input(s) in $dir/crashes: $(grep -m1 -E 'ERROR|SUMMARY' "$dir/log" || true)"; fi
  printf '%-9s %10s %9s %11s %9s  %s\n' "$h" "${execs:--}" "${rate:--}" "${added:--}" \
    "$(cat "$dir/seeds")->$(ls "$dir/corpus" | wc -l)" "$what" | tee -a "$out/summary.txt"
done
