#!/usr/bin/env bash
# bench_stability: the wall time of the main job, `mwverify suite stability` on its quick
# default, with the machine it ran on. A benchmark, never a test: the suite's target is
# that its estimate is printed before it starts; this measures the whole run.
#
#   bench/bench_stability.sh [path/to/mwverify] [extra suite options...]
set -euo pipefail
bin=${1:-build/mwverify}
shift || true
out=$(mktemp -d)/stability.h5
cores=$(nproc)
model=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')
start=$(date +%s.%N)
"$bin" suite stability --out "$out" --quiet "$@" > /dev/null
end=$(date +%s.%N)
printf 'suite stability (quick): %.1f s wall on %s cores (%s), report %s bytes\n' \
  "$(echo "$end - $start" | bc)" "$cores" "$model" "$(stat -c %s "$out")"
rm -rf "$(dirname "$out")"
