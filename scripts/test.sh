#!/usr/bin/env bash
# The whole test suite: set up and build (scripts/setup.sh), then run every test with
# CTest. With --sanitize, the same tests built with AddressSanitizer and UBSan, in
# build-asan/.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "${1:-}" = "--sanitize" ]; then
  export MW_BUILD_DIR=build-asan
  scripts/setup.sh -DMW_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug
else
  export MW_BUILD_DIR=build
  scripts/setup.sh
fi
ctest --test-dir "$MW_BUILD_DIR" --output-on-failure -j"$(nproc)"
