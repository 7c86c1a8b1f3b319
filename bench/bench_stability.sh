#!/usr/bin/env bash
# bench_stability: the wall time of the main job, `mwverify suite stability` on its quick
# default, with the machine it ran on. A benchmark, never a test: the suite's target is
# that its estimate is printed before it starts; this measures the whole run.
#
#   bench/bench_stability.sh [--rounds N] [--against OTHER] [path/to/mwverify] [suite options...]
#
# With --against OTHER (another mwverify, e.g. a build of an older commit), each of N
# rounds (default 5) runs both, the order alternating, and prints the ratio of this one's
# time to OTHER's per round and as median [min, max], with the load average: a comparison
# that a busy machine spoils alike on both sides. Suite options go to both (e.g. --jobs 1).
set -euo pipefail
rounds=5
other=
while [ $# -gt 0 ]; do
  case "$1" in
    --rounds) rounds=$2; shift 2 ;;
    --against) other=$2; shift 2 ;;
    *) break ;;
  esac
done
bin=${1:-build/mwverify}
shift || true
for b in "$bin" ${other:+"$other"}; do
  [ -x "$b" ] || { echo "bench_stability: $b is not an executable mwverify" >&2; exit 2; }
done
case "$rounds" in ''|*[!0-9]*|0) echo "bench_stability: --rounds $rounds: a count 1.. is needed" >&2; exit 2 ;; esac
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cores=$(nproc)
model=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')
isa=$(grep -m1 '^flags' /proc/cpuinfo | grep -qw avx512f && echo AVX-512 || { grep -m1 '^flags' /proc/cpuinfo | grep -qw avx2 && echo AVX2 || echo SSE; })

# one run: its wall seconds on stdout
run() {
  local b=$1 out=$tmp/r$RANDOM.h5
  shift
  local start end
  start=$(date +%s.%N)
  "$b" suite stability --out "$out" --quiet "$@" > /dev/null
  end=$(date +%s.%N)
  rm -f "$out"
  echo "$end - $start" | bc
}

if [ -z "$other" ]; then
  s=$(run "$bin" "$@")
  printf 'suite stability (quick): %.1f s wall on %s cores (%s, %s)\n' "$s" "$cores" "$model" "$isa"
  exit 0
fi
ratios=() loads=() mine=() theirs=()
for ((r = 0; r < rounds; r++)); do
  loads+=("$(cut -d' ' -f1 /proc/loadavg)")
  if ((r % 2 == 0)); then a=$(run "$bin" "$@"); b=$(run "$other" "$@")
  else b=$(run "$other" "$@"); a=$(run "$bin" "$@"); fi
  mine+=("$a") theirs+=("$b")
  ratios+=("$(echo "scale=6; $a / $b" | bc)")
  printf '  round %d: %.1f s against %.1f s: %.3f\n' "$((r + 1))" "$a" "$b" "${ratios[-1]}"
done
loads+=("$(cut -d' ' -f1 /proc/loadavg)")
stat() { printf '%s\n' "$@" | sort -g | awk '{v[NR]=$1} END {printf "%.3f [%.3f, %.3f]", v[int((NR+1)/2)], v[1], v[NR]}'; }
echo "suite stability (quick) $*: $bin against $other, $rounds rounds, order alternating"
echo "  machine: $cores cores, $model, $isa"
echo "  seconds, this: $(stat "${mine[@]}"); other: $(stat "${theirs[@]}")"
echo "  time ratio this/other: $(stat "${ratios[@]}")"
echo "  load average (1 min) at each round's start and the end: $(stat "${loads[@]}")"
