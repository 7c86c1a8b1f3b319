#!/usr/bin/env bash
# Regenerate the seed corpora of fuzz/corpus/ (fuzz/README.md): tiny valid dataset files in
# the datasets harness's input layout (fuzz_datasets.c), a dozen command lines, and small
# reports and gradient dumps written by mwverify (the fewest layers, features and samples
# its options allow; h5repack makes some tables contiguous, which halves them).
# The wire harness's seeds are those reports and dumps packed as the reader's child sends
# them (fuzz_wire --pack), when its binary is there.
# usage: fuzz/make-corpus.sh [MWVERIFY [FUZZ_WIRE]]   (default build/mwverify,
#                                                     build-fuzz/fuzz/fuzz_wire)
set -euo pipefail
mw=$(realpath "${1:-$(dirname "$0")/../build/mwverify}")
wire=$(realpath -m "${2:-$(dirname "$0")/../build-fuzz/fuzz/fuzz_wire}")
cd "$(dirname "$0")/.."
corpus=$PWD/fuzz/corpus
rm -rf "$corpus"
mkdir -p "$corpus"/{datasets,cli,report,dump,wire}

# ---- datasets: mode byte, then [length, 2 bytes little-endian][bytes] per file ----------
python3 - "$corpus/datasets" <<'EOF'
import gzip, random, struct, sys
out = sys.argv[1]
rng = random.Random(1)

def parts(*files):
    return b"".join(struct.pack("<H", len(f)) + f for f in files)

def cifar(labels):  # records of a label byte and 3 planes of 32x32 bytes
    return b"".join(bytes([l]) + bytes(rng.randrange(256) for _ in range(3072)) for l in labels)

def idx3(n, rows, cols):
    return struct.pack(">IIII", 0x803, n, rows, cols) + bytes(rng.randrange(256) for _ in range(n * rows * cols))

def idx1(labels):
    return struct.pack(">II", 0x801, len(labels)) + bytes(labels)

def write(name, mode, *files):
    with open(f"{out}/{name}", "wb") as f:
        f.write(bytes([mode]) + parts(*files))

# mode: bit 0 train, bit 1 fashion-mnist, bits 2-3 0 plain, 1 raw under .gz, 2 gzipped here
write("cifar-test", 0b0000, cifar([3, 9]))
write("cifar-train", 0b0001, *[cifar([k]) for k in range(5)])
write("fashion-test-plain", 0b0010, idx3(3, 4, 5), idx1([0, 9, 4]))
write("fashion-train-gzipped", 0b1011, idx3(2, 3, 3), idx1([1, 2]))
write("fashion-test-gzip-bytes", 0b0110, gzip.compress(idx3(2, 2, 2), mtime=0),
      gzip.compress(idx1([5, 6]), mtime=0))
write("fashion-test-28x28", 0b0010, idx3(1, 28, 28), idx1([7]))
EOF

# ---- cli: one word per line, the first the command ---------------------------------------
line() { # NAME WORD...
  local name=$1 IFS=$'\n'
  shift
  printf '%s' "$*" >"$corpus/cli/$name"
}
line grad-default grad
line grad-small grad --width 8 --depth 2 --out d.h5 --force
line grad-revnet grad --arch revnet --image 16x16 --layers-per-block 2 --dtype f64 --no-bn
line grad-methods grad --methods=backprop,mixed --oracle gold --oracle-bits 512 --json
line grad-help grad --help
line gradcheck gradcheck --depth 1,2 --f-act relu,tanh --dtype f64 --tol 1e-10 --jobs 1
line suite-stability suite stability --preset real --epochs 2 --gold-every 16 --seed 1,2
line suite-memory suite memory --arch mlp,revnet --depth 3,6 --channels 8 --image 8x8
line suite-timing-help suite timing --help
line suite-gates suite stability --fail-on diverged:revbackprop --max-err 1e-3 --max-growth 10
line layer-check layer check additive affine --dtype f64 --out l.h5
line layer-list layer list --include-faulty --json
line report-summary report summary r.h5 --per-layer --json
line report-plot report plot r.h5 --out f.png
line renamed grad --depths 2

# ---- report and dump: small files of mwverify's own --------------------------------------
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work" # relative names only, so that no path of this machine lands in the files
tiny=(--width 2 --hidden 2 --units 1 --classes 2)
"$mw" grad "${tiny[@]}" --depth 1 --batch 1 --methods backprop --out d-min.h5 >/dev/null
"$mw" grad "${tiny[@]}" --depth 1 --batch 2 --methods all --out-act tanh --out d-all.h5 >/dev/null
"$mw" grad "${tiny[@]}" --depth 1 --batch 1 --coupling affine --methods moonwalk --dtype f64 \
  --out d-affine.h5 >/dev/null
"$mw" grad --arch revnet --channels 2 --image 2x2 --blocks 1 --layers-per-block 1 --batch 2 \
  --classes 2 --methods backprop,mixed --dtype f64 --oracle silver --out d-revnet.h5 >/dev/null
cp d-*.h5 "$corpus/dump/"

run=(--jobs 1 --quiet)
"$mw" suite stability "${tiny[@]}" "${run[@]}" --depth 1 --f-act relu --out-act none --seed 1 \
  --epochs 1 --train-samples 4 --test-samples 2 --batch 2 --methods backprop,mixed \
  --out stability.h5 >/dev/null
"$mw" gradcheck "${tiny[@]}" "${run[@]}" --arch mlp --depth 1 --f-act relu --out-act none \
  --dtype f64 --batch 1 --methods backprop --proj-repeats 1 --out gradcheck.h5 >/dev/null
"$mw" suite memory "${tiny[@]}" "${run[@]}" --arch mlp --depth 1,2 --batch 1 \
  --methods backprop,moonwalk --out memory.h5 >/dev/null
"$mw" layer check squeeze --quiet --out layers.h5 >/dev/null
cp gradcheck.h5 layers.h5 "$corpus/report/" # as written: chunked tables
for f in stability memory; do
  h5repack -l CONTI $f.h5 "$corpus/report/$f-contiguous.h5"
done
# ---- wire: the same files as the reading child sends them --------------------------------
if [ -x "$wire" ]; then
  for f in "$corpus"/report/*.h5 "$corpus"/dump/*.h5; do
    "$wire" --pack "$f" "$corpus/wire/$(basename "$f" .h5).bin"
  done
else
  echo "make-corpus.sh: no $wire (build with scripts/test.sh --fuzz): wire seeds not made" >&2
fi
du -sh "$corpus"/*
