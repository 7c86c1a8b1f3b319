#!/usr/bin/env bash
# Set up mwverify on Debian 12: install the Debian packages it needs (apt-get, as root or
# through sudo; only what is missing), then configure and build into build/ (or
# $MW_BUILD_DIR). Extra arguments go to CMake's configure step. (python3-h5py is for the
# test that reads reports the way users do, without mwverify; dataset-fashion-mnist is the
# real dataset of the `real` stability preset, read from /usr/share/datasets/fashion-mnist;
# clang and libclang-rt-14-dev are for the libFuzzer harnesses, scripts/test.sh --fuzz;
# libjansson-dev reads the layer protocol, python3-numpy serves its examples (python/) and
# python3-torch runs the PyTorch example's test, python3-pandas the test that reads
# `report export`'s tables the way users do, libopenmpi-dev and openmpi-bin the suites on
# MPI ranks (optional in CMake: -DMW_WITH_MPI=OFF builds without): about 160 packages and a minute of set-up,
# a minute of tests. Debian has no JAX: the JAX example's test runs with a Python that has
# it, named in MW_TEST_JAX_PYTHON, and is skipped otherwise.)
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(build-essential cmake pkg-config libmpfr-dev libgmp-dev libhdf5-dev hdf5-tools
          check libsubunit-dev libopenblas-dev libplplot-dev plplot-driver-cairo
          python3-h5py zlib1g-dev dataset-fashion-mnist libxml2-dev python3-junitparser
          clang libclang-rt-14-dev libjansson-dev python3-numpy python3-torch
          python3-pandas libopenmpi-dev openmpi-bin libmpfi-dev)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  sudo=""
  if [ "$(id -u)" -ne 0 ]; then sudo=sudo; fi
  echo "setup: installing ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

build=${MW_BUILD_DIR:-build}
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@"
cmake --build "$build" -j"$(nproc)"
