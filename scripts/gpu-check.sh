#!/usr/bin/env bash
# The CUDA engine on a real GPU, in one go (a few minutes on one H200): set up and build
# for the device's architecture (scripts/setup.sh into build-gpu/), run the CUDA tests
# (tests/test_cuda.c: primitives, the six methods GPU against CPU against gold, the
# command line), then the same gradcheck grid on the GPU and on the CPU, a quick stability
# run on the GPU and the RevNet timing, and print a table of the worst error against gold
# per method and dtype, GPU beside CPU, last. Usage: scripts/gpu-check.sh [SM] (default 90).
# Without a device it stops after the build, saying so.
set -euo pipefail
cd "$(dirname "$0")/.."
sm=${1:-90}
export MW_BUILD_DIR=build-gpu
scripts/setup.sh -DCMAKE_CUDA_ARCHITECTURES="$sm" >/dev/null
out=$MW_BUILD_DIR/gpu-check
mkdir -p "$out"

echo "== CUDA tests on the device (the full output: $out/test_cuda.txt)"
"$MW_BUILD_DIR/tests/test_cuda" > "$out/test_cuda.txt" 2>&1 && rc=0 || rc=$?
if [ "$rc" = 77 ]; then
  cat "$out/test_cuda.txt"
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
"$MW_BUILD_DIR/bench/bench_grad" --engine cuda --arch revnet --channels 8 --image 32x32 \
  --batch 512 --methods backprop,revbackprop,mixed,projforward 1 3 5 10 || echo "bench: exit $?"

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
