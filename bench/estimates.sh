#!/usr/bin/env bash
# estimates: every command that estimates its cost, against the time it then takes. Runs
# the quick preset of every suite `mwverify suite --help` lists and a few `grad` cases,
# each with its estimate printed (standard error), measures its wall time and prints a
# table: the command, the estimated and measured seconds, their ratio (measured over
# estimated) and whether it is within a factor of two. The machine is recorded with it:
# CPU model, cores, load average before and after, OpenBLAS's core. An estimate is the
# work's on an otherwise idle machine: other load on the cores shows as a ratio above 1.
# A benchmark, never a test. Exit status 1 when a case is outside 0.5..2, 2 on bad use.
#
#   bench/estimates.sh [path/to/mwverify] [grad|suites]
set -uo pipefail
bin=${1:-build/mwverify}
only=${2:-all}
if [ ! -x "$bin" ]; then
  echo "estimates.sh: $bin: no such program (build first, or give its path)" >&2
  exit 2
fi
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT

model=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')
blas=$(OPENBLAS_VERBOSE=2 "$bin" grad --quiet --oracle silver --methods backprop 2>&1 >/dev/null |
       sed -n 's/^Core: *//p' | head -1)
echo "machine: $model, $(nproc) cores, OpenBLAS core ${blas:-unknown}"
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"

# Seconds from mw_fmt_seconds's forms: "4.2 s", "12 min", "3.5 h", "4 days", "2.1 years".
to_seconds() {
  awk -v v="$1" -v u="$2" 'BEGIN {
    f = -1
    if (u == "s") f = 1; else if (u == "min") f = 60; else if (u == "h") f = 3600
    else if (u == "days") f = 86400; else if (u == "years") f = 31557600
    if (f < 0 || v !~ /^[0-9.e+]+$/) print "nan"; else printf "%.4g\n", v * f }'
}

failures=0
printf '\n%-72s %10s %10s %7s  %s\n' "command" "estimated" "measured" "ratio" "within 2x"
run() { # run CASE-ARGS...: the command's estimate line and its wall time
  local err="$dir/err" start end est unit line
  start=$(date +%s.%N)
  "$bin" "$@" > "$dir/out" 2> "$err"
  local rc=$?
  end=$(date +%s.%N)
  line=$(grep -m1 -E '^(grad|suite [a-z]+|gradcheck|layer check): .*about ' "$err")
  read -r est unit < <(sed -E 's/.*about ([0-9.e+]+) ([a-z]+).*/\1 \2/' <<< "$line")
  local measured ratio verdict secs
  measured=$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.2f", b - a }')
  secs=$(to_seconds "${est:-nan}" "${unit:-?}")
  ratio=$(awk -v m="$measured" -v e="$secs" 'BEGIN { if (e + 0 > 0) printf "%.2f", m / e; else print "nan" }')
  verdict=$(awk -v r="$ratio" 'BEGIN { print (r ~ /^[0-9.]+$/ && r >= 0.5 && r <= 2) ? "pass" : "FAIL" }')
  if [ "$rc" -gt 1 ]; then verdict="FAIL (exit $rc: $(head -c 200 "$err"))"; fi
  [ "${verdict%% *}" = pass ] || failures=$((failures + 1))
  local label="mwverify $*"
  label=${label%% --out *}  # the report's temporary path is no part of the case
  printf '%-72s %10s %10s %7s  %s\n' "$label" "$secs" "$measured" "$ratio" "$verdict"
}

if [ "$only" != suites ]; then
  run grad
  run grad --width 256 --depth 8 --oracle gold
  run grad --methods forward --width 128 --depth 14 --oracle silver
fi
if [ "$only" != grad ]; then
  for s in $("$bin" suite --help | awk '/^suites:/ { on = 1; next } on && /^  [a-z]/ { print $1 }'); do
    run suite "$s" --out "$dir/$s.h5" --force
  done
fi
echo
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
[ "$failures" -eq 0 ] || { echo "$failures case(s) outside a factor of two"; exit 1; }
