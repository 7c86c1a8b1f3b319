#!/usr/bin/env bash
# The CUDA engine on a real GPU, in one go (a few minutes on one H100 or H200): build for
# the device's architecture into build-gpu/, run the CUDA tests (tests/test_cuda.c:
# primitives, the FMA policy, the six methods GPU against CPU against gold, the command
# line), then the same gradcheck grid on the GPU and on the CPU, a quick stability run on
# the GPU and the RevNet timing, and print a table of the worst error against gold per
# method and dtype, GPU beside CPU, last.
#
#   scripts/gpu-check.sh [SM]      (SM: the compute capability, e.g. 90; default: the
#                                   device's, from nvidia-smi, else 90)
#
# The libraries come from the system where it has them (Debian: scripts/setup.sh, which
# installs what is missing), else from a prefix made by scripts/gpu-prefix.sh on a
# machine with Debian's registry: $MW_GPU_PREFIX, or build/gpu-prefix.tar.gz. A machine
# with a GPU on which the CUDA tests skip fails; without a device it stops after the
# build, saying so (exit 77).
set -euo pipefail
cd "$(dirname "$0")/.."
export MW_BUILD_DIR=build-gpu
if [ $# -ge 1 ]; then
  sm=$1
else
  cap=$(nvidia-smi --query-gpu=compute_cap --format=csv,noheader 2>/dev/null | head -n1 || true)
  sm=${cap/./}
  sm=${sm:-90}
fi
case "$sm" in *[!0-9]*|"") echo "gpu-check: SM must be a number like 90, not '$sm'" >&2; exit 2 ;; esac
gpu_present=0
if nvidia-smi -L 2>/dev/null | grep -q '^GPU'; then gpu_present=1; fi

libs=(mpfr gmp hdf5 check plplot jansson libxml-2.0)
if command -v pkg-config >/dev/null && pkg-config --exists "${libs[@]}" 2>/dev/null; then
  echo "== build for sm_$sm against the system's libraries"
  scripts/setup.sh -DCMAKE_CUDA_ARCHITECTURES="$sm" >/dev/null
else
  prefix=${MW_GPU_PREFIX:-build/gpu-prefix.tar.gz}
  if [ ! -e "$prefix" ]; then
    echo "gpu-check: this machine lacks the libraries (${libs[*]}) and there is no prefix at" \
         "$prefix: make one with scripts/gpu-prefix.sh where Debian's registry is reachable" \
         "and bring it (or name it in MW_GPU_PREFIX)" >&2
    exit 2
  fi
  if [ -d "$prefix" ]; then
    pdir=$prefix
  else
    pdir=$MW_BUILD_DIR/prefix
    rm -rf "$pdir"
    mkdir -p "$pdir"
    tar -C "$pdir" -xzf "$prefix" || { echo "gpu-check: $prefix: not a gpu-prefix archive" >&2; exit 2; }
  fi
  . scripts/prefix-env.sh "$pdir"
  echo "== build for sm_$sm against the prefix $pdir"
  mkdir -p "$MW_BUILD_DIR"
  cmake -S . -B "$MW_BUILD_DIR" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_CUDA_ARCHITECTURES="$sm" >"$MW_BUILD_DIR/configure.log" 2>&1 ||
    { tail -n 30 "$MW_BUILD_DIR/configure.log"; exit 3; }
  cmake --build "$MW_BUILD_DIR" -j"$(nproc)" >"$MW_BUILD_DIR/build.log" 2>&1 ||
    { grep -m 20 -E 'error|Error' "$MW_BUILD_DIR/build.log"; exit 3; }
fi
out=$MW_BUILD_DIR/gpu-check
mkdir -p "$out"

echo "== CUDA tests on the device (the full output: $out/test_cuda.txt)"
"$MW_BUILD_DIR/tests/test_cuda" > "$out/test_cuda.txt" 2>&1 && rc=0 || rc=$?
if [ "$rc" = 77 ]; then
  cat "$out/test_cuda.txt"
  if [ "$gpu_present" = 1 ]; then
    echo "gpu-check: nvidia-smi lists a GPU, but the CUDA tests skipped: a failure" >&2
    exit 1
  fi
  exit 77
fi
grep -E '^(CUDA device|net )|Checks|:[FE]:' "$out/test_cuda.txt" || true
echo "test_cuda: exit $rc"

grid=(--depth 1,2,4,8 --f-act relu,tanh --out-act none,tanh --proj-repeats 0 --quiet --json)
echo "== gradcheck, GPU and CPU"
for engine in cuda cpu; do
  "$MW_BUILD_DIR/mwverify" gradcheck --engine "$engine" "${grid[@]}" > "$out/gradcheck-$engine.json" \
    && echo "gradcheck --engine $engine: exit 0" || echo "gradcheck --engine $engine: exit $?"
done

echo "== suite stability (quick, 1 epoch) on the GPU"
"$MW_BUILD_DIR/mwverify" suite stability --engine cuda --epochs 1 --quiet --force \
  --out "$out/stability-cuda.h5" | tail -n 14 || echo "stability: exit $?"

echo "== RevNet time per gradient on the GPU (batch 512, 32x32x8)"
# out-act none: at 32x32 tanh's inverse overflows in float32 (on the CPU too)
"$MW_BUILD_DIR/bench/bench_grad" --engine cuda --arch revnet --channels 8 --image 32x32 \
  --batch 512 --out-act none --methods backprop,revbackprop,mixed,projforward 1 3 5 10 ||
  echo "bench: exit $?"

echo "== worst rel_l2 against gold over the gradcheck grid"
python3 - "$out/gradcheck-cuda.json" "$out/gradcheck-cpu.json" <<'EOF'
import json, sys
def worst(path):
    w = {}
    for cell in json.load(open(path))["cells"]:
        for m, r in cell["methods"].items():
            if r.get("rel_l2") is not None:
                k = (m, cell["dtype"])
                w[k] = max(w.get(k, 0.0), r["rel_l2"])
    return w
gpu, cpu = worst(sys.argv[1]), worst(sys.argv[2])
print(f"{'method':12s} {'dtype':5s} {'gpu':>10s} {'cpu':>10s} {'gpu/cpu':>8s}")
for k in sorted(set(gpu) | set(cpu)):
    g, c = gpu.get(k, float("nan")), cpu.get(k, float("nan"))
    print(f"{k[0]:12s} {k[1]:5s} {g:10.3e} {c:10.3e} {g / c if c else float('nan'):8.2f}")
EOF
