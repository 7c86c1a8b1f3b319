#!/usr/bin/env bash
# peers: the same mlp and revnet networks in PyTorch (CPU, Debian's python3-torch) side by
# side with our bench_grad: backprop time and peak memory, forward mode on a tiny mlp.
# A benchmark, never a test; single-threaded on both sides. About two minutes on 2 cores.
#
#   bench/peers.sh [path/to/bench_grad]        (default build/bench/bench_grad)
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${1:-build/bench/bench_grad}

if ! dpkg-query -W -f='${Status}' python3-torch 2>/dev/null | grep -q "install ok installed"; then
  sudo=""
  if [ "$(id -u)" -ne 0 ]; then sudo=sudo; fi
  echo "peers: installing python3-torch (Debian's PyTorch, CPU) with apt-get"
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq python3-torch > /dev/null
fi
if [ ! -x "$bin" ]; then
  echo "peers: $bin not found: run scripts/setup.sh first (it builds bench_grad)" >&2
  exit 2
fi
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1
# the system python: Debian's python3-torch is not visible to other interpreters
exec /usr/bin/python3 bench/peers.py "$bin"
