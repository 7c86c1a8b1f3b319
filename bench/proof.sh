#!/usr/bin/env bash
# proof: what the proof oracle (--oracle proof: the interval reference, MPFI) costs against
# gold (the MPFR reference certified by its (p+64)-bit rerun), measured side by side on the
# quick gradcheck grid, against gold as gradcheck runs it (with its finite-difference
# witness) and against gold's certificate alone (--fd-coords 0: the p- and (p+64)-bit
# gradients). Each round runs the three in a rotating order, all with --jobs 2 (gold on one
# thread a network, as proof is), and sums the oracle's own seconds over the networks from
# each report (report export --table networks); it prints the ratios' median [min, max]
# over the rounds, the least proved and certified bits, the load average before and after,
# and the CPU. A benchmark, never a test.
#
#   bench/proof.sh [--rounds N] [--mwverify PATH] [-- GRID OPTIONS...]   (default 5 rounds)
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=5 bin=build/mwverify grid=()
while (($#)); do
  case "$1" in
    --rounds) rounds=$2; shift 2 ;;
    --mwverify) bin=$2; shift 2 ;;
    --) shift; grid=("$@"); break ;;
    -h|--help) sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "proof: unknown option '$1' (see --help)" >&2; exit 2 ;;
  esac
done
[[ "$rounds" =~ ^[1-9][0-9]*$ ]] || { echo "proof: --rounds takes a positive whole number" >&2; exit 2; }
[ -x "$bin" ] || { echo "proof: $bin not found: run scripts/setup.sh first" >&2; exit 2; }
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
load() { cut -d' ' -f1-3 /proc/loadavg; }
# the sum of a column of the networks table, and its least value
column() { # FILE COLUMN sum|min
  "$bin" report export "$1" --table networks --format csv |
    awk -F, -v col="$2" -v what="$3" 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == col) c = i; next }
      { v = $c + 0; s += v; if (NR == 2 || v < m) m = v } END { printf "%.6g", what == "sum" ? s : m }'
}
echo "proof: gradcheck ${grid[*]:-(quick grid)}, --oracle gold (with and without its witness) against --oracle proof, $rounds rounds; load before: $(load)"
ratios=() bare=()
sides=(gold bare proof)
for ((k = 1; k <= rounds; k++)); do
  for ((i = 0; i < 3; i++)); do
    side=${sides[(i + k) % 3]}
    case $side in
      gold) extra=(--oracle gold) ;;
      bare) extra=(--oracle gold --fd-coords 0) ;;
      proof) extra=(--oracle proof) ;;
    esac
    "$bin" gradcheck "${grid[@]}" "${extra[@]}" --jobs 2 --quiet --out "$dir/$side.h5" --force \
      > /dev/null || [ $? = 1 ]
  done
  g=$(column "$dir/gold.h5" oracle_seconds sum)
  b=$(column "$dir/bare.h5" oracle_seconds sum)
  p=$(column "$dir/proof.h5" oracle_seconds sum)
  r=$(awk -v a="$p" -v b="$g" 'BEGIN { printf "%.4f", a / b }')
  q=$(awk -v a="$p" -v b="$b" 'BEGIN { printf "%.4f", a / b }')
  ratios+=("$r") bare+=("$q")
  printf 'round %d: gold %.2f s, gold without witness %.2f s, proof %.2f s (summed over the networks); proof / gold %.2f, proof / gold without witness %.2f\n' "$k" "$g" "$b" "$p" "$r" "$q"
done
median() { # the median [min, max] of the arguments
  local sorted n med
  sorted=($(printf '%s\n' "$@" | sort -g))
  n=${#sorted[@]}
  if ((n % 2)); then med=${sorted[n / 2]}; else med=$(awk -v a="${sorted[n / 2 - 1]}" -v b="${sorted[n / 2]}" 'BEGIN { printf "%.4f", (a + b) / 2 }'); fi
  printf '%.2f [%.2f, %.2f]' "$med" "${sorted[0]}" "${sorted[n - 1]}"
}
printf 'proof / gold, oracle seconds: %s; proof / gold without its witness: %s (median [min, max] of %d rounds)\n' \
  "$(median "${ratios[@]}")" "$(median "${bare[@]}")" "$rounds"
printf 'least proved bits %s, least certified bits %s (256-bit working precision)\n' \
  "$(column "$dir/proof.h5" oracle_proved_bits min)" "$(column "$dir/gold.h5" oracle_certified_bits min)"
echo "machine: $("$bin" report summary "$dir/gold.h5" | sed -n 1p | sed -E 's/.*\((cpu: [^)]*\))\).*/\1/'), $(nproc) processors; load after: $(load)"
