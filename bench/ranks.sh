#!/usr/bin/env bash
# ranks: the speed-up of a suite on R MPI ranks over one rank, measured side by side. Each
# round runs the same gradcheck grid (the quick preset's 30 networks by default) once as
# `mpirun -n 1` and once as `mpirun -n R`, in alternating order (a rank computes one
# network at a time, gold on one thread); it prints each round's
# times and the speed-up's median [min, max] over the rounds, the load average before and
# after, the CPU and the BLAS core (from the report), and checks that both reports hold the
# same numbers (mwverify report diff). A benchmark, never a test.
#
#   bench/ranks.sh [--rounds N] [--ranks R] [--mwverify PATH] [-- GRID OPTIONS...]
#   (defaults: 5 rounds, 2 ranks, build/mwverify, the quick preset's grid)
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=5 ranks=2 bin=build/mwverify
grid=(--preset quick)
while (($#)); do
  case "$1" in
    --rounds) rounds=$2; shift 2 ;;
    --ranks) ranks=$2; shift 2 ;;
    --mwverify) bin=$2; shift 2 ;;
    --) shift; grid=("$@"); break ;;
    -h|--help) sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "ranks: unknown option '$1' (see --help)" >&2; exit 2 ;;
  esac
done
[[ "$rounds" =~ ^[1-9][0-9]*$ && "$ranks" =~ ^[1-9][0-9]*$ ]] ||
  { echo "ranks: --rounds and --ranks take a positive whole number" >&2; exit 2; }
[ -x "$bin" ] || { echo "ranks: $bin not found: run scripts/setup.sh first" >&2; exit 2; }
command -v mpirun > /dev/null || { echo "ranks: no mpirun: apt-get install openmpi-bin libopenmpi-dev, then scripts/setup.sh" >&2; exit 2; }
if [ "$(id -u)" -eq 0 ]; then # Open MPI's documented switches for root
  export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
fi
export OPENBLAS_NUM_THREADS=1
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
load() { cut -d' ' -f1-3 /proc/loadavg; }
now() { date +%s.%N; }
echo "ranks: ${grid[*]}; mpirun -n 1 against mpirun -n $ranks, $rounds rounds; load before: $(load)"
speedups=()
for ((k = 1; k <= rounds; k++)); do
  rm -f "$dir"/*.h5
  for side in $((k % 2)) $(((k + 1) % 2)); do
    t0=$(now)
    if [ "$side" = 1 ]; then
      mpirun -n 1 "$bin" suite gradcheck "${grid[@]}" --quiet --out "$dir/one.h5" > /dev/null ||
        [ $? = 1 ]
      one=$(awk -v a="$t0" -v b="$(now)" 'BEGIN { print b - a }')
    else
      mpirun -n "$ranks" --oversubscribe "$bin" suite gradcheck "${grid[@]}" --quiet \
        --out "$dir/ranks.h5" > /dev/null || [ $? = 1 ]
      many=$(awk -v a="$t0" -v b="$(now)" 'BEGIN { print b - a }')
    fi
  done
  "$bin" report diff "$dir/one.h5" "$dir/ranks.h5" > "$dir/diff.txt" ||
    { echo "ranks: the two reports differ: $(cat "$dir/diff.txt")" >&2; exit 3; }
  s=$(awk -v a="$one" -v b="$many" 'BEGIN { printf "%.4f", a / b }')
  speedups+=("$s")
  printf 'round %d: one rank %.2f s, %d ranks %.2f s, speed-up %.2f\n' "$k" "$one" "$ranks" "$many" "$s"
done
networks=$("$bin" report summary "$dir/one.h5" | sed -n 1p | sed -E 's/.*suite gradcheck, ([0-9]+) networks.*/\1/')
machine=$("$bin" report summary "$dir/one.h5" | sed -n 1p | sed -E 's/.*\((cpu: [^)]*\))\).*/\1/')
sorted=($(printf '%s\n' "${speedups[@]}" | sort -g))
n=${#sorted[@]}
if ((n % 2)); then med=${sorted[n / 2]}; else med=$(awk -v a="${sorted[n / 2 - 1]}" -v b="${sorted[n / 2]}" 'BEGIN { printf "%.4f", (a + b) / 2 }'); fi
printf 'speed-up of %d ranks over one, %s networks: %.2f [%.2f, %.2f] (median [min, max] of %d rounds); the same numbers in every round\n' \
  "$ranks" "$networks" "$med" "${sorted[0]}" "${sorted[n - 1]}" "$n"
echo "machine: $machine, $(nproc) processors; load after: $(load)"
