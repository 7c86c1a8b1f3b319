#!/usr/bin/env bash
# One fuzz.* CTest case (fuzz/CMakeLists.txt): replay every seed and regression input of a
# harness, then fuzz for a fixed time from a copy of them in the build tree (the source tree
# is never written). Fails on any crash, leak, timeout or out-of-memory.
# usage: run-fuzzer.sh HARNESS CORPUS_DIR REGRESSIONS_DIR WORK_DIR SECONDS
set -euo pipefail
harness=$1 corpus=$2 regressions=$3 work=$4 seconds=$5

mkdir -p "$(dirname "$work")"
cd "$(dirname "$work")" # whatever a fuzzer or its children leave behind stays in the build tree
inputs=()
for d in "$corpus" "$regressions"; do
  if [ -d "$d" ]; then
    while IFS= read -r -d '' f; do inputs+=("$f"); done < <(find "$d" -type f -print0 | sort -z)
  fi
done
# Given files (not directories), libFuzzer runs each once and stops at the first failure.
echo "replaying ${#inputs[@]} inputs"
if ((${#inputs[@]})); then
  if ! "$harness" -timeout=30 -rss_limit_mb=2048 "${inputs[@]}" >"$work.replay.log" 2>&1; then
    tail -n 80 "$work.replay.log"
    echo "replay failed (whole log: $work.replay.log)"
    exit 1
  fi
fi

rm -rf "$work"
mkdir -p "$work/corpus" "$work/crashes"
if ((${#inputs[@]})); then cp "${inputs[@]}" "$work/corpus/"; fi
# -close_fd_mask=3: the commands' own output (help, error lines) would swamp the log;
# libFuzzer and the sanitizers still report on a copy of stderr.
echo "fuzzing for $seconds s"
status=0
"$harness" -max_total_time="$seconds" -timeout=30 -rss_limit_mb=2048 -print_final_stats=1 \
           -close_fd_mask=3 -artifact_prefix="$work/crashes/" "$work/corpus" >"$work.log" 2>&1 ||
  status=$?
# The progress lines (#N NEW ...) stay in the log; the rest is the stats or the report.
grep -v '^#[0-9]' "$work.log" | tail -n 120
found=$(find "$work/crashes" -type f | wc -l)
if [ "$status" -ne 0 ] || [ "$found" -ne 0 ]; then
  echo "fuzzing failed (exit $status; whole log: $work.log); inputs that failed:"
  ls -l "$work/crashes"
  exit 1
fi
